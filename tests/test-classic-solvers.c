/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Tests of the sparse solver (core/classic/sparse-solve.c) and the two
 * filters built on it, WLS and RTV: every answer is checked against a dense
 * Cholesky solve of the same system written here, independently of the
 * code under test, and the filters' systems against formulas re-derived
 * here from the papers.
 *
 * Error bound used throughout: A = I + L with L positive semi-definite, so
 * ‖A⁻¹‖₂ ≤ 1 and ‖u − u*‖₂ ≤ ‖f − A u‖₂.  A relative residual of 10⁻⁵ on
 * an image of n pixels in [0, 1] thus bounds the error by 10⁻⁵ √n. */
#include "filter.h"
#include "filters-all.h"
#include "lisse-error.h"
#include "rtv-internal.h"
#include "sparse-solve.h"
#include "threads.h"
#include "wls-internal.h"

#include <math.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* Dense solve of (I + L) u = f in double, by Cholesky. */
static double *
dense_solve (int w, int h, const float *wx, const float *wy, const float *f)
{
  const int n = w * h;
  double *a = g_new0 (double, (size_t) n * n);
  for (int i = 0; i < n; i++)
    a[(size_t) i * n + i] = 1.0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const int i = y * w + x;
        if (x + 1 < w)
          {
            const double c = wx[i];
            a[(size_t) i * n + i] += c, a[(size_t) (i + 1) * n + i + 1] += c;
            a[(size_t) i * n + i + 1] -= c, a[(size_t) (i + 1) * n + i] -= c;
          }
        if (y + 1 < h)
          {
            const double c = wy[i];
            a[(size_t) i * n + i] += c, a[(size_t) (i + w) * n + i + w] += c;
            a[(size_t) i * n + i + w] -= c, a[(size_t) (i + w) * n + i] -= c;
          }
      }
  /* In-place Cholesky, lower triangle. */
  for (int j = 0; j < n; j++)
    {
      double s = a[(size_t) j * n + j];
      for (int k = 0; k < j; k++)
        s -= a[(size_t) j * n + k] * a[(size_t) j * n + k];
      g_assert_cmpfloat (s, >, 0.0);
      const double l = sqrt (s);
      a[(size_t) j * n + j] = l;
      for (int i = j + 1; i < n; i++)
        {
          double t = a[(size_t) i * n + j];
          for (int k = 0; k < j; k++)
            t -= a[(size_t) i * n + k] * a[(size_t) j * n + k];
          a[(size_t) i * n + j] = t / l;
        }
    }
  double *u = g_new (double, n);
  for (int i = 0; i < n; i++)
    {
      double s = f[i];
      for (int k = 0; k < i; k++)
        s -= a[(size_t) i * n + k] * u[k];
      u[i] = s / a[(size_t) i * n + i];
    }
  for (int i = n - 1; i >= 0; i--)
    {
      double s = u[i];
      for (int k = i + 1; k < n; k++)
        s -= a[(size_t) k * n + i] * u[k];
      u[i] = s / a[(size_t) i * n + i];
    }
  g_free (a);
  return u;
}

static double
max_abs_diff_fd (const float *a, const double *b, size_t n)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = MAX (m, fabs ((double) a[i] - b[i]));
  return m;
}

/* How far rounding a solution to float can move A u, relative to ‖f‖: with
 * |δ_i| ≤ 2⁻²⁴ |u_i| (round to nearest), ‖A δ‖ ≤ ‖ |A| |δ| ‖.  Where the
 * weights are huge (WLS: λ/ε = 10⁴ per unit λ on flat areas) this floor
 * exceeds 10⁻⁴ although u itself is accurate to ~10⁻⁷: no float output can
 * do better, so the residual check allows for it and the dense comparison
 * checks u itself. */
static double
float_rounding_floor (int w, int h, const float *wx, const float *wy, const float *f,
                      const float *u)
{
  const size_t n = (size_t) w * h;
  double num = 0.0, den = 0.0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const size_t i = (size_t) y * w + x;
        const double eta = ldexp (fabs (u[i]), -24) * 1.001;
        double v = eta;   /* the identity */
        if (x + 1 < w)
          v += wx[i] * (eta + ldexp (fabs (u[i + 1]), -24) * 1.001);
        if (x > 0)
          v += wx[i - 1] * (eta + ldexp (fabs (u[i - 1]), -24) * 1.001);
        if (y + 1 < h)
          v += wy[i] * (eta + ldexp (fabs (u[i + w]), -24) * 1.001);
        if (y > 0)
          v += wy[i - w] * (eta + ldexp (fabs (u[i - w]), -24) * 1.001);
        num += v * v;
        den += (double) f[i] * f[i];
      }
  (void) n;
  return den > 0.0 ? sqrt (num / den) : sqrt (num);
}

/* Checks that the colour planes of @out solve the system (wx, wy) with the
 * input planes as right-hand sides: the relative residual is within
 * @max_residual plus the float-rounding floor, and u matches a dense solve
 * to @max_diff. */
static void
check_output_solves (const LisseTensor *input, const LisseTensor *out, int n_color,
                     const float *wx, const float *wy, double max_residual, double max_diff)
{
  const int w = input->w, h = input->h;
  const size_t n = lisse_tensor_plane (input);
  for (int c = 0; c < n_color; c++)
    {
      const float *f = lisse_tensor_channel (input, 0, c);
      const float *u = lisse_tensor_channel (out, 0, c);
      const double res = lisse_sparse_relative_residual (w, h, wx, wy, f, u);
      const double floor = float_rounding_floor (w, h, wx, wy, f, u);
      g_autofree double *ref = dense_solve (w, h, wx, wy, f);
      const double diff = max_abs_diff_fd (u, ref, n);
      if (g_test_verbose ())
        g_test_message ("channel %d: relative residual %.2e (float floor %.2e), max |u − dense| %.2e",
                        c, res, floor, diff);
      g_assert_cmpfloat (res, <=, max_residual + floor);
      g_assert_cmpfloat (diff, <=, max_diff);
    }
}

static LisseTensor *
random_image (GRand *rng, int c, int h, int w)
{
  LisseTensor *t = lisse_tensor_new (1, c, h, w);
  for (size_t i = 0; i < lisse_tensor_numel (t); i++)
    t->data[i] = (float) g_rand_double (rng);
  return t;
}

/* Two flat regions split by a vertical edge, a smooth ramp, a disc and a
 * little noise: edges of all orientations, flat areas with huge WLS weights. */
static LisseTensor *
structured_image (GRand *rng, int c, int h, int w)
{
  LisseTensor *t = lisse_tensor_new (1, c, h, w);
  for (int ci = 0; ci < c; ci++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        {
          double v = x < w / 2 ? 0.2 + 0.1 * ci : 0.7 - 0.15 * ci;
          v += 0.1 * y / h;
          if (hypot (x - 0.7 * w, y - 0.4 * h) < 0.25 * MIN (w, h))
            v = 0.9 - 0.3 * ci;
          v += g_rand_double_range (rng, -0.01, 0.01);
          lisse_tensor_channel (t, 0, ci)[(size_t) y * w + x] = (float) CLAMP (v, 0.0, 1.0);
        }
  return t;
}

static LisseParams
default_params (const LisseFilterInfo *info)
{
  LisseParams p;
  lisse_params_init (&p, info->params, info->n_params);
  return p;
}

/* ---- the solver on its own ---------------------------------------------- */

static const LissePrecond all_preconds[] = {
  LISSE_PRECOND_NONE, LISSE_PRECOND_JACOBI, LISSE_PRECOND_IC0, LISSE_PRECOND_MULTIGRID,
};

/* Random systems of several shapes, weights spread over eight decades
 * (plus exact zeros: cut edges) — every preconditioner against the dense
 * solve.  Shapes cover 1×1, single rows and columns, more than one IC(0)
 * strip (h > 64) and more than one multigrid level (n > 384). */
static void
test_pcg_vs_dense (void)
{
  static const int shapes[][2] = {
    { 1, 1 }, { 1, 9 }, { 11, 1 }, { 5, 4 }, { 13, 9 }, { 24, 17 }, { 40, 33 }, { 7, 150 },
  };
  GRand *rng = g_rand_new_with_seed (20240601);
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const int w = shapes[s][0], h = shapes[s][1];
      const size_t n = (size_t) w * h;
      g_autofree float *wx = g_new (float, n);
      g_autofree float *wy = g_new (float, n);
      g_autofree float *f = g_new (float, n);
      g_autofree float *u = g_new (float, n);
      for (size_t i = 0; i < n; i++)
        {
          wx[i] = g_rand_int_range (rng, 0, 10) == 0 ? 0.0f
                  : (float) pow (10.0, g_rand_double_range (rng, -4.0, 4.0));
          wy[i] = g_rand_int_range (rng, 0, 10) == 0 ? 0.0f
                  : (float) pow (10.0, g_rand_double_range (rng, -4.0, 4.0));
          f[i] = (float) g_rand_double_range (rng, -1.0, 1.0);
        }
      /* The unused column / row may hold garbage; the solver must ignore it. */
      for (int y = 0; y < h; y++)
        wx[(size_t) y * w + w - 1] = NAN;
      for (int x = 0; x < w; x++)
        wy[(size_t) (h - 1) * w + x] = -1.0f;
      g_autofree double *ref = NULL;
      {
        /* dense_solve reads only existing edges too. */
        ref = dense_solve (w, h, wx, wy, f);
      }
      for (size_t p = 0; p < G_N_ELEMENTS (all_preconds); p++)
        {
          LisseSolveOptions opt;
          lisse_solve_options_init (&opt);
          opt.precond = all_preconds[p];
          opt.tolerance = 1e-9;
          opt.max_iterations = 20000;
          g_autoptr (GError) error = NULL;
          LisseSparseSolver *solver = lisse_sparse_solver_new (w, h, wx, wy, &opt, &error);
          g_assert_no_error (error);
          memset (u, 0, sizeof (float) * n);
          LisseSolveStats st;
          g_assert_true (lisse_sparse_solver_solve (solver, f, u, NULL, &st, &error));
          g_assert_no_error (error);
          lisse_sparse_solver_free (solver);
          g_assert_true (st.converged);
          /* ‖e‖ ≤ 10⁻⁹ ‖f‖ from the solve, plus float rounding of u. */
          const double diff = max_abs_diff_fd (u, ref, n);
          if (g_test_verbose ())
            g_test_message ("%d×%d precond %d: %d iterations, residual %.1e, max diff %.1e",
                            w, h, (int) all_preconds[p], st.iterations, st.rel_residual, diff);
          g_assert_cmpfloat (diff, <=, 1e-6);
        }
    }
  g_rand_free (rng);
}

/* The default tolerance gives the promised 10⁻⁴ with margin, and the
 * returned statistics tell the truth. */
static void
test_solver_stats (void)
{
  const int w = 37, h = 29;
  const size_t n = (size_t) w * h;
  GRand *rng = g_rand_new_with_seed (7);
  g_autofree float *wx = g_new (float, n);
  g_autofree float *wy = g_new (float, n);
  g_autofree float *f = g_new (float, n);
  g_autofree float *u = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    {
      wx[i] = (float) g_rand_double_range (rng, 0.0, 50.0);
      wy[i] = (float) g_rand_double_range (rng, 0.0, 50.0);
      f[i] = (float) g_rand_double (rng);
    }
  for (size_t p = 0; p < G_N_ELEMENTS (all_preconds); p++)
    {
      LisseSolveOptions opt;
      lisse_solve_options_init (&opt);
      g_assert_cmpfloat (opt.tolerance, ==, 1e-5);
      opt.precond = all_preconds[p];
      LisseSparseSolver *solver = lisse_sparse_solver_new (w, h, wx, wy, &opt, NULL);
      memcpy (u, f, sizeof (float) * n);
      LisseSolveStats st;
      g_assert_true (lisse_sparse_solver_solve (solver, f, u, NULL, &st, NULL));
      lisse_sparse_solver_free (solver);
      g_assert_true (st.converged);
      g_assert_cmpint (st.iterations, >, 0);
      g_assert_cmpfloat (st.rel_residual, <=, 1e-4);
      g_assert_cmpfloat (fabs (st.rel_residual - lisse_sparse_relative_residual (w, h, wx, wy, f, u)),
                         <=, 1e-12);
    }

  /* max_iterations = 0: the initial guess comes back, not converged. */
  LisseSolveOptions opt;
  lisse_solve_options_init (&opt);
  opt.max_iterations = 0;
  LisseSparseSolver *solver = lisse_sparse_solver_new (w, h, wx, wy, &opt, NULL);
  memcpy (u, f, sizeof (float) * n);
  LisseSolveStats st;
  g_assert_true (lisse_sparse_solver_solve (solver, f, u, NULL, &st, NULL));
  g_assert_false (st.converged);
  g_assert_cmpint (st.iterations, ==, 0);
  g_assert_cmpmem (u, sizeof (float) * n, f, sizeof (float) * n);

  /* f = 0: u = 0 whatever the guess. */
  memset (f, 0, sizeof (float) * n);
  for (size_t i = 0; i < n; i++)
    u[i] = 1.0f;
  g_assert_true (lisse_sparse_solver_solve (solver, f, u, NULL, &st, NULL));
  g_assert_true (st.converged);
  g_assert_cmpfloat (st.rel_residual, ==, 0.0);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpfloat (u[i], ==, 0.0f);
  lisse_sparse_solver_free (solver);
  g_rand_free (rng);
}

/* Systems where multigrid cannot coarsen (all couplings negligible or zero:
 * A ≈ I) and a large uncoupled one. */
static void
test_solver_degenerate (void)
{
  const int w = 50, h = 40;
  const size_t n = (size_t) w * h;
  g_autofree float *wx = g_new0 (float, n);
  g_autofree float *wy = g_new0 (float, n);
  g_autofree float *f = g_new (float, n);
  g_autofree float *u = g_new0 (float, n);
  for (size_t i = 0; i < n; i++)
    f[i] = (float) (i % 7) / 7.0f;
  for (int pass = 0; pass < 2; pass++)
    {
      if (pass == 1)
        for (size_t i = 0; i < n; i++)
          wx[i] = wy[i] = 1e-3f;
      for (size_t p = 0; p < G_N_ELEMENTS (all_preconds); p++)
        {
          LisseSolveOptions opt;
          lisse_solve_options_init (&opt);
          opt.precond = all_preconds[p];
          opt.tolerance = 1e-9;
          LisseSparseSolver *solver = lisse_sparse_solver_new (w, h, wx, wy, &opt, NULL);
          memset (u, 0, sizeof (float) * n);
          LisseSolveStats st;
          g_assert_true (lisse_sparse_solver_solve (solver, f, u, NULL, &st, NULL));
          lisse_sparse_solver_free (solver);
          g_autofree double *ref = dense_solve (w, h, wx, wy, f);
          g_assert_cmpfloat (max_abs_diff_fd (u, ref, n), <=, 1e-6);
        }
    }
}

static void
test_solver_validation (void)
{
  const int w = 4, h = 3;
  float wx[12], wy[12];
  for (int i = 0; i < 12; i++)
    wx[i] = wy[i] = 1.0f;
  GError *error = NULL;

  wx[5] = -0.5f;
  g_assert_null (lisse_sparse_solver_new (w, h, wx, wy, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  wx[5] = NAN;
  g_assert_null (lisse_sparse_solver_new (w, h, wx, wy, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  wx[5] = 1.0f;
  wy[2] = INFINITY;
  g_assert_null (lisse_sparse_solver_new (w, h, wx, wy, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  wy[2] = 1.0f;

  g_assert_null (lisse_sparse_solver_new (0, h, wx, wy, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  LisseSolveOptions opt;
  lisse_solve_options_init (&opt);
  opt.tolerance = 0.0;
  g_assert_null (lisse_sparse_solver_new (w, h, wx, wy, &opt, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  lisse_solve_options_init (&opt);
  opt.precond = (LissePrecond) 99;
  g_assert_null (lisse_sparse_solver_new (w, h, wx, wy, &opt, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  LisseSparseSolver *s = lisse_sparse_solver_new (w, h, wx, wy, NULL, &error);
  g_assert_no_error (error);
  lisse_sparse_solver_free (s);
  lisse_sparse_solver_free (NULL);
}

/* ---- WLS ---------------------------------------------------------------- */

/* The weights, re-derived from Farbman et al. here: ℓ = log(luma + 10⁻⁴),
 * w = λ / (|Δℓ|^α + 10⁻⁴). */
static void
check_wls_weights (const LisseTensor *affinity_src, int n_color, double lambda, double alpha,
                   const float *wx, const float *wy)
{
  const int w = affinity_src->w, h = affinity_src->h;
  g_autofree double *ell = g_new (double, (size_t) w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double Y = n_color >= 3
                   ? 0.299 * lisse_tensor_at (affinity_src, 0, 0, y, x)
                     + 0.587 * lisse_tensor_at (affinity_src, 0, 1, y, x)
                     + 0.114 * lisse_tensor_at (affinity_src, 0, 2, y, x)
                   : lisse_tensor_at (affinity_src, 0, 0, y, x);
        ell[(size_t) y * w + x] = log (MAX (Y, 0.0) + 1e-4);
      }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const size_t i = (size_t) y * w + x;
        if (x + 1 < w)
          {
            double e = lambda / (pow (fabs (ell[i + 1] - ell[i]), alpha) + 1e-4);
            g_assert_cmpfloat (fabs (wx[i] - e), <=, 2e-4 * e + 1e-6);
          }
        if (y + 1 < h)
          {
            double e = lambda / (pow (fabs (ell[i + w] - ell[i]), alpha) + 1e-4);
            g_assert_cmpfloat (fabs (wy[i] - e), <=, 2e-4 * e + 1e-6);
          }
      }
}

static void
test_wls_system (void)
{
  GRand *rng = g_rand_new_with_seed (42);
  const double lambdas[] = { 1.0, 0.25, 8.0 };
  for (int kind = 0; kind < 2; kind++)
    for (size_t li = 0; li < G_N_ELEMENTS (lambdas); li++)
      {
        g_autoptr (LisseTensor) in = kind == 0 ? random_image (rng, 3, 17, 24)
                                               : structured_image (rng, 3, 17, 24);
        float *wx = NULL, *wy = NULL;
        LisseSolveStats st;
        g_autoptr (GError) error = NULL;
        g_autoptr (LisseTensor) out = lisse_wls_filter (in, 3, NULL, lambdas[li], 1.2, NULL, NULL,
                                                        &wx, &wy, &st, &error);
        g_assert_no_error (error);
        g_assert_nonnull (out);
        g_assert_true (st.converged);
        check_wls_weights (in, 3, lambdas[li], 1.2, wx, wy);
        check_output_solves (in, out, 3, wx, wy, 1e-4, 1e-4);
        g_free (wx);
        g_free (wy);
      }
  g_rand_free (rng);
}

/* Joint WLS: the affinities come from the guide, the values from the input. */
static void
test_wls_guide (void)
{
  GRand *rng = g_rand_new_with_seed (43);
  g_autoptr (LisseTensor) in = random_image (rng, 3, 17, 24);
  for (int gc = 1; gc <= 4; gc += 2)
    {
      g_autoptr (LisseTensor) guide = structured_image (rng, gc, 17, 24);
      float *wx = NULL, *wy = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (LisseTensor) out = lisse_wls_filter (in, 3, guide, 1.0, 1.2, NULL, NULL,
                                                      &wx, &wy, NULL, &error);
      g_assert_no_error (error);
      check_wls_weights (guide, gc, 1.0, 1.2, wx, wy);
      check_output_solves (in, out, 3, wx, wy, 1e-4, 1e-4);
      g_free (wx);
      g_free (wy);

      /* Through the descriptor, as the registry calls it. */
      LisseParams p = default_params (&lisse_filter_wls);
      g_autoptr (LisseTensor) out2 = lisse_filter_wls.run (in, 3, guide, &p, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (out, out2), ==, 0.0f);
    }
  g_assert_cmpint (lisse_filter_wls.guide, ==, LISSE_GUIDE_OPTIONAL);
  g_rand_free (rng);
}

/* ---- RTV ---------------------------------------------------------------- */

/* The RTV weights, re-derived here from Xu et al. with plain double loops:
 * for each direction, D = ∂S (0 past the last column/row), the windowed
 * L(p) = mean_c |Σ_q g(p,q) D_c(q)| with a normalised Gaussian of radius
 * ⌈3σ⌉ that is zero outside the image, u(q) = Σ_p g(p,q) / (L(p) + 10⁻³),
 * w(q) = 1 / (mean_c |D_c(q)| + ε_s), weight = λ u w. */
static void
check_rtv_weights (const LisseTensor *s, int n_color, double lambda, double sigma,
                   double eps_s, const float *wx, const float *wy)
{
  const int w = s->w, h = s->h;
  const size_t n = (size_t) w * h;
  const int r = MAX (1, (int) ceil (3.0 * sigma));
  double norm = 0.0;
  for (int k = -r; k <= r; k++)
    norm += exp (-0.5 * k * k / (sigma * sigma));
  g_autofree double *g1 = g_new (double, 2 * r + 1);
  for (int k = -r; k <= r; k++)
    g1[k + r] = exp (-0.5 * k * k / (sigma * sigma)) / norm;

  for (int dir = 0; dir < 2; dir++)
    {
      g_autofree double *grad = g_new0 (double, n * n_color);
      g_autofree double *L = g_new0 (double, n);
      for (int c = 0; c < n_color; c++)
        for (int y = 0; y < h; y++)
          for (int x = 0; x < w; x++)
            {
              const gboolean edge = dir == 0 ? x + 1 < w : y + 1 < h;
              grad[c * n + (size_t) y * w + x]
                = edge ? (double) lisse_tensor_at (s, 0, c, y + dir, x + !dir)
                         - lisse_tensor_at (s, 0, c, y, x) : 0.0;
            }
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            double acc = 0.0;
            for (int c = 0; c < n_color; c++)
              {
                double sum = 0.0;
                for (int qy = MAX (0, y - r); qy <= MIN (h - 1, y + r); qy++)
                  for (int qx = MAX (0, x - r); qx <= MIN (w - 1, x + r); qx++)
                    sum += g1[qy - y + r] * g1[qx - x + r] * grad[c * n + (size_t) qy * w + qx];
                acc += fabs (sum);
              }
            L[(size_t) y * w + x] = acc / n_color;
          }
      const float *got = dir == 0 ? wx : wy;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            if (dir == 0 ? x + 1 >= w : y + 1 >= h)
              continue;
            double u = 0.0;
            for (int py = MAX (0, y - r); py <= MIN (h - 1, y + r); py++)
              for (int px = MAX (0, x - r); px <= MIN (w - 1, x + r); px++)
                u += g1[py - y + r] * g1[px - x + r] / (L[(size_t) py * w + px] + 1e-3);
            double dsum = 0.0;
            for (int c = 0; c < n_color; c++)
              dsum += fabs (grad[c * n + (size_t) y * w + x]);
            const double e = lambda * u / (dsum / n_color + eps_s);
            g_assert_cmpfloat (fabs (got[(size_t) y * w + x] - e), <=, 1e-3 * e + 1e-7);
          }
    }
}

static void
test_rtv_weights_formula (void)
{
  GRand *rng = g_rand_new_with_seed (5);
  for (int kind = 0; kind < 2; kind++)
    for (int nc = 1; nc <= 3; nc += 2)
      {
        g_autoptr (LisseTensor) s = kind == 0 ? random_image (rng, nc, 17, 24)
                                              : structured_image (rng, nc, 17, 24);
        const double sigmas[] = { 3.0, 1.5, 0.5 };
        for (size_t k = 0; k < G_N_ELEMENTS (sigmas); k++)
          {
            float wx[17 * 24], wy[17 * 24];
            g_assert_true (lisse_rtv_weights (s, nc, 0.01, sigmas[k], 0.02, wx, wy, NULL));
            check_rtv_weights (s, nc, 0.01, sigmas[k], 0.02, wx, wy);
          }
      }
  g_assert_cmpfloat (lisse_rtv_sigma_at (3.0, 0), ==, 3.0);
  g_assert_cmpfloat (lisse_rtv_sigma_at (3.0, 1), ==, 1.5);
  g_assert_cmpfloat (lisse_rtv_sigma_at (3.0, 2), ==, 0.75);
  g_assert_cmpfloat (lisse_rtv_sigma_at (3.0, 3), ==, 0.5);
  g_assert_cmpfloat (lisse_rtv_sigma_at (3.0, 9), ==, 0.5);
  g_rand_free (rng);
}

static void
test_rtv_system (void)
{
  GRand *rng = g_rand_new_with_seed (44);
  for (int kind = 0; kind < 2; kind++)
    for (int iterations = 1; iterations <= 4; iterations += 3)
      {
        g_autoptr (LisseTensor) in = kind == 0 ? random_image (rng, 3, 17, 24)
                                               : structured_image (rng, 3, 17, 24);
        float *wx = NULL, *wy = NULL;
        g_autoptr (GError) error = NULL;
        g_autoptr (LisseTensor) out = lisse_rtv_filter (in, 3, 0.01, 3.0, 0.02, iterations,
                                                        NULL, NULL, &wx, &wy, &error);
        g_assert_no_error (error);
        g_assert_nonnull (out);
        check_output_solves (in, out, 3, wx, wy, 1e-4, 1e-4);
        g_free (wx);
        g_free (wy);
      }
  g_rand_free (rng);
}

/* RTV's purpose: fine high-contrast texture goes, structure stays.  Two
 * flat regions (0.3 | 0.7, edge between x = 47 and 48) under diagonal
 * stripes of ±0.15, period 4 px along x and y, across both (so the texture
 * has gradients in both directions and crosses the edge).  Measured away from the edge
 * and the border: the stripes' amplitude (RMS deviation from the region's
 * mean) must drop more than 5×; across the edge, the row-averaged profile
 * must keep ≥ 80 % of its 0.4 step and rise from 10 % to 90 % within 2 px. */
static void
test_rtv_removes_texture (void)
{
  const int w = 96, h = 64, edge = 48;
  g_autoptr (LisseTensor) in = lisse_tensor_new (1, 3, h, w);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        lisse_tensor_channel (in, 0, c)[(size_t) y * w + x]
          = (x < edge ? 0.3f : 0.7f) + (((x + y) / 2) % 2 ? 0.15f : -0.15f);

  LisseParams p = default_params (&lisse_filter_rtv);
  g_autoptr (GError) error = NULL;
  g_autoptr (LisseTensor) out = lisse_filter_rtv.run (in, 3, NULL, &p, NULL, &error);
  g_assert_no_error (error);

  for (int c = 0; c < 3; c++)
    {
      double amp_in = 0.0, amp_out = 0.0;
      for (int region = 0; region < 2; region++)
        {
          const int x0 = region ? edge + 8 : 8, x1 = region ? w - 8 : edge - 8;
          double mi = 0.0, mo = 0.0;
          int cnt = 0;
          for (int y = 8; y < h - 8; y++)
            for (int x = x0; x < x1; x++, cnt++)
              mi += lisse_tensor_at (in, 0, c, y, x), mo += lisse_tensor_at (out, 0, c, y, x);
          mi /= cnt, mo /= cnt;
          double si = 0.0, so = 0.0;
          for (int y = 8; y < h - 8; y++)
            for (int x = x0; x < x1; x++)
              {
                si += pow (lisse_tensor_at (in, 0, c, y, x) - mi, 2);
                so += pow (lisse_tensor_at (out, 0, c, y, x) - mo, 2);
              }
          amp_in = MAX (amp_in, sqrt (si / cnt));
          amp_out = MAX (amp_out, sqrt (so / cnt));
        }
      /* The edge: row-averaged profile over the interior rows. */
      double prof[96];
      for (int x = 0; x < w; x++)
        {
          double s = 0.0;
          for (int y = 8; y < h - 8; y++)
            s += lisse_tensor_at (out, 0, c, y, x);
          prof[x] = s / (h - 16);
        }
      const double lo = prof[edge - 6], hi = prof[edge + 5];
      const double step = hi - lo;
      int x10 = -1, x90 = -1;
      for (int x = edge - 6; x <= edge + 5; x++)
        {
          if (x10 < 0 && prof[x] >= lo + 0.1 * step)
            x10 = x;
          if (x90 < 0 && prof[x] >= lo + 0.9 * step)
            x90 = x;
        }
      if (g_test_verbose ())
        g_test_message ("channel %d: stripe RMS %.4f → %.4f (÷%.1f); step %.3f, 10–90 %% rise %d px",
                        c, amp_in, amp_out, amp_in / amp_out, step, x90 - x10);
      g_assert_cmpfloat (amp_in / amp_out, >, 5.0);
      g_assert_cmpfloat (step, >=, 0.8 * 0.4);
      g_assert_cmpint (x10, >=, 0);
      g_assert_cmpint (x90 - x10, <=, 2);
    }
}

/* ---- both filters ------------------------------------------------------- */

typedef LisseTensor *(*RunFunc) (const LisseTensor *in, int n_color, GError **error);

static LisseTensor *
run_wls (const LisseTensor *in, int n_color, GError **error)
{
  LisseParams p = default_params (&lisse_filter_wls);
  return lisse_filter_wls.run (in, n_color, NULL, &p, NULL, error);
}

static LisseTensor *
run_rtv (const LisseTensor *in, int n_color, GError **error)
{
  LisseParams p = default_params (&lisse_filter_rtv);
  return lisse_filter_rtv.run (in, n_color, NULL, &p, NULL, error);
}

static const struct
{
  const char *name;
  RunFunc     run;
} filters[] = { { "wls", run_wls }, { "rtv", run_rtv } };

static void
test_alpha_untouched (void)
{
  GRand *rng = g_rand_new_with_seed (9);
  for (size_t f = 0; f < G_N_ELEMENTS (filters); f++)
    for (int c = 2; c <= 4; c += 2)
      {
        /* Gray + alpha and RGB + alpha. */
        g_autoptr (LisseTensor) in = structured_image (rng, c, 19, 23);
        g_autoptr (GError) error = NULL;
        g_autoptr (LisseTensor) out = filters[f].run (in, c - 1, &error);
        g_assert_no_error (error);
        g_assert_cmpmem (lisse_tensor_channel (out, 0, c - 1), sizeof (float) * 19 * 23,
                         lisse_tensor_channel (in, 0, c - 1), sizeof (float) * 19 * 23);
        /* The colour channels did change. */
        g_assert_cmpfloat (lisse_tensor_max_abs_diff (in, out), >, 1e-3f);
      }
  g_rand_free (rng);
}

/* 1×1: A = 1, the output is the input.  Single rows and columns work. */
static void
test_tiny_images (void)
{
  static const int shapes[][2] = { { 1, 1 }, { 1, 13 }, { 13, 1 }, { 2, 2 } };
  GRand *rng = g_rand_new_with_seed (10);
  for (size_t f = 0; f < G_N_ELEMENTS (filters); f++)
    for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
      {
        g_autoptr (LisseTensor) in = random_image (rng, 4, shapes[s][1], shapes[s][0]);
        g_autoptr (GError) error = NULL;
        g_autoptr (LisseTensor) out = filters[f].run (in, 3, &error);
        g_assert_no_error (error);
        g_assert_true (lisse_tensor_same_shape (in, out));
        if (shapes[s][0] == 1 && shapes[s][1] == 1)
          g_assert_cmpfloat (lisse_tensor_max_abs_diff (in, out), ==, 0.0f);
        for (size_t i = 0; i < lisse_tensor_numel (out); i++)
          g_assert_true (isfinite (out->data[i]));
      }
  g_rand_free (rng);
}

static void
test_constant_image (void)
{
  const int w = 70, h = 66;   /* big enough for several multigrid levels and threads */
  g_autoptr (LisseTensor) in = lisse_tensor_new (1, 3, h, w);
  const float v[3] = { 0.3f, 0.6f, 0.9f };
  for (int c = 0; c < 3; c++)
    for (size_t i = 0; i < (size_t) w * h; i++)
      lisse_tensor_channel (in, 0, c)[i] = v[c];
  for (size_t f = 0; f < G_N_ELEMENTS (filters); f++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (LisseTensor) out = filters[f].run (in, 3, &error);
      g_assert_no_error (error);
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (in, out), <=, 1e-6f);
    }
  /* Black: the log of 0 is kept finite by the 10⁻⁴ offset. */
  lisse_tensor_fill (in, 0.0f);
  for (size_t f = 0; f < G_N_ELEMENTS (filters); f++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (LisseTensor) out = filters[f].run (in, 3, &error);
      g_assert_no_error (error);
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (in, out), ==, 0.0f);
    }
}

/* The same result for 1, 2 and 3 threads (in fact bit-identical). */
static void
test_thread_counts (void)
{
  GRand *rng = g_rand_new_with_seed (11);
  g_autoptr (LisseTensor) in = structured_image (rng, 3, 120, 150);   /* > PAR_MIN_WORK pixels */
  const int saved = lisse_threads_get ();
  for (size_t f = 0; f < G_N_ELEMENTS (filters); f++)
    {
      LisseTensor *out[3];
      for (int t = 0; t < 3; t++)
        {
          lisse_threads_set (t + 1);
          g_autoptr (GError) error = NULL;
          out[t] = filters[f].run (in, 3, &error);
          g_assert_no_error (error);
        }
      for (int t = 1; t < 3; t++)
        {
          const float d = lisse_tensor_max_abs_diff (out[0], out[t]);
          if (g_test_verbose ())
            g_test_message ("%s: 1 vs %d threads: max diff %g", filters[f].name, t + 1, d);
          g_assert_cmpfloat (d, <=, 1e-6f);
        }
      for (int t = 0; t < 3; t++)
        lisse_tensor_free (out[t]);
    }
  lisse_threads_set (saved);
  g_rand_free (rng);
}

/* ---- parameters, progress, cancellation ---------------------------------- */

static void
test_parameters (void)
{
  LisseParams p = default_params (&lisse_filter_wls);
  g_assert_cmpfloat (lisse_params_get (&p, "lambda"), ==, 1.0);
  g_assert_cmpfloat (lisse_params_get (&p, "alpha"), ==, 1.2);
  GError *error = NULL;
  g_assert_false (lisse_params_set (&p, "lambda", -0.1, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (lisse_params_set (&p, "alpha", 3.5, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (lisse_params_parse (&p, "sigma=2", &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_clear_error (&error);
  g_assert_true (lisse_params_parse (&p, "lambda=0.125", &error));
  g_assert_no_error (error);

  LisseParams q = default_params (&lisse_filter_rtv);
  g_assert_cmpfloat (lisse_params_get (&q, "lambda"), ==, 0.01);
  g_assert_cmpfloat (lisse_params_get (&q, "sigma"), ==, 3.0);
  g_assert_cmpfloat (lisse_params_get (&q, "epsilon-s"), ==, 0.02);
  g_assert_cmpfloat (lisse_params_get (&q, "iterations"), ==, 4);
  g_assert_false (lisse_params_set (&q, "iterations", 2.5, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (lisse_params_set (&q, "iterations", 0, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (lisse_params_set (&q, "sigma", 0.1, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (lisse_params_set (&q, "epsilon-s", 0.0, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (lisse_params_set (&q, "lambda", NAN, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpint (lisse_filter_rtv.guide, ==, LISSE_GUIDE_NONE);

  /* Every default lies in its range, and the descriptors are complete. */
  const LisseFilterInfo *infos[] = { &lisse_filter_wls, &lisse_filter_rtv };
  for (size_t f = 0; f < G_N_ELEMENTS (infos); f++)
    {
      g_assert_nonnull (infos[f]->run);
      g_assert_nonnull (infos[f]->title);
      g_assert_nonnull (infos[f]->reference);
      for (int i = 0; i < infos[f]->n_params; i++)
        {
          const LisseParamSpec *s = &infos[f]->params[i];
          g_assert_cmpfloat (s->min, <=, s->def);
          g_assert_cmpfloat (s->def, <=, s->max);
        }
    }

  /* The explicit entry points check what the parameter layer would. */
  g_autoptr (LisseTensor) in = lisse_tensor_new (1, 3, 5, 5);
  g_assert_null (lisse_wls_filter (in, 3, NULL, -1.0, 1.2, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (lisse_rtv_filter (in, 3, 0.01, 3.0, 0.02, 0, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (lisse_rtv_filter (in, 3, 0.01, 0.0, 0.02, 4, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* λ = 0: nothing to smooth. */
  GRand *rng = g_rand_new_with_seed (12);
  g_autoptr (LisseTensor) r = random_image (rng, 3, 9, 8);
  g_autoptr (LisseTensor) same = lisse_wls_filter (r, 3, NULL, 0.0, 1.2, NULL, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (r, same), ==, 0.0f);
  g_rand_free (rng);
}

typedef struct
{
  int    calls, cancel_at;
  double last;
  gboolean monotone;
} ProgressLog;

static gboolean
progress_cb (double fraction, gpointer user_data)
{
  ProgressLog *log = user_data;
  if (fraction < log->last - 1e-12 || fraction < 0.0 || fraction > 1.0)
    log->monotone = FALSE;
  log->last = fraction;
  log->calls++;
  return log->cancel_at < 0 || log->calls < log->cancel_at;
}

static void
test_progress_and_cancel (void)
{
  GRand *rng = g_rand_new_with_seed (13);
  g_autoptr (LisseTensor) in = structured_image (rng, 3, 40, 50);
  for (int f = 0; f < 2; f++)
    {
      const LisseFilterInfo *info = f ? &lisse_filter_rtv : &lisse_filter_wls;
      LisseParams p = default_params (info);

      ProgressLog log = { 0, -1, 0.0, TRUE };
      LisseProgress progress = { progress_cb, &log, 0.0, 1.0 };
      g_autoptr (GError) error = NULL;
      g_autoptr (LisseTensor) out = info->run (in, 3, NULL, &p, &progress, &error);
      g_assert_no_error (error);
      g_assert_true (log.monotone);
      g_assert_cmpint (log.calls, >=, f ? 4 : 3);   /* per iteration / channel at least */
      g_assert_cmpfloat (log.last, ==, 1.0);

      for (int at = 1; at <= 3; at++)
        {
          ProgressLog stop = { 0, at, 0.0, TRUE };
          LisseProgress cancel = { progress_cb, &stop, 0.0, 1.0 };
          GError *err = NULL;
          LisseTensor *none = info->run (in, 3, NULL, &p, &cancel, &err);
          g_assert_null (none);
          g_assert_error (err, LISSE_ERROR, LISSE_ERROR_CANCELLED);
          g_clear_error (&err);
          g_assert_cmpint (stop.calls, ==, at);   /* stopped at once */
        }
    }
  g_rand_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/classic/solver/pcg-vs-dense", test_pcg_vs_dense);
  g_test_add_func ("/classic/solver/stats", test_solver_stats);
  g_test_add_func ("/classic/solver/degenerate", test_solver_degenerate);
  g_test_add_func ("/classic/solver/validation", test_solver_validation);
  g_test_add_func ("/classic/wls/system", test_wls_system);
  g_test_add_func ("/classic/wls/guide", test_wls_guide);
  g_test_add_func ("/classic/rtv/weights-formula", test_rtv_weights_formula);
  g_test_add_func ("/classic/rtv/system", test_rtv_system);
  g_test_add_func ("/classic/rtv/removes-texture", test_rtv_removes_texture);
  g_test_add_func ("/classic/filters/alpha-untouched", test_alpha_untouched);
  g_test_add_func ("/classic/filters/tiny-images", test_tiny_images);
  g_test_add_func ("/classic/filters/constant-image", test_constant_image);
  g_test_add_func ("/classic/filters/thread-counts", test_thread_counts);
  g_test_add_func ("/classic/filters/parameters", test_parameters);
  g_test_add_func ("/classic/filters/progress-and-cancel", test_progress_and_cancel);
  return g_test_run ();
}
