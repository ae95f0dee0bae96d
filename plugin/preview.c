/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The dialogs' live previews (preview.h): on canvas through a
 * GimpDrawableFilter, or in the dialog through a GimpDrawablePreview and
 * lisse_effect_run() on the visible rectangle. */
#include "preview.h"

#include "config-params.h"
#include "lisse-error.h"

#include <glib/gi18n-lib.h>
#include <string.h>

/* While a parameter changes, both previews show drafts
 * (lisse_effect_run_draft(): the effect at reduced resolution, its detail
 * restored by guided upsampling), at most one per DRAFT_DELAY_MS so that a
 * slider drag costs one draft per pause, not one per pixel moved; once the
 * parameters have rested for REST_DELAY_MS the full-quality render
 * replaces the draft. */
#define DRAFT_DELAY_MS 40
#define REST_DELAY_MS 500

/* ---- on canvas ---- */

struct _LisseCanvasPreview
{
  GimpDrawable          *drawable;
  GimpImage             *image;
  GimpDrawableFilter    *filter;   /* owned by libgimp */
  GimpProcedureConfig   *config;
  const LisseEffectInfo *effect;
  gulong                 notify_id;
  guint                  draft_id, rest_id;
  guint                  drafts, renders;   /* asked of GIMP's core */
  gboolean               visible;
};

/* Sets the filter's property @name from @value, converting to the
 * property's type: numbers as numbers, and the choice — a GEGL enum in the
 * core, which libgimp shows as a string (GimpChoice) property — by nick. */
static void
set_filter_property (GObject *filter_config, const char *name, const GValue *value)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (filter_config), name);
  if (!pspec)
    {
      g_printerr ("lisse: the GEGL operation has no property '%s'\n", name);
      return;
    }
  GValue converted = G_VALUE_INIT;
  g_value_init (&converted, pspec->value_type);
  if (G_VALUE_HOLDS_STRING (value) && G_TYPE_IS_ENUM (pspec->value_type))
    {
      GEnumClass *klass = g_type_class_ref (pspec->value_type);
      GEnumValue *v = g_enum_get_value_by_nick (klass, g_value_get_string (value));
      if (v)
        g_value_set_enum (&converted, v->value);
      g_type_class_unref (klass);
    }
  else if (!g_value_transform (value, &converted))
    {
      g_printerr ("lisse: cannot set property '%s' of the GEGL operation from a %s\n",
                  name, G_VALUE_TYPE_NAME (value));
      g_value_unset (&converted);
      return;
    }
  g_object_set_property (filter_config, name, &converted);
  g_value_unset (&converted);
}

/* Hands the config's values, and whether to draft, to the filter. */
static void
canvas_sync (LisseCanvasPreview *self, gboolean draft)
{
  GObject *filter_config = G_OBJECT (gimp_drawable_filter_get_config (self->filter));
  LisseParams params;
  const char *choice;

  /* The dialog's widgets keep the values in range: no error to show. */
  if (!lisse_config_read_params (self->config, self->effect, &params, &choice, NULL))
    return;
  for (int i = 0; i < self->effect->n_params; i++)
    {
      GValue v = G_VALUE_INIT;
      g_value_init (&v, G_TYPE_DOUBLE);
      g_value_set_double (&v, params.values[i]);
      set_filter_property (filter_config, self->effect->params[i].name, &v);
      g_value_unset (&v);
    }
  if (choice)
    {
      GValue v = G_VALUE_INIT;
      g_value_init (&v, G_TYPE_STRING);
      g_value_set_static_string (&v, choice);
      set_filter_property (filter_config, self->effect->choice.name, &v);
      g_value_unset (&v);
    }
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_BOOLEAN);
  g_value_set_boolean (&v, draft);
  set_filter_property (filter_config, "draft", &v);
  g_value_unset (&v);
  if (draft)
    self->drafts++;
  else
    self->renders++;
  gimp_drawable_filter_update (self->filter);
  gimp_displays_flush ();
}

static gboolean
canvas_draft_now (gpointer data)
{
  LisseCanvasPreview *self = data;
  self->draft_id = 0;
  canvas_sync (self, TRUE);
  return G_SOURCE_REMOVE;
}

static gboolean
canvas_full_now (gpointer data)
{
  LisseCanvasPreview *self = data;
  self->rest_id = 0;
  if (self->draft_id)
    {
      g_source_remove (self->draft_id);
      self->draft_id = 0;
    }
  canvas_sync (self, FALSE);
  return G_SOURCE_REMOVE;
}

/* Whether the layer is large enough for a draft to be quicker than the
 * full render (the op drafts the whole layer, at GIMP's zoom level or
 * full size). */
static gboolean
canvas_drafts (LisseCanvasPreview *self)
{
  return lisse_effect_draft_factor (gimp_drawable_get_width (self->drawable),
                                    gimp_drawable_get_height (self->drawable),
                                    LISSE_DRAFT_PIXELS) > 1;
}

static void
canvas_config_changed (GObject *config, GParamSpec *pspec, LisseCanvasPreview *self)
{
  gboolean relevant = g_strcmp0 (pspec->name, self->effect->choice.name) == 0;
  for (int i = 0; i < self->effect->n_params && !relevant; i++)
    relevant = strcmp (pspec->name, self->effect->params[i].name) == 0;
  if (!relevant)
    return;
  if (!canvas_drafts (self))
    {
      if (!self->rest_id)   /* no draft: the full render after the burst */
        self->rest_id = g_timeout_add (DRAFT_DELAY_MS, canvas_full_now, self);
      return;
    }
  if (!self->draft_id)
    self->draft_id = g_timeout_add (DRAFT_DELAY_MS, canvas_draft_now, self);
  if (self->rest_id)
    g_source_remove (self->rest_id);
  self->rest_id = g_timeout_add (REST_DELAY_MS, canvas_full_now, self);
}

LisseCanvasPreview *
lisse_canvas_preview_new (GimpDrawable *drawable, GimpProcedureConfig *config,
                          const LisseEffectInfo *effect, GError **error)
{
  if (!GIMP_IS_LAYER (drawable))
    {
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                  _("only layers can show a preview on the canvas"));
      return NULL;
    }
  char *op = g_strconcat ("lisse:", effect->name, NULL);
  GimpDrawableFilter *filter = gimp_drawable_filter_new (drawable, op, _(effect->title));
  if (!filter)
    {
      lisse_fail (error, LISSE_ERROR_UNKNOWN_NAME,
                  _("GIMP cannot run the GEGL operation %s (is lisse-gegl installed?)"), op);
      g_free (op);
      return NULL;
    }
  g_free (op);

  LisseCanvasPreview *self = g_new0 (LisseCanvasPreview, 1);
  self->drawable = g_object_ref (drawable);
  self->image = gimp_item_get_image (GIMP_ITEM (drawable));
  self->filter = filter;
  self->config = g_object_ref (config);
  self->effect = effect;
  self->visible = TRUE;

  /* Adding and removing the preview filter would leave two steps in the
   * image's undo history; grouped they are one, and it undoes nothing.
   * The group is closed in lisse_canvas_preview_free(). */
  gimp_image_undo_group_start (self->image);
  gimp_drawable_append_filter (drawable, filter);
  gboolean draft = canvas_drafts (self);
  canvas_sync (self, draft);
  if (draft)
    self->rest_id = g_timeout_add (REST_DELAY_MS, canvas_full_now, self);
  self->notify_id = g_signal_connect (config, "notify", G_CALLBACK (canvas_config_changed), self);
  return self;
}

void
lisse_canvas_preview_set_visible (LisseCanvasPreview *self, gboolean visible)
{
  self->visible = visible;
  gimp_drawable_filter_set_visible (self->filter, visible);
  gimp_displays_flush ();
}

gboolean
lisse_canvas_preview_get_visible (LisseCanvasPreview *self)
{
  return self->visible;
}

gint
lisse_canvas_preview_get_filter_id (LisseCanvasPreview *self)
{
  return gimp_drawable_filter_get_id (self->filter);
}

guint
lisse_canvas_preview_get_drafts (LisseCanvasPreview *self)
{
  return self->drafts;
}

guint
lisse_canvas_preview_get_renders (LisseCanvasPreview *self)
{
  return self->renders;
}

void
lisse_canvas_preview_free (LisseCanvasPreview *self)
{
  if (!self)
    return;
  if (self->draft_id)
    g_source_remove (self->draft_id);
  if (self->rest_id)
    g_source_remove (self->rest_id);
  g_signal_handler_disconnect (self->config, self->notify_id);
  if (gimp_drawable_filter_is_valid (self->filter))
    gimp_drawable_filter_delete (self->filter);
  gimp_image_undo_group_end (self->image);
  gimp_displays_flush ();
  g_object_unref (self->config);
  g_object_unref (self->drawable);
  g_free (self);
}

/* ---- in the dialog ---- */

struct _LisseRegionPreview
{
  GimpPreview           *preview;
  GimpDrawable          *drawable;
  GimpProcedureConfig   *config;
  const LisseEffectInfo *effect;
  LisseMaskModel        *mask;
  GtkLabel              *status;
  gulong                 invalidated_id, notify_id;
  guint                  draft_id, rest_id;
  guint                  count, drafts;      /* full renders and drafts shown */
  gboolean               failed;
  gint64                 changed_at;         /* last parameter change (µs), or 0 */
  double                 draft_latency_ms;   /* from that change to its draft shown */
};

static const Babl *
drawable_float_format (GimpDrawable *drawable)
{
  return babl_format_with_space (gimp_drawable_is_gray (drawable) ? "Y'A float" : "R'G'B'A float",
                                 gimp_drawable_get_format (drawable));
}

/* gimp_preview_draw_buffer() takes 8-bit pixels in the drawable's own
 * layout. */
static const Babl *
drawable_u8_format (GimpDrawable *drawable)
{
  gboolean alpha = gimp_drawable_has_alpha (drawable);
  const char *name = gimp_drawable_is_gray (drawable) ? (alpha ? "Y'A u8" : "Y' u8")
                                                      : (alpha ? "R'G'B'A u8" : "R'G'B' u8");
  return babl_format_with_space (name, gimp_drawable_get_format (drawable));
}

/* The rectangle of @drawable (its own coordinates) as a 1×C×h×w tensor in
 * @format (C = the format's components); outside the drawable, its edge. */
static LisseTensor *
read_region (GimpDrawable *drawable, const Babl *format, int x, int y, int w, int h,
             GError **error)
{
  int c = babl_format_get_n_components (format);
  float *interleaved = g_try_new (float, (size_t) w * h * c);
  if (!interleaved)
    {
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, _("out of memory for the preview"));
      return NULL;
    }
  GeglBuffer *buffer = gimp_drawable_get_buffer (drawable);
  gegl_buffer_get (buffer, GEGL_RECTANGLE (x, y, w, h), 1.0, format, interleaved,
                   GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_CLAMP);
  g_object_unref (buffer);
  LisseTensor *t = lisse_tensor_new_from_pixels (interleaved, c, w, h, error);
  g_free (interleaved);
  return t;
}

/* The aux input for the rectangle, or NULL (none needed, or none given:
 * then *missing says whether the effect requires one). */
static LisseTensor *
read_aux (LisseRegionPreview *self, int x, int y, int w, int h, gboolean *missing,
          GError **error)
{
  *missing = FALSE;
  if (self->effect->aux == LISSE_EFFECT_AUX_MASK && self->mask)
    {
      LisseTensor *m = lisse_tensor_try_new (1, 1, h, w, error);
      if (m)
        lisse_mask_model_resample (self->mask, gimp_drawable_get_width (self->drawable),
                                   gimp_drawable_get_height (self->drawable), x, y, w, h, m->data);
      return m;
    }
  if (self->effect->aux == LISSE_EFFECT_AUX_GUIDE)
    {
      GimpDrawable *guide = NULL;
      g_object_get (self->config, "guide", &guide, NULL);
      if (!guide)
        {
          *missing = self->effect->aux_required;
          return NULL;
        }
      /* Pixel (x, y) of the guide steers pixel (x, y) of the target
       * whatever their offsets, as apply.c runs it (plugin/README.md). */
      const Babl *format = babl_format_with_space (gimp_drawable_is_gray (guide) ? "Y' float"
                                                                                : "R'G'B' float",
                                                   gimp_drawable_get_format (guide));
      LisseTensor *g = read_region (guide, format, x, y, w, h, error);
      g_object_unref (guide);
      return g;
    }
  return NULL;
}

/* Writes the rectangle (ox, oy, w, h) of @t (C planes) to @out in the
 * drawable's 8-bit layout. */
static void
tensor_to_u8 (const LisseTensor *t, int ox, int oy, int w, int h, const Babl *float_format,
              const Babl *u8_format, guchar *out)
{
  float *interleaved = g_new (float, (size_t) w * h * t->c);
  lisse_tensor_get_pixels (t, ox, oy, w, h, t->c, interleaved);
  babl_process (babl_fish (float_format, u8_format), interleaved, out, (long) w * h);
  g_free (interleaved);
}

/* Computes and shows the visible rectangle: a draft, or the full render. */
static void
region_render (LisseRegionPreview *self, gboolean draft)
{
  GimpPreview *preview = self->preview;
  int x, y, w, h;
  gimp_preview_get_position (preview, &x, &y);
  gimp_preview_get_size (preview, &w, &h);
  if (w <= 0 || h <= 0)
    return;

  int dw = gimp_drawable_get_width (self->drawable), dh = gimp_drawable_get_height (self->drawable);
  int rx = MAX (0, x - LISSE_PREVIEW_MARGIN), ry = MAX (0, y - LISSE_PREVIEW_MARGIN);
  int rw = MIN (dw, x + w + LISSE_PREVIEW_MARGIN) - rx;
  int rh = MIN (dh, y + h + LISSE_PREVIEW_MARGIN) - ry;
  const Babl *float_format = drawable_float_format (self->drawable);
  const Babl *u8_format = drawable_u8_format (self->drawable);
  GError *error = NULL;
  gboolean missing = FALSE;
  LisseTensor *out = NULL;

  LisseTensor *image = read_region (self->drawable, float_format, rx, ry, rw, rh, &error);
  LisseTensor *aux = image ? read_aux (self, rx, ry, rw, rh, &missing, &error) : NULL;
  if (image && !error && !missing)
    {
      LisseParams params;
      const char *choice;
      if (lisse_config_read_params (self->config, self->effect, &params, &choice, &error))
        out = draft ? lisse_effect_run_draft (self->effect, image, aux, &params, choice, 1.0,
                                              LISSE_DRAFT_PIXELS, NULL, &error)
                    : lisse_effect_run (self->effect, image, aux, &params, choice, 1.0, NULL,
                                        &error);
    }

  /* Without a result the preview shows the picture as it is, and the
   * status line says why. */
  const LisseTensor *shown = out ? out : image;
  if (shown)
    {
      guchar *pixels = g_new (guchar, (size_t) w * h * babl_format_get_bytes_per_pixel (u8_format));
      tensor_to_u8 (shown, x - rx, y - ry, w, h, float_format, u8_format, pixels);
      gimp_preview_draw_buffer (preview, pixels, w * babl_format_get_bytes_per_pixel (u8_format));
      g_free (pixels);
    }
  if (draft)
    {
      self->drafts++;
      if (self->changed_at)
        self->draft_latency_ms = (g_get_monotonic_time () - self->changed_at) / 1000.0;
    }
  else
    self->count++;
  self->changed_at = 0;
  self->failed = out == NULL;
  if (self->status)
    {
      if (missing)
        gtk_label_set_text (self->status, _("Choose a guide to see the preview."));
      else if (error)
        gtk_label_set_text (self->status, error->message);
      else
        gtk_label_set_text (self->status, draft && out ? _("Draft: the full preview follows.")
                                                       : "");
    }
  g_clear_error (&error);
  lisse_tensor_free (out);
  lisse_tensor_free (aux);
  lisse_tensor_free (image);
}

static gboolean
region_full_now (gpointer data)
{
  LisseRegionPreview *self = data;
  self->rest_id = 0;
  if (self->draft_id)
    {
      g_source_remove (self->draft_id);
      self->draft_id = 0;
    }
  region_render (self, FALSE);
  return G_SOURCE_REMOVE;
}

static gboolean
region_draft_now (gpointer data)
{
  LisseRegionPreview *self = data;
  self->draft_id = 0;
  region_render (self, TRUE);
  return G_SOURCE_REMOVE;
}

/* Whether the visible rectangle, with its margin, is large enough for a
 * draft to be quicker than the full render. */
static gboolean
region_drafts (LisseRegionPreview *self)
{
  int w, h;
  gimp_preview_get_size (self->preview, &w, &h);
  return lisse_effect_draft_factor (w + 2 * LISSE_PREVIEW_MARGIN, h + 2 * LISSE_PREVIEW_MARGIN,
                                    LISSE_DRAFT_PIXELS) > 1;
}

/* A draft now (or soon after a burst of changes), the full render once
 * nothing has changed for REST_DELAY_MS. */
static void
region_schedule (LisseRegionPreview *self, gboolean draft_at_once)
{
  if (!region_drafts (self))
    {
      region_full_now (self);
      return;
    }
  if (self->rest_id)
    g_source_remove (self->rest_id);
  self->rest_id = g_timeout_add (REST_DELAY_MS, region_full_now, self);
  if (draft_at_once)
    {
      if (self->draft_id)
        g_source_remove (self->draft_id);
      self->draft_id = 0;
      region_render (self, TRUE);
    }
  else if (!self->draft_id)
    self->draft_id = g_timeout_add (DRAFT_DELAY_MS, region_draft_now, self);
}

/* The preview scrolled or resized (GimpPreview's own, already delayed,
 * signal). */
static void
region_invalidated (GimpPreview *preview, LisseRegionPreview *self)
{
  region_schedule (self, TRUE);
}

/* A parameter changed: straight to a draft, without GimpPreview's own
 * 200 ms delay (gimp_preview_invalidate()). */
static void
region_config_changed (GObject *config, GParamSpec *pspec, LisseRegionPreview *self)
{
  if (!self->changed_at)
    self->changed_at = g_get_monotonic_time ();
  region_schedule (self, FALSE);
}

LisseRegionPreview *
lisse_region_preview_new (GimpPreview *preview, GimpDrawable *drawable,
                          GimpProcedureConfig *config, const LisseEffectInfo *effect,
                          LisseMaskModel *mask, GtkLabel *status)
{
  LisseRegionPreview *self = g_new0 (LisseRegionPreview, 1);
  self->preview = g_object_ref (preview);
  self->drawable = g_object_ref (drawable);
  self->config = g_object_ref (config);
  self->effect = effect;
  self->mask = mask;
  self->status = status;
  self->invalidated_id = g_signal_connect (preview, "invalidated",
                                           G_CALLBACK (region_invalidated), self);
  self->notify_id = g_signal_connect (config, "notify", G_CALLBACK (region_config_changed), self);
  return self;
}

guint
lisse_region_preview_get_count (LisseRegionPreview *self)
{
  return self->count;
}

gboolean
lisse_region_preview_get_failed (LisseRegionPreview *self)
{
  return self->failed;
}

guint
lisse_region_preview_get_drafts (LisseRegionPreview *self, double *latency_ms)
{
  if (latency_ms)
    *latency_ms = self->draft_latency_ms;
  return self->drafts;
}

void
lisse_region_preview_free (LisseRegionPreview *self)
{
  if (!self)
    return;
  if (self->draft_id)
    g_source_remove (self->draft_id);
  if (self->rest_id)
    g_source_remove (self->rest_id);
  g_signal_handler_disconnect (self->preview, self->invalidated_id);
  g_signal_handler_disconnect (self->config, self->notify_id);
  g_object_unref (self->preview);
  g_object_unref (self->drawable);
  g_object_unref (self->config);
  g_free (self);
}
