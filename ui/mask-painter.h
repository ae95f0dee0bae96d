/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The saliency-mask painter of the Content-Aware dialog: a GtkDrawingArea
 * that shows a (downscaled) image with the mask over it as a coloured
 * overlay, and paints the mask with the mouse — left button with the
 * current brush (foreground or background), right button with the other.
 * The mask itself lives in a LisseMaskModel (mask-model.h); the painter
 * owns it.  lisse_mask_painter_tools_new() makes the controls that go with
 * it: brush radio buttons, brush size, undo, clear, invert and "automatic"
 * (back to the saliency suggestion). */
#pragma once

#include "mask-model.h"

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define LISSE_TYPE_MASK_PAINTER (lisse_mask_painter_get_type ())
G_DECLARE_FINAL_TYPE (LisseMaskPainter, lisse_mask_painter, LISSE, MASK_PAINTER, GtkDrawingArea)

/* @image: the picture to paint on, shown 1:1 (downscale it first); the
 * mask has its size and starts all background.  The painter keeps a
 * reference.  Signals: "mask-changed" (after a stroke and after every other
 * edit; not during a drag). */
GtkWidget      *lisse_mask_painter_new             (GdkPixbuf *image);

LisseMaskModel *lisse_mask_painter_get_model       (LisseMaskPainter *painter);

/* Brush value: 1 paints foreground, 0 background. */
void            lisse_mask_painter_set_brush_value (LisseMaskPainter *painter, float value);
float           lisse_mask_painter_get_brush_value (LisseMaskPainter *painter);
/* Brush radius in mask pixels. */
void            lisse_mask_painter_set_brush_radius (LisseMaskPainter *painter, double radius);
double          lisse_mask_painter_get_brush_radius (LisseMaskPainter *painter);

/* The automatic suggestion (W×H values in [0,1], copied) that "Automatic"
 * goes back to; NULL: none (the button is then insensitive). */
void            lisse_mask_painter_set_suggestion  (LisseMaskPainter *painter, const float *values);
/* Replaces the mask (undoable) by the suggestion; FALSE when there is none. */
gboolean        lisse_mask_painter_use_suggestion  (LisseMaskPainter *painter);

/* Edits that go through the painter so it redraws and signals. */
void            lisse_mask_painter_set_mask        (LisseMaskPainter *painter, const float *values);
void            lisse_mask_painter_clear           (LisseMaskPainter *painter);
void            lisse_mask_painter_invert          (LisseMaskPainter *painter);
gboolean        lisse_mask_painter_undo            (LisseMaskPainter *painter);

/* The controls for @painter (a vertical box). */
GtkWidget      *lisse_mask_painter_tools_new       (LisseMaskPainter *painter);

G_END_DECLS
