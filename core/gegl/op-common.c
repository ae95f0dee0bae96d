/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the classical-filter ops and the effect ops share (op-common.h):
 * whole-input regions, pixels to tensors and back, the process skeleton
 * with its pass-through on failure, and progress forwarding. */
#define G_LOG_DOMAIN "lisse-gegl"

#include "op-common.h"

#include <math.h>

#include "lisse-error.h"

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

GParamSpec *
lisse_op_param_pspec (const LisseParamSpec *spec, const char *nick, const char *blurb,
                      double ui_min, double ui_max, double ui_gamma)
{
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS
                            | GEGL_PARAM_PAD_INPUT;
  if (spec->integer)
    {
      GParamSpec *p = gegl_param_spec_int (spec->name, nick, blurb,
                                           (int) spec->min, (int) spec->max, (int) spec->def,
                                           (int) ui_min, (int) ui_max, ui_gamma, flags);
      int big = MAX (1, (int) ((ui_max - ui_min) / 10));
      gegl_param_spec_int_set_steps (GEGL_PARAM_SPEC_INT (p), 1, big);
      return p;
    }
  GParamSpec *p = gegl_param_spec_double (spec->name, nick, blurb,
                                          spec->min, spec->max, spec->def,
                                          ui_min, ui_max, ui_gamma, flags);
  gegl_param_spec_double_set_steps (GEGL_PARAM_SPEC_DOUBLE (p),
                                    (ui_max - ui_min) / 100, (ui_max - ui_min) / 10);
  gegl_param_spec_double_set_digits (GEGL_PARAM_SPEC_DOUBLE (p), digits_for (ui_min, spec->def));
  return p;
}

double
lisse_op_value_get_number (const GValue *value)
{
  return G_VALUE_HOLDS_INT (value) ? g_value_get_int (value) : g_value_get_double (value);
}

void
lisse_op_value_set_number (GValue *value, double v)
{
  if (G_VALUE_HOLDS_INT (value))
    g_value_set_int (value, (int) lround (v));
  else
    g_value_set_double (value, v);
}

void
lisse_op_set_formats (GeglOperation *operation)
{
  const Babl *space = gegl_operation_get_source_space (operation, "input");
  const Babl *source = gegl_operation_get_source_format (operation, "input");
  gboolean gray = source && babl_format_get_n_components (source)
                            - (babl_format_has_alpha (source) ? 1 : 0) == 1;
  const Babl *format = babl_format_with_space (gray ? "Y'A float" : "R'G'B'A float", space);
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

/* The input's, not the union with the aux (a composer's default). */
static GeglRectangle
whole_input_bounding_box (GeglOperation *operation)
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

/* For every pad: a mask or guide is read over the input's rectangle. */
static GeglRectangle
whole_input_required_for_output (GeglOperation *operation, const gchar *input_pad,
                                  const GeglRectangle *roi)
{
  return whole_or (operation, roi);
}

static GeglRectangle
whole_input_invalidated_by_change (GeglOperation *operation, const gchar *input_pad,
                                   const GeglRectangle *roi)
{
  return whole_or (operation, roi);
}

static GeglRectangle
whole_input_cached_region (GeglOperation *operation, const GeglRectangle *roi)
{
  return whole_or (operation, roi);
}

void
lisse_op_class_use_whole_input (GeglOperationClass *operation_class)
{
  operation_class->get_bounding_box = whole_input_bounding_box;
  operation_class->get_required_for_output = whole_input_required_for_output;
  operation_class->get_invalidated_by_change = whole_input_invalidated_by_change;
  operation_class->get_cached_region = whole_input_cached_region;
}

/* @roi in mipmap @level's coordinates, rounded as GEGL's own ops do. */
static GeglRectangle
level_rect (const GeglRectangle *roi, int level)
{
  GeglRectangle rect = *roi;
  if (level > 0)
    {
      rect.x = roi->x >> level;
      rect.y = roi->y >> level;
      rect.width = ((roi->x + roi->width) >> level) - rect.x;
      rect.height = ((roi->y + roi->height) >> level) - rect.y;
    }
  return rect;
}

gboolean
lisse_op_process_pixels (GeglOperation *operation, const char *op_name,
                         GeglBuffer *input, GeglBuffer *output,
                         const GeglRectangle *roi, int level,
                         LisseOpRunFunc run, gpointer user_data)
{
  const Babl *format = gegl_operation_get_format (operation, "output");

  if (!input)
    return TRUE;
  /* GEGL passes level-0 coordinates; the pixels of a mipmap level are read
   * and written in that level's coordinates, rounded as GEGL's own ops do. */
  GeglRectangle rect = level_rect (roi, level);
  if (rect.width <= 0 || rect.height <= 0)
    return TRUE;

  const int nc = babl_format_get_n_components (format);
  float *pixels = g_try_malloc_n ((size_t) rect.width * rect.height, nc * sizeof (float));
  if (!pixels)
    {
      g_warning ("%s: out of memory for a %d×%d image; the input is passed through unchanged",
                 op_name, rect.width, rect.height);
      gegl_buffer_copy (input, roi, GEGL_ABYSS_NONE, output, roi);
      return TRUE;
    }
  gegl_buffer_get (input, &rect, 1.0 / (1 << level), format, pixels,
                   GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);

  GError *error = NULL;
  if (!run (operation, pixels, nc, &rect, level, user_data, &error))
    {
      g_warning ("%s: %s; the input is passed through unchanged", op_name,
                 error ? error->message : "failed");
      g_clear_error (&error);
    }
  gegl_buffer_set (output, &rect, level, format, pixels, GEGL_AUTO_ROWSTRIDE);
  g_free (pixels);
  return TRUE;
}

gboolean
lisse_op_process_if_fits (GeglOperation *operation, GeglOperationContext *context,
                          const gchar *output_pad, const GeglRectangle *roi, gint level,
                          const char *op_name, LisseOpFitsFunc fits,
                          LisseOpClassProcess parent_process)
{
  const GeglRectangle rect = level_rect (roi, level);
  const Babl *format = gegl_operation_get_format (operation, "output");
  const int nc = format ? babl_format_get_n_components (format) : 4;
  GError *error = NULL;
  if (rect.width > 0 && rect.height > 0
      && !fits (operation, rect.width, rect.height, nc, &error))
    {
      /* A passed-through result is not cached, so GEGL asks again for each
       * chunk it renders (GIMP: every projection chunk): say it once per
       * node and size, not once per chunk. */
      g_autofree char *said = g_strdup_printf ("%dx%d@%d", rect.width, rect.height, level);
      if (g_strcmp0 (g_object_get_data (G_OBJECT (operation), "lisse-refused"), said) != 0)
        {
          g_warning ("%s: %s; the input is passed through unchanged", op_name,
                     error ? error->message : "the image is too large");
          g_object_set_data_full (G_OBJECT (operation), "lisse-refused",
                                  g_steal_pointer (&said), g_free);
        }
      g_clear_error (&error);
      GObject *input = gegl_operation_context_get_object (context, "input");
      if (input)
        gegl_operation_context_take_object (context, output_pad, g_object_ref (input));
      return TRUE;
    }
  return parent_process (operation, context, output_pad, roi, level);
}

gboolean
lisse_op_progress (double fraction, gpointer user_data)
{
  LisseOpProgress *p = user_data;
  if (fraction >= 1.0 || fraction - p->last >= 0.01)
    {
      p->last = fraction;
      gegl_operation_progress (p->operation, fraction, (gchar *) p->message);
    }
  return TRUE;
}
