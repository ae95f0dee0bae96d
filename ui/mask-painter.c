/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The saliency-mask painter widget and its tool box (mask-painter.h).  The
 * overlay is kept as a premultiplied cairo image of the mask's size and
 * refreshed only where a stroke changed it, so painting stays fluid on a
 * 512-pixel image even on a slow machine. */
#include "mask-painter.h"

#include <glib/gi18n-lib.h>
#include <math.h>

/* The overlay shows the foreground in a warm red at up to 55 % opacity:
 * the picture stays readable underneath. */
#define OVERLAY_R 1.0
#define OVERLAY_G 0.15
#define OVERLAY_B 0.1
#define OVERLAY_ALPHA 0.55

struct _LisseMaskPainter
{
  GtkDrawingArea   parent_instance;
  GdkPixbuf       *image;
  LisseMaskModel  *model;
  cairo_surface_t *overlay;
  float           *suggestion;
  float            brush_value;
  double           brush_radius;
  gboolean         painting;
  gboolean         pointer_inside;
  double           pointer_x, pointer_y;
};

enum { MASK_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (LisseMaskPainter, lisse_mask_painter, GTK_TYPE_DRAWING_AREA)

/* Refreshes the overlay for the rectangle (x, y, w, h) of the mask. */
static void
update_overlay (LisseMaskPainter *self, int x, int y, int w, int h)
{
  const float *mask = lisse_mask_model_get_data (self->model);
  int mw = lisse_mask_model_get_width (self->model);

  cairo_surface_flush (self->overlay);
  unsigned char *pixels = cairo_image_surface_get_data (self->overlay);
  int stride = cairo_image_surface_get_stride (self->overlay);
  for (int j = y; j < y + h; j++)
    {
      guint32 *row = (guint32 *) (pixels + (size_t) j * stride);
      for (int i = x; i < x + w; i++)
        {
          double a = OVERLAY_ALPHA * mask[(size_t) j * mw + i];
          guint32 A = (guint32) lround (255.0 * a);
          guint32 R = (guint32) lround (255.0 * OVERLAY_R * a);
          guint32 G = (guint32) lround (255.0 * OVERLAY_G * a);
          guint32 B = (guint32) lround (255.0 * OVERLAY_B * a);
          row[i] = (A << 24) | (R << 16) | (G << 8) | B;
        }
    }
  cairo_surface_mark_dirty_rectangle (self->overlay, x, y, w, h);
}

static void
mask_replaced (LisseMaskPainter *self)
{
  update_overlay (self, 0, 0, lisse_mask_model_get_width (self->model),
                  lisse_mask_model_get_height (self->model));
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[MASK_CHANGED], 0);
}

/* Where the image sits in the widget: centred when the widget is larger. */
static void
image_origin (LisseMaskPainter *self, double *ox, double *oy)
{
  GtkWidget *widget = GTK_WIDGET (self);
  *ox = floor ((gtk_widget_get_allocated_width (widget) - gdk_pixbuf_get_width (self->image)) / 2.0);
  *oy = floor ((gtk_widget_get_allocated_height (widget) - gdk_pixbuf_get_height (self->image)) / 2.0);
  *ox = MAX (*ox, 0.0);
  *oy = MAX (*oy, 0.0);
}

static gboolean
lisse_mask_painter_draw (GtkWidget *widget, cairo_t *cr)
{
  LisseMaskPainter *self = LISSE_MASK_PAINTER (widget);
  double ox, oy;
  image_origin (self, &ox, &oy);

  gdk_cairo_set_source_pixbuf (cr, self->image, ox, oy);
  cairo_paint (cr);
  cairo_set_source_surface (cr, self->overlay, ox, oy);
  cairo_paint (cr);

  if (self->pointer_inside)
    {
      /* the brush outline, dark and light so it shows on any picture */
      cairo_arc (cr, self->pointer_x, self->pointer_y, self->brush_radius, 0, 2 * G_PI);
      cairo_set_line_width (cr, 3.0);
      cairo_set_source_rgba (cr, 0, 0, 0, 0.6);
      cairo_stroke_preserve (cr);
      cairo_set_line_width (cr, 1.0);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
      cairo_stroke (cr);
    }
  return TRUE;
}

static void
paint_to (LisseMaskPainter *self, double wx, double wy)
{
  double ox, oy;
  int x, y, w, h;
  image_origin (self, &ox, &oy);
  lisse_mask_model_stroke_to (self->model, wx - ox, wy - oy, &x, &y, &w, &h);
  if (w > 0 && h > 0)
    update_overlay (self, x, y, w, h);
}

static gboolean
lisse_mask_painter_button_press (GtkWidget *widget, GdkEventButton *event)
{
  LisseMaskPainter *self = LISSE_MASK_PAINTER (widget);
  if (event->type != GDK_BUTTON_PRESS || (event->button != 1 && event->button != 3))
    return FALSE;
  /* the right button paints with the other brush: quick corrections */
  float value = event->button == 1 ? self->brush_value : 1.0f - self->brush_value;
  lisse_mask_model_begin_stroke (self->model, value, self->brush_radius);
  self->painting = TRUE;
  paint_to (self, event->x, event->y);
  gtk_widget_queue_draw (widget);
  return TRUE;
}

static gboolean
lisse_mask_painter_motion (GtkWidget *widget, GdkEventMotion *event)
{
  LisseMaskPainter *self = LISSE_MASK_PAINTER (widget);
  self->pointer_inside = TRUE;
  self->pointer_x = event->x;
  self->pointer_y = event->y;
  if (self->painting)
    paint_to (self, event->x, event->y);
  gtk_widget_queue_draw (widget);
  gdk_event_request_motions (event);
  return TRUE;
}

static gboolean
lisse_mask_painter_button_release (GtkWidget *widget, GdkEventButton *event)
{
  LisseMaskPainter *self = LISSE_MASK_PAINTER (widget);
  if (!self->painting)
    return FALSE;
  self->painting = FALSE;
  lisse_mask_model_end_stroke (self->model);
  g_signal_emit (self, signals[MASK_CHANGED], 0);
  return TRUE;
}

static gboolean
lisse_mask_painter_leave (GtkWidget *widget, GdkEventCrossing *event)
{
  LisseMaskPainter *self = LISSE_MASK_PAINTER (widget);
  self->pointer_inside = FALSE;
  gtk_widget_queue_draw (widget);
  return FALSE;
}

static void
lisse_mask_painter_finalize (GObject *object)
{
  LisseMaskPainter *self = LISSE_MASK_PAINTER (object);
  g_clear_object (&self->image);
  g_clear_pointer (&self->overlay, cairo_surface_destroy);
  g_clear_pointer (&self->model, lisse_mask_model_free);
  g_clear_pointer (&self->suggestion, g_free);
  G_OBJECT_CLASS (lisse_mask_painter_parent_class)->finalize (object);
}

static void
lisse_mask_painter_class_init (LisseMaskPainterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = lisse_mask_painter_finalize;
  widget_class->draw = lisse_mask_painter_draw;
  widget_class->button_press_event = lisse_mask_painter_button_press;
  widget_class->button_release_event = lisse_mask_painter_button_release;
  widget_class->motion_notify_event = lisse_mask_painter_motion;
  widget_class->leave_notify_event = lisse_mask_painter_leave;

  signals[MASK_CHANGED] = g_signal_new ("mask-changed", G_TYPE_FROM_CLASS (klass),
                                        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 0);
  gtk_widget_class_set_css_name (widget_class, "lisse-mask-painter");
}

static void
lisse_mask_painter_init (LisseMaskPainter *self)
{
  self->brush_value = 1.0f;
  self->brush_radius = 12.0;
  gtk_widget_add_events (GTK_WIDGET (self),
                         GDK_BUTTON_PRESS_MASK | GDK_BUTTON_RELEASE_MASK |
                         GDK_POINTER_MOTION_MASK | GDK_POINTER_MOTION_HINT_MASK |
                         GDK_LEAVE_NOTIFY_MASK);
}

GtkWidget *
lisse_mask_painter_new (GdkPixbuf *image)
{
  g_return_val_if_fail (GDK_IS_PIXBUF (image), NULL);
  LisseMaskPainter *self = g_object_new (LISSE_TYPE_MASK_PAINTER, NULL);
  int w = gdk_pixbuf_get_width (image), h = gdk_pixbuf_get_height (image);
  self->image = g_object_ref (image);
  self->model = lisse_mask_model_new (w, h);
  self->overlay = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, w, h);
  update_overlay (self, 0, 0, w, h);
  gtk_widget_set_size_request (GTK_WIDGET (self), w, h);
  return GTK_WIDGET (self);
}

LisseMaskModel *
lisse_mask_painter_get_model (LisseMaskPainter *painter)
{
  return painter->model;
}

void
lisse_mask_painter_set_brush_value (LisseMaskPainter *painter, float value)
{
  painter->brush_value = CLAMP (value, 0.0f, 1.0f);
}

float
lisse_mask_painter_get_brush_value (LisseMaskPainter *painter)
{
  return painter->brush_value;
}

void
lisse_mask_painter_set_brush_radius (LisseMaskPainter *painter, double radius)
{
  painter->brush_radius = MAX (radius, 0.5);
  gtk_widget_queue_draw (GTK_WIDGET (painter));
}

double
lisse_mask_painter_get_brush_radius (LisseMaskPainter *painter)
{
  return painter->brush_radius;
}

void
lisse_mask_painter_set_suggestion (LisseMaskPainter *painter, const float *values)
{
  g_clear_pointer (&painter->suggestion, g_free);
  if (values)
    painter->suggestion = g_memdup2 (values, sizeof (float)
                                     * lisse_mask_model_get_width (painter->model)
                                     * lisse_mask_model_get_height (painter->model));
  g_signal_emit (painter, signals[MASK_CHANGED], 0);
}

gboolean
lisse_mask_painter_use_suggestion (LisseMaskPainter *painter)
{
  if (!painter->suggestion)
    return FALSE;
  lisse_mask_painter_set_mask (painter, painter->suggestion);
  return TRUE;
}

void
lisse_mask_painter_set_mask (LisseMaskPainter *painter, const float *values)
{
  lisse_mask_model_set_data (painter->model, values);
  mask_replaced (painter);
}

void
lisse_mask_painter_clear (LisseMaskPainter *painter)
{
  lisse_mask_model_clear (painter->model);
  mask_replaced (painter);
}

void
lisse_mask_painter_invert (LisseMaskPainter *painter)
{
  lisse_mask_model_invert (painter->model);
  mask_replaced (painter);
}

gboolean
lisse_mask_painter_undo (LisseMaskPainter *painter)
{
  if (!lisse_mask_model_undo (painter->model))
    return FALSE;
  mask_replaced (painter);
  return TRUE;
}

/* ---- the tool box ---- */

static void
brush_toggled (GtkToggleButton *foreground, LisseMaskPainter *painter)
{
  lisse_mask_painter_set_brush_value (painter, gtk_toggle_button_get_active (foreground) ? 1.0f : 0.0f);
}

static void
size_changed (GtkRange *range, LisseMaskPainter *painter)
{
  lisse_mask_painter_set_brush_radius (painter, gtk_range_get_value (range));
}

static void
sync_buttons (LisseMaskPainter *painter, GtkWidget *tools)
{
  gtk_widget_set_sensitive (g_object_get_data (G_OBJECT (tools), "undo"),
                            lisse_mask_model_can_undo (painter->model));
  gtk_widget_set_sensitive (g_object_get_data (G_OBJECT (tools), "automatic"),
                            painter->suggestion != NULL);
}

static GtkWidget *
tool_button (GtkWidget *box, const char *label, const char *tooltip, const char *name,
             GCallback callback, LisseMaskPainter *painter)
{
  GtkWidget *button = gtk_button_new_with_mnemonic (label);
  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_widget_set_name (button, name);
  g_signal_connect_swapped (button, "clicked", callback, painter);
  gtk_box_pack_start (GTK_BOX (box), button, TRUE, TRUE, 0);
  return button;
}

GtkWidget *
lisse_mask_painter_tools_new (LisseMaskPainter *painter)
{
  /* Mnemonics avoid GIMP's dialog buttons (_Reset, _Cancel, _OK, _Help,
   * _Load Saved Settings, _Save Settings) and the preview's _Preview. */
  GtkWidget *tools = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_set_name (tools, "lisse-mask-tools");

  GtkWidget *brushes = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *fg = gtk_radio_button_new_with_mnemonic (NULL, _("_Foreground brush"));
  GtkWidget *bg = gtk_radio_button_new_with_mnemonic_from_widget (GTK_RADIO_BUTTON (fg),
                                                                  _("_Background brush"));
  gtk_widget_set_tooltip_text (fg, _("Paint what is salient: it is kept sharp (or enhanced)"));
  gtk_widget_set_tooltip_text (bg, _("Paint what is background: it is smoothed"));
  gtk_widget_set_name (fg, "lisse-brush-foreground");
  gtk_widget_set_name (bg, "lisse-brush-background");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (painter->brush_value >= 0.5f ? fg : bg), TRUE);
  g_signal_connect (fg, "toggled", G_CALLBACK (brush_toggled), painter);
  gtk_box_pack_start (GTK_BOX (brushes), fg, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (brushes), bg, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (tools), brushes, FALSE, FALSE, 0);

  GtkWidget *size_row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *size_label = gtk_label_new_with_mnemonic (_("Brush si_ze"));
  GtkWidget *size = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 1.0, 100.0, 1.0);
  gtk_widget_set_name (size, "lisse-brush-size");
  gtk_scale_set_digits (GTK_SCALE (size), 0);
  gtk_scale_set_value_pos (GTK_SCALE (size), GTK_POS_RIGHT);
  gtk_range_set_value (GTK_RANGE (size), painter->brush_radius);
  gtk_label_set_mnemonic_widget (GTK_LABEL (size_label), size);
  gtk_widget_set_tooltip_text (size, _("Brush radius in pixels of the picture shown"));
  g_signal_connect (size, "value-changed", G_CALLBACK (size_changed), painter);
  gtk_box_pack_start (GTK_BOX (size_row), size_label, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (size_row), size, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (tools), size_row, FALSE, FALSE, 0);

  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  GtkWidget *undo = tool_button (buttons, _("_Undo"), _("Undo the last stroke or edit"),
                                 "lisse-mask-undo", G_CALLBACK (lisse_mask_painter_undo), painter);
  tool_button (buttons, _("Cl_ear"), _("Mark everything as background"),
               "lisse-mask-clear", G_CALLBACK (lisse_mask_painter_clear), painter);
  tool_button (buttons, _("_Invert"), _("Swap foreground and background"),
               "lisse-mask-invert", G_CALLBACK (lisse_mask_painter_invert), painter);
  GtkWidget *automatic = tool_button (buttons, _("_Automatic"),
                                      _("Go back to the automatic saliency suggestion"),
                                      "lisse-mask-automatic",
                                      G_CALLBACK (lisse_mask_painter_use_suggestion), painter);
  gtk_box_pack_start (GTK_BOX (tools), buttons, FALSE, FALSE, 0);

  GtkWidget *hint = gtk_label_new (_("Red marks the foreground.  The left mouse button paints "
                                     "with the chosen brush, the right one with the other."));
  gtk_label_set_line_wrap (GTK_LABEL (hint), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (hint), 48);
  gtk_label_set_xalign (GTK_LABEL (hint), 0.0);
  gtk_box_pack_start (GTK_BOX (tools), hint, FALSE, FALSE, 0);

  g_object_set_data (G_OBJECT (tools), "undo", undo);
  g_object_set_data (G_OBJECT (tools), "automatic", automatic);
  g_signal_connect_object (painter, "mask-changed", G_CALLBACK (sync_buttons), tools, 0);
  sync_buttons (painter, tools);
  return tools;
}
