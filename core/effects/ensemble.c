/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Self-ensemble (SASNet §3, as in image restoration since Lim et al. 2017,
 * "geometric self-ensemble"): a network run on the image under the eight
 * flips and rotations of the square, each result brought back, averaged.
 * A convolutional network is not exactly equivariant to them, so the
 * average cancels part of its error, at n times the cost.
 *
 * Transform k of the dihedral group, in the order they are taken (the
 * first n are used, so 2 is a mirror pair and 4 keeps the image's shape):
 *   0 identity          4 transpose (x ↔ y)
 *   1 mirror x          5 rotate 90° clockwise (transpose, then mirror x)
 *   2 mirror y          6 rotate 90° anticlockwise (transpose, then mirror y)
 *   3 rotate 180°       7 anti-transpose (transpose, then both mirrors)
 * i.e. bit 2 transposes, then bit 0 mirrors x and bit 1 mirrors y.
 * Alpha is not averaged: net.h copies it bit for bit through every run, and
 * the result takes it from the first. */
#include "effect-private.h"

#include "lisse-error.h"

/* The source pixel of transform @k's output pixel (x, y), for a source of
 * @w × @h (the output is h × w when k transposes). */
static inline size_t
source_index (int k, int x, int y, int w, int h)
{
  const int tw = (k & 4) ? h : w, th = (k & 4) ? w : h;   /* the output's size */
  if (k & 1)
    x = tw - 1 - x;
  if (k & 2)
    y = th - 1 - y;
  return (k & 4) ? (size_t) x * w + y : (size_t) y * w + x;
}

LisseTensor *
lisse_effect_ensemble_transform (const LisseTensor *t, int k, gboolean inverse, GError **error)
{
  g_return_val_if_fail (t && t->n == 1 && k >= 0 && k < LISSE_ENSEMBLE_MAX, NULL);
  const gboolean swap = (k & 4) != 0;
  LisseTensor *out = lisse_tensor_try_new_uninit (1, t->c, swap ? t->w : t->h,
                                                  swap ? t->h : t->w, error);
  if (!out)
    return NULL;
  for (int c = 0; c < t->c; c++)
    {
      const float *src = lisse_tensor_channel (t, 0, c);
      float *dst = lisse_tensor_channel (out, 0, c);
      if (!inverse)
        {
          for (int y = 0; y < out->h; y++)
            for (int x = 0; x < out->w; x++)
              dst[(size_t) y * out->w + x] = src[source_index (k, x, y, t->w, t->h)];
        }
      else
        {
          /* Every transform is a permutation: the inverse writes where the
           * forward read (the forward of a t->w × t->h source gives @t). */
          const int sw = out->w, sh = out->h;
          for (int y = 0; y < t->h; y++)
            for (int x = 0; x < t->w; x++)
              dst[source_index (k, x, y, sw, sh)] = src[(size_t) y * t->w + x];
        }
    }
  return out;
}

LisseTensor *
lisse_effect_net_run_ensemble (const LisseNet *net, const LisseTensor *image, int n,
                               const LisseProgress *progress, GError **error)
{
  g_return_val_if_fail (n >= 1 && n <= LISSE_ENSEMBLE_MAX, NULL);
  if (n == 1)
    return lisse_net_run (net, image, NULL, 0, progress, error);
  const int nc = lisse_effect_n_color (image);
  LisseTensor *sum = NULL;
  for (int k = 0; k < n; k++)
    {
      LisseProgress sub = lisse_progress_sub (progress, (double) k / n, (double) (k + 1) / n);
      LisseTensor *in = k ? lisse_effect_ensemble_transform (image, k, FALSE, error) : NULL;
      if (k && !in)
        goto fail;
      LisseTensor *y = lisse_net_run (net, in ? in : image, NULL, 0, &sub, error);
      lisse_tensor_free (in);
      if (!y)
        goto fail;
      if (!sum)
        {
          sum = y;   /* k = 0: the identity; its alpha is the result's */
          continue;
        }
      LisseTensor *back = lisse_effect_ensemble_transform (y, k, TRUE, error);
      lisse_tensor_free (y);
      if (!back)
        goto fail;
      for (int c = 0; c < nc; c++)
        {
          float *s = lisse_tensor_channel (sum, 0, c);
          const float *b = lisse_tensor_channel (back, 0, c);
          for (size_t i = 0, np = lisse_tensor_plane (sum); i < np; i++)
            s[i] += b[i];
        }
      lisse_tensor_free (back);
    }
  for (int c = 0; c < nc; c++)
    {
      float *s = lisse_tensor_channel (sum, 0, c);
      for (size_t i = 0, np = lisse_tensor_plane (sum); i < np; i++)
        s[i] /= (float) n;
    }
  return sum;

fail:
  lisse_tensor_free (sum);
  return NULL;
}
