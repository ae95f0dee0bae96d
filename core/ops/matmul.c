/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Dense layers through sgemm, and lisse_sgemm(), the one way the ops call
 * sgemm.  A bias is written into the output first and sgemm accumulates onto
 * it (beta = 1), which saves a pass over the output. */
#include "ops-conv.h"
#include "tensor.h"
#include "threads.h"
#include "lisse-error.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

void
lisse_sgemm (gboolean trans_a, gboolean trans_b, int m, int n, int k,
             const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc)
{
  g_return_if_fail (m >= 0 && n >= 0 && k >= 0);
  if (m == 0 || n == 0)
    return;
  if (k == 0)
    {
      /* Nothing to multiply; BLAS would also reject the empty A and B. */
      for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
          c[(size_t) i * ldc + j] = beta == 0.f ? 0.f : beta * c[(size_t) i * ldc + j];
      return;
    }
  /* Equal blocks: 300 goes as 100 + 100 + 100, not 128 + 128 + 44. */
  const int blocks = (k + LISSE_SGEMM_K_BLOCK - 1) / LISSE_SGEMM_K_BLOCK;
  const int kb = (k + blocks - 1) / blocks;

  /* One thread pool, not two: C is cut into fixed panels that OpenMP
   * threads share, each panel one single-threaded OpenBLAS call per K
   * block (threads.c keeps OpenBLAS at one thread).  OpenMP workers that
   * spin while OpenBLAS's own pthreads run made two threads slower than one.
   * The panel grid depends on m and n only, so every element of C is
   * computed by the same calls whatever the thread count. */
  const int m_panels = (m + LISSE_SGEMM_M_PANEL - 1) / LISSE_SGEMM_M_PANEL;
  const int n_panels = (n + LISSE_SGEMM_N_PANEL - 1) / LISSE_SGEMM_N_PANEL;
  const int tasks = m_panels * n_panels;
#pragma omp parallel for num_threads(lisse_threads_get ()) schedule(static) if (tasks > 1)
  for (int t = 0; t < tasks; t++)
    {
      const int i0 = (t / n_panels) * LISSE_SGEMM_M_PANEL;
      const int j0 = (t % n_panels) * LISSE_SGEMM_N_PANEL;
      const int mi = MIN (LISSE_SGEMM_M_PANEL, m - i0);
      const int nj = MIN (LISSE_SGEMM_N_PANEL, n - j0);
      float *cp = c + (size_t) i0 * ldc + j0;
      for (int k0 = 0; k0 < k; k0 += kb)
        {
          const int nk = MIN (kb, k - k0);
          const float *ap = trans_a ? a + (size_t) k0 * lda + i0 : a + (size_t) i0 * lda + k0;
          const float *bp = trans_b ? b + (size_t) j0 * ldb + k0 : b + (size_t) k0 * ldb + j0;
          cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                       trans_b ? CblasTrans : CblasNoTrans, mi, nj, nk, 1.f,
                       ap, lda, bp, ldb, k0 ? 1.f : beta, cp, ldc);
        }
    }
}

void
lisse_matmul (int m, int n, int k, const float *a, gboolean trans_a,
              const float *b, gboolean trans_b, float *c)
{
  g_return_if_fail (m >= 0 && n >= 0 && k >= 0);
  lisse_sgemm (trans_a, trans_b, m, n, k, a, MAX (trans_a ? m : k, 1),
               b, MAX (trans_b ? k : n, 1), 0.f, c, MAX (n, 1));
}

/* Dense weights are [Cout, Cin] stored in any tensor with n = Cout. */
static gboolean
check_dense (const char *op, const LisseTensor *weight, int in_features,
             const LisseTensor *bias, GError **error)
{
  if ((size_t) weight->c * weight->h * weight->w != (size_t) in_features)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: a %d×%d×%d×%d weight does not take %d input features",
                   op, weight->n, weight->c, weight->h, weight->w, in_features);
      return FALSE;
    }
  return lisse_ops_check_vector (bias, weight->n, TRUE, "dense layer bias", error);
}

LisseTensor *
lisse_linear_channels (const LisseTensor *x, const LisseTensor *weight,
                       const LisseTensor *bias, GError **error)
{
  g_return_val_if_fail (x && weight, NULL);
  if (!check_dense ("linear_channels", weight, x->c, bias, error))
    return NULL;
  if ((gint64) x->h * x->w > INT_MAX)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "linear_channels: %d×%d image is too large", x->h, x->w);
      return NULL;
    }
  const int cin = x->c, cout = weight->n, plane = x->h * x->w;
  LisseTensor *out = lisse_tensor_try_new (x->n, cout, x->h, x->w, error);
  if (!out)
    return NULL;

  if (bias)
    {
      const int nc = x->n * cout;
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
      for (int i = 0; i < nc; i++)
        for (int p = 0; p < plane; p++)
          out->data[(size_t) i * plane + p] = bias->data[i % cout];
    }
  for (int ni = 0; ni < x->n; ni++)
    lisse_sgemm (FALSE, FALSE, cout, plane, cin, weight->data, cin,
                 lisse_tensor_channel (x, ni, 0), plane,
                 1.f, lisse_tensor_channel (out, ni, 0), plane);
  return out;
}

LisseTensor *
lisse_linear_lastdim (const LisseTensor *x, const LisseTensor *weight,
                      const LisseTensor *bias, GError **error)
{
  g_return_val_if_fail (x && weight, NULL);
  if (!check_dense ("linear_lastdim", weight, x->w, bias, error))
    return NULL;
  const int win = x->w, wout = weight->n;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, wout, error);
  if (!out)
    return NULL;

  /* Every (n, c, h) line is one row of an [N·C·H, Win] matrix. */
  const size_t lines = (size_t) x->n * x->c * x->h;
  if (bias)
    {
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
      for (gint64 l = 0; l < (gint64) lines; l++)
        memcpy (out->data + (size_t) l * wout, bias->data, (size_t) wout * sizeof (float));
    }
  /* sgemm takes int sizes. */
  const size_t step = INT_MAX / 2;
  for (size_t l0 = 0; l0 < lines; l0 += step)
    {
      const int nl = (int) MIN (step, lines - l0);
      lisse_sgemm (FALSE, TRUE, nl, wout, win, x->data + l0 * win, win,
                   weight->data, win, 1.f, out->data + l0 * wout, wout);
    }
  return out;
}
