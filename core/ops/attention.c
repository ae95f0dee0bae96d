/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * CBAM channel and spatial attention, RCAN's channel attention.
 * Their own layers are tiny — an MLP on one vector per image, a 2 → 1
 * channel convolution — so they are written here as direct loops rather
 * than going through the general convolution: packing weights for a GEMM
 * would cost more than the arithmetic.  The heavy parts (pooling over the
 * feature map, the final multiplication) use the parallel ops.
 */
#include "ops-basic.h"
#include "lisse-error.h"
#include "threads.h"

#define PARALLEL_MIN 32768

static gboolean
check_mlp (const LisseTensor *x, const LisseChannelMlp *mlp, const char *what,
           GError **error)
{
  if (!mlp || !mlp->w1 || !mlp->w2 || mlp->hidden < 1 || mlp->channels != x->c)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: the attention weights are for %d channels (%d hidden), "
                   "the input has %d", what, mlp ? mlp->channels : 0,
                   mlp ? mlp->hidden : 0, x->c);
      return FALSE;
    }
  return TRUE;
}

/* out[c] += mlp(v)[c] for one image; @hidden_buf holds mlp->hidden values.
 * Sums in double: they are few, and this keeps the attention weights
 * independent of summation order. */
static void
mlp_add (const LisseChannelMlp *mlp, const float *v, double *hidden_buf, double *out)
{
  const int c = mlp->channels, hd = mlp->hidden;
  for (int j = 0; j < hd; j++)
    {
      const float *w = mlp->w1 + (size_t) j * c;
      double s = mlp->b1 ? mlp->b1[j] : 0.0;
      for (int k = 0; k < c; k++)
        s += (double) w[k] * v[k];
      hidden_buf[j] = s > 0.0 ? s : 0.0;
    }
  for (int k = 0; k < c; k++)
    {
      const float *w = mlp->w2 + (size_t) k * hd;
      double s = mlp->b2 ? mlp->b2[k] : 0.0;
      for (int j = 0; j < hd; j++)
        s += (double) w[j] * hidden_buf[j];
      out[k] += s;
    }
}

/* x · sigmoid(Σ mlp(pool(x))) over the pools given (avg, and max if asked). */
static LisseTensor *
channel_attention (const LisseTensor *x, const LisseChannelMlp *mlp,
                   gboolean with_max, const char *what, GError **error)
{
  if (!check_mlp (x, mlp, what, error))
    return NULL;
  LisseTensor *avg = lisse_global_avg_pool (x, error);
  if (!avg)
    return NULL;
  LisseTensor *mx = NULL;
  if (with_max && !(mx = lisse_global_max_pool (x, error)))
    {
      lisse_tensor_free (avg);
      return NULL;
    }

  const int c = x->c;
  LisseTensor *att = lisse_tensor_try_new (x->n, c, 1, 1, error);
  if (!att)
    {
      lisse_tensor_free (avg);
      lisse_tensor_free (mx);
      return NULL;
    }
  double *hidden = g_new (double, mlp->hidden);
  double *acc = g_new (double, c);
  for (int ni = 0; ni < x->n; ni++)
    {
      for (int k = 0; k < c; k++)
        acc[k] = 0.0;
      mlp_add (mlp, avg->data + (size_t) ni * c, hidden, acc);
      if (mx)
        mlp_add (mlp, mx->data + (size_t) ni * c, hidden, acc);
      for (int k = 0; k < c; k++)
        att->data[(size_t) ni * c + k] = (float) acc[k];
    }
  g_free (hidden);
  g_free (acc);
  lisse_tensor_free (avg);
  lisse_tensor_free (mx);

  lisse_activation_array (att->data, lisse_tensor_numel (att), LISSE_ACT_SIGMOID, 0.0f);
  LisseTensor *out = lisse_mul (x, att, error);
  lisse_tensor_free (att);
  return out;
}

LisseTensor *
lisse_cbam_channel_attention (const LisseTensor *x, const LisseChannelMlp *mlp,
                              GError **error)
{
  return channel_attention (x, mlp, TRUE, "CBAM channel attention", error);
}

LisseTensor *
lisse_rcab_channel_attention (const LisseTensor *x, const LisseChannelMlp *mlp,
                              GError **error)
{
  return channel_attention (x, mlp, FALSE, "RCAB channel attention", error);
}

/* Row y of image ni of the spatial attention's convolution.  The row
 * accumulates, tap by tap, a shifted input row times one weight: a SIMD
 * loop over the part of the row the tap does not push off the image (the
 * rest reads zero padding and adds nothing).  In double: 2·k² terms of both
 * signs would otherwise leave an error of several ulp, and this map is one
 * channel, cheap next to the C-channel passes around it. */
static void
spatial_conv_row (LisseTensor *const maps[2], int ni, int y,
                  const float *weight, float bias, int ksize,
                  double *acc, float *dst)
{
  const int h = maps[0]->h, w = maps[0]->w, pad = ksize / 2;
  for (int i = 0; i < w; i++)
    acc[i] = bias;
  for (int m = 0; m < 2; m++)
    for (int ky = 0; ky < ksize; ky++)
      {
        const int yy = y + ky - pad;
        if (yy < 0 || yy >= h)
          continue;
        const float *row = maps[m]->data + ((size_t) ni * h + yy) * w;
        for (int kx = 0; kx < ksize; kx++)
          {
            const double wt = weight[((size_t) m * ksize + ky) * ksize + kx];
            const int shift = kx - pad;
            const int x0 = MAX (0, -shift), x1 = MIN (w, w - shift);
#pragma omp simd
            for (int i = x0; i < x1; i++)
              acc[i] += wt * row[i + shift];
          }
      }
  for (int i = 0; i < w; i++)
    dst[i] = (float) acc[i];
}

LisseTensor *
lisse_cbam_spatial_attention (const LisseTensor *x, const float *weight,
                              const float *bias, int ksize, GError **error)
{
  if (!weight || ksize < 1 || ksize % 2 == 0 || ksize > 63)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "CBAM spatial attention: kernel size %d must be odd and "
                   "at most 63, with weights", ksize);
      return NULL;
    }
  LisseTensor *maps[2] = { lisse_channel_mean (x, error), NULL };
  if (!maps[0] || !(maps[1] = lisse_channel_max (x, error)))
    {
      lisse_tensor_free (maps[0]);
      return NULL;
    }

  const int h = x->h, w = x->w;
  const long rows = (long) x->n * h;
  const float b = bias ? bias[0] : 0.0f;
  LisseTensor *att = lisse_tensor_try_new (x->n, 1, h, w, error);
  if (!att)
    {
      lisse_tensor_free (maps[0]);
      lisse_tensor_free (maps[1]);
      return NULL;
    }
  int nt = (size_t) rows * w * ksize * ksize * 2 < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel num_threads(nt)
  {
    double *acc = g_new (double, w);
#pragma omp for schedule(static)
    for (long r = 0; r < rows; r++)
      spatial_conv_row (maps, (int) (r / h), (int) (r % h), weight, b, ksize,
                        acc, att->data + (size_t) r * w);
    g_free (acc);
  }
  lisse_tensor_free (maps[0]);
  lisse_tensor_free (maps[1]);

  lisse_activation_inplace (att, LISSE_ACT_SIGMOID, 0.0f);
  LisseTensor *out = lisse_mul (x, att, error);
  lisse_tensor_free (att);
  return out;
}
