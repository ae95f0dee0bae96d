/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The non-finite value rule (docs/reliability.md).  A float image may hold
 * NaN, ±∞ or values so large that their squares overflow; one such pixel
 * fed to a network, a box sum, an FFT or a linear solver turns every pixel
 * it reaches — for the global solvers the whole image — into NaN.  So
 * before any effect, filter or network computes with an image (the entry
 * points lisse_effect_run, lisse_filter_run and the network runner apply
 * this, so every front end gets it), each colour value v becomes:
 *
 *   NaN                       → 0
 *   +∞                        → 1   (the top of the [0,1] range the methods
 *   −∞                        → 0    are made for: ∞ carries no magnitude)
 *   finite, |v| > 65504       → ±65504 (the largest half float, the widest
 *                                range an HDR file stores; squares and sums
 *                                of it stay finite in float)
 *   anything else             → v (HDR values above 1 are kept)
 *
 * Alpha is never computed with: it is copied through as it is, so a
 * non-finite alpha stays at its own pixel.  Masks and guides follow the
 * same rule as colour.  The result of a method on an image with such
 * values is therefore exactly its result on the image with the values
 * replaced, and finite wherever the method's result on finite input is. */
#pragma once

#include "tensor.h"

#include <glib.h>
#include <math.h>

G_BEGIN_DECLS

#define LISSE_PIXEL_LIMIT 65504.0f

/* One value under the rule above. */
static inline float
lisse_finite_value (float v)
{
  if (G_LIKELY (fabsf (v) <= LISSE_PIXEL_LIMIT))
    return v;
  if (isnan (v))
    return 0.0f;
  if (isinf (v))
    return v > 0 ? 1.0f : 0.0f;
  return v > 0 ? LISSE_PIXEL_LIMIT : -LISSE_PIXEL_LIMIT;
}

/* TRUE when channels [0, @n_channels) of @t hold only values the rule
 * leaves as they are. */
gboolean           lisse_finite_check   (const LisseTensor *t, int n_channels);

/* @t itself when lisse_finite_check() holds (no copy: images that obey
 * the rule cost one read), else a copy of @t with the rule applied to
 * channels [0, @n_channels) and the others copied as they are, stored in
 * *@copy for the caller to free.  NULL with @error set when the copy cannot
 * be allocated. */
const LisseTensor *lisse_finite_tensor  (const LisseTensor *t, int n_channels,
                                         LisseTensor **copy, GError **error);

G_END_DECLS
