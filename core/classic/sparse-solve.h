/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Solver for the sparse systems the optimisation-based smoothers (WLS, RTV)
 * produce: one unknown per pixel of a W×H grid,
 *
 *     (I + L) u = f,     L = the graph Laplacian of the 4-connected grid,
 *
 *     (A u)_i = u_i + Σ_{j ~ i} w_ij (u_i − u_j),
 *
 * with non-negative edge weights given per pixel:
 *   wx[y*W + x]  couples (x, y) and (x+1, y)   (column W−1 is not read)
 *   wy[y*W + x]  couples (x, y) and (x, y+1)   (row H−1 is not read)
 *
 * A is symmetric positive definite (its smallest eigenvalue is ≥ 1), so the
 * solver is preconditioned conjugate gradients (PCG).  The iteration vectors
 * are double precision; see sparse-solve.c for why.  Every OpenMP loop writes
 * each value from one thread and every reduction is summed in a fixed order,
 * so the result is bit-identical for any thread count. */
#pragma once

#include "progress.h"

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  LISSE_PRECOND_NONE,       /* plain CG: for tests and measurements */
  LISSE_PRECOND_JACOBI,     /* diagonal scaling */
  LISSE_PRECOND_IC0,        /* incomplete Cholesky, 5-point, on fixed row strips
                             * (block Jacobi, so strips run in parallel) */
  LISSE_PRECOND_MULTIGRID,  /* one V-cycle of aggregation algebraic multigrid
                             * (the default: fastest on WLS and RTV systems) */
} LissePrecond;

typedef struct
{
  double       tolerance;      /* stop when ‖f − A u‖ ≤ tolerance · ‖f‖ (default 1e-5) */
  int          max_iterations; /* default 2000 */
  LissePrecond precond;        /* default LISSE_PRECOND_MULTIGRID */
} LisseSolveOptions;

typedef struct
{
  int      iterations;    /* PCG iterations taken */
  gboolean converged;     /* PCG's residual reached tolerance · ‖f‖ */
  /* ‖f − A u‖ / ‖f‖ of the float u actually returned, recomputed from
   * scratch in double (0 when f = 0).  It can exceed the tolerance even
   * when converged: rounding u to float perturbs (A u)_i by up to about
   * 2⁻²⁴ |u| (a_ii + Σ_j w_ij), i.e. ~10⁻³ where WLS weights reach 10⁴ — yet
   * u itself is then accurate to ~10⁻⁷ (‖A⁻¹‖ ≤ 1). */
  double   rel_residual;
  /* The same for the double-precision iterate before rounding: what the
   * tolerance controls. */
  double   rel_residual_double;
} LisseSolveStats;

typedef struct _LisseSparseSolver LisseSparseSolver;

void lisse_solve_options_init (LisseSolveOptions *options);

/* Sets up the preconditioner for one matrix; solve as many right-hand sides
 * (colour channels) with it as needed.  @wx and @wy are referenced, not
 * copied: they must outlive the solver.  Fails on negative or non-finite
 * weights, grids of more than 2²⁹ pixels, and when memory runs out.
 * @options may be NULL (defaults).  One solve at a time per solver (it owns
 * the work vectors); separate solvers may run concurrently. */
LisseSparseSolver *lisse_sparse_solver_new  (int                      w,
                                             int                      h,
                                             const float             *wx,
                                             const float             *wy,
                                             const LisseSolveOptions *options,
                                             GError                 **error);
void               lisse_sparse_solver_free (LisseSparseSolver *solver);

/* Solves A u = f.  @u holds the initial guess on entry (the input image is a
 * good one for smoothing) and the solution on return.  @progress (may be NULL)
 * receives an estimate of the fraction done, from the residual's decrease,
 * and can cancel (LISSE_ERROR_CANCELLED; @u is then left as it was).  Not
 * converging within max_iterations is not an error: @stats says so and @u
 * holds the last iterate.  @stats may be NULL. */
gboolean lisse_sparse_solver_solve (LisseSparseSolver   *solver,
                                    const float         *f,
                                    float               *u,
                                    const LisseProgress *progress,
                                    LisseSolveStats     *stats,
                                    GError             **error);

/* ‖f − A u‖₂ / ‖f‖₂ in double precision (‖f − A u‖₂ when f = 0): what tests
 * and benchmarks check a solution against. */
double lisse_sparse_relative_residual (int          w,
                                       int          h,
                                       const float *wx,
                                       const float *wy,
                                       const float *f,
                                       const float *u);

/* y = A x in double, single-threaded: for tests. */
void lisse_sparse_apply (int w, int h, const float *wx, const float *wy,
                         const double *x, double *y);

G_END_DECLS
