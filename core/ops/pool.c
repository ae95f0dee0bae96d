/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Windowed, global and across-channel pooling.  Window pooling is done
 * separably per output row: first the window's input rows are reduced into
 * one row (a SIMD loop along x), then that row is reduced over each
 * window's columns, k + k operations per output instead of k².
 * Maxima propagate NaN as PyTorch's do; sums are accumulated in double.
 */
#include "ops-basic.h"
#include "lisse-error.h"
#include "threads.h"

#include <math.h>

#define PARALLEL_MIN 32768

static inline float
max_nan (float m, float v)
{
  return (v > m || v != v) ? v : m;
}

static gboolean
pool_shape (const LisseTensor *x, int kernel, int stride, int pad,
            const char *what, int *oh, int *ow, GError **error)
{
  if (kernel < 1 || stride < 1 || pad < 0 || pad > kernel / 2)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: kernel %d, stride %d, padding %d: need kernel >= 1, "
                   "stride >= 1 and 0 <= padding <= kernel/2",
                   what, kernel, stride, pad);
      return FALSE;
    }
  if ((long) x->h + 2L * pad < kernel || (long) x->w + 2L * pad < kernel)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: a %d×%d image padded by %d is smaller than the %d×%d window",
                   what, x->w, x->h, pad, kernel, kernel);
      return FALSE;
    }
  *oh = (int) (((long) x->h + 2L * pad - kernel) / stride + 1);
  *ow = (int) (((long) x->w + 2L * pad - kernel) / stride + 1);
  return TRUE;
}

LisseTensor *
lisse_avg_pool2d (const LisseTensor *x, int kernel, int stride, int pad,
                  gboolean count_include_pad, GError **error)
{
  int oh, ow;
  if (!pool_shape (x, kernel, stride, pad, "average pooling", &oh, &ow, error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, oh, ow, error);
  if (!out)
    return NULL;

  const int h = x->h, w = x->w;
  const long rows = (long) x->n * x->c * oh;
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel num_threads(nt)
  {
    double *col = g_new (double, w);
#pragma omp for schedule(static)
    for (long r = 0; r < rows; r++)
      {
        const int oy = (int) (r % oh);
        const long plane = r / oh;
        const float *src = x->data + (size_t) plane * h * w;
        float *dst = out->data + (size_t) r * ow;
        const int y0 = MAX (oy * stride - pad, 0);
        const int y1 = MIN (oy * stride - pad + kernel, h);

        for (int i = 0; i < w; i++)
          col[i] = 0.0;
        for (int y = y0; y < y1; y++)
          {
            const float *row = src + (size_t) y * w;
#pragma omp simd
            for (int i = 0; i < w; i++)
              col[i] += row[i];
          }
        for (int ox = 0; ox < ow; ox++)
          {
            const int x0 = MAX (ox * stride - pad, 0);
            const int x1 = MIN (ox * stride - pad + kernel, w);
            double s = 0.0;
            for (int i = x0; i < x1; i++)
              s += col[i];
            const int count = count_include_pad ? kernel * kernel
                                                : (y1 - y0) * (x1 - x0);
            dst[ox] = (float) (s / count);
          }
      }
    g_free (col);
  }
  return out;
}

LisseTensor *
lisse_max_pool2d (const LisseTensor *x, int kernel, int stride, int pad,
                  GError **error)
{
  int oh, ow;
  if (!pool_shape (x, kernel, stride, pad, "max pooling", &oh, &ow, error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, oh, ow, error);
  if (!out)
    return NULL;

  const int h = x->h, w = x->w;
  const long rows = (long) x->n * x->c * oh;
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel num_threads(nt)
  {
    float *col = g_new (float, w);
#pragma omp for schedule(static)
    for (long r = 0; r < rows; r++)
      {
        const int oy = (int) (r % oh);
        const long plane = r / oh;
        const float *src = x->data + (size_t) plane * h * w;
        float *dst = out->data + (size_t) r * ow;
        const int y0 = MAX (oy * stride - pad, 0);
        const int y1 = MIN (oy * stride - pad + kernel, h);

        /* y1 > y0 always: padding <= kernel/2 keeps every window on the image. */
        const float *first = src + (size_t) y0 * w;
        for (int i = 0; i < w; i++)
          col[i] = first[i];
        for (int y = y0 + 1; y < y1; y++)
          {
            const float *row = src + (size_t) y * w;
#pragma omp simd
            for (int i = 0; i < w; i++)
              col[i] = max_nan (col[i], row[i]);
          }
        for (int ox = 0; ox < ow; ox++)
          {
            const int x0 = MAX (ox * stride - pad, 0);
            const int x1 = MIN (ox * stride - pad + kernel, w);
            float m = col[x0];
            for (int i = x0 + 1; i < x1; i++)
              m = max_nan (m, col[i]);
            dst[ox] = m;
          }
      }
    g_free (col);
  }
  return out;
}

LisseTensor *
lisse_global_avg_pool (const LisseTensor *x, GError **error)
{
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, 1, 1, error);
  if (!out)
    return NULL;
  const size_t plane = lisse_tensor_plane (x);
  const long planes = (long) x->n * x->c;
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long p = 0; p < planes; p++)
    {
      const float *src = x->data + (size_t) p * plane;
      double s = 0.0;
#pragma omp simd reduction(+:s)
      for (size_t i = 0; i < plane; i++)
        s += src[i];
      out->data[p] = (float) (s / (double) plane);
    }
  return out;
}

LisseTensor *
lisse_global_max_pool (const LisseTensor *x, GError **error)
{
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, 1, 1, error);
  if (!out)
    return NULL;
  const size_t plane = lisse_tensor_plane (x);
  const long planes = (long) x->n * x->c;
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long p = 0; p < planes; p++)
    {
      const float *src = x->data + (size_t) p * plane;
      /* Eight running maxima, so that the loop is not one long dependency
       * chain; max is exact, so their order does not matter. */
      float m[8];
      for (int k = 0; k < 8; k++)
        m[k] = src[0];
      size_t i = 0;
      for (; i + 8 <= plane; i += 8)
        for (int k = 0; k < 8; k++)
          m[k] = max_nan (m[k], src[i + k]);
      for (; i < plane; i++)
        m[0] = max_nan (m[0], src[i]);
      float r = m[0];
      for (int k = 1; k < 8; k++)
        r = max_nan (r, m[k]);
      out->data[p] = r;
    }
  return out;
}

/* Across channels: one image row of the output per work item, the channels
 * reduced row by row (each a SIMD loop over contiguous pixels). */
LisseTensor *
lisse_channel_mean (const LisseTensor *x, GError **error)
{
  LisseTensor *out = lisse_tensor_try_new (x->n, 1, x->h, x->w, error);
  if (!out)
    return NULL;
  const int c = x->c, h = x->h, w = x->w;
  const size_t plane = lisse_tensor_plane (x);
  const long rows = (long) x->n * h;
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel num_threads(nt)
  {
    double *acc = g_new (double, w);
#pragma omp for schedule(static)
    for (long r = 0; r < rows; r++)
      {
        const int ni = (int) (r / h), y = (int) (r % h);
        const float *base = x->data + (size_t) ni * c * plane + (size_t) y * w;
        for (int i = 0; i < w; i++)
          acc[i] = 0.0;
        for (int ci = 0; ci < c; ci++)
          {
            const float *row = base + ci * plane;
#pragma omp simd
            for (int i = 0; i < w; i++)
              acc[i] += row[i];
          }
        float *dst = out->data + (size_t) r * w;
#pragma omp simd
        for (int i = 0; i < w; i++)
          dst[i] = (float) (acc[i] / c);
      }
    g_free (acc);
  }
  return out;
}

LisseTensor *
lisse_channel_max (const LisseTensor *x, GError **error)
{
  LisseTensor *out = lisse_tensor_try_new (x->n, 1, x->h, x->w, error);
  if (!out)
    return NULL;
  const int c = x->c, h = x->h, w = x->w;
  const size_t plane = lisse_tensor_plane (x);
  const long rows = (long) x->n * h;
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long r = 0; r < rows; r++)
    {
      const int ni = (int) (r / h), y = (int) (r % h);
      const float *base = x->data + (size_t) ni * c * plane + (size_t) y * w;
      float *dst = out->data + (size_t) r * w;
      for (int i = 0; i < w; i++)
        dst[i] = base[i];
      for (int ci = 1; ci < c; ci++)
        {
          const float *row = base + ci * plane;
#pragma omp simd
          for (int i = 0; i < w; i++)
            dst[i] = max_nan (dst[i], row[i]);
        }
    }
  return out;
}
