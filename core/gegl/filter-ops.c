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
 * Pixels are "R'G'B'A float" in the input's own space: the filters are
 * defined on non-linear values, as the command line sees them, and alpha
 * passes through untouched (three colour channels are filtered).
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

/* Decimals enough to show the smallest value a user is likely to set. */
static int
digits_for (double ui_min, double def)
{
  double x = ui_min > 0 ? MIN (ui_min, def) : def;
  if (x <= 0)
    return 3;
  if (x >= 10)
    return 0;
  if (x >= 1)
    return 2;
  return CLAMP ((int) ceil (-log10 (x)) + 1, 2, 6);
}

static GParamSpec *
make_pspec (const LisseParamSpec *spec, const OpParam *ui)
{
  /* Properties are set when the node is built, as gegl-op.h's are. */
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS
                            | GEGL_PARAM_PAD_INPUT;
  const char *nick = make_nick (spec);
  double ui_min = MAX (ui->ui_min, spec->min), ui_max = MIN (ui->ui_max, spec->max);
  if (!(ui_min < ui_max))
    {
      ui_min = spec->min;
      ui_max = spec->max;
    }
  if (spec->integer)
    {
      GParamSpec *p = gegl_param_spec_int (spec->name, nick, _(spec->blurb),
                                           (int) spec->min, (int) spec->max, (int) spec->def,
                                           (int) ui_min, (int) ui_max, ui->ui_gamma, flags);
      int big = MAX (1, (int) ((ui_max - ui_min) / 10));
      gegl_param_spec_int_set_steps (GEGL_PARAM_SPEC_INT (p), 1, big);
      return p;
    }
  GParamSpec *p = gegl_param_spec_double (spec->name, nick, _(spec->blurb),
                                          spec->min, spec->max, spec->def,
                                          ui_min, ui_max, ui->ui_gamma, flags);
  gegl_param_spec_double_set_steps (GEGL_PARAM_SPEC_DOUBLE (p),
                                    (ui_max - ui_min) / 100, (ui_max - ui_min) / 10);
  gegl_param_spec_double_set_digits (GEGL_PARAM_SPEC_DOUBLE (p), digits_for (ui_min, spec->def));
  return p;
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
  self->values[prop_id - 1] = G_VALUE_HOLDS_INT (value) ? g_value_get_int (value)
                                                        : g_value_get_double (value);
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
  double v = self->values[prop_id - 1];
  if (G_VALUE_HOLDS_INT (value))
    g_value_set_int (value, (int) lround (v));
  else
    g_value_set_double (value, v);
}

static void
filter_op_prepare (GeglOperation *operation)
{
  const Babl *space = gegl_operation_get_source_space (operation, "input");
  const Babl *format = babl_format_with_space ("R'G'B'A float", space);
  gegl_operation_set_format (operation, "input", format);
  gegl_operation_set_format (operation, "output", format);
}

/* The input's bounding box; FALSE when there is none or it is the infinite
 * plane (a pattern generator upstream), where "the whole image" has no
 * meaning and the op falls back to the rectangle asked for. */
static gboolean
input_bbox (GeglOperation *operation, GeglRectangle *bbox)
{
  const GeglRectangle *in = gegl_operation_source_get_bounding_box (operation, "input");
  if (!in || gegl_rectangle_is_infinite_plane (in))
    return FALSE;
  *bbox = *in;
  return TRUE;
}

static GeglRectangle
filter_op_get_bounding_box (GeglOperation *operation)
{
  const GeglRectangle *in = gegl_operation_source_get_bounding_box (operation, "input");
  GeglRectangle none = { 0, 0, 0, 0 };
  return in ? *in : none;
}

static GeglRectangle
whole_or (GeglOperation *operation, const GeglRectangle *roi)
{
  GeglRectangle bbox;
  return input_bbox (operation, &bbox) ? bbox : *roi;
}

static GeglRectangle
filter_op_get_required_for_output (GeglOperation *operation, const gchar *input_pad,
                                   const GeglRectangle *roi)
{
  return whole_or (operation, roi);
}

static GeglRectangle
filter_op_get_invalidated_by_change (GeglOperation *operation, const gchar *input_pad,
                                     const GeglRectangle *roi)
{
  return whole_or (operation, roi);
}

static GeglRectangle
filter_op_get_cached_region (GeglOperation *operation, const GeglRectangle *roi)
{
  return whole_or (operation, roi);
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

typedef struct
{
  GeglOperation *operation;
  double         last;
} OpProgress;

/* Forwards the core's progress to the node's "progress" signal, at most
 * once per percent.  GEGL has no way to cancel a running process, so this
 * never asks the filter to stop. */
static gboolean
op_progress (double fraction, gpointer user_data)
{
  OpProgress *p = user_data;
  if (fraction >= 1.0 || fraction - p->last >= 0.01)
    {
      p->last = fraction;
      gegl_operation_progress (p->operation, fraction, (gchar *) "");
    }
  return TRUE;
}

static gboolean
filter_op_process (GeglOperation *operation, GeglBuffer *input, GeglBuffer *output,
                   const GeglRectangle *roi, gint level)
{
  LisseFilterOp *self = (LisseFilterOp *) operation;
  LisseFilterOpClass *klass = LISSE_FILTER_OP_GET_CLASS (operation);
  const Babl *format = gegl_operation_get_format (operation, "output");

  if (!input)
    return TRUE;
  /* GEGL passes level-0 coordinates; the pixels of a mipmap level are read
   * and written in that level's coordinates, rounded as GEGL's own ops do. */
  GeglRectangle rect = *roi;
  if (level > 0)
    {
      rect.x = roi->x >> level;
      rect.y = roi->y >> level;
      rect.width = ((roi->x + roi->width) >> level) - rect.x;
      rect.height = ((roi->y + roi->height) >> level) - rect.y;
    }
  if (rect.width <= 0 || rect.height <= 0)
    return TRUE;

  const size_t n = (size_t) rect.width * rect.height;
  float *pixels = g_try_malloc_n (n, 4 * sizeof (float));
  if (!pixels)
    {
      g_warning ("%s: out of memory for a %d×%d image; the input is passed through unchanged",
                 klass->op->op_name, rect.width, rect.height);
      gegl_buffer_copy (input, roi, GEGL_ABYSS_NONE, output, roi);
      return TRUE;
    }
  gegl_buffer_get (input, &rect, 1.0 / (1 << level), format, pixels,
                   GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);

  GError *error = NULL;
  g_autoptr (LisseTensor) result = NULL;
  g_autoptr (LisseTensor) image = lisse_tensor_try_new (1, 4, rect.height, rect.width, &error);
  if (image)
    {
      for (int c = 0; c < 4; c++)
        {
          float *plane = lisse_tensor_channel (image, 0, c);
          for (size_t i = 0; i < n; i++)
            plane[i] = pixels[4 * i + c];
        }
      LisseParams params;
      params_for_level (self, klass, level, &params);
      OpProgress state = { operation, 0.0 };
      LisseProgress progress = { op_progress, &state, 0.0, 1.0 };
      gegl_operation_progress (operation, 0.0, (gchar *) "");
      result = lisse_filter_run (klass->filter, image, 3, NULL, &params, &progress, &error);
      gegl_operation_progress (operation, 1.0, (gchar *) "");
    }
  if (result)
    {
      for (int c = 0; c < 4; c++)
        {
          const float *plane = lisse_tensor_channel (result, 0, c);
          for (size_t i = 0; i < n; i++)
            pixels[4 * i + c] = plane[i];
        }
    }
  else
    {
      g_warning ("%s: %s; the input is passed through unchanged",
                 klass->op->op_name, error ? error->message : "failed");
      g_clear_error (&error);
    }
  gegl_buffer_set (output, &rect, level, format, pixels, GEGL_AUTO_ROWSTRIDE);
  g_free (pixels);
  return TRUE;
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

  operation_class->prepare = filter_op_prepare;
  operation_class->get_bounding_box = filter_op_get_bounding_box;
  operation_class->get_required_for_output = filter_op_get_required_for_output;
  operation_class->get_invalidated_by_change = filter_op_get_invalidated_by_change;
  operation_class->get_cached_region = filter_op_get_cached_region;
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
