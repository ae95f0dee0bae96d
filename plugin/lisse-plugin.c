/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The plug-in binary: a GimpPlugIn that offers one procedure per effect of
 * the registry (procedure.c).  Installed as <plug-in dir>/lisse/lisse. */
#include "procedure.h"

#include <libgimp/gimp.h>

#define LISSE_TYPE_PLUG_IN (lisse_plug_in_get_type ())
G_DECLARE_FINAL_TYPE (LissePlugIn, lisse_plug_in, LISSE, PLUG_IN, GimpPlugIn)

struct _LissePlugIn
{
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE (LissePlugIn, lisse_plug_in, GIMP_TYPE_PLUG_IN)

static GList *
lisse_plug_in_query_procedures (GimpPlugIn *plug_in)
{
  GList *names = NULL;
  const LisseEffectInfo *const *effects = lisse_effects ();

  for (int i = 0; effects[i]; i++)
    names = g_list_append (names, lisse_procedure_name (effects[i]));
  return names;
}

static GimpProcedure *
lisse_plug_in_create_procedure (GimpPlugIn *plug_in, const gchar *name)
{
  const LisseEffectInfo *effect = lisse_procedure_effect (name);
  return effect ? lisse_procedure_new (plug_in, effect) : NULL;
}

/* Translations: the "lisse" domain, catalogues in <plug-in dir>/locale
 * (libgimp takes the catalog dir relative to the plug-in's directory and
 * refuses one outside it).  Where none are installed (a build tree)
 * localization is turned off quietly, instead of libgimp's three warning
 * lines on every call. */
static gboolean
lisse_plug_in_set_i18n (GimpPlugIn *plug_in, const gchar *procedure_name,
                        gchar **gettext_domain, gchar **catalog_dir)
{
  char *plug_in_dir = g_path_get_dirname (gimp_get_progname ());
  char *locale_dir = g_build_filename (plug_in_dir, "locale", NULL);
  gboolean found = g_file_test (locale_dir, G_FILE_TEST_IS_DIR);
  g_free (locale_dir);
  g_free (plug_in_dir);

  if (!found)
    return FALSE;
  *gettext_domain = g_strdup (GETTEXT_PACKAGE);
  *catalog_dir = g_strdup ("locale");
  return TRUE;
}

static void
lisse_plug_in_class_init (LissePlugInClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  plug_in_class->query_procedures = lisse_plug_in_query_procedures;
  plug_in_class->create_procedure = lisse_plug_in_create_procedure;
  plug_in_class->set_i18n         = lisse_plug_in_set_i18n;
}

static void
lisse_plug_in_init (LissePlugIn *plug_in)
{
}

GIMP_MAIN (LISSE_TYPE_PLUG_IN)
