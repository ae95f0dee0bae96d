/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Shared local-mean helpers for the classical filters: an O(1)-per-pixel box
 * mean for any radius and a separable Gaussian blur.  All work on one float
 * plane of w×h values, row-major (x fastest), the layout of one channel of a
 * LisseTensor (lisse_tensor_channel()).
 *
 * @src and @dst may be the same plane (in-place).  Both functions use
 * lisse_threads_get() threads and give the same result for any thread count:
 * every output value is computed by one thread in a fixed order.  Sums are
 * accumulated in double, so a box mean over a 10000-pixel line is as exact as
 * over a short one. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What lies beyond the image edge. */
typedef enum
{
  /* Edge pixels repeat: aaa|abcd|ddd.  Window weights stay those of the
   * full window. */
  LISSE_BORDER_CLAMP,
  /* Half-sample symmetric reflection, the edge pixel repeated:
   * cba|abcd|dcb.  The extension a DCT-II assumes and OpenCV's
   * BORDER_REFLECT; windows larger than the image keep reflecting. */
  LISSE_BORDER_MIRROR,
  /* Nothing lies beyond the edge: a window cut by the edge averages only its
   * in-image pixels (box: divided by their count; Gaussian: by their
   * weight), as He et al.'s reference guided filter does. */
  LISSE_BORDER_NORMALIZE,
} LisseBorder;

/* dst = mean of src over the (2r+1)×(2r+1) window centred on each pixel.
 * r >= 0, any size (also larger than the image); cost independent of r. */
void lisse_box_mean (const float *src, float *dst, int w, int h, int r,
                     LisseBorder border);

/* The same for n planes that share one size (a loop over lisse_box_mean with
 * its threads spread over the planes' rows together). */
void lisse_box_mean_planes (const float *const *src, float *const *dst, int n,
                            int w, int h, int r, LisseBorder border);

/* Radius at which lisse_gaussian_blur() truncates its kernel: ceil(3σ).
 * (The weight there is exp(-4.5) ≈ 1 % of the centre's.) */
int  lisse_gaussian_radius (double sigma);

/* dst = src convolved with the normalised 2-D Gaussian of standard deviation
 * @sigma pixels (separable, sampled at integer offsets, truncated at
 * lisse_gaussian_radius()).  sigma <= 0 copies.  Cost O(σ) per pixel. */
void lisse_gaussian_blur (const float *src, float *dst, int w, int h, double sigma,
                          LisseBorder border);

G_END_DECLS
