/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The classical filters as GEGL operations.
 *
 * One generic GeglOperationFilter subclass is registered once per filter,
 * with the filter's descriptor as class data.  The properties are built at
 * class-init time from the core's LisseParamSpec list rather than written
 * out with gegl-op.h's property macros: the names, value ranges and defaults
 * then cannot drift from `lisse filter`.  Only presentation (slider ranges,
 * titles, menu entries) and the mipmap scaling of each parameter live here.
 *
 * Every op works on the whole input at once.  L0, RTV and WLS are global
 * solves, so any output pixel depends on every input pixel.  The guided,
 * bilateral and rolling-guidance filters are local, but their footprint
 * (several σs, compounded over rolling-guidance's iterations) is large
 * and the core's fast paths work per image, so processing the whole image is
 * the simple correct choice for them too: required-for-output, the cached
 * region and the region invalidated by any change are all the input's
 * bounding box, which is also the output's (a layer never grows).  The
 * result is cached, so GIMP's chunked rendering computes it once.
 *
 * Pixels are "R'G'B'A float" ("Y'A float" from a gray source) in the
 * input's own space: the filters are defined on non-linear values, as the
 * command line sees them, and alpha passes through untouched (the colour
 * channels are filtered).
 *
 * Zoomed-out rendering (GEGL `level` > 0, e.g. GIMP's canvas preview below
 * 100 %) processes the image at that level's resolution, as GEGL's own ops
 * do, with every parameter measured in pixels divided by 2^level so the
 * preview looks like the full-size result; see OpParam.level_power.
 *
 * A GEGL process function has no way to hand a GError to GIMP, so when a
 * filter fails (out of memory, an image the filter refuses) the op logs a
 * g_warning and passes its input through unchanged. */
#include "filter-ops.h"

#include <gegl-plugin.h>
#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "classic/filter.h"
#include "lisse-error.h"
#include "op-common.h"

#define LISSE_GEGL_MENU_PATH "<Image>/Filters/Lisse/Classic"

typedef struct
{
  const char *name;         /* the core parameter it applies to */
  double      ui_min, ui_max;
  double      ui_gamma;     /* >1 gives the small values more slider travel */
  /* The value is divided by 2^(level × level_power) at mipmap level `level`:
   * 1 for lengths in pixels (σs, radius, σ, and L0's λ, which weighs a count
   * of edge pixels against a sum over area), 2 for WLS's λ, a weight on
   * squared finite differences (its smoothing length goes as √λ). */
  int         level_power;
} OpParam;

typedef struct
{
  const char *op_name;      /* "lisse:l0" */
  const char *type_name;    /* GType name */
  const char *filter;       /* the core filter, lisse_filter_find() */
  const char *title;
  const char *menu_label;
  const char *categories;
  const char *summary;      /* what it does; the core's title and paper follow */
  OpParam     params[LISSE_MAX_PARAMS];   /* ends at the first NULL name */
} FilterOpInfo;

static const FilterOpInfo filter_ops[] = {
  {
    "lisse:l0", "LisseGeglL0", "l0",
    N_("L0 Smoothing"), N_("L0 Smoothing…"), "enhance:noise-reduction",
    N_("Flattens an image into regions of constant colour while keeping its strongest edges."),
    {
      { "lambda", 0.001, 0.2, 3.0, 1 },
      { "kappa", 1.1, 4.0, 1.0, 0 },
      { "beta-max", 1e3, 1e6, 3.0, 0 },
    },
  },
  {
    "lisse:rtv", "LisseGeglRtv", "rtv",
    N_("RTV Texture Removal"), N_("RTV Texture Removal…"), "enhance:noise-reduction",
    N_("Removes fine repeated texture (mosaics, fabric, print screens) and keeps the main structures."),
    {
      { "lambda", 0.0, 0.05, 1.5, 0 },
      { "sigma", 0.5, 10.0, 1.0, 1 },
      { "epsilon-s", 0.001, 0.1, 2.0, 0 },
      { "iterations", 1, 10, 1.0, 0 },
    },
  },
  {
    "lisse:wls", "LisseGeglWls", "wls",
    N_("WLS Smoothing"), N_("WLS Smoothing…"), "enhance:noise-reduction",
    N_("Smooths an image by weighted least squares, stopping at edges of its log-luminance."),
    {
      { "lambda", 0.0, 8.0, 2.0, 2 },
      { "alpha", 0.0, 3.0, 1.0, 0 },
    },
  },
  {
    "lisse:guided", "LisseGeglGuided", "guided",
    N_("Guided Filter"), N_("Guided Filter…"), "enhance:noise-reduction",
    N_("Self-guided edge-preserving smoothing: a local linear fit of the image to itself."),
    {
      { "radius", 1, 64, 2.0, 1 },
      { "epsilon", 1e-4, 0.2, 3.0, 0 },
    },
  },
  {
    "lisse:rolling-guidance", "LisseGeglRollingGuidance", "rolling-guidance",
    N_("Rolling Guidance Filter"), N_("Rolling Guidance Filter…"), "enhance:noise-reduction",
    N_("Removes structures smaller than the spatial scale, then restores the edges of the larger ones."),
    {
      { "sigma-s", 0.5, 20.0, 2.0, 1 },
      { "sigma-r", 0.01, 0.5, 2.0, 0 },
      { "iterations", 1, 10, 1.0, 0 },
    },
  },
  {
    "lisse:bilateral", "LisseGeglBilateral", "joint-bilateral",
    N_("Bilateral Filter"), N_("Bilateral Filter…"), "enhance:noise-reduction",
    N_("Averages each pixel with its neighbours of similar colour (self-guided)."),
    {
      { "sigma-s", 0.5, 32.0, 2.0, 1 },
      { "sigma-r", 0.01, 0.5, 2.0, 0 },
    },
  },
};

/* ---------------------------------------------------------------------- */
/* The op type                                                              */

typedef struct
{
  GeglOperationFilterClass parent_class;
  const FilterOpInfo      *op;
  const LisseFilterInfo   *filter;
  OpParam                  ui[LISSE_MAX_PARAMS];   /* by core parameter index */
  LisseOpClassProcess      parent_process;         /* GeglOperationFilter's own */
} LisseFilterOpClass;

typedef struct
{
  GeglOperationFilter parent_instance;
  double              values[LISSE_MAX_PARAMS];   /* by core parameter index */
} LisseFilterOp;

#define LISSE_FILTER_OP_GET_CLASS(obj) ((LisseFilterOpClass *) G_OBJECT_GET_CLASS (obj))

/* "beta-max", "β_max" -> "Beta max (β_max)": the word for the slider, the
 * papers' symbol beside it. */
static const char *
make_nick (const LisseParamSpec *spec)
{
  g_autofree char *words = g_strdelimit (g_strdup (spec->name), "-", ' ');
  words[0] = g_ascii_toupper (words[0]);
  if (g_ascii_strcasecmp (spec->label, words) == 0)
    return g_intern_string (words);
  g_autofree char *nick = g_strdup_printf ("%s (%s)", words, spec->label);
  return g_intern_string (nick);
}

static GParamSpec *
make_pspec (const LisseParamSpec *spec, const OpParam *ui)
{
  const char *nick = make_nick (spec);
  double ui_min = MAX (ui->ui_min, spec->min), ui_max = MIN (ui->ui_max, spec->max);
  if (!(ui_min < ui_max))
    {
      ui_min = spec->min;
      ui_max = spec->max;
    }
  return lisse_op_param_pspec (spec, nick, _(spec->blurb), ui_min, ui_max, ui->ui_gamma);
}

static void
filter_op_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  LisseFilterOp *self = (LisseFilterOp *) object;
  LisseFilterOpClass *klass = LISSE_FILTER_OP_GET_CLASS (object);
  if (prop_id < 1 || (int) prop_id > klass->filter->n_params)
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }
  self->values[prop_id - 1] = lisse_op_value_get_number (value);
}

static void
filter_op_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  LisseFilterOp *self = (LisseFilterOp *) object;
  LisseFilterOpClass *klass = LISSE_FILTER_OP_GET_CLASS (object);
  if (prop_id < 1 || (int) prop_id > klass->filter->n_params)
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }
  lisse_op_value_set_number (value, self->values[prop_id - 1]);
}

/* The op's values for a run at mipmap @level: lengths shrink with the image,
 * then everything is clamped to the core's range (a 1-pixel radius stays 1). */
static void
params_for_level (const LisseFilterOp *self, const LisseFilterOpClass *klass, int level,
                  LisseParams *params)
{
  const LisseFilterInfo *f = klass->filter;
  lisse_params_init (params, f->params, f->n_params);
  for (int i = 0; i < f->n_params; i++)
    {
      const LisseParamSpec *spec = &f->params[i];
      double v = self->values[i];
      if (level > 0 && klass->ui[i].level_power > 0)
        v = ldexp (v, -level * klass->ui[i].level_power);
      if (spec->integer)
        v = round (v);
      params->values[i] = CLAMP (v, spec->min, spec->max);
    }
}

/* A LisseOpRunFunc: runs the op's filter on @pixels. */
static gboolean
run_filter (GeglOperation *operation, float *pixels, int nc, const GeglRectangle *rect, int level,
            gpointer user_data, GError **error)
{
  LisseFilterOp *self = (LisseFilterOp *) operation;
  LisseFilterOpClass *klass = LISSE_FILTER_OP_GET_CLASS (operation);

  g_autoptr (LisseTensor) image = lisse_tensor_new_from_pixels (pixels, nc, rect->width,
                                                               rect->height, error);
  if (!image)
    return FALSE;
  LisseParams params;
  params_for_level (self, klass, level, &params);
  LisseOpProgress state = { operation, "", 0.0 };
  LisseProgress progress = { lisse_op_progress, &state, 0.0, 1.0 };
  gegl_operation_progress (operation, 0.0, (gchar *) "");
  g_autoptr (LisseTensor) result = lisse_filter_run (klass->filter, image, nc - 1, NULL, &params,
                                                     &progress, error);
  gegl_operation_progress (operation, 1.0, (gchar *) "");
  if (!result)
    return FALSE;
  lisse_tensor_get_pixels (result, 0, 0, result->w, result->h, nc, pixels);
  return TRUE;
}

/* A LisseOpFitsFunc: the filter's memory budget check. */
static gboolean
filter_op_fits (GeglOperation *operation, int width, int height, int nc, GError **error)
{
  return lisse_filter_check_memory (LISSE_FILTER_OP_GET_CLASS (operation)->filter, width, height,
                                    nc, 0, error);
}

/* GeglOperationClass.process: refuse an image beyond the memory budget
 * before GEGL hands the op an output buffer (op-common.h). */
static gboolean
filter_op_class_process (GeglOperation *operation, GeglOperationContext *context,
                         const gchar *output_pad, const GeglRectangle *roi, gint level)
{
  const LisseFilterOpClass *klass = LISSE_FILTER_OP_GET_CLASS (operation);
  return lisse_op_process_if_fits (operation, context, output_pad, roi, level,
                                   klass->op->op_name, filter_op_fits, klass->parent_process);
}

static gboolean
filter_op_process (GeglOperation *operation, GeglBuffer *input, GeglBuffer *output,
                   const GeglRectangle *roi, gint level)
{
  LisseFilterOpClass *klass = LISSE_FILTER_OP_GET_CLASS (operation);
  return lisse_op_process_pixels (operation, klass->op->op_name, input, output, roi, level,
                                  run_filter, NULL);
}

static void
filter_op_class_init (gpointer g_class, gpointer class_data)
{
  LisseFilterOpClass *klass = g_class;
  GObjectClass *object_class = G_OBJECT_CLASS (g_class);
  GeglOperationClass *operation_class = GEGL_OPERATION_CLASS (g_class);
  GeglOperationFilterClass *filter_class = GEGL_OPERATION_FILTER_CLASS (g_class);
  const FilterOpInfo *op = class_data;
  const LisseFilterInfo *f = lisse_filter_find (op->filter);   /* checked at registration */

  klass->op = op;
  klass->filter = f;
  object_class->set_property = filter_op_set_property;
  object_class->get_property = filter_op_get_property;

  for (int i = 0; i < f->n_params; i++)
    {
      const LisseParamSpec *spec = &f->params[i];
      OpParam ui = { spec->name, spec->min, spec->max, 1.0, 0 };
      for (const OpParam *u = op->params; u < op->params + LISSE_MAX_PARAMS && u->name; u++)
        if (strcmp (u->name, spec->name) == 0)
          ui = *u;
      klass->ui[i] = ui;
      g_object_class_install_property (object_class, i + 1, make_pspec (spec, &ui));
    }

  operation_class->prepare = lisse_op_set_formats;
  klass->parent_process = operation_class->process;   /* inherited from the parent */
  operation_class->process = filter_op_class_process;
  lisse_op_class_use_whole_input (operation_class);
  /* One call over the whole image: the core parallelises inside. */
  operation_class->threaded = FALSE;
  filter_class->process = filter_op_process;

  g_autofree char *description = g_strdup_printf ("%s %s (%s).", _(op->summary), _(f->title),
                                                  f->reference);
  gegl_operation_class_set_keys (operation_class,
                                 "name", op->op_name,
                                 "title", _(op->title),
                                 "categories", op->categories,
                                 "license", "GPL3+",
                                 "description", description,
                                 "gimp:menu-path", LISSE_GEGL_MENU_PATH,
                                 "gimp:menu-label", _(op->menu_label),
                                 NULL);
}

static void
filter_op_class_finalize (gpointer g_class, gpointer class_data)
{
}

static void
filter_op_init (GTypeInstance *instance, gpointer g_class)
{
  LisseFilterOp *self = (LisseFilterOp *) instance;
  const LisseFilterInfo *f = ((LisseFilterOpClass *) g_class)->filter;
  for (int i = 0; i < f->n_params; i++)
    self->values[i] = f->params[i].def;
}

void
lisse_gegl_filter_ops_register (GTypeModule *module)
{
  for (size_t k = 0; k < G_N_ELEMENTS (filter_ops); k++)
    {
      const FilterOpInfo *op = &filter_ops[k];
      const LisseFilterInfo *f = lisse_filter_find (op->filter);
      if (!f || f->n_params > LISSE_MAX_PARAMS)
        {
          g_warning ("%s: no core filter '%s'; the op is not registered", op->op_name, op->filter);
          continue;
        }
      for (const OpParam *u = op->params; u < op->params + LISSE_MAX_PARAMS && u->name; u++)
        {
          LisseParams probe;
          lisse_params_init (&probe, f->params, f->n_params);
          if (!lisse_params_find (&probe, u->name))
            g_warning ("%s: slider settings for '%s', which '%s' does not have",
                       op->op_name, u->name, op->filter);
        }
      const GTypeInfo info = {
        .class_size = sizeof (LisseFilterOpClass),
        .class_init = filter_op_class_init,
        .class_finalize = filter_op_class_finalize,
        .class_data = op,
        .instance_size = sizeof (LisseFilterOp),
        .instance_init = filter_op_init,
      };
      g_type_module_register_type (module, GEGL_TYPE_OPERATION_FILTER, op->type_name, &info, 0);
    }
}
