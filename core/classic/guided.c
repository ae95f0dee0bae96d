/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Guided filter, He, Sun & Tang, "Guided Image Filtering", ECCV 2010 / TPAMI
 * 2013.  In every (2r+1)² window ω_k the output is a linear function of the
 * guide I, q = a_kᵀ I + b_k, with (a_k, b_k) minimising
 *   Σ_{i∈ω_k} (a_kᵀ I_i + b_k − p_i)² + ε |a_k|²,
 * i.e. a_k = (Σ_k + ε U)⁻¹ cov_k(I, p), b_k = p̄_k − a_kᵀ Ī_k (Σ_k the guide's
 * covariance in the window); each pixel then averages the (a, b) of the
 * windows that hold it: q_i = ā_iᵀ I_i + b̄_i.  All means are box means, O(1)
 * per pixel for any radius (box.c).
 *
 * A one-channel guide takes the paper's scalar form; a guide of Cg = 2..4
 * channels the covariance form (Cg = 3 is the paper's colour guide).  With no
 * guide the image's own colour channels guide it (self-guided), as OpenCV's
 * guidedFilter(src, src) does for a colour image.
 *
 * Borders: half-sample mirror (box.h LISSE_BORDER_MIRROR).  The paper's code
 * shrinks windows at the edge instead; a mirrored window keeps its full
 * (2r+1)² samples, so ε weighs the same against the local variance near the
 * edge as inside.  It is also OpenCV's choice, so the two agree to rounding.
 *
 * ε is in squared intensity units of [0,1] images: ε = 0.01 means edges with
 * a local standard deviation well above 0.1 are kept. */
#include "filter.h"
#include "guided.h"
#include "i18n.h"
#include "filters-all.h"
#include "box.h"
#include "lisse-error.h"
#include "threads.h"

#include <math.h>
#include <string.h>

static const LisseParamSpec guided_params[] = {
  { "radius", "r", N_("Window radius in pixels: the window is (2r+1)×(2r+1)"),
    1, 1000, 4, TRUE },
  { "epsilon", "ε", N_("Regularisation in squared [0,1] intensity units; "
    "edges whose local variance is well above ε are kept"),
    1e-6, 1.0, 0.01, FALSE },
};

#define MAX_G 4

/* Packed index of (i, j), i >= j, in a symmetric Cg×Cg matrix. */
static inline int
sym (int i, int j)
{
  if (i < j)
    {
      int t = i;
      i = j;
      j = t;
    }
  return i * (i + 1) / 2 + j;
}

/* Inverse of the symmetric positive-definite n×n matrix m (packed, double),
 * into inv (packed).  Gauss–Jordan without pivoting is stable for SPD. */
static void
sym_inverse (const double *m, double *inv, int n)
{
  if (n == 2)
    {
      double a = m[0], b = m[1], c = m[2];
      double id = 1.0 / (a * c - b * b);
      inv[0] = c * id;
      inv[1] = -b * id;
      inv[2] = a * id;
      return;
    }
  if (n == 3)
    {
      double a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5];
      /* matrix [[a b d] [b c e] [d e f]] */
      double A = c * f - e * e, B = d * e - b * f, D = b * e - c * d;
      double C = a * f - d * d, E = b * d - a * e, F = a * c - b * b;
      double id = 1.0 / (a * A + b * B + d * D);
      inv[0] = A * id;
      inv[1] = B * id;
      inv[2] = C * id;
      inv[3] = D * id;
      inv[4] = E * id;
      inv[5] = F * id;
      return;
    }
  double a[MAX_G][2 * MAX_G];
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      {
        a[i][j] = m[sym (i, j)];
        a[i][n + j] = i == j;
      }
  for (int c = 0; c < n; c++)
    {
      double p = 1.0 / a[c][c];
      for (int j = 0; j < 2 * n; j++)
        a[c][j] *= p;
      for (int i = 0; i < n; i++)
        if (i != c)
          {
            double f = a[i][c];
            for (int j = 0; j < 2 * n; j++)
              a[i][j] -= f * a[c][j];
          }
    }
  for (int i = 0; i < n; i++)
    for (int j = 0; j <= i; j++)
      inv[sym (i, j)] = a[i][n + j];
}

static float *
plane_new (size_t n)
{
  return g_try_malloc (n * sizeof (float));
}

/* The guided filter on planes: p[n_p] guided by I[n_g] (1..4), into q[n_p]
 * (q may alias p); or, with @coef, no q: the averaged coefficients
 * (guided.h's layout) into coef. */
static gboolean
guided_planes (const float *const *I, int n_g, const float *const *p, float *const *q,
               float *const *coef, int n_p, int w, int h, int r, double eps,
               const LisseProgress *progress, GError **error)
{
  const size_t N = (size_t) w * h;
  const int n_sym = n_g * (n_g + 1) / 2;
  const int nthreads = lisse_threads_get ();
  const LisseBorder border = LISSE_BORDER_MIRROR;
  gboolean ok = FALSE;

  /* mean_I[n_g], inv[n_sym] (guide statistics shared by all channels),
   * work[n_g + 1] (per channel: cov → a → ā, and p̄ → b → b̄). */
  int n_planes = n_g + n_sym + n_g + 1;
  float *planes[MAX_G + MAX_G * (MAX_G + 1) / 2 + MAX_G + 1] = { 0 };
  for (int i = 0; i < n_planes; i++)
    if (!(planes[i] = plane_new (N)))
      {
        g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                     "guided: out of memory for a %d×%d image", w, h);
        goto out;
      }
  float **mean_I = planes, **inv = planes + n_g, **work = planes + n_g + n_sym;

  /* Guide means and second moments. */
  lisse_box_mean_planes (I, mean_I, n_g, w, h, r, border);
  {
    /* Products I_i I_j into inv[], then their box means in place. */
#pragma omp parallel for num_threads (nthreads) schedule (static)
    for (int y = 0; y < h; y++)
      for (int i = 0; i < n_g; i++)
        for (int j = 0; j <= i; j++)
          {
            const float *a = I[i] + (size_t) y * w, *b = I[j] + (size_t) y * w;
            float *d = inv[sym (i, j)] + (size_t) y * w;
            for (int x = 0; x < w; x++)
              d[x] = a[x] * b[x];
          }
    lisse_box_mean_planes ((const float *const *) inv, inv, n_sym, w, h, r, border);
  }
  /* Σ + εU, inverted per pixel (in double: the covariance is a difference
   * of nearly equal means). */
#pragma omp parallel for num_threads (nthreads) schedule (static)
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t k = (size_t) y * w + x;
        double m[MAX_G * (MAX_G + 1) / 2], mi[MAX_G * (MAX_G + 1) / 2];
        for (int i = 0; i < n_g; i++)
          for (int j = 0; j <= i; j++)
            {
              int s = sym (i, j);
              m[s] = (double) inv[s][k] - (double) mean_I[i][k] * mean_I[j][k];
              if (i == j)
                m[s] = MAX (m[s], 0.0) + eps;
            }
        if (n_g == 1)
          mi[0] = 1.0 / m[0];
        else
          sym_inverse (m, mi, n_g);
        for (int s = 0; s < n_sym; s++)
          inv[s][k] = (float) mi[s];
      }
  if (!lisse_progress_report (progress, 0.2, error))
    goto out;

  for (int c = 0; c < n_p; c++)
    {
      float **a = work, *b = work[n_g];
      /* p̄ into b; I_i·p into a[i]; all box-averaged together. */
#pragma omp parallel for num_threads (nthreads) schedule (static)
      for (int y = 0; y < h; y++)
        {
          const float *ps = p[c] + (size_t) y * w;
          for (int i = 0; i < n_g; i++)
            {
              const float *gi = I[i] + (size_t) y * w;
              float *d = a[i] + (size_t) y * w;
              for (int x = 0; x < w; x++)
                d[x] = gi[x] * ps[x];
            }
        }
      const float *sources[MAX_G + 1];
      for (int i = 0; i < n_g; i++)
        sources[i] = a[i];
      sources[n_g] = p[c];
      lisse_box_mean_planes (sources, work, n_g + 1, w, h, r, border);

      /* a = (Σ + εU)⁻¹ cov(I, p), b = p̄ − aᵀĪ. */
#pragma omp parallel for num_threads (nthreads) schedule (static)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            size_t k = (size_t) y * w + x;
            double mp = b[k], cov[MAX_G], av[MAX_G];
            for (int i = 0; i < n_g; i++)
              cov[i] = (double) a[i][k] - (double) mean_I[i][k] * mp;
            double bb = mp;
            for (int i = 0; i < n_g; i++)
              {
                double s = 0.0;
                for (int j = 0; j < n_g; j++)
                  s += (double) inv[sym (i, j)][k] * cov[j];
                av[i] = s;
                bb -= s * mean_I[i][k];
              }
            for (int i = 0; i < n_g; i++)
              a[i][k] = (float) av[i];
            b[k] = (float) bb;
          }
      lisse_box_mean_planes ((const float *const *) work,
                             coef ? coef + (size_t) c * (n_g + 1) : work, n_g + 1, w, h, r,
                             border);
      if (coef)
        {
          if (!lisse_progress_report (progress, 0.2 + 0.8 * (c + 1) / n_p, error))
            goto out;
          continue;
        }

#pragma omp parallel for num_threads (nthreads) schedule (static)
      for (int y = 0; y < h; y++)
        {
          float *d = q[c] + (size_t) y * w;
          const float *bm = b + (size_t) y * w;
          for (int x = 0; x < w; x++)
            {
              float s = bm[x];
              for (int i = 0; i < n_g; i++)
                s += a[i][(size_t) y * w + x] * I[i][(size_t) y * w + x];
              d[x] = s;
            }
        }
      if (!lisse_progress_report (progress, 0.2 + 0.8 * (c + 1) / n_p, error))
        goto out;
    }
  ok = TRUE;

out:
  for (int i = 0; i < n_planes; i++)
    g_free (planes[i]);
  return ok;
}

gboolean
lisse_guided_coefficients (const float *const *I, int n_g, const float *const *p, int n_p,
                           int w, int h, int r, double eps, float *const *coef,
                           const LisseProgress *progress, GError **error)
{
  g_return_val_if_fail (n_g >= 1 && n_g <= MAX_G && n_p >= 1 && r >= 0 && eps > 0, FALSE);
  return guided_planes (I, n_g, p, NULL, coef, n_p, w, h, r, eps, progress, error);
}

static LisseTensor *
guided_run (const LisseTensor   *input,
            int                  n_color,
            const LisseTensor   *guide,
            const LisseParams   *params,
            const LisseProgress *progress,
            GError             **error)
{
  int r = (int) lisse_params_get (params, "radius");
  double eps = lisse_params_get (params, "epsilon");
  if (!(r >= 1 && eps > 0))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "guided: radius %d and epsilon %g must be positive", r, eps);
      return NULL;
    }
  int w = input->w, h = input->h;
  LisseTensor *out = lisse_tensor_try_new (1, input->c, h, w, error);
  if (!out)
    return NULL;
  memcpy (out->data, input->data, lisse_tensor_numel (input) * sizeof (float));

  const float *I[MAX_G], *p[4];
  float *q[4];
  int n_g = guide ? guide->c : n_color;
  for (int i = 0; i < n_g; i++)
    I[i] = lisse_tensor_channel (guide ? guide : input, 0, i);
  for (int c = 0; c < n_color; c++)
    {
      p[c] = lisse_tensor_channel (input, 0, c);
      q[c] = lisse_tensor_channel (out, 0, c);
    }
  if (!guided_planes (I, n_g, p, q, NULL, n_color, w, h, r, eps, progress, error))
    {
      lisse_tensor_free (out);
      return NULL;
    }
  return out;
}

const LisseFilterInfo lisse_filter_guided = {
  .name = "guided",
  .title = N_("Guided filter"),
  .reference = "He, Sun & Tang 2010",
  .params = guided_params,
  .n_params = G_N_ELEMENTS (guided_params),
  .guide = LISSE_GUIDE_OPTIONAL,
  .run = guided_run,
  /* Peak memory, input and result included, in float planes (tools/bench/memory-cost, a
   * quarter added): measured 1.1 + 5 per channel. */
  .memory = { 8.0, 2.0, 7.0 },
};
