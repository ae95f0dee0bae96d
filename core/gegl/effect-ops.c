/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Lisse's effects as GEGL operations, generated from the effect registry.
 *
 * As for the classical filters (filter-ops.c), one generic type is
 * registered per registry entry, with that entry as class data, and its
 * properties are made at class-init time from the effect's LisseParamSpec
 * list and its choice: names, ranges, defaults and the list of choices
 * cannot drift from `lisse effect` or the plug-in.  Effects that take a
 * mask or a guide derive from GeglOperationComposer (the image on "input",
 * the mask or guide on "aux"); the others from GeglOperationFilter, so GIMP
 * can keep them on a layer as non-destructive filters.
 *
 * Every op works on its whole input at once: the networks see 254 pixels
 * around each output pixel and the engine tiles the image itself, with its
 * own threads (so `threaded` is off).  Required-for-output (on both pads),
 * the cached region and the region invalidated by any change are the
 * input's bounding box, which is also the output's (a layer never grows).
 * The result is cached, so GIMP's chunked rendering computes it once.
 *
 * Pixels are "R'G'B'A float" in the input's own space, the networks'
 * encoding, or "Y'A float" when the input's source is gray, so that a gray
 * layer takes the same gray path as in the plug-in's final run (effect.h);
 * the effect copies alpha through.  A mask is read as "Y float"
 * (a channel's stored coverage); a guide as "Y' float" when its source is
 * gray and "R'G'B'A float" otherwise (effects ignore a guide's alpha).
 *
 * Zoomed-out rendering (GEGL level n > 0, GIMP's canvas below 100 %) runs
 * the effect on that level's 1/2^n-size buffer with scale = 1/2^n, never on
 * the full-size image: the effect scales its spatial parameters itself
 * (effect.h), so the preview looks like the full result.  The "draft"
 * property, which the plug-in sets while a slider moves, runs
 * lisse_effect_run_draft() instead: a reduced-resolution run brought back
 * to full size by guided upsampling (core/effects/draft.c).
 *
 * A GEGL process function has no way to hand a GError to GIMP, so when an
 * effect fails (a model that is not installed, out of memory) or a required
 * mask or guide is not connected, the op logs a g_warning naming itself and
 * the reason and passes its input through unchanged.  Each run is also
 * logged with g_debug (G_MESSAGES_DEBUG=lisse-gegl shows it): level, size
 * and scale, which is what the tests check zoomed-out rendering with. */
#define G_LOG_DOMAIN "lisse-gegl"

#include "effect-ops.h"

#include <gegl-plugin.h>
#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "effect.h"
#include "lisse-error.h"
#include "op-common.h"

#define LISSE_EFFECT_MENU_PATH "<Image>/Filters/Lisse"
#define MAX_EFFECT_OPS 16

/* Where GEGL's and GIMP's operation browsers file each effect.  The
 * registry says what an effect does; only this listing lives here. */
static const struct
{
  const char *effect;
  const char *categories;
} effect_categories[] = {
  { "smooth", "enhance:noise-reduction" },
  { "remove-texture", "enhance:noise-reduction" },
  { "content-aware", "enhance:noise-reduction" },
  { "joint-filter", "enhance:noise-reduction" },
  { "magnify-detail", "enhance" },
  { "abstraction", "artistic" },
  { "pencil-sketch", "artistic" },
};

/* One op's class data.  Kept in static storage: if GEGL unloads and
 * reloads the module, registration runs again and fills it again. */
typedef struct
{
  const LisseEffectInfo *info;
  char                   op_name[64];          /* "lisse:smooth" */
  char                   type_name[80];        /* "LisseGeglEffectSmooth" */
  char                   choice_type_name[96]; /* "LisseGeglEffectSmoothModel" */
  GEnumValue             choice_values[LISSE_EFFECT_MAX_CHOICES + 1];
  GType                  choice_type;          /* G_TYPE_INVALID: no choice */
} EffectOpData;

static EffectOpData effect_ops[MAX_EFFECT_OPS];

/* Property ids: the parameters are 1..n_params, then the choice, then
 * "draft". */
#define PROP_CHOICE(info) ((guint) (info)->n_params + 1)
#define PROP_DRAFT(info) ((guint) (info)->n_params + 2)

/* The class and instance structs are shared by both parents: only the
 * member of the union that matches the registered parent is ever used,
 * and GType sizes each type from these (larger) structs. */
typedef struct
{
  union
  {
    GeglOperationFilterClass   filter;
    GeglOperationComposerClass composer;
  } parent_class;
  const EffectOpData *data;
  LisseOpClassProcess parent_process;   /* the filter's or composer's own */
} LisseEffectOpClass;

typedef struct
{
  union
  {
    GeglOperationFilter   filter;
    GeglOperationComposer composer;
  } parent_instance;
  double   values[LISSE_MAX_PARAMS];   /* by parameter index */
  int      choice;                     /* index into info->choice.values */
  gboolean draft;                      /* lisse_effect_run_draft() instead */
} LisseEffectOp;

#define LISSE_EFFECT_OP_GET_CLASS(obj) ((LisseEffectOpClass *) G_OBJECT_GET_CLASS (obj))

/* ---------------------------------------------------------------------- */
/* Properties                                                               */

static GParamSpec *
make_param_pspec (const LisseParamSpec *spec)
{
  /* The dialog label is the papers' symbol ("λf"), the tooltip the blurb.
   * Ranges spanning decades (λf in [0.1, 10]) get more slider travel for
   * their small values. */
  double gamma = spec->min > 0 && spec->max / spec->min >= 50 ? 3.0 : 1.0;
  return lisse_op_param_pspec (spec, _(spec->label), _(spec->blurb), spec->min, spec->max, gamma);
}

static void
effect_op_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  LisseEffectOp *self = (LisseEffectOp *) object;
  const LisseEffectInfo *info = LISSE_EFFECT_OP_GET_CLASS (object)->data->info;
  if (prop_id >= 1 && prop_id <= (guint) info->n_params)
    self->values[prop_id - 1] = lisse_op_value_get_number (value);
  else if (prop_id == PROP_CHOICE (info) && info->choice.name)
    self->choice = g_value_get_enum (value);
  else if (prop_id == PROP_DRAFT (info))
    self->draft = g_value_get_boolean (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
effect_op_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  LisseEffectOp *self = (LisseEffectOp *) object;
  const LisseEffectInfo *info = LISSE_EFFECT_OP_GET_CLASS (object)->data->info;
  if (prop_id >= 1 && prop_id <= (guint) info->n_params)
    lisse_op_value_set_number (value, self->values[prop_id - 1]);
  else if (prop_id == PROP_CHOICE (info) && info->choice.name)
    g_value_set_enum (value, self->choice);
  else if (prop_id == PROP_DRAFT (info))
    g_value_set_boolean (value, self->draft);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

/* ---------------------------------------------------------------------- */
/* Formats and regions                                                      */

/* A guide from a gray source (one colour component) is read as gray, as
 * `lisse effect --guide gray.png` reads it. */
static gboolean
source_is_gray (GeglOperation *operation, const char *pad)
{
  const Babl *format = gegl_operation_get_source_format (operation, pad);
  if (!format)
    return FALSE;
  int n = babl_format_get_n_components (format);
  return n - (babl_format_has_alpha (format) ? 1 : 0) == 1;
}

static const Babl *
aux_format (GeglOperation *operation, const LisseEffectInfo *info)
{
  const Babl *space = gegl_operation_get_source_space (operation, "aux");
  if (info->aux == LISSE_EFFECT_AUX_MASK)
    return babl_format_with_space ("Y float", space);
  if (source_is_gray (operation, "aux"))
    return babl_format_with_space ("Y' float", space);
  return babl_format_with_space ("R'G'B'A float", space);
}

static void
effect_op_prepare (GeglOperation *operation)
{
  const LisseEffectInfo *info = LISSE_EFFECT_OP_GET_CLASS (operation)->data->info;
  lisse_op_set_formats (operation);
  if (info->aux != LISSE_EFFECT_AUX_NONE)
    gegl_operation_set_format (operation, "aux", aux_format (operation, info));
}

/* ---------------------------------------------------------------------- */
/* Processing                                                               */

/* The aux pad's pixels over @rect at @level as a tensor.  Outside its own
 * extent a mask reads 0 (not selected) and a guide repeats its edge. */
static LisseTensor *
read_aux (GeglOperation *operation, const LisseEffectInfo *info, GeglBuffer *aux,
          const GeglRectangle *rect, int level, GError **error)
{
  const Babl *format = gegl_operation_get_format (operation, "aux");
  const int nc = babl_format_get_n_components (format);
  float *pixels = g_try_malloc_n ((size_t) rect->width * rect->height, nc * sizeof (float));
  if (!pixels)
    {
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, "out of memory for the %s",
                  info->aux_label);
      return NULL;
    }
  gegl_buffer_get (aux, rect, 1.0 / (1 << level), format, pixels, GEGL_AUTO_ROWSTRIDE,
                   info->aux == LISSE_EFFECT_AUX_MASK ? GEGL_ABYSS_NONE : GEGL_ABYSS_CLAMP);
  LisseTensor *t = lisse_tensor_new_from_pixels (pixels, nc, rect->width, rect->height,
                                                error);
  g_free (pixels);
  return t;
}

/* A LisseOpRunFunc: runs the effect on @pixels with @aux (a GeglBuffer or
 * NULL) as its mask or guide. */
static gboolean
run_effect (GeglOperation *operation, float *pixels, int nc, const GeglRectangle *rect, int level,
            gpointer aux, GError **error)
{
  LisseEffectOp *self = (LisseEffectOp *) operation;
  const EffectOpData *data = LISSE_EFFECT_OP_GET_CLASS (operation)->data;
  const LisseEffectInfo *info = data->info;

  if (info->aux != LISSE_EFFECT_AUX_NONE && info->aux_required && !aux)
    {
      /* GIMP shows no error from an op: the log says it, and the layer is
       * shown unchanged rather than a wrong result. */
      g_autofree char *what = g_ascii_strdown (info->aux_label, -1);
      return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "no %s connected to the aux pad",
                         what);
    }
  g_autoptr (LisseTensor) image = lisse_tensor_new_from_pixels (pixels, nc, rect->width,
                                                               rect->height, error);
  if (!image)
    return FALSE;
  g_autoptr (LisseTensor) aux_tensor = NULL;
  if (aux)
    {
      aux_tensor = read_aux (operation, info, aux, rect, level, error);
      if (!aux_tensor)
        return FALSE;
    }

  LisseParams params;
  lisse_params_init (&params, info->params, info->n_params);
  for (int i = 0; i < info->n_params; i++)
    params.values[i] = CLAMP (self->values[i], info->params[i].min, info->params[i].max);
  const char *choice = info->choice.name ? info->choice.values[self->choice].nick : NULL;
  /* The level's buffer is already 1/2^level of the full size. */
  const double scale = ldexp (1.0, -level);

  g_debug ("%s: level %d, %dx%d pixels, %d channels, scale %g%s", data->op_name, level,
           rect->width, rect->height, nc, scale, self->draft ? ", draft" : "");
  LisseOpProgress state = { operation, _(info->title), 0.0 };
  LisseProgress progress = { lisse_op_progress, &state, 0.0, 1.0 };
  gegl_operation_progress (operation, 0.0, (gchar *) state.message);
  g_autoptr (LisseTensor) result
    = self->draft ? lisse_effect_run_draft (info, image, aux_tensor, &params, choice, scale,
                                            LISSE_DRAFT_PIXELS, &progress, error)
                  : lisse_effect_run (info, image, aux_tensor, &params, choice, scale,
                                      &progress, error);
  gegl_operation_progress (operation, 1.0, (gchar *) state.message);
  if (!result)
    return FALSE;
  if (result->c != nc || result->h != rect->height || result->w != rect->width)
    {
      return lisse_fail (error, LISSE_ERROR_BAD_IMAGE,
                         "the effect returned a %d×%d×%d image for a %d×%d×%d one",
                         result->c, result->h, result->w, nc, rect->height, rect->width);
    }
  lisse_tensor_get_pixels (result, 0, 0, result->w, result->h, nc, pixels);
  return TRUE;
}

static gboolean
effect_op_process (GeglOperation *operation, GeglBuffer *input, GeglBuffer *aux,
                   GeglBuffer *output, const GeglRectangle *roi, gint level)
{
  const EffectOpData *data = LISSE_EFFECT_OP_GET_CLASS (operation)->data;
  return lisse_op_process_pixels (operation, data->op_name, input, output, roi, level,
                                  run_effect, aux);
}

static gboolean
effect_filter_process (GeglOperation *operation, GeglBuffer *input, GeglBuffer *output,
                       const GeglRectangle *roi, gint level)
{
  return effect_op_process (operation, input, NULL, output, roi, level);
}

/* A LisseOpFitsFunc: the effect's memory budget check, the aux pad
 * counted as a mask's one channel or a guide's (up to) four. */
static gboolean
effect_op_fits (GeglOperation *operation, int width, int height, int nc, GError **error)
{
  const LisseEffectInfo *info = LISSE_EFFECT_OP_GET_CLASS (operation)->data->info;
  const LisseEffectOp *self = (const LisseEffectOp *) operation;
  const char *choice = info->choice.name ? info->choice.values[self->choice].nick : NULL;
  int aux = info->aux == LISSE_EFFECT_AUX_MASK ? 1 : info->aux == LISSE_EFFECT_AUX_GUIDE ? 4 : 0;
  return lisse_effect_check_memory (info, choice, width, height, nc, aux, error);
}

/* GeglOperationClass.process: refuse an image beyond the memory budget
 * before GEGL hands the op an output buffer (op-common.h). */
static gboolean
effect_op_class_process (GeglOperation *operation, GeglOperationContext *context,
                         const gchar *output_pad, const GeglRectangle *roi, gint level)
{
  const LisseEffectOpClass *klass = LISSE_EFFECT_OP_GET_CLASS (operation);
  return lisse_op_process_if_fits (operation, context, output_pad, roi, level,
                                   klass->data->op_name, effect_op_fits, klass->parent_process);
}

/* ---------------------------------------------------------------------- */
/* Types                                                                    */

static const char *
categories_for (const LisseEffectInfo *info)
{
  for (size_t i = 0; i < G_N_ELEMENTS (effect_categories); i++)
    if (strcmp (effect_categories[i].effect, info->name) == 0)
      return effect_categories[i].categories;
  return "enhance";
}

/* "blurb." + "Fan et al. 2018, §4" -> "blurb (Fan et al. 2018, §4)." */
static char *
make_description (const LisseEffectInfo *info)
{
  g_autofree char *blurb = g_strdup (_(info->blurb));
  g_strchomp (blurb);
  size_t len = strlen (blurb);
  if (len > 0 && blurb[len - 1] == '.')
    blurb[len - 1] = '\0';
  if (!info->reference || !info->reference[0])
    return g_strdup_printf ("%s.", blurb);
  return g_strdup_printf ("%s (%s).", blurb, info->reference);
}

static void
effect_op_class_init (gpointer g_class, gpointer class_data)
{
  LisseEffectOpClass *klass = g_class;
  GObjectClass *object_class = G_OBJECT_CLASS (g_class);
  GeglOperationClass *operation_class = GEGL_OPERATION_CLASS (g_class);
  const EffectOpData *data = class_data;
  const LisseEffectInfo *info = data->info;

  klass->data = data;
  object_class->set_property = effect_op_set_property;
  object_class->get_property = effect_op_get_property;

  for (int i = 0; i < info->n_params; i++)
    g_object_class_install_property (object_class, i + 1, make_param_pspec (&info->params[i]));

  if (info->choice.name)
    {
      const LisseEffectChoice *choice = &info->choice;
      g_object_class_install_property (
        object_class, PROP_CHOICE (info),
        /* A GeglParamSpecEnum, not a plain GLib one: GIMP passes those to
         * plug-ins and Script-Fu as their nicks (a GimpChoice), while a
         * plain enum of a type only this module registers cannot cross. */
        gegl_param_spec_enum (choice->name, _(choice->label), _(choice->blurb),
                              data->choice_type, choice->def,
                              G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS
                              | GEGL_PARAM_PAD_INPUT));
    }
  /* Not an effect parameter: how the plug-in's on-canvas preview keeps up
   * with a slider (plugin/preview.c).  Never set by Script-Fu or saved. */
  g_object_class_install_property (
    object_class, PROP_DRAFT (info),
    g_param_spec_boolean ("draft", _("Draft"),
                          _("Render a quick reduced-resolution draft, for previews while a "
                            "parameter changes"),
                          FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS));

  /* The "aux" pad is the composer's own.  Re-declaring it to label GIMP's
   * picker "Mask" or "Guide" would also make it an ordinary property, which
   * GIMP copies into its filter configs and cannot pass to plug-ins. */
  if (info->aux != LISSE_EFFECT_AUX_NONE)
    GEGL_OPERATION_COMPOSER_CLASS (g_class)->process = effect_op_process;
  else
    GEGL_OPERATION_FILTER_CLASS (g_class)->process = effect_filter_process;

  operation_class->prepare = effect_op_prepare;
  klass->parent_process = operation_class->process;   /* inherited from the parent */
  operation_class->process = effect_op_class_process;
  lisse_op_class_use_whole_input (operation_class);
  /* One call over the whole image: the engine tiles and threads inside. */
  operation_class->threaded = FALSE;

  g_autofree char *description = make_description (info);
  g_autofree char *menu_label = g_strconcat (_(info->title), "…", NULL);
  gegl_operation_class_set_keys (operation_class,
                                 "name", data->op_name,
                                 "title", _(info->title),
                                 "categories", categories_for (info),
                                 "license", "GPL3+",
                                 "description", description,
                                 "gimp:menu-path", LISSE_EFFECT_MENU_PATH,
                                 "gimp:menu-label", menu_label,
                                 NULL);
}

static void
effect_op_class_finalize (gpointer g_class, gpointer class_data)
{
}

static void
effect_op_init (GTypeInstance *instance, gpointer g_class)
{
  LisseEffectOp *self = (LisseEffectOp *) instance;
  const LisseEffectInfo *info = ((LisseEffectOpClass *) g_class)->data->info;
  for (int i = 0; i < info->n_params; i++)
    self->values[i] = info->params[i].def;
  self->choice = info->choice.name ? info->choice.def : 0;
}

/* "magnify-detail" -> "MagnifyDetail", appended to @out. */
static void
append_camel (GString *out, const char *name)
{
  gboolean upper = TRUE;
  for (const char *p = name; *p; p++)
    {
      if (!g_ascii_isalnum (*p))
        {
          upper = TRUE;
          continue;
        }
      g_string_append_c (out, upper ? g_ascii_toupper (*p) : *p);
      upper = FALSE;
    }
}

/* The choice as a GEnum registered with the module, so GIMP shows a combo
 * box: value = index, nick = the choice's nick (what Script-Fu and
 * `gegl … model=fan18-smooth` pass), name = its label (what GIMP shows). */
static GType
register_choice_enum (GTypeModule *module, EffectOpData *data)
{
  const LisseEffectChoice *choice = &data->info->choice;
  int n = 0;
  for (; n < LISSE_EFFECT_MAX_CHOICES && choice->values[n].nick; n++)
    data->choice_values[n] = (GEnumValue) { n, _(choice->values[n].label),
                                            choice->values[n].nick };
  data->choice_values[n] = (GEnumValue) { 0, NULL, NULL };
  if (n == 0 || choice->def < 0 || choice->def >= n)
    return G_TYPE_INVALID;
  return g_type_module_register_enum (module, data->choice_type_name, data->choice_values);
}

void
lisse_gegl_effect_ops_register (GTypeModule *module)
{
  const LisseEffectInfo *const *effects = lisse_effects ();
  for (int k = 0; effects[k]; k++)
    {
      const LisseEffectInfo *info = effects[k];
      if (k >= MAX_EFFECT_OPS || info->n_params > LISSE_MAX_PARAMS)
        {
          g_warning ("lisse:%s: more effects or parameters than the ops hold; not registered",
                     info->name);
          continue;
        }
      EffectOpData *data = &effect_ops[k];
      memset (data, 0, sizeof *data);
      data->info = info;
      g_snprintf (data->op_name, sizeof data->op_name, "lisse:%s", info->name);
      g_autoptr (GString) type_name = g_string_new ("LisseGeglEffect");
      append_camel (type_name, info->name);
      g_strlcpy (data->type_name, type_name->str, sizeof data->type_name);
      if (info->choice.name)
        {
          append_camel (type_name, info->choice.name);
          g_strlcpy (data->choice_type_name, type_name->str, sizeof data->choice_type_name);
          data->choice_type = register_choice_enum (module, data);
          if (data->choice_type == G_TYPE_INVALID)
            {
              g_warning ("%s: its choice '%s' has no values or a bad default; not registered",
                         data->op_name, info->choice.name);
              continue;
            }
        }
      const GTypeInfo type_info = {
        .class_size = sizeof (LisseEffectOpClass),
        .class_init = effect_op_class_init,
        .class_finalize = effect_op_class_finalize,
        .class_data = data,
        .instance_size = sizeof (LisseEffectOp),
        .instance_init = effect_op_init,
      };
      GType parent = info->aux == LISSE_EFFECT_AUX_NONE ? GEGL_TYPE_OPERATION_FILTER
                                                        : GEGL_TYPE_OPERATION_COMPOSER;
      g_type_module_register_type (module, parent, data->type_name, &type_info, 0);
    }
}
