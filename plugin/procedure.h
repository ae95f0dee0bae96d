/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One GIMP procedure per effect of the registry (core/effects/effect.h),
 * generated from its LisseEffectInfo: "plug-in-lisse-" + the effect's name,
 * one typed argument per parameter, the choice, and the mask or guide. */
#pragma once

#include "effect.h"

#include <libgimp/gimp.h>

G_BEGIN_DECLS

#define LISSE_PROCEDURE_PREFIX "plug-in-lisse-"

/* "plug-in-lisse-smooth" for the effect "smooth"; g_free() it. */
char                  *lisse_procedure_name   (const LisseEffectInfo *effect);

/* The effect a procedure name stands for, or NULL. */
const LisseEffectInfo *lisse_procedure_effect (const char *procedure_name);

/* The image procedure for @effect, with its arguments, menu entry and
 * documentation; running it applies the effect (apply.h). */
GimpProcedure         *lisse_procedure_new    (GimpPlugIn            *plug_in,
                                               const LisseEffectInfo *effect);

G_END_DECLS
