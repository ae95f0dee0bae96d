/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Weighted least squares smoothing (Farbman, Fattal, Lischinski, Szeliski,
 * "Edge-preserving decompositions for multi-scale tone and detail
 * manipulation", SIGGRAPH 2008).  For each colour channel g the output u
 * minimises
 *
 *   Σ_p (u_p − g_p)² + λ (a_x,p (∂_x u)_p² + a_y,p (∂_y u)_p²),
 *   a_x,p = 1 / (|∂_x ℓ (p)|^α + ε),   ε = 10⁻⁴,
 *
 * where ℓ is the log-luma of the image (or of the guide, for joint
 * filtering).  Setting the gradient to zero gives (I + L) u = g with L the
 * grid Laplacian of edge weights λ·a, solved by sparse-solve.c.  Every
 * colour channel shares the matrix, so the preconditioner is built once.
 *
 * The guide is optional: with one, the affinities come from the guide's
 * log-luma instead of the input's, which is the joint WLS the paper uses for
 * e.g. flash / no-flash pairs; the input's channels are still what is
 * smoothed. */
#include "filter.h"
#include "i18n.h"
#include "lisse-error.h"
#include "threads.h"
#include "wls-internal.h"

#include <math.h>
#include <string.h>

static const LisseParamSpec wls_params[] = {
  { "lambda", "λ",
    N_("Smoothness weight: larger values flatten larger regions (the paper uses 0.125–8)"),
    0.0, 50.0, 1.0, FALSE },
  { "alpha", "α",
    N_("Edge sensitivity: how sharply the smoothing stops at log-luma gradients (paper: 1.2–2)"),
    0.0, 3.0, 1.2, FALSE },
};

void
lisse_wls_log_luma (const LisseTensor *image, int n_color, float *ell)
{
  const size_t n = lisse_tensor_plane (image);
  const float *r = lisse_tensor_channel (image, 0, 0);
  if (n_color >= 3)
    {
      const float *g = lisse_tensor_channel (image, 0, 1);
      const float *b = lisse_tensor_channel (image, 0, 2);
      for (size_t i = 0; i < n; i++)
        {
          double y = 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
          ell[i] = (float) log (MAX (y, 0.0) + LISSE_WLS_LOG_EPS);
        }
    }
  else
    for (size_t i = 0; i < n; i++)
      ell[i] = (float) log (MAX ((double) r[i], 0.0) + LISSE_WLS_LOG_EPS);
}

static inline float
wls_weight (double dl, double lambda, double alpha)
{
  return (float) (lambda / (pow (fabs (dl), alpha) + LISSE_WLS_WEIGHT_EPS));
}

void
lisse_wls_weights (int w, int h, const float *ell, double lambda, double alpha,
                   float *wx, float *wy)
{
#pragma omp parallel for schedule(static) num_threads(lisse_threads_get ())
  for (int y = 0; y < h; y++)
    {
      const size_t o = (size_t) y * w;
      for (int x = 0; x < w; x++)
        {
          wx[o + x] = x + 1 < w ? wls_weight (ell[o + x + 1] - ell[o + x], lambda, alpha) : 0.0f;
          wy[o + x] = y + 1 < h ? wls_weight (ell[o + w + x] - ell[o + x], lambda, alpha) : 0.0f;
        }
    }
}

LisseTensor *
lisse_wls_filter (const LisseTensor       *input,
                  int                      n_color,
                  const LisseTensor       *guide,
                  double                   lambda,
                  double                   alpha,
                  const LisseSolveOptions *options,
                  const LisseProgress     *progress,
                  float                  **wx_out,
                  float                  **wy_out,
                  LisseSolveStats         *stats_out,
                  GError                 **error)
{
  const int w = input->w, h = input->h;
  const size_t n = lisse_tensor_plane (input);

  if (!(lambda >= 0.0 && isfinite (lambda)) || !(alpha >= 0.0 && isfinite (alpha)))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "wls: λ = %g and α = %g must be finite and ≥ 0", lambda, alpha);
      return NULL;
    }

  g_autoptr (LisseTensor) out = lisse_tensor_try_new (1, input->c, h, w, error);
  if (!out)
    return NULL;
  g_autofree float *ell = g_try_new (float, n);
  g_autofree float *wx = g_try_new (float, n);
  g_autofree float *wy = g_try_new (float, n);
  if (!ell || !wx || !wy)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                   "wls: out of memory for a %d×%d image", w, h);
      return NULL;
    }

  if (guide)
    lisse_wls_log_luma (guide, guide->c, ell);
  else
    lisse_wls_log_luma (input, n_color, ell);
  lisse_wls_weights (w, h, ell, lambda, alpha, wx, wy);

  LisseSparseSolver *solver = lisse_sparse_solver_new (w, h, wx, wy, options, error);
  if (!solver)
    return NULL;

  LisseSolveStats worst = { .iterations = 0, .converged = TRUE, .rel_residual = -1.0 };
  for (int c = 0; c < n_color; c++)
    {
      const float *f = lisse_tensor_channel (input, 0, c);
      float *u = lisse_tensor_channel (out, 0, c);
      LisseSolveStats st;
      LisseProgress sub = lisse_progress_sub (progress, (double) c / n_color,
                                              (double) (c + 1) / n_color);
      memcpy (u, f, sizeof (float) * n);   /* the input is the initial guess */
      if (!lisse_sparse_solver_solve (solver, f, u, &sub, &st, error))
        {
          lisse_sparse_solver_free (solver);
          return NULL;
        }
      if (!st.converged)
        g_debug ("wls: channel %d stopped after %d iterations at residual %.2g",
                 c, st.iterations, st.rel_residual);
      if (st.rel_residual > worst.rel_residual)
        worst = st;
      if (!lisse_progress_report (&sub, 1.0, error))
        {
          lisse_sparse_solver_free (solver);
          return NULL;
        }
    }
  lisse_sparse_solver_free (solver);

  /* Alpha (and any channel past the colour ones) passes through. */
  for (int c = n_color; c < input->c; c++)
    memcpy (lisse_tensor_channel (out, 0, c), lisse_tensor_channel (input, 0, c),
            sizeof (float) * n);

  if (stats_out)
    *stats_out = worst;
  if (wx_out)
    *wx_out = g_steal_pointer (&wx);
  if (wy_out)
    *wy_out = g_steal_pointer (&wy);
  return g_steal_pointer (&out);
}

static LisseTensor *
wls_run (const LisseTensor   *input,
         int                  n_color,
         const LisseTensor   *guide,
         const LisseParams   *params,
         const LisseProgress *progress,
         GError             **error)
{
  return lisse_wls_filter (input, n_color, guide,
                           lisse_params_get (params, "lambda"),
                           lisse_params_get (params, "alpha"),
                           NULL, progress, NULL, NULL, NULL, error);
}

const LisseFilterInfo lisse_filter_wls = {
  .name = "wls",
  .title = N_("Weighted least squares smoothing"),
  .reference = "Farbman et al. 2008",
  .params = wls_params,
  .n_params = G_N_ELEMENTS (wls_params),
  .guide = LISSE_GUIDE_OPTIONAL,
  .run = wls_run,
  /* Peak memory, input and result included, in float planes (tools/bench/memory-cost, a
   * quarter added): measured 32 + 2 per channel: the multigrid hierarchy and CG vectors. */
  .memory = { 8.0, 40.0, 3.0 },
};
