/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The PDB procedures, generated from the effect registry so that Script-Fu
 * names, ranges and defaults are those of the engine (effect.h), and their
 * run function: the dialog for INTERACTIVE runs, then apply.c. */
#include "procedure.h"

#include "apply.h"
#include "config-params.h"
#include "dialog.h"
#include "lisse-error.h"

#include <glib/gi18n-lib.h>
#include <string.h>

char *
lisse_procedure_name (const LisseEffectInfo *effect)
{
  return g_strconcat (LISSE_PROCEDURE_PREFIX, effect->name, NULL);
}

/* A registry string in the user's language; NULL and "" stay as they are
 * (gettext ("") would return the catalogue's header). */
static const char *
tr (const char *s)
{
  return s && *s ? _(s) : s;
}

const LisseEffectInfo *
lisse_procedure_effect (const char *procedure_name)
{
  if (!procedure_name || !g_str_has_prefix (procedure_name, LISSE_PROCEDURE_PREFIX))
    return NULL;
  return lisse_effect_find (procedure_name + strlen (LISSE_PROCEDURE_PREFIX));
}

/* The argument that carries an effect's mask or guide, or NULL. */
static const char *
aux_argument_name (const LisseEffectInfo *effect)
{
  switch (effect->aux)
    {
    case LISSE_EFFECT_AUX_MASK:  return "mask";
    case LISSE_EFFECT_AUX_GUIDE: return "guide";
    default:                     return NULL;
    }
}

static GimpValueArray *
fail (GimpProcedure *procedure, GError *error)
{
  GimpPDBStatusType status = g_error_matches (error, LISSE_ERROR, LISSE_ERROR_CANCELLED)
                               ? GIMP_PDB_CANCEL : GIMP_PDB_EXECUTION_ERROR;
  return gimp_procedure_new_return_values (procedure, status, error);
}

/* The config's values as the engine's arguments; @args->aux is a new
 * reference (or NULL). */
static gboolean
read_config (GimpProcedureConfig *config, const LisseEffectInfo *effect,
             LisseApplyArgs *args, GError **error)
{
  args->effect = effect;
  args->aux = NULL;
  if (!lisse_config_read_params (config, effect, &args->params, &args->choice, error))
    return FALSE;
  const char *aux_name = aux_argument_name (effect);
  if (aux_name)
    g_object_get (config, aux_name, &args->aux, NULL);
  return TRUE;
}

static GimpValueArray *
run (GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
     GimpDrawable **drawables, GimpProcedureConfig *config, gpointer run_data)
{
  const LisseEffectInfo *effect = run_data;
  GError *error = NULL;

  gegl_init (NULL, NULL);
  g_debug ("%s: run mode %d", gimp_procedure_get_name (procedure), (int) run_mode);

  gsize n_drawables = drawables ? gimp_core_object_array_get_length ((GObject **) drawables) : 0;
  if (n_drawables != 1)
    {
      lisse_fail (&error, LISSE_ERROR_INVALID_ARGUMENT,
                  _("%s works on exactly one layer or channel (%d selected)"),
                  tr (effect->title), (int) n_drawables);
      return fail (procedure, error);
    }
  GimpDrawable *drawable = drawables[0];

  /* WITH_LAST_VALS: libgimp has already put the last values into @config. */
  gboolean undo_group_open = FALSE;
  if (run_mode == GIMP_RUN_INTERACTIVE
      && !lisse_dialog_run (procedure, config, image, drawable, effect, &undo_group_open))
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);

  LisseApplyArgs args;
  gboolean ok = read_config (config, effect, &args, &error)
                && lisse_apply (drawable, &args, &error);
  g_clear_object (&args.aux);
  if (undo_group_open)
    gimp_image_undo_group_end (image);
  if (!ok)
    return fail (procedure, error);

  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    gimp_displays_flush ();
  return gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
}

static void
add_param_argument (GimpProcedure *procedure, const LisseParamSpec *spec)
{
  if (spec->integer)
    gimp_procedure_add_int_argument (procedure, spec->name, tr (spec->label), tr (spec->blurb),
                                     (int) spec->min, (int) spec->max, (int) spec->def,
                                     G_PARAM_READWRITE);
  else
    gimp_procedure_add_double_argument (procedure, spec->name, tr (spec->label), tr (spec->blurb),
                                        spec->min, spec->max, spec->def,
                                        G_PARAM_READWRITE);
}

/* The choice's ids are the indices into effect->choice.values, so
 * read_config() maps an id straight back to the engine's nick. */
static void
add_choice_argument (GimpProcedure *procedure, const LisseEffectChoice *choice)
{
  GimpChoice *values = gimp_choice_new ();
  for (int i = 0; i < LISSE_EFFECT_MAX_CHOICES && choice->values[i].nick; i++)
    gimp_choice_add (values, choice->values[i].nick, i,
                     tr (choice->values[i].label), tr (choice->values[i].label));
  gimp_procedure_add_choice_argument (procedure, choice->name, tr (choice->label),
                                      tr (choice->blurb), values,
                                      choice->values[choice->def].nick,
                                      G_PARAM_READWRITE);
}

/* Both are optional at the PDB level (none_ok) even when the effect needs
 * them: the run then fails with the effect's own message ("Joint Filter
 * needs a guide …"), clearer than GIMP's generic argument error, and an
 * INTERACTIVE run can start with none chosen yet. */
static void
add_aux_argument (GimpProcedure *procedure, const LisseEffectInfo *effect)
{
  const char *label = effect->aux_label ? tr (effect->aux_label) : NULL;

  if (effect->aux == LISSE_EFFECT_AUX_MASK)
    gimp_procedure_add_channel_argument (
      procedure, "mask", label ? label : _("Mask"),
      effect->aux_required
        ? _("A channel that marks the subject (a saved selection or a layer mask)")
        : _("A channel that marks the subject (a saved selection or a layer mask); "
            "none: found automatically"),
      TRUE, G_PARAM_READWRITE);
  else if (effect->aux == LISSE_EFFECT_AUX_GUIDE)
    gimp_procedure_add_drawable_argument (
      procedure, "guide", label ? label : _("Guide"),
      effect->aux_required
        ? _("A layer or channel of the same size whose edges steer the filtering")
        : _("A layer or channel of the same size whose edges steer the filtering; "
            "none: the image guides itself"),
      TRUE, G_PARAM_READWRITE);
}

GimpProcedure *
lisse_procedure_new (GimpPlugIn *plug_in, const LisseEffectInfo *effect)
{
  char *name = lisse_procedure_name (effect);
  GimpProcedure *procedure = gimp_image_procedure_new (plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN,
                                                       run, (gpointer) effect, NULL);

  gimp_procedure_set_image_types (procedure, "RGB*, GRAY*");
  gimp_procedure_set_sensitivity_mask (procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);

  char *label = g_strdup_printf (_("%s…"), tr (effect->title));
  gimp_procedure_set_menu_label (procedure, label);
  gimp_procedure_add_menu_path (procedure, "<Image>/Filters/Lisse");

  char *help = g_strdup_printf (_("%s\n\nReference: %s"), tr (effect->blurb), effect->reference);
  gimp_procedure_set_documentation (procedure, tr (effect->blurb), help, name);
  gimp_procedure_set_attribution (procedure, "Lisse contributors",
                                  "Lisse contributors, GPL-3.0-or-later", "2026");

  for (int i = 0; i < effect->n_params; i++)
    add_param_argument (procedure, &effect->params[i]);
  if (effect->choice.name)
    add_choice_argument (procedure, &effect->choice);
  add_aux_argument (procedure, effect);

  g_free (help);
  g_free (label);
  g_free (name);
  return procedure;
}
