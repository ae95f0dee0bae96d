/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A procedure config's values as the engine's arguments: one reading for
 * the final run (procedure.c) and both previews (preview.c), so that what
 * the preview shows is computed from exactly what the run will get. */
#pragma once

#include "effect.h"

#include <libgimp/gimp.h>

G_BEGIN_DECLS

/* Fills @params (initialised from effect->params) with the config's values
 * and sets *@choice to the registry's nick of the chosen value (a static
 * string; NULL when the effect has no choice).  FALSE with @error when a
 * value is outside the engine's own range: GIMP has checked the range
 * already, the engine checks again so that a mismatch between the two
 * declarations cannot go unnoticed. */
gboolean lisse_config_read_params (GimpProcedureConfig   *config,
                                   const LisseEffectInfo *effect,
                                   LisseParams           *params,
                                   const char           **choice,
                                   GError               **error);

G_END_DECLS
