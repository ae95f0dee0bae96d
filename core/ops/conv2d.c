/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * conv2d, fast path.  Four strategies, chosen by shape:
 *  - 3×3 "same" convolutions (stride 1, padding = dilation, one group) with
 *    enough channels: Winograd F(4×4, 3×3), conv2d-winograd.c;
 *  - 1×1, stride 1, no padding: the input planes already are the column
 *    matrix, one sgemm per (image, group);
 *  - one input channel per group (depthwise, or a single-channel first
 *    layer): a direct loop, since sgemm over a kh·kw-long inner dimension
 *    would spend its time packing;
 *  - otherwise im2col + sgemm, a chunk of output pixels at a time so that the
 *    column scratch stays bounded.
 * The output is pre-filled with the bias and sgemm accumulates into it
 * (beta = 1); lisse_sgemm() keeps sgemm's sums independent of the thread
 * count. */
#include "ops-basic.h"
#include "ops-conv.h"
#include "tensor.h"
#include "threads.h"
#include "lisse-error.h"

#include <limits.h>
#include <string.h>

static size_t scratch_bytes = LISSE_OPS_SCRATCH_BYTES_DEFAULT;
static LisseConvAlgorithm conv_algorithm = LISSE_CONV_AUTO;

LisseConvAlgorithm
lisse_ops_set_conv_algorithm (LisseConvAlgorithm algorithm)
{
  LisseConvAlgorithm old = conv_algorithm;
  conv_algorithm = algorithm;
  return old;
}

size_t
lisse_ops_set_scratch_bytes (size_t bytes)
{
  size_t old = scratch_bytes;
  scratch_bytes = bytes;
  return old;
}

size_t
lisse_ops_get_scratch_bytes (void)
{
  return scratch_bytes;
}

gboolean
lisse_ops_check_vector (const LisseTensor *v, int count, gboolean allow_null,
                        const char *what, GError **error)
{
  if (!v)
    {
      if (allow_null)
        return TRUE;
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s is missing", what);
      return FALSE;
    }
  if (lisse_tensor_numel (v) != (size_t) count)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s has %zu values, expected %d (one per channel)",
                   what, lisse_tensor_numel (v), count);
      return FALSE;
    }
  return TRUE;
}

gboolean
lisse_conv2d_out_size (int h, int w, int kh, int kw, const LisseConv2dGeom *g,
                       int *out_h, int *out_w, GError **error)
{
  if (kh < 1 || kw < 1 || g->stride_h < 1 || g->stride_w < 1
      || g->dil_h < 1 || g->dil_w < 1 || g->groups < 1)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv2d: kernel %d×%d, stride %d×%d, dilation %d×%d and "
                   "%d groups must all be at least 1",
                   kh, kw, g->stride_h, g->stride_w, g->dil_h, g->dil_w, g->groups);
      return FALSE;
    }
  if (g->pad_top < 0 || g->pad_bottom < 0 || g->pad_left < 0 || g->pad_right < 0)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv2d: negative padding (%d, %d, %d, %d)",
                   g->pad_top, g->pad_bottom, g->pad_left, g->pad_right);
      return FALSE;
    }
  /* Index arithmetic in the loops is int: keep every term well inside it. */
  if ((gint64) h + g->pad_top + g->pad_bottom > INT_MAX / 2
      || (gint64) w + g->pad_left + g->pad_right > INT_MAX / 2
      || (gint64) g->dil_h * (kh - 1) > INT_MAX / 2
      || (gint64) g->dil_w * (kw - 1) > INT_MAX / 2)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv2d: padding or dilation is absurdly large");
      return FALSE;
    }
  /* 64-bit: a huge dilation or padding must not wrap around. */
  gint64 span_h = (gint64) h + g->pad_top + g->pad_bottom - (gint64) g->dil_h * (kh - 1) - 1;
  gint64 span_w = (gint64) w + g->pad_left + g->pad_right - (gint64) g->dil_w * (kw - 1) - 1;
  if (h < 1 || w < 1 || span_h < 0 || span_w < 0)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv2d: a %d×%d kernel with dilation %d×%d does not fit "
                   "a padded %d×%d input; the output would be empty",
                   kh, kw, g->dil_h, g->dil_w, h, w);
      return FALSE;
    }
  gint64 oh = span_h / g->stride_h + 1, ow = span_w / g->stride_w + 1;
  if (oh * ow > INT_MAX)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv2d: output plane of %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                   " pixels is too large", oh, ow);
      return FALSE;
    }
  *out_h = (int) oh;
  *out_w = (int) ow;
  return TRUE;
}

/* Rounds toward −∞ for any sign of @a (b > 0). */
static inline int
floor_div (int a, int b)
{
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Output columns [lo, hi) whose tap at input column ox·stride + off lands
 * inside [0, w). */
static inline void
valid_range (int out_w, int w, int stride, int off, int *lo, int *hi)
{
  *lo = MAX (0, floor_div (-off + stride - 1, stride));
  *hi = MIN (out_w, floor_div (w - 1 - off, stride) + 1);
  if (*hi < *lo)
    *hi = *lo;
}

static void
fill_bias (LisseTensor *out, const LisseTensor *bias)
{
  int nc = out->n * out->c;
  size_t plane = lisse_tensor_plane (out);
  if (!bias)
    return;                     /* lisse_tensor_try_new zero-fills */
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
  for (int i = 0; i < nc; i++)
    {
      float b = bias->data[i % out->c];
      float *p = out->data + (size_t) i * plane;
      for (size_t j = 0; j < plane; j++)
        p[j] = b;
    }
}

/* One input channel per group: each output row accumulates the kh·kw taps in
 * order, one thread per row. */
static void
conv2d_direct_single_input (const LisseTensor *x, const LisseTensor *weight,
                            const LisseConv2dGeom *g, LisseTensor *out)
{
  const int cout = out->c, cout_g = cout / g->groups;
  const int kh = weight->h, kw = weight->w;
  const int oh = out->h, ow = out->w;
  const gint64 jobs = (gint64) out->n * cout * oh;

#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
  for (gint64 job = 0; job < jobs; job++)
    {
      int oy = (int) (job % oh);
      int co = (int) ((job / oh) % cout);
      int ni = (int) (job / oh / cout);
      const float *src = lisse_tensor_channel (x, ni, co / cout_g);
      const float *wk = weight->data + (size_t) co * kh * kw;
      float *dst = lisse_tensor_channel (out, ni, co) + (size_t) oy * ow;

      for (int ki = 0; ki < kh; ki++)
        {
          int iy = oy * g->stride_h - g->pad_top + ki * g->dil_h;
          if (iy < 0 || iy >= x->h)
            continue;
          const float *row = src + (size_t) iy * x->w;
          for (int kj = 0; kj < kw; kj++)
            {
              const float wv = wk[ki * kw + kj];
              const int off = kj * g->dil_w - g->pad_left;
              int lo, hi;
              valid_range (ow, x->w, g->stride_w, off, &lo, &hi);
              if (g->stride_w == 1)
                for (int ox = lo; ox < hi; ox++)
                  dst[ox] += wv * row[ox + off];
              else
                for (int ox = lo; ox < hi; ox++)
                  dst[ox] += wv * row[ox * g->stride_w + off];
            }
        }
    }
}

/* Column matrix for output pixels [p0, p0 + np) of one group:
 * cols[(c·kh + ki)·kw + kj][p − p0] = x[c0 + c](tap of pixel p), 0 in the padding. */
static void
im2col_chunk (const LisseTensor *x, int ni, int c0, int cin_g, int kh, int kw,
              const LisseConv2dGeom *g, int ow, int p0, int np, float *cols)
{
  const int rows = cin_g * kh * kw;

#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
  for (int r = 0; r < rows; r++)
    {
      const int kj = r % kw, ki = (r / kw) % kh, c = r / (kw * kh);
      const float *src = lisse_tensor_channel (x, ni, c0 + c);
      const int off = kj * g->dil_w - g->pad_left;
      float *dst = cols + (size_t) r * np;
      int oy = p0 / ow, ox = p0 % ow, left = np;

      while (left > 0)
        {
          const int seg = MIN (ow - ox, left);
          const int iy = oy * g->stride_h - g->pad_top + ki * g->dil_h;
          if (iy < 0 || iy >= x->h)
            memset (dst, 0, (size_t) seg * sizeof (float));
          else
            {
              const float *row = src + (size_t) iy * x->w;
              int lo, hi;
              valid_range (ow, x->w, g->stride_w, off, &lo, &hi);
              lo = CLAMP (lo, ox, ox + seg);
              hi = CLAMP (hi, lo, ox + seg);
              for (int t = ox; t < lo; t++)
                dst[t - ox] = 0.f;
              if (g->stride_w == 1)
                memcpy (dst + (lo - ox), row + lo + off, (size_t) (hi - lo) * sizeof (float));
              else
                for (int t = lo; t < hi; t++)
                  dst[t - ox] = row[t * g->stride_w + off];
              for (int t = hi; t < ox + seg; t++)
                dst[t - ox] = 0.f;
            }
          dst += seg;
          left -= seg;
          ox = 0;
          oy++;
        }
    }
}

/* Whether lisse_conv2d() takes the Winograd path for these arguments. */
static gboolean
use_winograd (const LisseTensor *x, const LisseTensor *weight, const LisseConv2dGeom *g)
{
  return conv_algorithm == LISSE_CONV_AUTO && lisse_conv2d_winograd_supported (x, weight, g)
         && x->c >= LISSE_CONV_WINOGRAD_MIN_CHANNELS
         && weight->n >= LISSE_CONV_WINOGRAD_MIN_CHANNELS;
}

LisseTensor *
lisse_conv2d_relu (const LisseTensor *x, const LisseTensor *weight, const LisseTensor *bias,
                   const LisseConv2dGeom *g, GError **error)
{
  g_return_val_if_fail (x && weight && g, NULL);
  int oh, ow;
  if (!lisse_conv2d_out_size (x->h, x->w, weight->h, weight->w, g, &oh, &ow, error))
    return NULL;
  if (use_winograd (x, weight, g))
    return lisse_conv2d_winograd_relu (x, weight, bias, g, error);
  LisseTensor *y = lisse_conv2d (x, weight, bias, g, error);
  if (y)
    lisse_relu_inplace (y);
  return y;
}

LisseTensor *
lisse_conv2d_add_relu (const LisseTensor *x, const LisseTensor *weight, const LisseTensor *bias,
                       const LisseConv2dGeom *g, const LisseTensor *residual, GError **error)
{
  g_return_val_if_fail (x && weight && g && residual, NULL);
  int oh, ow;
  if (!lisse_conv2d_out_size (x->h, x->w, weight->h, weight->w, g, &oh, &ow, error))
    return NULL;
  if (residual->n != x->n || residual->c != weight->n || residual->h != oh || residual->w != ow)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv2d + residual: the residual is %d×%d×%d×%d, the output %d×%d×%d×%d",
                   residual->n, residual->c, residual->h, residual->w, x->n, weight->n, oh, ow);
      return NULL;
    }
  if (use_winograd (x, weight, g))
    return lisse_conv2d_winograd_add_relu (x, weight, bias, g, residual, error);
  LisseTensor *y = lisse_conv2d (x, weight, bias, g, error);
  if (y && !lisse_add_inplace (y, residual, error))
    g_clear_pointer (&y, lisse_tensor_free);
  if (y)
    lisse_relu_inplace (y);
  return y;
}

LisseTensor *
lisse_conv2d (const LisseTensor *x, const LisseTensor *weight, const LisseTensor *bias,
              const LisseConv2dGeom *g, GError **error)
{
  g_return_val_if_fail (x && weight && g, NULL);

  int oh, ow;
  if (!lisse_conv2d_out_size (x->h, x->w, weight->h, weight->w, g, &oh, &ow, error))
    return NULL;
  const int groups = g->groups, cin = x->c, cout = weight->n;
  if (use_winograd (x, weight, g))
    return lisse_conv2d_winograd (x, weight, bias, g, error);
  if (cin % groups || cout % groups || weight->c != cin / groups)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv2d: %d input channels, a %d×%d×%d×%d weight and %d "
                   "groups disagree (the groups must divide both channel "
                   "counts and the weight hold Cin/groups input channels)",
                   cin, weight->n, weight->c, weight->h, weight->w, groups);
      return NULL;
    }
  if (!lisse_ops_check_vector (bias, cout, TRUE, "conv2d bias", error))
    return NULL;

  LisseTensor *out = lisse_tensor_try_new (x->n, cout, oh, ow, error);
  if (!out)
    return NULL;
  fill_bias (out, bias);

  const int cin_g = cin / groups, cout_g = cout / groups;
  const int kh = weight->h, kw = weight->w, taps = kh * kw;
  const int rows = cin_g * taps;            /* inner dimension of the sgemm */
  const int plane_out = oh * ow;

  if (cin_g == 1)
    {
      conv2d_direct_single_input (x, weight, g, out);
      return out;
    }

  /* A 1×1 kernel's dilation is irrelevant; stride 1 and no padding leave the
   * input planes as they are. */
  if (taps == 1 && g->stride_h == 1 && g->stride_w == 1
      && !g->pad_top && !g->pad_bottom && !g->pad_left && !g->pad_right)
    {
      for (int ni = 0; ni < x->n; ni++)
        for (int gi = 0; gi < groups; gi++)
          lisse_sgemm (FALSE, FALSE, cout_g, plane_out, cin_g,
                       weight->data + (size_t) gi * cout_g * cin_g, cin_g,
                       lisse_tensor_channel (x, ni, gi * cin_g), plane_out,
                       1.f, lisse_tensor_channel (out, ni, gi * cout_g), plane_out);
      return out;
    }

  size_t chunk = lisse_ops_get_scratch_bytes () / ((size_t) rows * sizeof (float));
  chunk = CLAMP (chunk, 1, (size_t) plane_out);
  /* Whole output rows keep im2col's segments long when they fit. */
  if (chunk > (size_t) ow)
    chunk -= chunk % ow;
  float *cols = g_try_malloc ((size_t) rows * chunk * sizeof (float));
  if (!cols)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                   "conv2d: out of memory for the column buffer");
      lisse_tensor_free (out);
      return NULL;
    }

  for (int ni = 0; ni < x->n; ni++)
    for (int gi = 0; gi < groups; gi++)
      for (int p0 = 0, np; p0 < plane_out; p0 += np)
        {
          /* p0 + np never passes the plane size, so p0 cannot overflow. */
          np = (int) MIN (chunk, (size_t) (plane_out - p0));
          im2col_chunk (x, ni, gi * cin_g, cin_g, kh, kw, g, ow, p0, np, cols);
          lisse_sgemm (FALSE, FALSE, cout_g, np, rows,
                       weight->data + (size_t) gi * cout_g * rows, rows, cols, np,
                       1.f, lisse_tensor_channel (out, ni, gi * cout_g) + p0, plane_out);
        }
  g_free (cols);
  return out;
}
