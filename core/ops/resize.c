/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bilinear resizing with PyTorch's sampling positions (see ops-basic.h).
 * Source indices and weights depend only on the output coordinate, so they
 * are tabulated once per axis; each output row then blends two input rows
 * through the column table.
 */
#include "ops-basic.h"
#include "lisse-error.h"
#include "threads.h"

#include <math.h>

#define PARALLEL_MIN 32768

/* For each output index: the two input indices and the weight of the
 * second, following aten's area_pixel_compute_source_index. */
static void
axis_table (int in, int out, gboolean align_corners, int *i0, int *i1, float *l1)
{
  double scale;
  if (align_corners)
    scale = out > 1 ? (double) (in - 1) / (double) (out - 1) : 0.0;
  else
    scale = (double) in / (double) out;
  for (int o = 0; o < out; o++)
    {
      double src = align_corners ? scale * o : scale * (o + 0.5) - 0.5;
      if (src < 0.0)
        src = 0.0;
      int a = (int) src;              /* src >= 0: truncation is floor */
      if (a > in - 1)
        a = in - 1;
      i0[o] = a;
      i1[o] = a < in - 1 ? a + 1 : a;
      l1[o] = (float) (src - a);
    }
}

LisseTensor *
lisse_resize_bilinear (const LisseTensor *x, int out_h, int out_w,
                       gboolean align_corners, GError **error)
{
  if (out_h < 1 || out_w < 1)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "resize: invalid output size %d×%d", out_w, out_h);
      return NULL;
    }
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, out_h, out_w, error);
  if (!out)
    return NULL;

  int *y0 = g_new (int, out_h), *y1 = g_new (int, out_h);
  int *x0 = g_new (int, out_w), *x1 = g_new (int, out_w);
  float *ly = g_new (float, out_h), *lx = g_new (float, out_w);
  axis_table (x->h, out_h, align_corners, y0, y1, ly);
  axis_table (x->w, out_w, align_corners, x0, x1, lx);

  const long rows = (long) x->n * x->c * out_h;
  const size_t plane = lisse_tensor_plane (x);
  int nt = lisse_tensor_numel (out) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long r = 0; r < rows; r++)
    {
      const int oy = (int) (r % out_h);
      const float *src = x->data + (size_t) (r / out_h) * plane;
      const float *ra = src + (size_t) y0[oy] * x->w;
      const float *rb = src + (size_t) y1[oy] * x->w;
      const float wb = ly[oy], wa = 1.0f - wb;
      float *dst = out->data + (size_t) r * out_w;
      /* Same association as aten's CPU kernel (blend along x, then y), so
       * results differ from PyTorch only through the weights. */
#pragma omp simd
      for (int ox = 0; ox < out_w; ox++)
        {
          const int i = x0[ox], j = x1[ox];
          const float u = lx[ox], t = 1.0f - u;
          dst[ox] = wa * (t * ra[i] + u * ra[j]) + wb * (t * rb[i] + u * rb[j]);
        }
    }

  g_free (y0);
  g_free (y1);
  g_free (x0);
  g_free (x1);
  g_free (ly);
  g_free (lx);
  return out;
}
