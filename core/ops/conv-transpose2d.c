/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Transposed conv2d, fast path: per group, sgemm computes every input
 * pixel's contribution to every (output channel, tap) — cols = W_gᵀ · x_g —
 * and col2im adds those columns into the output.  col2im is a scatter, which
 * would race if parallelised over input pixels; instead each thread owns
 * whole output rows of one channel and gathers the taps that land there, in
 * a fixed (chunk, ki, kj, ix) order, so the sums do not depend on the thread
 * count.  Input pixels go through in chunks to bound the column scratch. */
#include "ops-conv.h"
#include "tensor.h"
#include "threads.h"
#include "lisse-error.h"

#include <limits.h>
#include <stddef.h>

gboolean
lisse_conv_transpose2d_out_size (int h, int w, int kh, int kw,
                                 const LisseConvTranspose2dGeom *g,
                                 int *out_h, int *out_w, GError **error)
{
  if (kh < 1 || kw < 1 || g->stride_h < 1 || g->stride_w < 1
      || g->dil_h < 1 || g->dil_w < 1 || g->groups < 1)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv_transpose2d: kernel %d×%d, stride %d×%d, dilation %d×%d "
                   "and %d groups must all be at least 1",
                   kh, kw, g->stride_h, g->stride_w, g->dil_h, g->dil_w, g->groups);
      return FALSE;
    }
  if (g->pad_h < 0 || g->pad_w < 0 || g->out_pad_h < 0 || g->out_pad_w < 0)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv_transpose2d: negative padding (%d, %d) or output "
                   "padding (%d, %d)", g->pad_h, g->pad_w, g->out_pad_h, g->out_pad_w);
      return FALSE;
    }
  /* Output padding only picks which of the input sizes that a strided
   * forward convolution maps onto this one the transpose restores; PyTorch
   * refuses larger values, and so does Lisse, so that models stay portable. */
  if ((g->out_pad_h >= g->stride_h && g->out_pad_h >= g->dil_h)
      || (g->out_pad_w >= g->stride_w && g->out_pad_w >= g->dil_w))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv_transpose2d: output padding %d×%d must be smaller than "
                   "either the stride %d×%d or the dilation %d×%d",
                   g->out_pad_h, g->out_pad_w, g->stride_h, g->stride_w,
                   g->dil_h, g->dil_w);
      return FALSE;
    }
  if (h < 1 || w < 1)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv_transpose2d: empty %d×%d input", h, w);
      return FALSE;
    }
  /* Index arithmetic in the loops is int: keep every term well inside it. */
  if ((gint64) (h - 1) * g->stride_h > INT_MAX / 4 || (gint64) (w - 1) * g->stride_w > INT_MAX / 4
      || g->pad_h > INT_MAX / 4 || g->pad_w > INT_MAX / 4
      || (gint64) g->dil_h * (kh - 1) > INT_MAX / 4
      || (gint64) g->dil_w * (kw - 1) > INT_MAX / 4)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv_transpose2d: stride, padding or dilation is absurdly large");
      return FALSE;
    }
  gint64 oh = (gint64) (h - 1) * g->stride_h - 2 * (gint64) g->pad_h
              + (gint64) g->dil_h * (kh - 1) + g->out_pad_h + 1;
  gint64 ow = (gint64) (w - 1) * g->stride_w - 2 * (gint64) g->pad_w
              + (gint64) g->dil_w * (kw - 1) + g->out_pad_w + 1;
  if (oh < 1 || ow < 1)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv_transpose2d: padding %d×%d leaves no output from a "
                   "%d×%d input", g->pad_h, g->pad_w, h, w);
      return FALSE;
    }
  if (oh * ow > INT_MAX)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv_transpose2d: output plane of %" G_GINT64_FORMAT "×%"
                   G_GINT64_FORMAT " pixels is too large", oh, ow);
      return FALSE;
    }
  *out_h = (int) oh;
  *out_w = (int) ow;
  return TRUE;
}

static inline int
floor_div (int a, int b)
{
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Adds the columns of input pixels [p0, p0 + np) (one group, cols laid out
 * [(co·kh + ki)·kw + kj][p − p0]) into output channels co0 … co0 + cout_g − 1. */
static void
col2im_chunk (const float *cols, int p0, int np, int cout_g, int kh, int kw,
              int in_h, int in_w, const LisseConvTranspose2dGeom *g,
              LisseTensor *out, int ni, int co0)
{
  const int oh = out->h, ow = out->w;
  const gint64 jobs = (gint64) cout_g * oh;

#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
  for (gint64 job = 0; job < jobs; job++)
    {
      const int oy = (int) (job % oh), co = (int) (job / oh);
      float *dst = lisse_tensor_channel (out, ni, co0 + co) + (size_t) oy * ow;

      for (int ki = 0; ki < kh; ki++)
        {
          const int t = oy + g->pad_h - ki * g->dil_h;
          if (t < 0 || t % g->stride_h)
            continue;
          const int iy = t / g->stride_h;
          if (iy >= in_h)
            continue;
          /* This input row's pixels that the chunk holds. */
          const gint64 row0 = (gint64) iy * in_w;
          const int ix_lo = (int) MAX (0, p0 - row0);
          const int ix_hi = (int) MIN ((gint64) in_w, p0 + np - row0);
          if (ix_lo >= ix_hi)
            continue;

          for (int kj = 0; kj < kw; kj++)
            {
              const int off = kj * g->dil_w - g->pad_w;
              /* ix whose output column ix·stride + off lies in [0, ow). */
              int lo = MAX (ix_lo, floor_div (-off + g->stride_w - 1, g->stride_w));
              int hi = MIN (ix_hi, floor_div (ow - 1 - off, g->stride_w) + 1);
              /* Column index of input column ix is row0 − p0 + ix (≥ 0 for
               * ix ≥ ix_lo). */
              const float *src = cols + ((size_t) (co * kh + ki) * kw + kj) * np;
              const ptrdiff_t base = (ptrdiff_t) (row0 - p0);
              if (g->stride_w == 1)
                for (int ix = lo; ix < hi; ix++)
                  dst[ix + off] += src[base + ix];
              else
                for (int ix = lo; ix < hi; ix++)
                  dst[ix * g->stride_w + off] += src[base + ix];
            }
        }
    }
}

LisseTensor *
lisse_conv_transpose2d (const LisseTensor *x, const LisseTensor *weight,
                        const LisseTensor *bias, const LisseConvTranspose2dGeom *g,
                        GError **error)
{
  g_return_val_if_fail (x && weight && g, NULL);

  int oh, ow;
  if (!lisse_conv_transpose2d_out_size (x->h, x->w, weight->h, weight->w, g,
                                        &oh, &ow, error))
    return NULL;
  const int groups = g->groups, cin = x->c;
  if (weight->n != cin || cin % groups)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv_transpose2d: %d input channels, a %d×%d×%d×%d weight "
                   "and %d groups disagree (the weight must be Cin × Cout/groups "
                   "× kh × kw and the groups divide Cin)",
                   cin, weight->n, weight->c, weight->h, weight->w, groups);
      return NULL;
    }
  if ((gint64) weight->c * groups > INT_MAX)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv_transpose2d: too many output channels");
      return NULL;
    }
  const int cout_g = weight->c, cout = cout_g * groups, cin_g = cin / groups;
  if (!lisse_ops_check_vector (bias, cout, TRUE, "conv_transpose2d bias", error))
    return NULL;

  LisseTensor *out = lisse_tensor_try_new (x->n, cout, oh, ow, error);
  if (!out)
    return NULL;
  if (bias)
    {
      const int nc = out->n * cout;
      const size_t plane = lisse_tensor_plane (out);
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
      for (int i = 0; i < nc; i++)
        {
          float *p = out->data + (size_t) i * plane;
          for (size_t j = 0; j < plane; j++)
            p[j] = bias->data[i % cout];
        }
    }

  const int kh = weight->h, kw = weight->w;
  const int rows = cout_g * kh * kw;
  const int plane_in = x->h * x->w;
  size_t chunk = lisse_ops_get_scratch_bytes () / ((size_t) rows * sizeof (float));
  chunk = CLAMP (chunk, 1, (size_t) plane_in);
  if (chunk > (size_t) x->w)
    chunk -= chunk % x->w;
  float *cols = g_try_malloc ((size_t) rows * chunk * sizeof (float));
  if (!cols)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                   "conv_transpose2d: out of memory for the column buffer");
      lisse_tensor_free (out);
      return NULL;
    }

  for (int ni = 0; ni < x->n; ni++)
    for (int gi = 0; gi < groups; gi++)
      for (int p0 = 0, np; p0 < plane_in; p0 += np)
        {
          np = (int) MIN (chunk, (size_t) (plane_in - p0));
          lisse_sgemm (TRUE, FALSE, rows, np, cin_g,
                       weight->data + (size_t) gi * cin_g * rows, rows,
                       lisse_tensor_channel (x, ni, gi * cin_g) + p0, plane_in,
                       0.f, cols, np);
          col2im_chunk (cols, p0, np, cout_g, kh, kw, x->h, x->w, g,
                        out, ni, gi * cout_g);
        }
  g_free (cols);
  return out;
}
