/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The joint bilateral filter on planes, for the filters built on it (rolling
 * guidance) and for tests.  The filter it computes (or approximates) is
 *   out_p = Σ_q w_pq src_q / Σ_q w_pq,
 *   w_pq  = exp(−|p − q|² / 2σs²) · exp(−|g_p − g_q|² / 2σr²)
 * over the pixels q of the image (none beyond its edge), |g_p − g_q| the
 * Euclidean distance between the guide's values (1–4 channels).  See
 * joint-bilateral.c for the methods. */
#pragma once

#include "progress.h"

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  /* The exact sum for small σs, the fast approximation otherwise. */
  LISSE_JBF_AUTO,
  /* Brute force over a disc of radius ceil(3σs): the reference.  O(σs²). */
  LISSE_JBF_EXACT,
  /* Bilateral grid for a one-channel guide, permutohedral lattice for more. */
  LISSE_JBF_FAST,
  /* Permutohedral lattice whatever the guide (tests compare it with the
   * grid on one-channel guides). */
  LISSE_JBF_LATTICE,
} LisseJbfPath;

/* Below these σs (pixels) LISSE_JBF_AUTO sums exactly: the vectorised disc
 * of radius ceil(3σs) then costs less than the grid (one-channel guide) or
 * the lattice (more channels), whose cells shrink towards a pixel
 * (measured on 1 MP photos, one thread, AVX-512 clone). */
#define LISSE_JBF_EXACT_BELOW_GREY   3.5
#define LISSE_JBF_EXACT_BELOW_COLOUR 5.5

/* src[n_src] filtered with the guide guide[n_guide] (n_guide in 1..4) into
 * dst[n_src]; all planes w×h.  dst must not alias src or guide.
 * sigma_s > 0 in pixels, sigma_r > 0 in the guide's units.
 * Fails only when cancelled or out of memory. */
gboolean lisse_joint_bilateral_planes (const float *const *src, int n_src,
                                       const float *const *guide, int n_guide,
                                       float *const *dst, int w, int h,
                                       double sigma_s, double sigma_r,
                                       LisseJbfPath path,
                                       const LisseProgress *progress,
                                       GError **error);

G_END_DECLS
