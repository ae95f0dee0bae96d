/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "pencil-tone.h"

#include "threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_BINS 256

/* Lu et al. 2012, §3.2 (values in 8-bit units) and their middle weight group. */
#define SIGMA_B  9.0
#define U_A      105.0
#define U_B      225.0
#define MU_D     90.0
#define SIGMA_D  11.0
#define OMEGA_1  52.0
#define OMEGA_2  37.0
#define OMEGA_3  11.0

/* §3.3's smoothness weight. */
#define THETA 0.2
/* β only sets a texture's darkness: 1e-5 of the right-hand side is far
 * below what 8 bits show. */
#define CG_TOLERANCE 1e-5
#define CG_MAX_ITERATIONS 200

/* The procedural texture: strokes 10 px long at full size, mean 0.8. */
#define STROKE_LENGTH 10.0
#define TEXTURE_MEAN 0.8
#define TEXTURE_CONTRAST 0.08

void
lisse_pencil_tone_target (double pdf[N_BINS])
{
  double total = 0.0;
  for (int v = 0; v < N_BINS; v++)
    {
      const double p1 = exp (-(255.0 - v) / SIGMA_B) / SIGMA_B;
      const double p2 = (v >= U_A && v <= U_B) ? 1.0 / (U_B - U_A) : 0.0;
      const double p3 = exp (-(v - MU_D) * (v - MU_D) / (2.0 * SIGMA_D * SIGMA_D))
                        / sqrt (2.0 * G_PI * SIGMA_D);
      pdf[v] = OMEGA_1 * p1 + OMEGA_2 * p2 + OMEGA_3 * p3;
      total += pdf[v];
    }
  for (int v = 0; v < N_BINS; v++)
    pdf[v] /= total;
}

static int
compare_floats (const void *a, const void *b)
{
  const float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

/* Index of the first element of sorted @v (length n) that is ≥ @x (@upper:
 * that is > @x). */
static size_t
bound (const float *v, size_t n, float x, gboolean upper)
{
  size_t lo = 0, hi = n;
  while (lo < hi)
    {
      const size_t mid = lo + (hi - lo) / 2;
      if (upper ? v[mid] <= x : v[mid] < x)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

gboolean
lisse_pencil_tone_map (const float *y, int w, int h, float *j, GError **error)
{
  const size_t n = (size_t) w * h;
  /* Exact matching through ranks: a value's quantile is its mid-rank
   * (equal values, e.g. a flat sky, share one), and the target's inverse
   * CDF, linear inside each of its 256 bins, maps it to a tone. */
  float *sorted = g_try_new (float, n);
  if (!sorted)
    return lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY,
                       "Pencil Sketch: not enough memory for the tone of a %d×%d image", w, h);
  for (size_t i = 0; i < n; i++)
    sorted[i] = isnan (y[i]) ? 0.0f : y[i];
  qsort (sorted, n, sizeof (float), compare_floats);

  double pdf[N_BINS], cdf[N_BINS + 1];
  lisse_pencil_tone_target (pdf);
  cdf[0] = 0.0;
  for (int k = 0; k < N_BINS; k++)
    cdf[k + 1] = cdf[k] + pdf[k];

  const int nt = lisse_threads_get ();
#pragma omp parallel for num_threads (nt) schedule (static)
  for (size_t i = 0; i < n; i++)
    {
      const float v = isnan (y[i]) ? 0.0f : y[i];
      const size_t below = bound (sorted, n, v, FALSE), upto = bound (sorted, n, v, TRUE);
      const double u = 0.5 * (double) (below + upto) / (double) n;
      /* the target bin holding quantile u (cdf is increasing: pdf > 0) */
      int lo = 0, hi = N_BINS - 1;
      while (lo < hi)
        {
          const int mid = (lo + hi) / 2;
          if (cdf[mid + 1] < u)
            lo = mid + 1;
          else
            hi = mid;
        }
      const double in_bin = CLAMP ((u - cdf[lo]) / pdf[lo], 0.0, 1.0);
      j[i] = (float) ((lo + in_bin) / N_BINS);
    }
  g_free (sorted);
  return TRUE;
}

/* A 32-bit integer hash (the "lowbias32" mix): uniform noise per pixel
 * from its coordinates alone. */
static inline guint32
hash2 (int x, int y)
{
  guint32 v = (guint32) x * 0x9E3779B1u ^ ((guint32) y + 0x7F4A7C15u) * 0x85EBCA77u;
  v ^= v >> 16;
  v *= 0x7FEB352Du;
  v ^= v >> 15;
  v *= 0x846CA68Bu;
  v ^= v >> 16;
  return v;
}

void
lisse_pencil_texture (int w, int h, double scale, float *tex)
{
  const int half = MAX (0, (int) lround (0.5 * STROKE_LENGTH * scale));
  const int count = 2 * half + 1;
  /* Standardise the stroke average of `count` uniform samples (variance
   * 1/12 each) so that the texture's contrast does not depend on scale. */
  const double sd = sqrt (1.0 / (12.0 * count));
  const int nt = lisse_threads_get ();
#pragma omp parallel for num_threads (nt) schedule (static)
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double sum = 0.0;
        for (int t = -half; t <= half; t++)
          sum += hash2 (x + t, y + t) * (1.0 / 4294967296.0);
        const double z = (sum / count - 0.5) / sd;
        tex[(size_t) y * w + x] = (float) CLAMP (TEXTURE_MEAN + TEXTURE_CONTRAST * z, 0.5, 0.97);
      }
}

/* (A x)_i = d_i x_i + θ Σ_{j ~ i} (x_i − x_j) over the 4-neighbours inside
 * the image. */
static void
apply_a (const float *d, const float *x, float *out, int w, int h, int nt)
{
#pragma omp parallel for num_threads (nt) schedule (static)
  for (int y = 0; y < h; y++)
    for (int xx = 0; xx < w; xx++)
      {
        const size_t i = (size_t) y * w + xx;
        double lap = 0.0;
        if (xx > 0)     lap += x[i] - x[i - 1];
        if (xx < w - 1) lap += x[i] - x[i + 1];
        if (y > 0)      lap += x[i] - x[i - w];
        if (y < h - 1)  lap += x[i] - x[i + w];
        out[i] = (float) (d[i] * x[i] + THETA * lap);
      }
}

/* Σ a_i · s_i · b_i (s NULL: 1) in double, summed serially in index order:
 * bit-identical for any thread count. */
static double
dot (const float *a, const float *s, const float *b, size_t n)
{
  double sum = 0.0;
  for (size_t i = 0; i < n; i++)
    sum += (double) a[i] * (s ? s[i] : 1.0f) * b[i];
  return sum;
}

gboolean
lisse_pencil_tone_render (const float *tex, const float *j, int w, int h, float *tone,
                          GError **error)
{
  if (!lisse_pencil_tone_beta (tex, j, w, h, tone, error))
    return FALSE;
  lisse_pencil_tone_apply (tex, tone, w, h, tone);
  return TRUE;
}

void
lisse_pencil_tone_apply (const float *tex, const float *beta, int w, int h, float *tone)
{
  const size_t n = (size_t) w * h;
  const int nt = lisse_threads_get ();
#pragma omp parallel for num_threads (nt) schedule (static)
  for (size_t i = 0; i < n; i++)
    tone[i] = (float) exp (beta[i] * log ((double) tex[i]));
}

gboolean
lisse_pencil_tone_beta (const float *tex, const float *j, int w, int h, float *beta,
                        GError **error)
{
  /* Float vectors with double sums: the system is well conditioned (θ·8
   * against (ln H)² ≥ 0.0009), and seven floats a pixel keep a large image
   * affordable inside GIMP's process. */
  const size_t n = (size_t) w * h;
  float *d = g_try_new (float, n), *b = g_try_new (float, n), *m = g_try_new (float, n);
  float *x = g_try_new (float, n), *r = g_try_new (float, n), *p = g_try_new (float, n);
  float *q = g_try_new (float, n);
  if (!(d && b && m && x && r && p && q))
    {
      g_free (d); g_free (b); g_free (m); g_free (x); g_free (r); g_free (p); g_free (q);
      return lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY,
                         "Pencil Sketch: not enough memory for the tone of a %d×%d image", w, h);
    }
  const int nt = lisse_threads_get ();
#pragma omp parallel for num_threads (nt) schedule (static)
  for (int y = 0; y < h; y++)
    for (int xx = 0; xx < w; xx++)
      {
        const size_t i = (size_t) y * w + xx;
        const double lh = log ((double) tex[i]);
        const double lj = log (MAX ((double) j[i], 1.0 / 255.0));
        const int degree = (xx > 0) + (xx < w - 1) + (y > 0) + (y < h - 1);
        d[i] = (float) (lh * lh);
        b[i] = (float) (lh * lj);
        m[i] = (float) (1.0 / (lh * lh + THETA * degree));   /* Jacobi preconditioner */
        x[i] = (float) (lj / lh);                            /* the unregularised fit */
      }

  /* Preconditioned conjugate gradients; z = M r is formed where it is used. */
  apply_a (d, x, q, w, h, nt);
  for (size_t i = 0; i < n; i++)
    {
      r[i] = b[i] - q[i];
      p[i] = m[i] * r[i];
    }
  const double b_norm = sqrt (dot (b, NULL, b, n));
  double rz = dot (r, m, r, n);
  for (int it = 0;
       it < CG_MAX_ITERATIONS && sqrt (dot (r, NULL, r, n)) > CG_TOLERANCE * b_norm; it++)
    {
      apply_a (d, p, q, w, h, nt);
      const double pq = dot (p, NULL, q, n);
      if (pq <= 0.0)
        break;
      const double alpha = rz / pq;
      for (size_t i = 0; i < n; i++)
        {
          x[i] += (float) (alpha * p[i]);
          r[i] -= (float) (alpha * q[i]);
        }
      const double rz_new = dot (r, m, r, n);
      const double beta = rz_new / rz;
      rz = rz_new;
      for (size_t i = 0; i < n; i++)
        p[i] = (float) (m[i] * r[i] + beta * p[i]);
    }

  memcpy (beta, x, n * sizeof (float));
  g_free (d); g_free (b); g_free (m); g_free (x); g_free (r); g_free (p); g_free (q);
  return TRUE;
}
