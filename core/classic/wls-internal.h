/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The pieces of the WLS filter (wls.c) that tests and the solver benchmark
 * check one by one: the affinity image, the edge weights, and the filter
 * with its solver options and the linear system it solved exposed. */
#pragma once

#include "sparse-solve.h"
#include "tensor.h"

G_BEGIN_DECLS

#define LISSE_WLS_LOG_EPS     1e-4  /* ℓ = log(Y + this): keeps black finite */
#define LISSE_WLS_WEIGHT_EPS  1e-4  /* Farbman et al.'s ε in λ / (|∂ℓ|^α + ε) */

/* ℓ = log(max(Y, 0) + 1e-4) for the W×H image @image, where Y is the luma
 * 0.299 R' + 0.587 G' + 0.114 B' of channels 0–2 when @n_color ≥ 3, else
 * channel 0.  @ell holds W·H floats. */
void lisse_wls_log_luma (const LisseTensor *image, int n_color, float *ell);

/* wx = λ / (|ℓ(x+1,y) − ℓ(x,y)|^α + ε), wy likewise downwards; the unused
 * last column of wx and last row of wy are set to 0. */
void lisse_wls_weights (int w, int h, const float *ell, double lambda, double alpha,
                        float *wx, float *wy);

/* The filter (lisse_filter_wls's run) with everything explicit.  @options
 * may be NULL (defaults).  When @wx_out / @wy_out are not NULL they receive
 * the system's weights (g_free them); @stats_out, when not NULL, the
 * statistics of the channel whose final residual was largest. */
LisseTensor *lisse_wls_filter (const LisseTensor       *input,
                               int                      n_color,
                               const LisseTensor       *guide,
                               double                   lambda,
                               double                   alpha,
                               const LisseSolveOptions *options,
                               const LisseProgress     *progress,
                               float                  **wx_out,
                               float                  **wy_out,
                               LisseSolveStats         *stats_out,
                               GError                 **error);

G_END_DECLS
