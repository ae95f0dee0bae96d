/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * L0 gradient minimisation, Xu, Lu, Xu & Jia, "Image Smoothing via L0
 * Gradient Minimization", SIGGRAPH Asia 2011.  Minimises
 *   Σ_p |S_p − I_p|² + λ · #{p : ∂S_p ≠ 0}
 * (a colour pixel counts once when any channel's gradient is non-zero) by
 * half-quadratic splitting: auxiliary gradients (h, v) and a weight β that
 * grows from 2λ by κ per iteration until β_max.  Each iteration
 *   1. (h, v) = (∂x S, ∂y S) where Σ_c (∂x S)² + (∂y S)² > λ/β, else 0;
 *   2. S = argmin |S − I|² + β |∇S − (h, v)|²
 *        = (I + β ∇ᵀ(h, v)) / (1 + β ∇ᵀ∇),
 * step 2 solved exactly in a transform domain that diagonalises ∇ᵀ∇.
 *
 * Boundary: the paper and OpenCV's l0Smooth solve with FFTs, i.e. on a
 * periodic image, so the left edge is a neighbour of the right edge: a
 * strong gradient appears across the seam and colours bleed from one side
 * to the other.  Lisse uses Neumann boundaries instead: no gradient leaves
 * the image (the last forward difference of a row or column is zero), as if
 * the image were mirrored.  Then ∇ᵀ∇ is the Neumann Laplacian, diagonalised
 * exactly by the DCT-II with eigenvalues (2 − 2cos(πk/W)) + (2 − 2cos(πl/H));
 * FFTW's REDFT10 / REDFT01 are that DCT and its inverse (unnormalised: a
 * round trip scales by 4WH), real and the image's own size, cheaper than
 * the complex FFT.  NKS-mini (../shared/eval/nksmini/README.md) scores L0
 * clearly higher with mirrored borders than with periodic ones.  On an
 * image framed by a wide constant border the two boundary conditions pose
 * the same problem up to the frame's residual slope, which is how
 * tests/compare-opencv.py compares with OpenCV;
 * tests/test-classic-filters.c checks the DCT solve against conjugate
 * gradients on the Neumann system.
 *
 * Threads: the spatial steps split rows; the transforms split channels (one
 * plan per image size, executed with FFTW's new-array interface, which is
 * thread-safe; planning is not, hence the lock). */
#include "filter.h"
#include "i18n.h"
#include "filters-all.h"
#include "lisse-error.h"
#include "threads.h"

#include <fftw3.h>
#include <math.h>
#include <string.h>

static const LisseParamSpec l0_params[] = {
  { "lambda", "λ", N_("Weight of the gradient count: larger values leave fewer, "
    "larger flat regions"), 1e-5, 10.0, 0.02, FALSE },
  { "kappa", "κ", N_("Factor by which β grows each iteration: smaller is slower "
    "and slightly more accurate"), 1.1, 10.0, 2.0, FALSE },
  { "beta-max", "β_max", N_("β at which the iteration stops"), 10.0, 1e8, 1e5, FALSE },
};

/* FFTW's planner is not thread-safe; execution of an existing plan is. */
static GMutex fftw_lock;

static int
l0_iterations (double lambda, double kappa, double beta_max)
{
  int n = 0;
  for (double beta = 2.0 * lambda; beta < beta_max; beta *= kappa)
    n++;
  return n;
}

static LisseTensor *
l0_run (const LisseTensor   *input,
        int                  n_color,
        const LisseTensor   *guide,
        const LisseParams   *params,
        const LisseProgress *progress,
        GError             **error)
{
  (void) guide;
  const double lambda = lisse_params_get (params, "lambda");
  const double kappa = lisse_params_get (params, "kappa");
  const double beta_max = lisse_params_get (params, "beta-max");
  if (!(lambda > 0 && kappa > 1 && beta_max > 2.0 * lambda))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "l0: need lambda > 0, kappa > 1 and beta-max > 2·lambda "
                   "(got %g, %g, %g)", lambda, kappa, beta_max);
      return NULL;
    }
  const int W = input->w, H = input->h, C = n_color;
  const size_t N = (size_t) W * H;
  const int n_iter = l0_iterations (lambda, kappa, beta_max);
  const int nthreads = lisse_threads_get ();

  LisseTensor *out = lisse_tensor_try_new (1, input->c, H, W, error);
  if (!out)
    return NULL;
  memcpy (out->data, input->data, lisse_tensor_numel (input) * sizeof (float));

  /* S: the estimate; T: work (∇ᵀ(h,v), then its transform); F: DCT of I. */
  float *S[4] = { 0 }, *T[4] = { 0 }, *F[4] = { 0 };
  float *lx = g_new (float, W), *ly = g_new (float, H);
  guint8 *mask = g_try_malloc (N);
  fftwf_plan fwd = NULL, inv = NULL;
  gboolean ok = mask != NULL;
  for (int c = 0; c < C && ok; c++)
    {
      S[c] = fftwf_malloc (N * sizeof (float));
      T[c] = fftwf_malloc (N * sizeof (float));
      F[c] = fftwf_malloc (N * sizeof (float));
      ok = S[c] && T[c] && F[c];
    }
  if (!ok)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                   "l0: out of memory for a %d×%d image", W, H);
      goto out;
    }

  g_mutex_lock (&fftw_lock);
  /* FFTW_ESTIMATE plans without touching the arrays; fftw_malloc'd arrays
   * share the alignment the new-array calls below need. */
  fwd = fftwf_plan_r2r_2d (H, W, T[0], S[0], FFTW_REDFT10, FFTW_REDFT10, FFTW_ESTIMATE);
  inv = fftwf_plan_r2r_2d (H, W, S[0], T[0], FFTW_REDFT01, FFTW_REDFT01, FFTW_ESTIMATE);
  g_mutex_unlock (&fftw_lock);
  if (!fwd || !inv)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                   "l0: FFTW could not plan a %d×%d transform", W, H);
      ok = FALSE;
      goto out;
    }

  for (int k = 0; k < W; k++)
    lx[k] = (float) (2.0 - 2.0 * cos (G_PI * k / W));
  for (int k = 0; k < H; k++)
    ly[k] = (float) (2.0 - 2.0 * cos (G_PI * k / H));

  for (int c = 0; c < C; c++)
    {
      memcpy (S[c], lisse_tensor_channel (input, 0, c), N * sizeof (float));
      memcpy (T[c], S[c], N * sizeof (float));
    }
#pragma omp parallel for num_threads (MIN (nthreads, C)) schedule (static)
  for (int c = 0; c < C; c++)
    fftwf_execute_r2r (fwd, T[c], F[c]);

  double beta = 2.0 * lambda;
  for (int it = 0; it < n_iter; it++, beta *= kappa)
    {
      const float thresh = (float) (lambda / beta);

      /* 1. Which pixels keep their gradient (all channels together). */
#pragma omp parallel for num_threads (nthreads) schedule (static)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          {
            size_t i = (size_t) y * W + x;
            float m = 0.f;
            for (int c = 0; c < C; c++)
              {
                float gx = x + 1 < W ? S[c][i + 1] - S[c][i] : 0.f;
                float gy = y + 1 < H ? S[c][i + W] - S[c][i] : 0.f;
                m += gx * gx + gy * gy;
              }
            mask[i] = m > thresh;
          }

      /* 2a. T = ∇ᵀ(h, v): h(x−1) − h(x) + v(y−1) − v(y). */
#pragma omp parallel for num_threads (nthreads) schedule (static)
      for (int y = 0; y < H; y++)
        for (int c = 0; c < C; c++)
          {
            const float *s = S[c];
            float *t = T[c];
            for (int x = 0; x < W; x++)
              {
                size_t i = (size_t) y * W + x;
                float d = 0.f;
                if (mask[i])
                  {
                    if (x + 1 < W)
                      d -= s[i + 1] - s[i];
                    if (y + 1 < H)
                      d -= s[i + W] - s[i];
                  }
                if (x > 0 && mask[i - 1])
                  d += s[i] - s[i - 1];
                if (y > 0 && mask[i - W])
                  d += s[i] - s[i - W];
                t[i] = d;
              }
          }

      /* 2b. Solve in the DCT domain; the inverse lands in T, which becomes S. */
      const float fb = (float) beta, scale = (float) (1.0 / (4.0 * (double) N));
#pragma omp parallel for num_threads (MIN (nthreads, C)) schedule (static)
      for (int c = 0; c < C; c++)
        fftwf_execute_r2r (fwd, T[c], S[c]);
#pragma omp parallel for num_threads (nthreads) schedule (static)
      for (int y = 0; y < H; y++)
        for (int c = 0; c < C; c++)
          {
            float *s = S[c] + (size_t) y * W;
            const float *f = F[c] + (size_t) y * W;
            for (int x = 0; x < W; x++)
              s[x] = (f[x] + fb * s[x]) * scale / (1.f + fb * (lx[x] + ly[y]));
          }
#pragma omp parallel for num_threads (MIN (nthreads, C)) schedule (static)
      for (int c = 0; c < C; c++)
        {
          fftwf_execute_r2r (inv, S[c], T[c]);
          float *t = S[c];
          S[c] = T[c];
          T[c] = t;
        }

      if (!lisse_progress_report (progress, (it + 1.0) / n_iter, error))
        {
          ok = FALSE;
          goto out;
        }
    }

  for (int c = 0; c < C; c++)
    memcpy (lisse_tensor_channel (out, 0, c), S[c], N * sizeof (float));

out:
  g_mutex_lock (&fftw_lock);
  if (fwd)
    fftwf_destroy_plan (fwd);
  if (inv)
    fftwf_destroy_plan (inv);
  g_mutex_unlock (&fftw_lock);
  for (int c = 0; c < C; c++)
    {
      fftwf_free (S[c]);
      fftwf_free (T[c]);
      fftwf_free (F[c]);
    }
  g_free (lx);
  g_free (ly);
  g_free (mask);
  if (!ok)
    {
      lisse_tensor_free (out);
      return NULL;
    }
  return out;
}

const LisseFilterInfo lisse_filter_l0 = {
  .name = "l0",
  .title = N_("L0 gradient minimisation"),
  .reference = "Xu et al. 2011",
  .params = l0_params,
  .n_params = G_N_ELEMENTS (l0_params),
  .guide = LISSE_GUIDE_NONE,
  .run = l0_run,
  /* Peak memory, input and result included, in float planes (tools/bench/memory-cost, a
   * quarter added): measured 1.3 + 4 per channel. */
  .memory = { 8.0, 2.0, 5.0 },
};
