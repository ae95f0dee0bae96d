/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Reference versions of the ops in ops-conv.h: the definitions written out
 * as nested loops, one output value at a time, summed in double, with no
 * BLAS, no threads and no cleverness.  They exist to be obviously right, so
 * that the fast versions can be tested against them; speed is no concern. */
#include "ops-conv.h"
#include "tensor.h"
#include "lisse-error.h"

#include <math.h>

static void
set_invalid (GError **error, const char *op, const char *what)
{
  g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT, "%s: %s", op, what);
}

static inline double
at (const LisseTensor *t, int n, int c, int y, int x)
{
  return lisse_tensor_at (t, n, c, y, x);
}

/* ---------------------------------------------------------------------- */

LisseTensor *
lisse_conv2d_ref (const LisseTensor *x, const LisseTensor *weight, const LisseTensor *bias,
                  const LisseConv2dGeom *g, GError **error)
{
  int oh, ow;
  if (!lisse_conv2d_out_size (x->h, x->w, weight->h, weight->w, g, &oh, &ow, error))
    return NULL;
  if (x->c % g->groups || weight->n % g->groups || weight->c != x->c / g->groups)
    {
      set_invalid (error, "conv2d", "channel counts and groups disagree");
      return NULL;
    }
  if (!lisse_ops_check_vector (bias, weight->n, TRUE, "conv2d bias", error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, weight->n, oh, ow, error);
  if (!out)
    return NULL;

  const int cin_g = weight->c, cout_g = weight->n / g->groups;
  for (int n = 0; n < x->n; n++)
    for (int co = 0; co < weight->n; co++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          {
            double acc = bias ? bias->data[co] : 0.0;
            for (int c = 0; c < cin_g; c++)
              for (int ki = 0; ki < weight->h; ki++)
                for (int kj = 0; kj < weight->w; kj++)
                  {
                    int iy = oy * g->stride_h - g->pad_top + ki * g->dil_h;
                    int ix = ox * g->stride_w - g->pad_left + kj * g->dil_w;
                    if (iy < 0 || iy >= x->h || ix < 0 || ix >= x->w)
                      continue;   /* zero padding */
                    int ci = (co / cout_g) * cin_g + c;
                    acc += at (weight, co, c, ki, kj) * at (x, n, ci, iy, ix);
                  }
            out->data[(((size_t) n * out->c + co) * oh + oy) * ow + ox] = (float) acc;
          }
  return out;
}

/* ---------------------------------------------------------------------- */

/* Written as the scatter that defines it: every input pixel adds
 * x · w into the output pixel its tap lands on. */
LisseTensor *
lisse_conv_transpose2d_ref (const LisseTensor *x, const LisseTensor *weight,
                            const LisseTensor *bias, const LisseConvTranspose2dGeom *g,
                            GError **error)
{
  int oh, ow;
  if (!lisse_conv_transpose2d_out_size (x->h, x->w, weight->h, weight->w, g,
                                        &oh, &ow, error))
    return NULL;
  if (weight->n != x->c || x->c % g->groups)
    {
      set_invalid (error, "conv_transpose2d", "channel counts and groups disagree");
      return NULL;
    }
  const int cin_g = x->c / g->groups, cout_g = weight->c, cout = cout_g * g->groups;
  if (!lisse_ops_check_vector (bias, cout, TRUE, "conv_transpose2d bias", error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, cout, oh, ow, error);
  if (!out)
    return NULL;

  const size_t per_image = (size_t) cout * oh * ow;
  double *acc = g_new (double, per_image);
  for (int n = 0; n < x->n; n++)
    {
      for (int co = 0; co < cout; co++)
        for (size_t p = 0; p < (size_t) oh * ow; p++)
          acc[(size_t) co * oh * ow + p] = bias ? bias->data[co] : 0.0;

      for (int ci = 0; ci < x->c; ci++)
        for (int iy = 0; iy < x->h; iy++)
          for (int ix = 0; ix < x->w; ix++)
            for (int oc = 0; oc < cout_g; oc++)
              for (int ki = 0; ki < weight->h; ki++)
                for (int kj = 0; kj < weight->w; kj++)
                  {
                    int oy = iy * g->stride_h - g->pad_h + ki * g->dil_h;
                    int ox = ix * g->stride_w - g->pad_w + kj * g->dil_w;
                    if (oy < 0 || oy >= oh || ox < 0 || ox >= ow)
                      continue;
                    int co = (ci / cin_g) * cout_g + oc;
                    acc[((size_t) co * oh + oy) * ow + ox]
                      += at (x, n, ci, iy, ix) * at (weight, ci, oc, ki, kj);
                  }

      for (size_t p = 0; p < per_image; p++)
        out->data[n * per_image + p] = (float) acc[p];
    }
  g_free (acc);
  return out;
}

/* ---------------------------------------------------------------------- */

/* torchvision's bilinear_interpolate, in double. */
static double
bilinear_ref (const LisseTensor *x, int n, int c, double py, double px)
{
  if (!(py > -1.0 && py < x->h && px > -1.0 && px < x->w))
    return 0.0;
  int y0 = (int) floor (py), x0 = (int) floor (px), y1 = y0 + 1, x1 = x0 + 1;
  double ly = py - y0, lx = px - x0, hy = 1.0 - ly, hx = 1.0 - lx;
  double v00 = (y0 >= 0 && x0 >= 0) ? at (x, n, c, y0, x0) : 0.0;
  double v01 = (y0 >= 0 && x1 < x->w) ? at (x, n, c, y0, x1) : 0.0;
  double v10 = (y1 < x->h && x0 >= 0) ? at (x, n, c, y1, x0) : 0.0;
  double v11 = (y1 < x->h && x1 < x->w) ? at (x, n, c, y1, x1) : 0.0;
  return hy * hx * v00 + hy * lx * v01 + ly * hx * v10 + ly * lx * v11;
}

/* Position of kernel point (i, j) of pixel (y, xx), moved by its offset. */
static void
deform_position (const LisseTensor *offsets, int n, int y, int xx, int i, int j,
                 int kh, int kw, int dil_h, int dil_w, double *py, double *px)
{
  int k = i * kw + j;
  int pad_h = dil_h * (kh - 1) / 2, pad_w = dil_w * (kw - 1) / 2;
  *py = y + i * dil_h - pad_h + at (offsets, n, 2 * k, y, xx);
  *px = xx + j * dil_w - pad_w + at (offsets, n, 2 * k + 1, y, xx);
}

static gboolean
check_deform_ref (const char *op, const LisseTensor *x, const LisseTensor *offsets,
                  const LisseTensor *per_point, int kh, int kw, int dil_h, int dil_w,
                  GError **error)
{
  if (kh < 1 || kw < 1 || dil_h < 1 || dil_w < 1)
    {
      set_invalid (error, op, "kernel size and dilation must be at least 1");
      return FALSE;
    }
  if (offsets->n != x->n || offsets->c != 2 * kh * kw
      || offsets->h != x->h || offsets->w != x->w)
    {
      set_invalid (error, op, "offsets have the wrong shape");
      return FALSE;
    }
  if (per_point && (per_point->n != x->n || per_point->c != kh * kw
                    || per_point->h != x->h || per_point->w != x->w))
    {
      set_invalid (error, op, "weights or mask have the wrong shape");
      return FALSE;
    }
  return TRUE;
}

LisseTensor *
lisse_deform_weighted_average_ref (const LisseTensor *x, const LisseTensor *offsets,
                                   const LisseTensor *weights, int kh, int kw,
                                   int dil_h, int dil_w, GError **error)
{
  if (!check_deform_ref ("deform_weighted_average", x, offsets, weights,
                         kh, kw, dil_h, dil_w, error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (!out)
    return NULL;

  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      for (int y = 0; y < x->h; y++)
        for (int xx = 0; xx < x->w; xx++)
          {
            double acc = 0.0;
            for (int i = 0; i < kh; i++)
              for (int j = 0; j < kw; j++)
                {
                  double py, px;
                  deform_position (offsets, n, y, xx, i, j, kh, kw, dil_h, dil_w, &py, &px);
                  acc += at (weights, n, i * kw + j, y, xx) * bilinear_ref (x, n, c, py, px);
                }
            out->data[(((size_t) n * x->c + c) * x->h + y) * x->w + xx] = (float) acc;
          }
  return out;
}

LisseTensor *
lisse_deform_affinity_average_ref (const LisseTensor *x, const LisseTensor *feat,
                                   const LisseTensor *offsets, int kh, int kw, int dil_h,
                                   int dil_w, float eps, GError **error)
{
  if (!check_deform_ref ("deform_affinity_average", x, offsets, NULL, kh, kw, dil_h, dil_w, error))
    return NULL;
  if (feat->n != x->n || feat->h != x->h || feat->w != x->w || feat->c < 1 || !(eps >= 0.f))
    {
      set_invalid (error, "deform_affinity_average", "features or eps are wrong");
      return NULL;
    }
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (!out)
    return NULL;
  const int k = kh * kw;
  LisseTensor ones = { .n = x->n, .c = 1, .h = x->h, .w = x->w };
  ones.data = g_new (float, lisse_tensor_numel (&ones));
  for (size_t i = 0; i < lisse_tensor_numel (&ones); i++)
    ones.data[i] = 1.f;
  double *wk = g_new (double, k), *py = g_new (double, k), *px = g_new (double, k);
  for (int n = 0; n < x->n; n++)
    for (int y = 0; y < x->h; y++)
      for (int xx = 0; xx < x->w; xx++)
        {
          double top = -INFINITY, sum = 0.0, den = eps;
          for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
              {
                const int kk = i * kw + j;
                deform_position (offsets, n, y, xx, i, j, kh, kw, dil_h, dil_w, &py[kk], &px[kk]);
                double d = 0.0;
                for (int f = 0; f < feat->c; f++)
                  {
                    const double diff = at (feat, n, f, y, xx) - bilinear_ref (feat, n, f, py[kk], px[kk]);
                    d += diff * diff;
                  }
                wk[kk] = -d;
                top = MAX (top, wk[kk]);
              }
          for (int kk = 0; kk < k; kk++)
            sum += wk[kk] = exp (wk[kk] - top);
          for (int kk = 0; kk < k; kk++)
            {
              wk[kk] /= sum;
              den += wk[kk] * bilinear_ref (&ones, n, 0, py[kk], px[kk]);
            }
          for (int c = 0; c < x->c; c++)
            {
              double num = eps * at (x, n, c, y, xx);
              for (int kk = 0; kk < k; kk++)
                num += wk[kk] * bilinear_ref (x, n, c, py[kk], px[kk]);
              out->data[(((size_t) n * x->c + c) * x->h + y) * x->w + xx] = (float) (num / den);
            }
        }
  g_free (wk);
  g_free (py);
  g_free (px);
  g_free (ones.data);
  return out;
}

LisseTensor *
lisse_deform_conv2d_ref (const LisseTensor *x, const LisseTensor *offsets,
                         const LisseTensor *weight, const LisseTensor *bias,
                         const LisseTensor *mask, int dil_h, int dil_w, GError **error)
{
  const int kh = weight->h, kw = weight->w;
  if (!check_deform_ref ("deform_conv2d", x, offsets, mask, kh, kw, dil_h, dil_w, error))
    return NULL;
  if (x->c % weight->c || weight->n % (x->c / weight->c))
    {
      set_invalid (error, "deform_conv2d", "channel counts and groups disagree");
      return NULL;
    }
  if (!lisse_ops_check_vector (bias, weight->n, TRUE, "deform_conv2d bias", error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, weight->n, x->h, x->w, error);
  if (!out)
    return NULL;

  const int cin_g = weight->c, cout_g = weight->n / (x->c / cin_g);
  for (int n = 0; n < x->n; n++)
    for (int o = 0; o < weight->n; o++)
      for (int y = 0; y < x->h; y++)
        for (int xx = 0; xx < x->w; xx++)
          {
            double acc = bias ? bias->data[o] : 0.0;
            for (int c = 0; c < cin_g; c++)
              for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                  {
                    double py, px;
                    deform_position (offsets, n, y, xx, i, j, kh, kw, dil_h, dil_w,
                                     &py, &px);
                    double m = mask ? at (mask, n, i * kw + j, y, xx) : 1.0;
                    int ci = (o / cout_g) * cin_g + c;
                    acc += at (weight, o, c, i, j) * m * bilinear_ref (x, n, ci, py, px);
                  }
            out->data[(((size_t) n * out->c + o) * x->h + y) * x->w + xx] = (float) acc;
          }
  return out;
}

/* ---------------------------------------------------------------------- */

void
lisse_matmul_ref (int m, int n, int k, const float *a, gboolean trans_a,
                  const float *b, gboolean trans_b, float *c)
{
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++)
      {
        double acc = 0.0;
        for (int l = 0; l < k; l++)
          {
            double av = trans_a ? a[(size_t) l * m + i] : a[(size_t) i * k + l];
            double bv = trans_b ? b[(size_t) j * k + l] : b[(size_t) l * n + j];
            acc += av * bv;
          }
        c[(size_t) i * n + j] = (float) acc;
      }
}

LisseTensor *
lisse_linear_channels_ref (const LisseTensor *x, const LisseTensor *weight,
                           const LisseTensor *bias, GError **error)
{
  if ((size_t) weight->c * weight->h * weight->w != (size_t) x->c)
    {
      set_invalid (error, "linear_channels", "weight does not match the input channels");
      return NULL;
    }
  if (!lisse_ops_check_vector (bias, weight->n, TRUE, "dense layer bias", error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, weight->n, x->h, x->w, error);
  if (!out)
    return NULL;
  for (int n = 0; n < x->n; n++)
    for (int o = 0; o < weight->n; o++)
      for (int y = 0; y < x->h; y++)
        for (int xx = 0; xx < x->w; xx++)
          {
            double acc = bias ? bias->data[o] : 0.0;
            for (int i = 0; i < x->c; i++)
              acc += (double) weight->data[(size_t) o * x->c + i] * at (x, n, i, y, xx);
            out->data[(((size_t) n * out->c + o) * x->h + y) * x->w + xx] = (float) acc;
          }
  return out;
}

LisseTensor *
lisse_linear_lastdim_ref (const LisseTensor *x, const LisseTensor *weight,
                          const LisseTensor *bias, GError **error)
{
  if ((size_t) weight->c * weight->h * weight->w != (size_t) x->w)
    {
      set_invalid (error, "linear_lastdim", "weight does not match the input width");
      return NULL;
    }
  if (!lisse_ops_check_vector (bias, weight->n, TRUE, "dense layer bias", error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, weight->n, error);
  if (!out)
    return NULL;
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      for (int y = 0; y < x->h; y++)
        for (int o = 0; o < weight->n; o++)
          {
            double acc = bias ? bias->data[o] : 0.0;
            for (int i = 0; i < x->w; i++)
              acc += at (x, n, c, y, i) * (double) weight->data[(size_t) o * x->w + i];
            out->data[(((size_t) n * x->c + c) * x->h + y) * out->w + o] = (float) acc;
          }
  return out;
}

/* ---------------------------------------------------------------------- */

/* Written from the definition: each group's pixel coordinates, spelt out
 * per grouping, and one dot product per output position. */
LisseTensor *
lisse_group_mix_ref (const LisseTensor *x, LisseGroupKind kind, int size,
                     const LisseTensor *weight, const LisseTensor *bias, GError **error)
{
  if ((kind != LISSE_GROUP_BLOCK && kind != LISSE_GROUP_GRID)
      || size < 1 || size > LISSE_GROUP_MIX_MAX_SIZE || x->h % size || x->w % size)
    {
      set_invalid (error, "group_mix", "grouping or size does not fit the image");
      return NULL;
    }
  const int s = size, np = s * s;
  if (!weight || weight->n != np || (size_t) weight->c * weight->h * weight->w != (size_t) np)
    {
      set_invalid (error, "group_mix", "weight is not n×n for n = size²");
      return NULL;
    }
  if (!lisse_ops_check_vector (bias, np, TRUE, "group_mix bias", error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (!out)
    return NULL;
  const int bh = x->h / s, bw = x->w / s;   /* windows / cell size */
  int *py = g_new (int, np), *px = g_new (int, np);
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      for (int u = 0; u < bh; u++)
        for (int v = 0; v < bw; v++)
          {
            /* Group (u, v): window (wy, wx) = (u, v), or grid offset
             * (oy, ox) = (u, v); its pixels in position order. */
            for (int a = 0; a < s; a++)
              for (int b = 0; b < s; b++)
                {
                  if (kind == LISSE_GROUP_BLOCK)
                    {
                      py[a * s + b] = u * s + a;
                      px[a * s + b] = v * s + b;
                    }
                  else
                    {
                      py[a * s + b] = a * bh + u;
                      px[a * s + b] = b * bw + v;
                    }
                }
            for (int j = 0; j < np; j++)
              {
                double acc = bias ? bias->data[j] : 0.0;
                for (int i = 0; i < np; i++)
                  acc += (double) weight->data[(size_t) j * np + i] * at (x, n, c, py[i], px[i]);
                out->data[(((size_t) n * x->c + c) * x->h + py[j]) * x->w + px[j]] = (float) acc;
              }
          }
  g_free (py);
  g_free (px);
  return out;
}

/* ---------------------------------------------------------------------- */

LisseTensor *
lisse_batchnorm_inference_ref (const LisseTensor *x, const LisseTensor *gamma,
                               const LisseTensor *beta, const LisseTensor *mean,
                               const LisseTensor *var, float eps, GError **error)
{
  if (!(eps >= 0.f)
      || !lisse_ops_check_vector (gamma, x->c, TRUE, "batch-norm weight (γ)", error)
      || !lisse_ops_check_vector (beta, x->c, TRUE, "batch-norm bias (β)", error)
      || !lisse_ops_check_vector (mean, x->c, FALSE, "batch-norm running mean", error)
      || !lisse_ops_check_vector (var, x->c, FALSE, "batch-norm running variance", error))
    {
      if (error && !*error)
        set_invalid (error, "batchnorm", "negative epsilon");
      return NULL;
    }
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (!out)
    return NULL;
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      for (int y = 0; y < x->h; y++)
        for (int xx = 0; xx < x->w; xx++)
          {
            double g = gamma ? gamma->data[c] : 1.0, b = beta ? beta->data[c] : 0.0;
            double v = g * (at (x, n, c, y, xx) - mean->data[c])
                       / sqrt ((double) var->data[c] + eps) + b;
            out->data[(((size_t) n * x->c + c) * x->h + y) * x->w + xx] = (float) v;
          }
  return out;
}
