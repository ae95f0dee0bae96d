/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The tone half of Lu, Xu, Jia 2012 ("Combining sketch and tone for pencil
 * drawing production", §3.2–3.3), for Pencil Sketch: the smoothed luma is
 * histogram-matched to a pencil drawing's tone distribution, and a pencil
 * texture is laid over it with the density that reproduces that tone.
 * Private to core/effects/. */
#pragma once

#include "lisse-error.h"

#include <glib.h>

G_BEGIN_DECLS

/* Lu et al.'s tone model (§3.2): a drawing's tone histogram is
 *   p(v) ∝ ω1·p1(v) + ω2·p2(v) + ω3·p3(v),  v in 8-bit units,
 *   p1 = e^{−(255−v)/σb}/σb (bright paper), p2 uniform on [ua, ub] (mid
 *   tones), p3 = e^{−(v−μd)²/(2σd²)}/√(2πσd) (dark strokes; the normaliser
 *   as the paper prints it),
 * with σb 9, ua 105, ub 225, μd 90, σd 11 and ω = 52 : 37 : 11, the middle
 * of their three groups.  Fills @pdf[256] (sums to 1). */
void lisse_pencil_tone_target (double pdf[256]);

/* @y (w×h luma in [0, 1]) mapped through the histogram matching that
 * gives it the distribution of lisse_pencil_tone_target(): the tone map J
 * (w×h, into @j).  Exact, through the values' ranks, so it depends on the
 * whole image (the effect runs on a whole image, never on tiles).  FALSE
 * with @error only when memory runs out. */
gboolean lisse_pencil_tone_map (const float *y, int w, int h, float *j, GError **error);

/* A procedural pencil texture H in (0, 1) (w×h into @tex): hatching drawn
 * as uniform noise averaged along 45° strokes of length 10·@scale pixels,
 * contrast-normalised to mean 0.8.  Noise from an integer hash of the pixel
 * coordinates: the same for any thread count, and no image is shipped. */
void lisse_pencil_texture (int w, int h, double scale, float *tex);

/* Lu et al. §3.3: β minimising ‖β·ln H − ln J‖² + θ‖∇β‖² (θ = 0.2,
 * 4-neighbour differences, no wrap-around) by Jacobi-preconditioned
 * conjugate gradients (float vectors, dot products summed in double in a
 * fixed order: the same result for any thread count); then T = H^β into
 * @tone.  J is clamped to ≥ 1/255.
 * FALSE with @error only when memory runs out. */
gboolean lisse_pencil_tone_render (const float *tex, const float *j, int w, int h,
                                   float *tone, GError **error);

/* Its two halves: the exponent β (w×h into @beta), and T = H^β (@tone may
 * be @beta).  A draft solves for β at a reduced size and applies it,
 * upsampled, to the full-size texture (pencil-sketch.c). */
gboolean lisse_pencil_tone_beta  (const float *tex, const float *j, int w, int h,
                                  float *beta, GError **error);
void     lisse_pencil_tone_apply (const float *tex, const float *beta, int w, int h,
                                  float *tone);

G_END_DECLS
