/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The effects' dialogs (dialog.h), built on GimpProcedureDialog from the
 * effect's declaration: one slider per parameter (the papers' names and
 * ranges), the model / method / mode chooser, and a live preview —
 *   - effects without an aux input: on the canvas, through the GEGL
 *     operation lisse:<effect> in GIMP's core (preview.c), with a toggle;
 *   - Joint Filter: in the dialog, with the guide chosen by the "guide"
 *     argument's drawable chooser;
 *   - Content-Aware: in the dialog, next to the mask painter (ui/), which
 *     starts from the given mask channel or from the automatic
 *     frequency-tuned saliency; on OK the painted mask becomes the channel
 *     "Lisse mask" of the image and the config's "mask", so a script can
 *     reproduce the result.
 *
 * Test hooks (tests/test-gimp-dialogs.py), read from the environment:
 *   LISSE_DIALOG_DUMP=DIR   once the dialog is up (and an in-dialog preview
 *     has been computed, or 10 s passed) write DIR/<effect>.ready: the
 *     title, the choice's value, the widget tree and the previews' state;
 *     when OK is pressed write DIR/<effect>.done likewise, plus the stored
 *     mask channel.  In between, once .ready is written, the first
 *     parameter is moved by a tenth of its range, as a slider would, and
 *     DIR/<effect>.nudged is written when the full render that follows the
 *     drafts is in (or after 30 s): the previews' draft and render counts
 *     and the time from the change to the draft on screen.
 *   LISSE_DIALOG_AUTOOK=MS  press OK by itself: as soon as DIR/<effect>.ok
 *     exists (with LISSE_DIALOG_DUMP), or MS milliseconds after the dialog
 *     is up. */
#include "dialog.h"

#include "lisse-error.h"
#include "mask-painter.h"
#include "preview.h"
#include "saliency.h"

#include <libgimp/gimpui.h>
#include <glib/gi18n-lib.h>
#include <math.h>
#include <stdlib.h>

/* The mask painter shows the image at most this large: big enough to
 * paint a subject, small enough for the dialog to fit a laptop screen and
 * for saliency to take a blink. */
#define PAINTER_MAX_SIDE 400

typedef struct
{
  const LisseEffectInfo *effect;
  GimpProcedureDialog   *dialog;
  GimpProcedureConfig   *config;
  GimpImage             *image;
  GimpDrawable          *drawable;
  GList                 *property_ids;   /* the properties shown, for the dump */
  LisseCanvasPreview    *canvas;
  LisseRegionPreview    *region;
  LisseMaskPainter      *painter;
  GtkLabel              *status;
  /* test hooks */
  char                  *dump_dir;
  guint                  autook_ms;
  gint64                 shown_at;       /* monotonic µs, 0 until mapped */
  gboolean               ready_written;
  gint64                 nudged_at;      /* monotonic µs of the nudge, 0 before */
  guint                  renders_before; /* full renders when nudged */
  gboolean               nudged_written;
  guint                  hook_source;
  GimpChannel           *stored_mask;
} DialogState;

/* ---- parameter widgets ---- */

static GtkWidget *
settings_box (DialogState *st)
{
  const LisseEffectInfo *effect = st->effect;

  /* the chooser first: it decides what the sliders mean */
  if (effect->choice.name)
    {
      gimp_procedure_dialog_get_widget (st->dialog, effect->choice.name, G_TYPE_NONE);
      st->property_ids = g_list_append (st->property_ids, (gpointer) effect->choice.name);
    }
  for (int i = 0; i < effect->n_params; i++)
    {
      const LisseParamSpec *spec = &effect->params[i];
      GtkWidget *entry = gimp_procedure_dialog_get_scale_entry (st->dialog, spec->name, 1.0);
      /* λ ranges span two decades: a logarithmic slider gives each decade
       * the same travel */
      if (entry && spec->min > 0.0 && spec->max / spec->min >= 50.0)
        gimp_scale_entry_set_logarithmic (GIMP_SCALE_ENTRY (entry), TRUE);
      st->property_ids = g_list_append (st->property_ids, (gpointer) spec->name);
    }
  if (effect->aux == LISSE_EFFECT_AUX_GUIDE)
    {
      gimp_procedure_dialog_get_widget (st->dialog, "guide", G_TYPE_NONE);
      st->property_ids = g_list_append (st->property_ids, (gpointer) "guide");
    }
  return gimp_procedure_dialog_fill_box_list (st->dialog, "lisse-settings", st->property_ids);
}

static GtkLabel *
small_label (const char *text, const char *name)
{
  GtkWidget *label = gtk_label_new (text);
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 50);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gimp_label_set_attributes (GTK_LABEL (label), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL, -1);
  gtk_widget_set_name (label, name);
  return GTK_LABEL (label);
}

/* ---- the mask painter ---- */

/* The drawable downscaled by @scale to @w×@h, as 1×4×h×w R'G'B'A floats. */
static LisseTensor *
read_downscaled (GimpDrawable *drawable, double scale, int w, int h, GError **error)
{
  float *pixels = g_try_new (float, (size_t) w * h * 4);
  if (!pixels)
    {
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, _("out of memory for the preview"));
      return NULL;
    }
  GeglBuffer *buffer = gimp_drawable_get_buffer (drawable);
  gegl_buffer_get (buffer, GEGL_RECTANGLE (0, 0, w, h), scale,
                   babl_format_with_space ("R'G'B'A float", gimp_drawable_get_format (drawable)),
                   pixels, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_CLAMP);
  g_object_unref (buffer);
  LisseTensor *t = lisse_tensor_new_from_pixels (pixels, 4, w, h, error);
  g_free (pixels);
  return t;
}

static GdkPixbuf *
tensor_to_pixbuf (const LisseTensor *t)
{
  GdkPixbuf *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, t->w, t->h);
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  size_t plane = lisse_tensor_plane (t);
  for (int y = 0; y < t->h; y++)
    for (int x = 0; x < t->w; x++)
      for (int c = 0; c < 3; c++)
        {
          float v = t->data[c * plane + (size_t) y * t->w + x];
          pixels[(size_t) y * stride + x * 3 + c] = (guchar) lroundf (255.0f * CLAMP (v, 0.0f, 1.0f));
        }
  return pixbuf;
}

/* The config's mask channel over the drawable's area, downscaled like the
 * picture; NULL when the config has none. */
static float *
read_given_mask (DialogState *st, double scale, int w, int h)
{
  GimpChannel *channel = NULL;
  g_object_get (st->config, "mask", &channel, NULL);
  if (!channel)
    return NULL;
  /* The mask lies in image coordinates, as apply.c reads it: a layer mask
   * carries its layer's offsets, a channel has (0, 0). */
  int ox, oy, mx, my;
  gimp_drawable_get_offsets (st->drawable, &ox, &oy);
  gimp_drawable_get_offsets (GIMP_DRAWABLE (channel), &mx, &my);
  float *values = g_new (float, (size_t) w * h);
  GeglBuffer *buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (channel));
  gegl_buffer_get (buffer, GEGL_RECTANGLE ((int) lround ((ox - mx) * scale),
                                           (int) lround ((oy - my) * scale), w, h),
                   scale, babl_format ("Y float"), values, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  g_object_unref (buffer);
  g_object_unref (channel);
  return values;
}

static GtkWidget *
mask_painter_frame (DialogState *st)
{
  int dw = gimp_drawable_get_width (st->drawable), dh = gimp_drawable_get_height (st->drawable);
  double scale = MIN (1.0, (double) PAINTER_MAX_SIDE / MAX (dw, dh));
  int w = MAX (1, (int) floor (dw * scale)), h = MAX (1, (int) floor (dh * scale));
  GError *error = NULL;

  LisseTensor *picture = read_downscaled (st->drawable, scale, w, h, &error);
  if (!picture)
    {
      gtk_label_set_text (st->status, error->message);
      g_clear_error (&error);
      return NULL;
    }
  GdkPixbuf *pixbuf = tensor_to_pixbuf (picture);
  st->painter = LISSE_MASK_PAINTER (lisse_mask_painter_new (pixbuf));
  g_object_unref (pixbuf);
  gtk_widget_set_name (GTK_WIDGET (st->painter), "lisse-mask-painter");

  LisseTensor *saliency = lisse_saliency_frequency_tuned (picture, &error);
  if (saliency)
    lisse_mask_painter_set_suggestion (st->painter, saliency->data);
  else
    {
      gtk_label_set_text (st->status, error->message);
      g_clear_error (&error);
    }
  float *given = read_given_mask (st, scale, w, h);
  if (given)
    lisse_mask_painter_set_mask (st->painter, given);
  else if (saliency)
    lisse_mask_painter_set_mask (st->painter, saliency->data);
  lisse_mask_model_forget_undo (lisse_mask_painter_get_model (st->painter));
  g_free (given);
  lisse_tensor_free (saliency);
  lisse_tensor_free (picture);

  GtkWidget *frame = gimp_frame_new (_("Mask"));
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_box_pack_start (GTK_BOX (box), GTK_WIDGET (st->painter), FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), lisse_mask_painter_tools_new (st->painter), FALSE, FALSE, 0);
  gtk_container_add (GTK_CONTAINER (frame), box);
  return frame;
}

/* Stores the painted mask, upscaled (bilinear: soft edges) to the
 * drawable, as a new hidden channel "Lisse mask" of the image — 0 outside
 * the drawable — and makes it the config's "mask". */
static GimpChannel *
store_mask (DialogState *st)
{
  LisseMaskModel *model = lisse_mask_painter_get_model (st->painter);
  int iw = gimp_image_get_width (st->image), ih = gimp_image_get_height (st->image);
  int dw = gimp_drawable_get_width (st->drawable), dh = gimp_drawable_get_height (st->drawable);
  int ox, oy;
  gimp_drawable_get_offsets (st->drawable, &ox, &oy);

  GeglColor *color = gegl_color_new ("red");
  GimpChannel *channel = gimp_channel_new (st->image, _("Lisse mask"), iw, ih, 50.0, color);
  g_object_unref (color);
  if (!channel || !gimp_image_insert_channel (st->image, channel, NULL, 0))
    return NULL;
  gimp_item_set_visible (GIMP_ITEM (channel), FALSE);

  GeglBuffer *buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (channel));
  gegl_buffer_clear (buffer, NULL);
  int x0 = MAX (0, ox), y0 = MAX (0, oy);
  int x1 = MIN (iw, ox + dw), y1 = MIN (ih, oy + dh);
  /* strips keep memory bounded on large images */
  const int strip = 128;
  float *rows = x1 > x0 ? g_new (float, (size_t) (x1 - x0) * strip) : NULL;
  for (int y = y0; y < y1; y += strip)
    {
      int h = MIN (strip, y1 - y);
      lisse_mask_model_resample (model, dw, dh, x0 - ox, y - oy, x1 - x0, h, rows);
      gegl_buffer_set (buffer, GEGL_RECTANGLE (x0, y, x1 - x0, h), 0, babl_format ("Y float"),
                       rows, GEGL_AUTO_ROWSTRIDE);
    }
  g_free (rows);
  gegl_buffer_flush (buffer);
  g_object_unref (buffer);
  gimp_drawable_update (GIMP_DRAWABLE (channel), 0, 0, iw, ih);

  g_object_set (st->config, "mask", channel, NULL);
  return channel;
}

/* ---- test hooks ---- */

static void
dump_widget (GtkWidget *widget, int depth, GString *out)
{
  g_string_append_printf (out, "%*s%s", depth * 2, "", G_OBJECT_TYPE_NAME (widget));
  const char *name = gtk_widget_get_name (widget);
  if (name && g_strcmp0 (name, G_OBJECT_TYPE_NAME (widget)) != 0)
    g_string_append_printf (out, " name=%s", name);
  GParamSpec *label_spec = g_object_class_find_property (G_OBJECT_GET_CLASS (widget), "label");
  if (label_spec && label_spec->value_type == G_TYPE_STRING)
    {
      char *label = NULL;
      g_object_get (widget, "label", &label, NULL);
      if (label)
        {
          char *escaped = g_strescape (label, NULL);
          g_string_append_printf (out, " label=\"%s\"", escaped);
          g_free (escaped);
        }
      g_free (label);
    }
  g_string_append_printf (out, " mapped=%d sensitive=%d size=%dx%d\n", gtk_widget_get_mapped (widget),
                          gtk_widget_is_sensitive (widget), gtk_widget_get_allocated_width (widget),
                          gtk_widget_get_allocated_height (widget));
}

typedef struct
{
  int      depth;
  GString *out;
} DumpWalk;

static void
dump_child (GtkWidget *child, gpointer data)
{
  DumpWalk *walk = data;
  dump_widget (child, walk->depth, walk->out);
  if (GTK_IS_CONTAINER (child))
    {
      DumpWalk inner = { walk->depth + 1, walk->out };
      gtk_container_forall (GTK_CONTAINER (child), dump_child, &inner);
    }
}

static void
write_dump (DialogState *st, const char *suffix)
{
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "title %s\n", gtk_window_get_title (GTK_WINDOW (st->dialog)));
  for (GList *l = st->property_ids; l; l = l->next)
    {
      GtkWidget *w = gimp_procedure_dialog_get_widget (st->dialog, l->data, G_TYPE_NONE);
      g_string_append_printf (out, "property %s %s mapped=%d\n", (const char *) l->data,
                              w ? G_OBJECT_TYPE_NAME (w) : "none", w ? gtk_widget_get_mapped (w) : 0);
    }
  if (st->effect->choice.name)
    {
      /* The value the dialog shows, so a test can tell which method or
       * model the previews ran. */
      int id = gimp_procedure_config_get_choice_id (st->config, st->effect->choice.name);
      g_string_append_printf (out, "choice %s=%s\n", st->effect->choice.name,
                              id >= 0 && id < LISSE_EFFECT_MAX_CHOICES
                              && st->effect->choice.values[id].nick
                              ? st->effect->choice.values[id].nick : "?");
    }
  if (st->canvas)
    g_string_append_printf (out, "canvas-preview filter=%d visible=%d drafts=%u renders=%u\n",
                            lisse_canvas_preview_get_filter_id (st->canvas),
                            lisse_canvas_preview_get_visible (st->canvas),
                            lisse_canvas_preview_get_drafts (st->canvas),
                            lisse_canvas_preview_get_renders (st->canvas));
  if (st->region)
    {
      double latency_ms;
      guint drafts = lisse_region_preview_get_drafts (st->region, &latency_ms);
      g_string_append_printf (out, "dialog-preview computed=%u failed=%d drafts=%u "
                              "draft-latency-ms=%.1f\n",
                              lisse_region_preview_get_count (st->region),
                              lisse_region_preview_get_failed (st->region), drafts, latency_ms);
    }
  if (st->painter)
    {
      LisseMaskModel *m = lisse_mask_painter_get_model (st->painter);
      g_string_append_printf (out, "mask-painter size=%dx%d mean=%.4f\n",
                              lisse_mask_model_get_width (m), lisse_mask_model_get_height (m),
                              lisse_mask_model_get_mean (m));
    }
  if (st->stored_mask)
    {
      char *name = gimp_item_get_name (GIMP_ITEM (st->stored_mask));
      g_string_append_printf (out, "stored-mask id=%d name=%s\n",
                              gimp_item_get_id (GIMP_ITEM (st->stored_mask)), name);
      g_free (name);
    }
  if (st->status)
    g_string_append_printf (out, "status \"%s\"\n", gtk_label_get_text (st->status));
  g_string_append (out, "tree\n");
  DumpWalk walk = { 1, out };
  dump_child (GTK_WIDGET (st->dialog), &walk);

  char *file = g_strdup_printf ("%s.%s", st->effect->name, suffix);
  char *path = g_build_filename (st->dump_dir, file, NULL);
  GError *error = NULL;
  if (!g_file_set_contents (path, out->str, (gssize) out->len, &error))
    {
      g_printerr ("lisse: %s\n", error->message);
      g_error_free (error);
    }
  g_free (path);
  g_free (file);
  g_string_free (out, TRUE);
}

/* Full-quality renders the dialog's preview has shown (or asked GIMP for). */
static guint
preview_renders (DialogState *st)
{
  return st->region ? lisse_region_preview_get_count (st->region)
       : st->canvas ? lisse_canvas_preview_get_renders (st->canvas) : 0;
}

/* Moves the first parameter by a tenth of its range (down when that would
 * pass the maximum), through the config, as its slider does. */
static void
nudge_first_param (DialogState *st)
{
  const LisseParamSpec *spec = &st->effect->params[0];
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_DOUBLE);
  g_object_get_property (G_OBJECT (st->config), spec->name, &v);
  double x = g_value_get_double (&v), step = 0.1 * (spec->max - spec->min);
  g_value_set_double (&v, x + step <= spec->max ? x + step : x - step);
  g_object_set_property (G_OBJECT (st->config), spec->name, &v);
  g_value_unset (&v);
}

/* Polled every 100 ms once the dialog is up. */
static gboolean
hook_tick (gpointer data)
{
  DialogState *st = data;
  double since_shown = (g_get_monotonic_time () - st->shown_at) / 1e6;

  if (st->dump_dir && st->ready_written && !st->nudged_written && st->effect->n_params > 0)
    {
      if (!st->nudged_at)
        {
          st->renders_before = preview_renders (st);
          st->nudged_at = g_get_monotonic_time ();
          nudge_first_param (st);
        }
      else if (preview_renders (st) > st->renders_before
               || g_get_monotonic_time () - st->nudged_at > 30 * G_USEC_PER_SEC)
        {
          write_dump (st, "nudged");
          st->nudged_written = TRUE;
        }
      return G_SOURCE_CONTINUE;
    }

  if (st->dump_dir && !st->ready_written)
    {
      /* ready: an in-dialog preview has been drawn, or the canvas has had
       * a second to render; at worst after 10 s */
      gboolean ready = st->region ? lisse_region_preview_get_count (st->region) > 0
                                  : since_shown >= 1.0;
      if (ready || since_shown >= 10.0)
        {
          write_dump (st, "ready");
          st->ready_written = TRUE;
        }
      return G_SOURCE_CONTINUE;
    }

  gboolean ok = st->autook_ms > 0 && since_shown * 1000.0 >= st->autook_ms;
  if (st->dump_dir && st->autook_ms > 0)
    {
      char *file = g_strdup_printf ("%s.ok", st->effect->name);
      char *path = g_build_filename (st->dump_dir, file, NULL);
      ok = ok || g_file_test (path, G_FILE_TEST_EXISTS);
      g_free (path);
      g_free (file);
    }
  if (!ok)
    return G_SOURCE_CONTINUE;
  st->hook_source = 0;
  gtk_dialog_response (GTK_DIALOG (st->dialog), GTK_RESPONSE_OK);
  return G_SOURCE_REMOVE;
}

static void
dialog_mapped (GtkWidget *widget, DialogState *st)
{
  if (st->shown_at)
    return;
  st->shown_at = g_get_monotonic_time ();
  if (st->dump_dir || st->autook_ms > 0)
    st->hook_source = g_timeout_add (100, hook_tick, st);
}

static void
hooks_setup (DialogState *st)
{
  const char *dump = g_getenv ("LISSE_DIALOG_DUMP");
  const char *autook = g_getenv ("LISSE_DIALOG_AUTOOK");
  if (dump && *dump)
    st->dump_dir = g_strdup (dump);
  if (autook && *autook)
    st->autook_ms = (guint) CLAMP (atol (autook), 1, G_MAXINT);
  g_signal_connect (st->dialog, "map", G_CALLBACK (dialog_mapped), st);
}

/* ---- the dialog ---- */

static void
preview_toggled (GtkToggleButton *toggle, DialogState *st)
{
  if (st->canvas)
    lisse_canvas_preview_set_visible (st->canvas, gtk_toggle_button_get_active (toggle));
}

gboolean
lisse_dialog_run (GimpProcedure *procedure, GimpProcedureConfig *config, GimpImage *image,
                  GimpDrawable *drawable, const LisseEffectInfo *effect,
                  gboolean *undo_group_open)
{
  DialogState st = { .effect = effect, .config = config, .image = image, .drawable = drawable };
  GError *error = NULL;

  gimp_ui_init ("lisse");
  st.dialog = GIMP_PROCEDURE_DIALOG (gimp_procedure_dialog_new (procedure, config, _(effect->title)));
  GtkWidget *content = gtk_dialog_get_content_area (GTK_DIALOG (st.dialog));
  GtkWidget *settings = settings_box (&st);
  st.status = small_label ("", "lisse-status");

  if (effect->aux == LISSE_EFFECT_AUX_NONE)
    {
      /* Mnemonic p: free among GIMP's buttons (_Reset _Cancel _OK _Help
       * _Load… _Save…) and the parameters' labels. */
      GtkWidget *toggle = gtk_check_button_new_with_mnemonic (_("_Preview on canvas"));
      gtk_widget_set_name (toggle, "lisse-canvas-preview");
      gtk_box_pack_start (GTK_BOX (content), settings, FALSE, FALSE, 0);
      gtk_box_pack_start (GTK_BOX (content), toggle, FALSE, FALSE, 0);
      st.canvas = lisse_canvas_preview_new (drawable, config, effect, &error);
      if (st.canvas)
        gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (toggle), TRUE);
      else
        {
          gtk_widget_set_sensitive (toggle, FALSE);
          gtk_label_set_text (st.status, error->message);
          g_clear_error (&error);
        }
      g_signal_connect (toggle, "toggled", G_CALLBACK (preview_toggled), &st);
      gtk_box_pack_start (GTK_BOX (content), GTK_WIDGET (st.status), FALSE, FALSE, 0);
    }
  else
    {
      GtkWidget *preview = gimp_procedure_dialog_get_drawable_preview (st.dialog, "lisse-preview",
                                                                       drawable);
      GtkWidget *column = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
      gtk_box_pack_start (GTK_BOX (column), preview, TRUE, TRUE, 0);
      gtk_box_pack_start (GTK_BOX (column),
                          GTK_WIDGET (small_label (_("The preview computes the visible part only, "
                                                     "with a little context around it: near its "
                                                     "edges it may differ slightly from the result."),
                                                   "lisse-preview-note")),
                          FALSE, FALSE, 0);
      gtk_box_pack_start (GTK_BOX (column), GTK_WIDGET (st.status), FALSE, FALSE, 0);
      gtk_box_pack_start (GTK_BOX (column), settings, FALSE, FALSE, 0);

      if (effect->aux == LISSE_EFFECT_AUX_MASK)
        {
          GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
          GtkWidget *painter = mask_painter_frame (&st);
          if (painter)
            gtk_box_pack_start (GTK_BOX (row), painter, FALSE, FALSE, 0);
          gtk_box_pack_start (GTK_BOX (row), column, TRUE, TRUE, 0);
          gtk_box_pack_start (GTK_BOX (content), row, TRUE, TRUE, 0);
        }
      else
        gtk_box_pack_start (GTK_BOX (content), column, TRUE, TRUE, 0);

      st.region = lisse_region_preview_new (GIMP_PREVIEW (preview), drawable, config, effect,
                                            st.painter ? lisse_mask_painter_get_model (st.painter)
                                                       : NULL,
                                            st.status);
      if (st.painter)
        g_signal_connect_swapped (st.painter, "mask-changed",
                                  G_CALLBACK (gimp_preview_invalidate), preview);
    }
  gtk_widget_show_all (content);

  hooks_setup (&st);
  gboolean ok = gimp_procedure_dialog_run (st.dialog);
  if (st.hook_source)
    g_source_remove (st.hook_source);

  /* The canvas preview goes on OK as on Cancel: the plug-in applies the
   * final result itself. */
  g_clear_pointer (&st.canvas, lisse_canvas_preview_free);
  g_clear_pointer (&st.region, lisse_region_preview_free);
  *undo_group_open = FALSE;
  if (ok && st.painter)
    {
      *undo_group_open = gimp_image_undo_group_start (image);
      st.stored_mask = store_mask (&st);
      if (!st.stored_mask)
        g_printerr ("lisse: %s\n", _("could not store the painted mask as a channel; "
                                      "the automatic mask is used"));
    }
  if (st.dump_dir && ok)
    write_dump (&st, "done");

  gtk_widget_destroy (GTK_WIDGET (st.dialog));
  g_list_free (st.property_ids);
  g_free (st.dump_dir);
  return ok;
}
