/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Fast guided upsampling (He & Sun, "Fast Guided Filter", 2015): a result
 * computed on an image averaged down by an integer factor f is brought back
 * to full size against the full-size image.  In every (2r+1)² window of the
 * small images a linear model result ≈ a·image + b is fitted (the guided
 * filter's, guided.h), its coefficients are interpolated bilinearly to full
 * size and applied to the full-size image.  Where the result keeps an edge
 * or a texture the model has a ≈ 1 and the full-size image's own detail
 * comes through, sharp; where it flattens, a ≈ 0 and the small result is
 * interpolated.
 *
 * Two users: previews (core/effects/draft.c: a draft runs the effect
 * small) and networks with a global receptive field above their
 * whole-image size (core/nets/net.c: the network runs small).
 *
 * Memory: the coefficients at the small size and the result; the
 * upsampling interpolates the coefficients row by row instead of making
 * full-size planes of them.  Results do not depend on the thread count. */
#pragma once

#include "tensor.h"

#include <glib.h>

G_BEGIN_DECLS

/* The smallest integer factor f that brings a @width × @height image within
 * @max_pixels once averaged down by lisse_box_downscale(); 1 when it fits
 * already or @max_pixels <= 0. */
int          lisse_guided_upsample_factor (int width, int height, long max_pixels);

/* @t averaged over f×f blocks (a block cut by the right or bottom edge
 * averages the pixels it has): 1×C×ceil(h/f)×ceil(w/f). */
LisseTensor *lisse_box_downscale          (const LisseTensor *t, int f, GError **error);

/* A new 1×image->c×H×W tensor: its first @n_color channels the result
 * @small_result (≥ n_color channels) computed on @small (@image's first
 * channels through lisse_box_downscale (image, f)), brought to @image's
 * size with the fit of radius @radius and regularisation @eps (squared
 * [0,1] units) between @small's and @small_result's first @n_color
 * channels; radius < 0: bilinear interpolation of @small_result instead.
 * The channels after @n_color (alpha) are copied from @image.  NULL with
 * @error set when out of memory. */
LisseTensor *lisse_guided_upsample        (const LisseTensor *image, int n_color,
                                           const LisseTensor *small,
                                           const LisseTensor *small_result, int f,
                                           int radius, double eps, GError **error);

G_END_DECLS
