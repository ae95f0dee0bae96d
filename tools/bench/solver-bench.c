/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Measures the sparse solver (core/classic/sparse-solve.c) on the systems of
 * WLS and RTV: PCG iterations, set-up and solve times, and the residual of
 * the result, for each preconditioner.  Not a test: numbers depend on the
 * machine.  docs/classic-filters.md quotes its output.
 *
 * Built by meson as build/tools/bench/solver-bench (tools/dev build).
 * Run:
 *   tools/dev exec build/tools/bench/solver-bench [--image FILE.ppm] [--upscale K] [--size N] [--threads N] [--lambda L]
 *                     [--alpha A] [--precond jacobi,ic0,mg] [--rtv] [--tol T]
 * Without --image it makes a deterministic N×N (default 1024×1024) test
 * picture: shaded regions with sharp edges, discs, a texture patch, noise.
 * --image takes a binary PGM/PPM (P5/P6, 8 bit, no comment lines), e.g. from
 *   python3 -c "import cv2; cv2.imwrite('build/astronaut.ppm', cv2.imread('…/skimage/data/astronaut.png'))"
 * and --upscale 2 enlarges it bilinearly (512² → 1024², 1 MP).
 * With --rtv it measures the RTV systems (default parameters, λ from
 * --lambda if given) instead of WLS. */
#include "lisse-error.h"
#include "rtv-internal.h"
#include "sparse-solve.h"
#include "tensor.h"
#include "threads.h"
#include "wls-internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static LisseTensor *
read_pnm (const char *path)
{
  FILE *fp = fopen (path, "rb");
  if (!fp)
    g_error ("cannot open %s", path);
  char magic[3] = { 0 };
  int w, h, maxval;
  if (fscanf (fp, "%2s %d %d %d", magic, &w, &h, &maxval) != 4
      || (strcmp (magic, "P5") != 0 && strcmp (magic, "P6") != 0) || maxval > 255)
    g_error ("%s: not an 8-bit binary PGM/PPM", path);
  fgetc (fp);
  const int c = magic[1] == '6' ? 3 : 1;
  g_autofree guint8 *buf = g_new (guint8, (size_t) w * h * c);
  if (fread (buf, 1, (size_t) w * h * c, fp) != (size_t) w * h * c)
    g_error ("%s: truncated", path);
  fclose (fp);
  LisseTensor *t = lisse_tensor_new (1, c, h, w);
  for (int ci = 0; ci < c; ci++)
    for (size_t i = 0; i < (size_t) w * h; i++)
      lisse_tensor_channel (t, 0, ci)[i] = buf[i * c + ci] / (float) maxval;
  return t;
}

/* Bilinear enlargement by an integer factor (pixel centres aligned). */
static LisseTensor *
upscale (const LisseTensor *src, int k)
{
  LisseTensor *t = lisse_tensor_new (1, src->c, src->h * k, src->w * k);
  for (int c = 0; c < src->c; c++)
    for (int y = 0; y < t->h; y++)
      for (int x = 0; x < t->w; x++)
        {
          double sy = CLAMP ((y + 0.5) / k - 0.5, 0.0, src->h - 1.0);
          double sx = CLAMP ((x + 0.5) / k - 0.5, 0.0, src->w - 1.0);
          int y0 = (int) sy, x0 = (int) sx;
          int y1 = MIN (y0 + 1, src->h - 1), x1 = MIN (x0 + 1, src->w - 1);
          double fy = sy - y0, fx = sx - x0;
          lisse_tensor_channel (t, 0, c)[(size_t) y * t->w + x] = (float)
            ((1 - fy) * ((1 - fx) * lisse_tensor_at (src, 0, c, y0, x0) + fx * lisse_tensor_at (src, 0, c, y0, x1))
             + fy * ((1 - fx) * lisse_tensor_at (src, 0, c, y1, x0) + fx * lisse_tensor_at (src, 0, c, y1, x1)));
        }
  return t;
}

/* Deterministic colour test picture. */
static LisseTensor *
synthetic (int size)
{
  LisseTensor *t = lisse_tensor_new (1, 3, size, size);
  GRand *rng = g_rand_new_with_seed (1);
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      {
        double u = (double) x / size, v = (double) y / size;
        double rgb[3] = { 0.2 + 0.5 * u, 0.3 + 0.4 * v, 0.6 - 0.3 * u * v };
        /* Rectangles and discs: sharp edges at all phases. */
        if (u > 0.1 && u < 0.45 && v > 0.15 && v < 0.5)
          rgb[0] = 0.9, rgb[1] = 0.2 + 0.2 * sin (12 * v), rgb[2] = 0.1;
        if (hypot (u - 0.7, v - 0.3) < 0.18)
          rgb[0] = 0.1, rgb[1] = 0.7, rgb[2] = 0.4 + 0.2 * u;
        if (hypot (u - 0.3, v - 0.75) < 0.12)
          rgb[0] = rgb[1] = rgb[2] = 0.05;
        /* A high-contrast texture patch (stripes of period 4 px). */
        if (u > 0.55 && u < 0.9 && v > 0.6 && v < 0.9)
          for (int c = 0; c < 3; c++)
            rgb[c] = 0.5 + 0.3 * ((x / 2) % 2 ? 1 : -1) * (c == 1 ? 0.5 : 1.0);
        for (int c = 0; c < 3; c++)
          lisse_tensor_channel (t, 0, c)[(size_t) y * size + x]
            = (float) CLAMP (rgb[c] + g_rand_double_range (rng, -0.02, 0.02), 0.0, 1.0);
      }
  g_rand_free (rng);
  return t;
}

static const struct
{
  const char  *name;
  LissePrecond precond;
} preconds[] = {
  { "none", LISSE_PRECOND_NONE },
  { "jacobi", LISSE_PRECOND_JACOBI },
  { "ic0", LISSE_PRECOND_IC0 },
  { "mg", LISSE_PRECOND_MULTIGRID },
};

/* Solves every colour channel of @img with the system (wx, wy); prints one line. */
static void
bench_system (const char *what, const char *pname, LissePrecond precond, double tol,
              const LisseTensor *img, const float *wx, const float *wy)
{
  const int w = img->w, h = img->h, nc = MIN (img->c, 3);
  const size_t n = lisse_tensor_plane (img);
  LisseSolveOptions opt;
  lisse_solve_options_init (&opt);
  opt.precond = precond;
  opt.tolerance = tol;
  opt.max_iterations = 5000;
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  LisseSparseSolver *s = lisse_sparse_solver_new (w, h, wx, wy, &opt, &error);
  if (!s)
    g_error ("%s", error->message);
  gint64 t1 = g_get_monotonic_time ();
  int iters[3] = { 0 };
  double worst = 0.0, worst_double = 0.0;
  g_autofree float *u = g_new (float, n);
  for (int c = 0; c < nc; c++)
    {
      const float *f = lisse_tensor_channel (img, 0, c);
      memcpy (u, f, sizeof (float) * n);
      LisseSolveStats st;
      if (!lisse_sparse_solver_solve (s, f, u, NULL, &st, &error))
        g_error ("%s", error->message);
      iters[c] = st.iterations;
      worst = MAX (worst, st.rel_residual);
      worst_double = MAX (worst_double, st.rel_residual_double);
    }
  gint64 t2 = g_get_monotonic_time ();
  lisse_sparse_solver_free (s);
  printf ("%-8s %-6s setup %6.1f ms  solve %8.1f ms/channel  iterations %4d %4d %4d"
          "  residual %.1e (float output %.1e)\n",
          what, pname, (t1 - t0) / 1e3, (t2 - t1) / 1e3 / nc,
          iters[0], nc > 1 ? iters[1] : 0, nc > 2 ? iters[2] : 0, worst_double, worst);
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  const char *image = NULL, *which = "jacobi,ic0,mg";
  int size = 1024, threads = 0, scale = 1;
  double lambda = -1.0, alpha = 1.2, tol = 1e-5;
  gboolean rtv = FALSE;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (!strcmp (a, "--image") && v)
        image = v, i++;
      else if (!strcmp (a, "--size") && v)
        size = atoi (v), i++;
      else if (!strcmp (a, "--upscale") && v)
        scale = atoi (v), i++;
      else if (!strcmp (a, "--threads") && v)
        threads = atoi (v), i++;
      else if (!strcmp (a, "--lambda") && v)
        lambda = atof (v), i++;
      else if (!strcmp (a, "--alpha") && v)
        alpha = atof (v), i++;
      else if (!strcmp (a, "--tol") && v)
        tol = atof (v), i++;
      else if (!strcmp (a, "--precond") && v)
        which = v, i++;
      else if (!strcmp (a, "--rtv"))
        rtv = TRUE;
      else
        {
          fprintf (stderr, "usage: %s [--image FILE.ppm] [--size N] [--threads N] [--lambda L]"
                   " [--upscale K] [--alpha A] [--precond jacobi,ic0,mg,none] [--rtv] [--tol T]\n", argv[0]);
          return 2;
        }
    }
  if (threads > 0)
    lisse_threads_set (threads);

  g_autoptr (LisseTensor) img = image ? read_pnm (image) : synthetic (size);
  if (scale > 1)
    {
      LisseTensor *big = upscale (img, scale);
      lisse_tensor_free (img);
      img = big;
    }
  const int w = img->w, h = img->h, nc = MIN (img->c, 3);
  const size_t n = lisse_tensor_plane (img);
  printf ("image %s: %d×%d, %d channels, %d threads, tolerance %g\n",
          image ? image : "synthetic", w, h, nc, lisse_threads_get (), tol);

  g_auto (GStrv) names = g_strsplit (which, ",", -1);
  g_autofree float *wx = g_new (float, n);
  g_autofree float *wy = g_new (float, n);

  if (!rtv)
    {
      if (lambda < 0)
        lambda = 1.0;
      g_autofree float *ell = g_new (float, n);
      gint64 t0 = g_get_monotonic_time ();
      lisse_wls_log_luma (img, nc, ell);
      lisse_wls_weights (w, h, ell, lambda, alpha, wx, wy);
      printf ("WLS λ = %g, α = %g: weights in %.1f ms\n", lambda, alpha,
              (g_get_monotonic_time () - t0) / 1e3);
      for (int k = 0; names[k]; k++)
        for (size_t p = 0; p < G_N_ELEMENTS (preconds); p++)
          if (!strcmp (names[k], preconds[p].name))
            bench_system ("wls", preconds[p].name, preconds[p].precond, tol, img, wx, wy);
      return 0;
    }

  /* RTV: the systems of each iteration with the default parameters, from
   * the estimates the multigrid solver produces (so every preconditioner
   * sees the same systems). */
  if (lambda < 0)
    lambda = 0.01;
  const double sigma = 3.0, eps_s = 0.02;
  const int iterations = 4;
  printf ("RTV λ = %g, σ = %g, εs = %g, %d iterations\n", lambda, sigma, eps_s, iterations);
  g_autoptr (LisseTensor) s = lisse_tensor_copy (img);
  for (int k = 0; k < iterations; k++)
    {
      g_autoptr (GError) error = NULL;
      gint64 t0 = g_get_monotonic_time ();
      if (!lisse_rtv_weights (s, nc, lambda, lisse_rtv_sigma_at (sigma, k), eps_s, wx, wy, &error))
        g_error ("%s", error->message);
      printf ("iteration %d (σ = %g): weights in %.1f ms\n", k, lisse_rtv_sigma_at (sigma, k),
              (g_get_monotonic_time () - t0) / 1e3);
      char what[32];
      g_snprintf (what, sizeof what, "rtv[%d]", k);
      for (int j = 0; names[j]; j++)
        for (size_t p = 0; p < G_N_ELEMENTS (preconds); p++)
          if (!strcmp (names[j], preconds[p].name))
            bench_system (what, preconds[p].name, preconds[p].precond, tol, img, wx, wy);
      /* Advance the estimate with the default solver. */
      LisseSparseSolver *solver = lisse_sparse_solver_new (w, h, wx, wy, NULL, &error);
      for (int c = 0; c < nc; c++)
        if (!lisse_sparse_solver_solve (solver, lisse_tensor_channel (img, 0, c),
                                        lisse_tensor_channel (s, 0, c), NULL, NULL, &error))
          g_error ("%s", error->message);
      lisse_sparse_solver_free (solver);
    }
  return 0;
}
