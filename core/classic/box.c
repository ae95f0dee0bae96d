/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Box mean by prefix sums.  For one line x[0..n) and its extension beyond the
 * edges, S(a) = sum of the extended line over [0, a) (negative a counts
 * backwards), and the window sum over [i−r, i+r] is S(i+r+1) − S(i−r).  With
 * the in-line prefix P[0..n] every border has a closed form for S, so the cost
 * is O(1) per pixel whatever the radius:
 *   clamp      a < 0: a·x[0];   a > n: P[n] + (a−n)·x[n−1]
 *   mirror     period 2n: S(q·2n + t) = q·2P[n] + Q(t),
 *              Q(t) = P[t] for t <= n, 2P[n] − P[2n−t] beyond
 *   normalize  clip the window to [0, n) and divide by its length.
 * Rows are done one at a time (prefix along x); columns in strips of
 * STRIP adjacent columns so the prefix along y walks memory row by row and the
 * inner loops run over contiguous columns. */
#include "box.h"
#include "threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STRIP 32

static inline ptrdiff_t
floor_div (ptrdiff_t a, ptrdiff_t b)
{
  ptrdiff_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* S(a) for one line: P is its prefix (stride ps between P entries, so the
 * strip code can pass one column of a strip), first/last its end values. */
static inline double
prefix_at (const double *P, ptrdiff_t ps, int n, ptrdiff_t a,
           double first, double last, LisseBorder border)
{
  if (a >= 0 && a <= n)
    return P[a * ps];
  switch (border)
    {
    case LISSE_BORDER_CLAMP:
      return a < 0 ? (double) a * first : P[(ptrdiff_t) n * ps] + (double) (a - n) * last;
    case LISSE_BORDER_MIRROR:
      {
        ptrdiff_t period = 2 * (ptrdiff_t) n;
        ptrdiff_t q = floor_div (a, period);
        ptrdiff_t t = a - q * period;
        double total = P[(ptrdiff_t) n * ps];
        double qt = t <= n ? P[t * ps] : 2.0 * total - P[(period - t) * ps];
        return (double) q * 2.0 * total + qt;
      }
    case LISSE_BORDER_NORMALIZE:
    default:
      return a < 0 ? 0.0 : P[(ptrdiff_t) n * ps];
    }
}

/* The box mean at i of a line whose window crosses an edge. */
static inline float
edge_mean (const double *P, int n, int i, int r, double first, double last,
           LisseBorder border)
{
  ptrdiff_t lo = (ptrdiff_t) i - r, hi = (ptrdiff_t) i + r + 1;
  if (border == LISSE_BORDER_NORMALIZE)
    {
      ptrdiff_t l = MAX (lo, 0), h = MIN (hi, n);
      return (float) ((P[h] - P[l]) / (double) (h - l));
    }
  return (float) ((prefix_at (P, 1, n, hi, first, last, border)
                   - prefix_at (P, 1, n, lo, first, last, border)) / (2.0 * r + 1.0));
}

/* Box mean of one row (contiguous), r >= 0.  P has n+1 entries. */
static void
box_row (const float *src, float *dst, int n, int r, LisseBorder border, double *P)
{
  P[0] = 0.0;
  for (int i = 0; i < n; i++)
    P[i + 1] = P[i] + src[i];
  const double first = src[0], last = src[n - 1];
  const double inv = 1.0 / (2.0 * r + 1.0);
  /* [0, a): the window crosses the left edge; [a, b): inside; [b, n): it
   * crosses the right edge (a window wider than the row crosses both). */
  const int a = MIN (r, n), b = MAX (a, n - r);

  for (int i = 0; i < a; i++)
    dst[i] = edge_mean (P, n, i, r, first, last, border);
  for (int i = a; i < b; i++)
    dst[i] = (float) ((P[i + r + 1] - P[i - r]) * inv);
  for (int i = b; i < n; i++)
    dst[i] = edge_mean (P, n, i, r, first, last, border);
}

/* Box mean along y of columns [x0, x0+nb) of a w-wide plane of n rows.
 * P has (n+1)·nb entries. */
static void
box_cols (const float *src, float *dst, int w, int n, int x0, int nb, int r,
          LisseBorder border, double *P)
{
  for (int j = 0; j < nb; j++)
    P[j] = 0.0;
  for (int y = 0; y < n; y++)
    {
      const float *s = src + (size_t) y * w + x0;
      const double *p0 = P + (size_t) y * nb;
      double *p1 = P + (size_t) (y + 1) * nb;
      for (int j = 0; j < nb; j++)
        p1[j] = p0[j] + s[j];
    }
  double inv = 1.0 / (2.0 * r + 1.0);
  for (int y = 0; y < n; y++)
    {
      float *d = dst + (size_t) y * w + x0;
      ptrdiff_t lo = (ptrdiff_t) y - r, hi = (ptrdiff_t) y + r + 1;
      if (lo >= 0 && hi <= n)
        {
          const double *ph = P + (size_t) hi * nb, *pl = P + (size_t) lo * nb;
          for (int j = 0; j < nb; j++)
            d[j] = (float) ((ph[j] - pl[j]) * inv);
        }
      else if (border == LISSE_BORDER_NORMALIZE)
        {
          ptrdiff_t l = MAX (lo, 0), h = MIN (hi, n);
          const double *ph = P + (size_t) h * nb, *pl = P + (size_t) l * nb;
          double c = 1.0 / (double) (h - l);
          for (int j = 0; j < nb; j++)
            d[j] = (float) ((ph[j] - pl[j]) * c);
        }
      else
        for (int j = 0; j < nb; j++)
          {
            /* The end values come from the prefix: x[0] = P[1]−P[0]. */
            double first = P[nb + j] - P[j];
            double last = P[(size_t) n * nb + j] - P[(size_t) (n - 1) * nb + j];
            d[j] = (float) ((prefix_at (P + j, nb, n, hi, first, last, border)
                             - prefix_at (P + j, nb, n, lo, first, last, border)) * inv);
          }
    }
}

void
lisse_box_mean_planes (const float *const *src, float *const *dst, int n,
                       int w, int h, int r, LisseBorder border)
{
  g_return_if_fail (w >= 1 && h >= 1 && r >= 0 && n >= 0);
  int nthreads = lisse_threads_get ();
  int n_strips = (w + STRIP - 1) / STRIP;

  /* Rows first (src -> dst), then columns in place on dst. */
#pragma omp parallel num_threads (nthreads)
  {
    double *P = g_new (double, MAX ((size_t) w, STRIP * (size_t) h) + STRIP + 1);
#pragma omp for schedule (static)
    for (ptrdiff_t k = 0; k < (ptrdiff_t) n * h; k++)
      {
        int p = (int) (k / h), y = (int) (k % h);
        box_row (src[p] + (size_t) y * w, dst[p] + (size_t) y * w, w, r, border, P);
      }
#pragma omp for schedule (static)
    for (ptrdiff_t k = 0; k < (ptrdiff_t) n * n_strips; k++)
      {
        int p = (int) (k / n_strips), s = (int) (k % n_strips);
        int x0 = s * STRIP;
        box_cols (dst[p], dst[p], w, h, x0, MIN (STRIP, w - x0), r, border, P);
      }
    g_free (P);
  }
}

void
lisse_box_mean (const float *src, float *dst, int w, int h, int r, LisseBorder border)
{
  lisse_box_mean_planes (&src, &dst, 1, w, h, r, border);
}

int
lisse_gaussian_radius (double sigma)
{
  return sigma > 0 ? (int) ceil (3.0 * sigma) : 0;
}

/* Index of the extended line at a (any integer) for clamp / mirror. */
static inline ptrdiff_t
ext_index (ptrdiff_t a, int n, LisseBorder border)
{
  if (a >= 0 && a < n)
    return a;
  if (border == LISSE_BORDER_MIRROR)
    {
      ptrdiff_t period = 2 * (ptrdiff_t) n;
      ptrdiff_t t = a - floor_div (a, period) * period;
      return t < n ? t : period - 1 - t;
    }
  return a < 0 ? 0 : n - 1;
}

/* For the normalize border: 1 / (kernel weight falling inside the line) at
 * each position i of a line of n. */
static void
normalize_factors (const float *k, int R, int n, float *norm)
{
  for (int i = 0; i < n; i++)
    {
      double s = 0.0;
      for (int t = -R; t <= R; t++)
        if (i + t >= 0 && i + t < n)
          s += k[abs (t)];
      norm[i] = (float) (1.0 / s);
    }
}

void
lisse_gaussian_blur (const float *src, float *dst, int w, int h, double sigma,
                     LisseBorder border)
{
  g_return_if_fail (w >= 1 && h >= 1);
  if (!(sigma > 0))
    {
      if (dst != src)
        memmove (dst, src, (size_t) w * h * sizeof (float));
      return;
    }
  int R = lisse_gaussian_radius (sigma);
  float *k = g_new (float, R + 1);
  double ksum = 0.0;
  for (int t = 0; t <= R; t++)
    {
      double v = exp (-0.5 * t * t / (sigma * sigma));
      k[t] = (float) v;
      ksum += t ? 2.0 * v : v;
    }
  for (int t = 0; t <= R; t++)
    k[t] = (float) (k[t] / ksum);

  gboolean norm = border == LISSE_BORDER_NORMALIZE;
  float *xnorm = norm ? g_new (float, w) : NULL;
  float *ynorm = norm ? g_new (float, h) : NULL;
  if (norm)
    {
      normalize_factors (k, R, w, xnorm);
      normalize_factors (k, R, h, ynorm);
    }
  float *tmp = g_new (float, (size_t) w * h);
  int nthreads = lisse_threads_get ();

#pragma omp parallel num_threads (nthreads)
  {
    float *buf = g_new (float, (size_t) w + 2 * R);
#pragma omp for schedule (static)
    for (int y = 0; y < h; y++)
      {
        const float *s = src + (size_t) y * w;
        float *d = tmp + (size_t) y * w;
        for (int i = -R; i < w + R; i++)
          {
            if (i >= 0 && i < w)
              buf[i + R] = s[i];
            else
              buf[i + R] = norm ? 0.f : s[ext_index (i, w, border)];
          }
        for (int x = 0; x < w; x++)
          d[x] = k[0] * buf[x + R];
        for (int t = 1; t <= R; t++)
          {
            const float kt = k[t];
            const float *bl = buf + R - t, *br = buf + R + t;
            for (int x = 0; x < w; x++)
              d[x] += kt * (bl[x] + br[x]);
          }
        if (norm)
          for (int x = 0; x < w; x++)
            d[x] *= xnorm[x];
      }
    g_free (buf);

#pragma omp for schedule (static)
    for (int y = 0; y < h; y++)
      {
        float *d = dst + (size_t) y * w;
        const float *c = tmp + (size_t) y * w;
        for (int x = 0; x < w; x++)
          d[x] = k[0] * c[x];
        for (int t = 1; t <= R; t++)
          {
            ptrdiff_t ya = (ptrdiff_t) y - t, yb = (ptrdiff_t) y + t;
            gboolean ina = ya >= 0, inb = yb < h;
            if (norm && !ina && !inb)
              continue;
            const float kt = k[t];
            const float *ra = tmp + (size_t) ext_index (ya, h, border) * w;
            const float *rb = tmp + (size_t) ext_index (yb, h, border) * w;
            if (norm && !ina)
              for (int x = 0; x < w; x++)
                d[x] += kt * rb[x];
            else if (norm && !inb)
              for (int x = 0; x < w; x++)
                d[x] += kt * ra[x];
            else
              for (int x = 0; x < w; x++)
                d[x] += kt * (ra[x] + rb[x]);
          }
        if (norm)
          for (int x = 0; x < w; x++)
            d[x] *= ynorm[y];
      }
  }

  g_free (tmp);
  g_free (xnorm);
  g_free (ynorm);
  g_free (k);
}
