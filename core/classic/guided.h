/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The guided filter's local linear model on its own (guided.c), for callers
 * that apply it elsewhere than where it was fitted: fast guided upsampling
 * (He & Sun, "Fast Guided Filter", 2015) fits the model between a
 * downscaled image and a result computed from it, then applies the
 * upsampled coefficients to the full-size image (guided-upsample.h). */
#pragma once

#include "progress.h"

#include <glib.h>

G_BEGIN_DECLS

/* The averaged coefficients ā, b̄ with which the guided filter of radius @r
 * and regularisation @eps (guided.c) turns guide planes I[n_g] (1..4) into
 * the filtered p[c]:  q_c = Σ_i ā_{c,i} I_i + b̄_c.
 * @coef: n_p · (n_g + 1) planes of w×h floats, channel c's at
 *   coef[c·(n_g+1) + i] for ā_{c,i} and coef[c·(n_g+1) + n_g] for b̄_c.
 * Same borders, threads and determinism as the filter.  FALSE with @error
 * set when out of memory or cancelled. */
gboolean lisse_guided_coefficients (const float *const *I, int n_g, const float *const *p,
                                    int n_p, int w, int h, int r, double eps,
                                    float *const *coef, const LisseProgress *progress,
                                    GError **error);

G_END_DECLS
