/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Instance, group and layer normalisation.  Statistics are accumulated in
 * double and in two passes (mean, then the mean squared deviation): the
 * one-pass E[x²] − E[x]² loses everything to cancellation on a flat,
 * bright image, exactly the case a smoothing filter sees most.
 */
#include "ops-basic.h"
#include "lisse-error.h"
#include "threads.h"

#include <math.h>

#define PARALLEL_MIN 32768
/* Statistics of a group are summed in blocks of this many elements, each
 * block by one thread, and the block sums added in block order: a large
 * group (layer norm of a whole image) still spreads over all threads, and
 * the result does not depend on how many there are. */
#define BLOCK 8192

static gboolean
check_eps (float eps, const char *what, GError **error)
{
  if (eps >= 0.0f && isfinite (eps))
    return TRUE;
  g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
               "%s: eps must be a finite value >= 0, not %g", what, eps);
  return FALSE;
}

/* The output is (x − mean) · s + beta, with the mean carried as a float
 * pair hi + lo: where the deviation is small against the mean (a flat
 * region, a small group), x − hi is exact and subtracting lo keeps the
 * double mean's precision, which a plain float mean (off by half an ulp of
 * the mean, magnified by 1/σ) would lose. */

static inline double
block_sum (const float *p, size_t len)
{
  double s = 0.0;
#pragma omp simd reduction(+:s)
  for (size_t i = 0; i < len; i++)
    s += p[i];
  return s;
}

static inline double
block_sq_dev (const float *p, size_t len, double mean)
{
  double s = 0.0;
#pragma omp simd reduction(+:s)
  for (size_t i = 0; i < len; i++)
    {
      double d = (double) p[i] - mean;
      s += d * d;
    }
  return s;
}

LisseTensor *
lisse_group_norm (const LisseTensor *x, int groups, const float *gamma,
                  const float *beta, float eps, GError **error)
{
  if (!check_eps (eps, "group norm", error))
    return NULL;
  if (groups < 1 || x->c % groups != 0)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "group norm: %d channels cannot be split into %d groups",
                   x->c, groups);
      return NULL;
    }
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (!out)
    return NULL;

  const int cpg = x->c / groups;
  const size_t plane = lisse_tensor_plane (x);
  const size_t len = (size_t) cpg * plane;      /* one group is contiguous */
  const size_t n_groups = (size_t) x->n * groups;
  const size_t blocks_per_group = (len + BLOCK - 1) / BLOCK;
  const long n_blocks = (long) (n_groups * blocks_per_group);
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

  double *partial = g_new (double, n_blocks);
  double *mean = g_new (double, n_groups);
  double *inv_std = g_new (double, n_groups);

#pragma omp parallel num_threads(nt)
  {
#pragma omp for schedule(static)
    for (long b = 0; b < n_blocks; b++)
      {
        size_t g = (size_t) b / blocks_per_group, k = (size_t) b % blocks_per_group;
        size_t start = k * BLOCK;
        partial[b] = block_sum (x->data + g * len + start, MIN ((size_t) BLOCK, len - start));
      }
#pragma omp single
    for (size_t g = 0; g < n_groups; g++)
      {
        double s = 0.0;
        for (size_t k = 0; k < blocks_per_group; k++)
          s += partial[g * blocks_per_group + k];
        mean[g] = s / (double) len;
      }
#pragma omp for schedule(static)
    for (long b = 0; b < n_blocks; b++)
      {
        size_t g = (size_t) b / blocks_per_group, k = (size_t) b % blocks_per_group;
        size_t start = k * BLOCK;
        partial[b] = block_sq_dev (x->data + g * len + start,
                                   MIN ((size_t) BLOCK, len - start), mean[g]);
      }
#pragma omp single
    for (size_t g = 0; g < n_groups; g++)
      {
        double s = 0.0;
        for (size_t k = 0; k < blocks_per_group; k++)
          s += partial[g * blocks_per_group + k];
        inv_std[g] = 1.0 / sqrt (s / (double) len + (double) eps);
      }
    /* One (n, c) plane per iteration: gamma and beta are constant there. */
#pragma omp for schedule(static)
    for (long p = 0; p < (long) x->n * x->c; p++)
      {
        const int ci = (int) (p % x->c);
        const size_t g = (size_t) (p / x->c) * groups + ci / cpg;
        const float m_hi = (float) mean[g];
        const float m_lo = (float) (mean[g] - m_hi);
        const float s = (float) (inv_std[g] * (gamma ? gamma[ci] : 1.0f));
        const float t = beta ? beta[ci] : 0.0f;
        const float *src = x->data + (size_t) p * plane;
        float *dst = out->data + (size_t) p * plane;
#pragma omp simd
        for (size_t i = 0; i < plane; i++)
          dst[i] = ((src[i] - m_hi) - m_lo) * s + t;
      }
  }

  g_free (partial);
  g_free (mean);
  g_free (inv_std);
  return out;
}

LisseTensor *
lisse_instance_norm (const LisseTensor *x, const float *gamma,
                     const float *beta, float eps, GError **error)
{
  return lisse_group_norm (x, x->c, gamma, beta, eps, error);
}

LisseTensor *
lisse_layer_norm_chw (const LisseTensor *x, const float *gamma,
                      const float *beta, float eps, GError **error)
{
  return lisse_group_norm (x, 1, gamma, beta, eps, error);
}

/* Normalise across channels at each pixel.  A pixel's channels lie a plane
 * apart, so work goes by image rows: the statistics of the W pixels of a
 * row are built together, channel by channel, each step a SIMD loop over a
 * contiguous row. */
LisseTensor *
lisse_layer_norm_channels (const LisseTensor *x, const float *gamma,
                           const float *beta, float eps, GError **error)
{
  if (!check_eps (eps, "layer norm", error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (!out)
    return NULL;

  const int c = x->c, h = x->h, w = x->w;
  const size_t plane = lisse_tensor_plane (x);
  const long rows = (long) x->n * h;
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel num_threads(nt)
  {
    double *acc = g_new (double, w);
    double *meand = g_new (double, w);
    float *m_hi = g_new (float, w);
    float *m_lo = g_new (float, w);
    float *inv = g_new (float, w);

#pragma omp for schedule(static)
    for (long r = 0; r < rows; r++)
      {
        const int ni = (int) (r / h), y = (int) (r % h);
        const float *base = x->data + (size_t) ni * c * plane + (size_t) y * w;
        float *obase = out->data + (size_t) ni * c * plane + (size_t) y * w;

        for (int i = 0; i < w; i++)
          acc[i] = 0.0;
        for (int ci = 0; ci < c; ci++)
          {
            const float *row = base + ci * plane;
#pragma omp simd
            for (int i = 0; i < w; i++)
              acc[i] += row[i];
          }
#pragma omp simd
        for (int i = 0; i < w; i++)
          {
            meand[i] = acc[i] / c;
            m_hi[i] = (float) meand[i];
            m_lo[i] = (float) (meand[i] - m_hi[i]);
            acc[i] = 0.0;
          }
        for (int ci = 0; ci < c; ci++)
          {
            const float *row = base + ci * plane;
#pragma omp simd
            for (int i = 0; i < w; i++)
              {
                double d = (double) row[i] - meand[i];
                acc[i] += d * d;
              }
          }
        for (int i = 0; i < w; i++)
          inv[i] = (float) (1.0 / sqrt (acc[i] / c + (double) eps));
        for (int ci = 0; ci < c; ci++)
          {
            const float *row = base + ci * plane;
            float *orow = obase + ci * plane;
            const float g = gamma ? gamma[ci] : 1.0f;
            const float b = beta ? beta[ci] : 0.0f;
#pragma omp simd
            for (int i = 0; i < w; i++)
              orow[i] = ((row[i] - m_hi[i]) - m_lo[i]) * (inv[i] * g) + b;
          }
      }

    g_free (acc);
    g_free (meand);
    g_free (m_hi);
    g_free (m_lo);
    g_free (inv);
  }
  return out;
}
