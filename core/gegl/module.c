/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The entry points of the lisse-gegl module: GEGL loads every .so on its
 * search path and calls these two.  One module holds all of Lisse's ops, so
 * the core is linked (statically) once; each group of ops registers its own
 * types from here.  The module also binds the "lisse" gettext domain, which
 * the effect ops' titles, labels and choices are translated from. */
#include <gegl-plugin.h>
#include <glib/gi18n-lib.h>

#include "effect-ops.h"
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
  /* LISSE_LOCALEDIR in the environment points an uninstalled build
   * (tools/dev, the tests) at BUILD/po, as GIMP3_LOCALEDIR does for GIMP. */
  const char *localedir = g_getenv ("LISSE_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir && *localedir ? localedir : LISSE_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  lisse_gegl_filter_ops_register (module);
  lisse_gegl_effect_ops_register (module);
  return TRUE;
}
