/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * GEGL operations for Lisse's effects (core/effects/effect.h): lisse:smooth,
 * lisse:magnify-detail, lisse:remove-texture, lisse:content-aware,
 * lisse:joint-filter, lisse:abstraction, lisse:pencil-sketch — one op per
 * registry entry, named "lisse:" + the effect's name.  Effects with a mask
 * or guide derive from GeglOperationComposer (the "aux" pad), the others
 * from GeglOperationFilter.  Properties, the choice enum and the keys are
 * made at class-init time from the registry, so they have one source. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Registers one op per effect with @module; called from gegl_module_register. */
void lisse_gegl_effect_ops_register (GTypeModule *module);

G_END_DECLS
