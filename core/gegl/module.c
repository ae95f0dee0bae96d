/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The entry points of the lisse-gegl module: GEGL loads every .so on its
 * search path and calls these two.  One module holds all of Lisse's ops, so
 * the core is linked (statically) once; each group of ops registers its own
 * types from here. */
#include <gegl-plugin.h>

#include "filter-ops.h"

G_MODULE_EXPORT const GeglModuleInfo *gegl_module_query (GTypeModule *module);
G_MODULE_EXPORT gboolean gegl_module_register (GTypeModule *module);

static const GeglModuleInfo module_info = { GEGL_MODULE_ABI_VERSION };

G_MODULE_EXPORT const GeglModuleInfo *
gegl_module_query (GTypeModule *module)
{
  return &module_info;
}

G_MODULE_EXPORT gboolean
gegl_module_register (GTypeModule *module)
{
  lisse_gegl_filter_ops_register (module);
  return TRUE;
}
