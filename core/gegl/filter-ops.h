/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * GEGL operations for the classical filters of core/classic (lisse:l0,
 * lisse:rtv, lisse:wls, lisse:guided, lisse:rolling-guidance,
 * lisse:bilateral).  Every op is one GType derived from GeglOperationFilter
 * whose properties are made at class-init time from the filter's
 * LisseParamSpec list, so names, ranges and defaults have one source. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Registers every filter op with @module; called from gegl_module_register. */
void lisse_gegl_filter_ops_register (GTypeModule *module);

G_END_DECLS
