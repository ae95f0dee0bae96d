/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The pieces of the RTV filter (rtv.c) that tests and the solver benchmark
 * check one by one. */
#pragma once

#include "sparse-solve.h"
#include "tensor.h"

G_BEGIN_DECLS

#define LISSE_RTV_EPS        1e-3  /* ε in 1 / (windowed inherent variation + ε) */
#define LISSE_RTV_SIGMA_MIN  0.5   /* the σ schedule's floor */

/* σ used by iteration @k (from 0): max(σ / 2^k, 0.5). */
double lisse_rtv_sigma_at (double sigma, int k);

/* The system weights of one iteration, from the current estimate @s: the
 * first @n_color planes of a 1×C×H×W tensor.  wx = λ u_x w_x per horizontal
 * edge and wy likewise (rtv.c has the formulas); the unused last column of
 * wx and last row of wy are 0.  Fails only when memory runs out. */
gboolean lisse_rtv_weights (const LisseTensor *s, int n_color, double lambda,
                            double sigma, double eps_s, float *wx, float *wy,
                            GError **error);

/* The filter (lisse_filter_rtv's run) with everything explicit.  @options
 * may be NULL.  When @wx_out / @wy_out are not NULL they receive the weights
 * of the last iteration's system, which the output solves (g_free them). */
LisseTensor *lisse_rtv_filter (const LisseTensor       *input,
                               int                      n_color,
                               double                   lambda,
                               double                   sigma,
                               double                   eps_s,
                               int                      iterations,
                               const LisseSolveOptions *options,
                               const LisseProgress     *progress,
                               float                  **wx_out,
                               float                  **wy_out,
                               GError                 **error);

G_END_DECLS
