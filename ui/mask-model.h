/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The saliency mask being painted in the Content-Aware dialog, without any
 * widget: a W×H plane of values in [0,1] (1 = foreground), soft round
 * brush strokes, clear, invert, replace, and a stroke-level undo stack.
 * The mask painter widget (mask-painter.c) draws and drives it; keeping it
 * apart lets tests check painting without a display. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LisseMaskModel LisseMaskModel;

/* How many edits can be undone; older ones are forgotten. */
#define LISSE_MASK_MODEL_UNDO_DEPTH 32

/* A new all-background (0) mask; sizes must be >= 1. */
LisseMaskModel *lisse_mask_model_new          (int width, int height);
void            lisse_mask_model_free         (LisseMaskModel *model);

int             lisse_mask_model_get_width    (const LisseMaskModel *model);
int             lisse_mask_model_get_height   (const LisseMaskModel *model);
/* Row-major W×H values in [0,1]; valid until the next edit. */
const float    *lisse_mask_model_get_data     (const LisseMaskModel *model);
/* The mean value: the fraction of the image marked as foreground. */
double          lisse_mask_model_get_mean     (const LisseMaskModel *model);

/* A stroke: every dab of a stroke moves the pixels it covers towards
 * @value (1 foreground, 0 background) by the brush's weight there (1 within
 * half the radius, falling smoothly to 0 at @radius), the largest weight of
 * the stroke winning — going over the same place twice in one stroke does
 * not build up.  One stroke is one undo step. */
void            lisse_mask_model_begin_stroke (LisseMaskModel *model, float value, double radius);
/* Paints from the previous point of the stroke (none: a single dab) to
 * (@x, @y), in mask pixel coordinates (pixel centres at +0.5).  Returns the
 * changed rectangle's bounds through the optional out arguments (empty:
 * width 0). */
void            lisse_mask_model_stroke_to    (LisseMaskModel *model, double x, double y,
                                               int *changed_x, int *changed_y,
                                               int *changed_w, int *changed_h);
void            lisse_mask_model_end_stroke   (LisseMaskModel *model);
gboolean        lisse_mask_model_in_stroke    (const LisseMaskModel *model);

/* Whole-mask edits, each one undo step. */
void            lisse_mask_model_clear        (LisseMaskModel *model);
void            lisse_mask_model_invert       (LisseMaskModel *model);
/* Replaces the mask by @values (W×H, clamped to [0,1]). */
void            lisse_mask_model_set_data     (LisseMaskModel *model, const float *values);

/* Undoes the last stroke or whole-mask edit; FALSE when there is none. */
gboolean        lisse_mask_model_undo         (LisseMaskModel *model);
gboolean        lisse_mask_model_can_undo     (const LisseMaskModel *model);
/* Forgets every undo step: the current mask becomes the starting point
 * (the mask a dialog opens with is not an edit of the user's). */
void            lisse_mask_model_forget_undo  (LisseMaskModel *model);

/* The mask at (@x, @y) in mask pixel coordinates, bilinear, borders clamped. */
float           lisse_mask_model_sample       (const LisseMaskModel *model, double x, double y);
/* The mask resampled (bilinear: soft edges) onto a @width×@height grid
 * covering the same area, for the rectangle (@x0, @y0, @w, @h) of that grid,
 * into @out (w×h floats, row-major).  With x0 = y0 = 0 and w, h = width,
 * height this is the whole mask upscaled to the drawable's size. */
void            lisse_mask_model_resample     (const LisseMaskModel *model,
                                               int width, int height,
                                               int x0, int y0, int w, int h,
                                               float *out);

G_END_DECLS
