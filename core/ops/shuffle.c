/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Pixel shuffle and unshuffle (index mapping in ops-basic.h).  Both are
 * pure permutations; work is split by output rows, each written by one
 * strided pass per sub-pixel offset.
 */
#include "ops-basic.h"
#include "lisse-error.h"
#include "threads.h"

#define PARALLEL_MIN (1 << 18)

LisseTensor *
lisse_pixel_shuffle (const LisseTensor *x, int r, GError **error)
{
  if (r < 1 || r > 4096 || x->c % (r * r) != 0)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "pixel shuffle: %d channels cannot be shuffled by a factor "
                   "of %d (channels must be a multiple of the factor squared)",
                   x->c, r);
      return NULL;
    }
  if (x->h > G_MAXINT / r || x->w > G_MAXINT / r)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "pixel shuffle: a %d×%d image enlarged %d times is too large",
                   x->w, x->h, r);
      return NULL;
    }
  const int oc = x->c / (r * r), h = x->h, w = x->w;
  const int oh = h * r, ow = w * r;
  LisseTensor *out = lisse_tensor_try_new (x->n, oc, oh, ow, error);
  if (!out)
    return NULL;

  const long rows = (long) x->n * oc * oh;
  const size_t plane = lisse_tensor_plane (x);
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long q = 0; q < rows; q++)
    {
      const int oy = (int) (q % oh);
      const long pc = q / oh;                     /* n · oc + c */
      const int y = oy / r, i = oy % r;
      float *dst = out->data + (size_t) q * ow;
      /* Input channels c·r² + i·r + j, j = 0 .. r−1, follow each other. */
      const float *src = x->data + ((size_t) pc * r * r + (size_t) i * r) * plane
                         + (size_t) y * w;
      for (int j = 0; j < r; j++)
        {
          const float *s = src + (size_t) j * plane;
#pragma omp simd
          for (int xx = 0; xx < w; xx++)
            dst[xx * r + j] = s[xx];
        }
    }
  return out;
}

LisseTensor *
lisse_pixel_unshuffle (const LisseTensor *x, int r, GError **error)
{
  if (r < 1 || r > 4096 || x->h % r != 0 || x->w % r != 0)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "pixel unshuffle: a %d×%d image cannot be unshuffled by a "
                   "factor of %d (width and height must be multiples of it)",
                   x->w, x->h, r);
      return NULL;
    }
  if (x->c > G_MAXINT / (r * r))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "pixel unshuffle: %d channels times %d is too many",
                   x->c, r * r);
      return NULL;
    }
  const int oc = x->c * r * r, oh = x->h / r, ow = x->w / r;
  LisseTensor *out = lisse_tensor_try_new (x->n, oc, oh, ow, error);
  if (!out)
    return NULL;

  const long rows = (long) x->n * oc * oh;
  const size_t plane = lisse_tensor_plane (x);
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long q = 0; q < rows; q++)
    {
      const int y = (int) (q % oh);
      const long pc = q / oh;                     /* n · oc + k */
      const int k = (int) (pc % oc);
      const long ni = pc / oc;
      const int c = k / (r * r), i = k / r % r, j = k % r;
      const float *src = x->data + ((size_t) ni * x->c + c) * plane
                         + ((size_t) y * r + i) * x->w + j;
      float *dst = out->data + (size_t) q * ow;
#pragma omp simd
      for (int xx = 0; xx < ow; xx++)
        dst[xx] = src[(size_t) xx * r];
    }
  return out;
}
