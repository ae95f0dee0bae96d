/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bf16 matrix products with float accumulation on AMX (gemm-bf16.c), for
 * the Winograd convolution's products where a network allows bf16. */
#pragma once

#include <glib.h>

/* Whether this CPU and kernel let the process use AMX's bf16 tiles. */
gboolean lisse_gemm_bf16_supported (void);

/* C [m × n] (row stride ldc, overwritten) = A [m × kp] · B [kp × n], row
 * major, where A and B hold pairs of bf16 values along k
 * (lisse_bf16_pack_pairs; row strides lda, ldb in pairs); m, n and kp
 * multiples of 16.  Only where lisse_gemm_bf16_supported (). */
void     lisse_gemm_bf16           (int m, int n, int kp, const guint32 *a, int lda,
                                    const guint32 *b, int ldb, float *c, int ldc);

/* out[i] = the pair (even[i], odd[i]) rounded to bf16 (to nearest, ties to
 * even), even's in the lower half; odd NULL: zeros.  even[i] and odd[i]
 * are read before out[i] is written, so out may be even itself. */
void     lisse_bf16_pack_pairs     (const float *even, const float *odd, int n, guint32 *out);
