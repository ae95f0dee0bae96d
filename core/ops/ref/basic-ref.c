/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Reference versions of the ops of ops-basic.h: the definitions written out
 * as plainly as possible — one output element at a time, libm in double,
 * sums in double — for the op tests to compare the optimised ops against.
 * Nothing here is meant to be fast, and nothing here shares code with the
 * optimised ops, so that a mistake in one is not repeated in the other.
 */
#include "ops-basic.h"
#include "lisse-error.h"

#include <math.h>

static float
at (const LisseTensor *t, int n, int c, int y, int x)
{
  return t->data[(((size_t) n * t->c + c) * t->h + y) * t->w + x];
}

static float *
ptr (LisseTensor *t, int n, int c, int y, int x)
{
  return &t->data[(((size_t) n * t->c + c) * t->h + y) * t->w + x];
}

static void *
invalid (GError **error, const char *what)
{
  g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
               "%s: invalid arguments", what);
  return NULL;
}

/* ---- Activations ------------------------------------------------------ */

static double
activate (double v, LisseActivation act, double param)
{
  switch (act)
    {
    case LISSE_ACT_NONE:       return v;
    case LISSE_ACT_RELU:       return v > 0 ? v : 0;
    case LISSE_ACT_LEAKY_RELU: return v > 0 ? v : v * param;
    /* 1 + erf(v/√2) would cancel for v < −6, even in double. */
    case LISSE_ACT_GELU:       return 0.5 * v * erfc (-v / sqrt (2.0));
    case LISSE_ACT_SIGMOID:    return 1.0 / (1.0 + exp (-v));
    case LISSE_ACT_TANH:       return tanh (v);
    case LISSE_ACT_EXP:        return exp (v);
    }
  return NAN;
}

void
lisse_activation_inplace_ref (LisseTensor *t, LisseActivation act, float param)
{
  for (size_t i = 0; i < lisse_tensor_numel (t); i++)
    t->data[i] = (float) activate (t->data[i], act, (double) param);
}

void lisse_relu_inplace_ref (LisseTensor *t)
{ lisse_activation_inplace_ref (t, LISSE_ACT_RELU, 0.0f); }

void lisse_leaky_relu_inplace_ref (LisseTensor *t, float slope)
{ lisse_activation_inplace_ref (t, LISSE_ACT_LEAKY_RELU, slope); }

void lisse_gelu_inplace_ref (LisseTensor *t)
{ lisse_activation_inplace_ref (t, LISSE_ACT_GELU, 0.0f); }

void lisse_sigmoid_inplace_ref (LisseTensor *t)
{ lisse_activation_inplace_ref (t, LISSE_ACT_SIGMOID, 0.0f); }

void lisse_tanh_inplace_ref (LisseTensor *t)
{ lisse_activation_inplace_ref (t, LISSE_ACT_TANH, 0.0f); }

void lisse_exp_inplace_ref (LisseTensor *t)
{ lisse_activation_inplace_ref (t, LISSE_ACT_EXP, 0.0f); }

/* ---- Element-wise ----------------------------------------------------- */

static LisseTensor *
binary_ref (const LisseTensor *a, const LisseTensor *b, int op,
            double alpha, double beta, GError **error)
{
  if (!(b->n == a->n || b->n == 1) || !(b->c == a->c || b->c == 1)
      || !(b->h == a->h || b->h == 1) || !(b->w == a->w || b->w == 1))
    return invalid (error, "binary op");
  LisseTensor *out = lisse_tensor_new (a->n, a->c, a->h, a->w);
  for (int n = 0; n < a->n; n++)
    for (int c = 0; c < a->c; c++)
      for (int y = 0; y < a->h; y++)
        for (int x = 0; x < a->w; x++)
          {
            double va = at (a, n, c, y, x);
            double vb = at (b, b->n == 1 ? 0 : n, b->c == 1 ? 0 : c,
                            b->h == 1 ? 0 : y, b->w == 1 ? 0 : x);
            double r = op == 0 ? va + vb : op == 1 ? va * vb : alpha * va + beta * vb;
            *ptr (out, n, c, y, x) = (float) r;
          }
  return out;
}

LisseTensor *
lisse_add_ref (const LisseTensor *a, const LisseTensor *b, GError **error)
{
  return binary_ref (a, b, 0, 1, 1, error);
}

LisseTensor *
lisse_mul_ref (const LisseTensor *a, const LisseTensor *b, GError **error)
{
  return binary_ref (a, b, 1, 1, 1, error);
}

LisseTensor *
lisse_scale_add_ref (float alpha, const LisseTensor *a, float beta,
                     const LisseTensor *b, GError **error)
{
  return binary_ref (a, b, 2, alpha, beta, error);
}

/* ---- Normalisation ---------------------------------------------------- */

LisseTensor *
lisse_group_norm_ref (const LisseTensor *x, int groups, const float *gamma,
                      const float *beta, float eps, GError **error)
{
  if (groups < 1 || x->c % groups != 0 || !(eps >= 0) || isinf (eps))
    return invalid (error, "group norm");
  LisseTensor *out = lisse_tensor_new (x->n, x->c, x->h, x->w);
  int cpg = x->c / groups;
  double count = (double) cpg * x->h * x->w;
  for (int n = 0; n < x->n; n++)
    for (int g = 0; g < groups; g++)
      {
        double sum = 0;
        for (int c = g * cpg; c < (g + 1) * cpg; c++)
          for (int y = 0; y < x->h; y++)
            for (int xx = 0; xx < x->w; xx++)
              sum += at (x, n, c, y, xx);
        double mean = sum / count;
        double sq = 0;
        for (int c = g * cpg; c < (g + 1) * cpg; c++)
          for (int y = 0; y < x->h; y++)
            for (int xx = 0; xx < x->w; xx++)
              sq += (at (x, n, c, y, xx) - mean) * (at (x, n, c, y, xx) - mean);
        double sd = sqrt (sq / count + eps);
        for (int c = g * cpg; c < (g + 1) * cpg; c++)
          for (int y = 0; y < x->h; y++)
            for (int xx = 0; xx < x->w; xx++)
              {
                double v = (at (x, n, c, y, xx) - mean) / sd;
                v = v * (gamma ? gamma[c] : 1.0) + (beta ? beta[c] : 0.0);
                *ptr (out, n, c, y, xx) = (float) v;
              }
      }
  return out;
}

LisseTensor *
lisse_instance_norm_ref (const LisseTensor *x, const float *gamma,
                         const float *beta, float eps, GError **error)
{
  return lisse_group_norm_ref (x, x->c, gamma, beta, eps, error);
}

LisseTensor *
lisse_layer_norm_chw_ref (const LisseTensor *x, const float *gamma,
                          const float *beta, float eps, GError **error)
{
  return lisse_group_norm_ref (x, 1, gamma, beta, eps, error);
}

LisseTensor *
lisse_layer_norm_channels_ref (const LisseTensor *x, const float *gamma,
                               const float *beta, float eps, GError **error)
{
  if (!(eps >= 0) || isinf (eps))
    return invalid (error, "layer norm");
  LisseTensor *out = lisse_tensor_new (x->n, x->c, x->h, x->w);
  for (int n = 0; n < x->n; n++)
    for (int y = 0; y < x->h; y++)
      for (int xx = 0; xx < x->w; xx++)
        {
          double sum = 0;
          for (int c = 0; c < x->c; c++)
            sum += at (x, n, c, y, xx);
          double mean = sum / x->c;
          double sq = 0;
          for (int c = 0; c < x->c; c++)
            sq += (at (x, n, c, y, xx) - mean) * (at (x, n, c, y, xx) - mean);
          double sd = sqrt (sq / x->c + eps);
          for (int c = 0; c < x->c; c++)
            {
              double v = (at (x, n, c, y, xx) - mean) / sd;
              v = v * (gamma ? gamma[c] : 1.0) + (beta ? beta[c] : 0.0);
              *ptr (out, n, c, y, xx) = (float) v;
            }
        }
  return out;
}

/* ---- Channels --------------------------------------------------------- */

LisseTensor *
lisse_concat_channels_ref (const LisseTensor *const *tensors, int n_tensors,
                           GError **error)
{
  if (n_tensors < 1)
    return invalid (error, "concat");
  int total = 0;
  for (int i = 0; i < n_tensors; i++)
    {
      if (tensors[i]->n != tensors[0]->n || tensors[i]->h != tensors[0]->h
          || tensors[i]->w != tensors[0]->w)
        return invalid (error, "concat");
      total += tensors[i]->c;
    }
  const LisseTensor *t0 = tensors[0];
  LisseTensor *out = lisse_tensor_new (t0->n, total, t0->h, t0->w);
  for (int n = 0; n < out->n; n++)
    for (int c = 0; c < out->c; c++)
      {
        /* Find which input holds output channel c. */
        int i = 0, c0 = c;
        while (c0 >= tensors[i]->c)
          c0 -= tensors[i++]->c;
        for (int y = 0; y < out->h; y++)
          for (int x = 0; x < out->w; x++)
            *ptr (out, n, c, y, x) = at (tensors[i], n, c0, y, x);
      }
  return out;
}

LisseTensor *
lisse_channel_slice_ref (const LisseTensor *x, int start, int count, GError **error)
{
  if (start < 0 || count < 1 || start + count > x->c)
    return invalid (error, "channel slice");
  LisseTensor *out = lisse_tensor_new (x->n, count, x->h, x->w);
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < count; c++)
      for (int y = 0; y < x->h; y++)
        for (int xx = 0; xx < x->w; xx++)
          *ptr (out, n, c, y, xx) = at (x, n, start + c, y, xx);
  return out;
}

gboolean
lisse_split_channels_ref (const LisseTensor *x, const int *sizes, int n_parts,
                          LisseTensor **out, GError **error)
{
  int total = 0;
  for (int i = 0; i < n_parts; i++)
    {
      out[i] = NULL;
      if (sizes[i] < 1)
        return invalid (error, "split") != NULL;
      total += sizes[i];
    }
  if (n_parts < 1 || total != x->c)
    return invalid (error, "split") != NULL;
  int start = 0;
  for (int i = 0; i < n_parts; i++)
    {
      out[i] = lisse_channel_slice_ref (x, start, sizes[i], NULL);
      start += sizes[i];
    }
  return TRUE;
}

/* ---- Haar ------------------------------------------------------------- */

/* Sign of pixel (dy, dx) of a 2×2 block in band s (ops-basic.h). */
static double
haar_sign (int s, int dy, int dx)
{
  switch (s)
    {
    case 0: return 1;
    case 1: return dx == 0 ? 1 : -1;
    case 2: return dy == 0 ? 1 : -1;
    default: return (dx == dy) ? 1 : -1;
    }
}

LisseTensor *
lisse_haar_forward_ref (const LisseTensor *x, LisseHaarScale scale, GError **error)
{
  if (x->h % 2 || x->w % 2 || (scale != LISSE_HAAR_ORTHONORMAL && scale != LISSE_HAAR_IRN))
    return invalid (error, "haar");
  double f = scale == LISSE_HAAR_IRN ? 0.25 : 0.5;
  int C = x->c;
  LisseTensor *out = lisse_tensor_new (x->n, 4 * C, x->h / 2, x->w / 2);
  for (int n = 0; n < x->n; n++)
    for (int s = 0; s < 4; s++)
      for (int c = 0; c < C; c++)
        for (int i = 0; i < out->h; i++)
          for (int j = 0; j < out->w; j++)
            {
              double sum = 0;
              for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                  sum += haar_sign (s, dy, dx) * at (x, n, c, 2 * i + dy, 2 * j + dx);
              *ptr (out, n, s * C + c, i, j) = (float) (f * sum);
            }
  return out;
}

LisseTensor *
lisse_haar_inverse_ref (const LisseTensor *x, LisseHaarScale scale, GError **error)
{
  if (x->c % 4 || (scale != LISSE_HAAR_ORTHONORMAL && scale != LISSE_HAAR_IRN))
    return invalid (error, "inverse haar");
  double g = scale == LISSE_HAAR_IRN ? 1.0 : 0.5;
  int C = x->c / 4;
  LisseTensor *out = lisse_tensor_new (x->n, C, 2 * x->h, 2 * x->w);
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < C; c++)
      for (int y = 0; y < out->h; y++)
        for (int xx = 0; xx < out->w; xx++)
          {
            /* The transform's matrix is symmetric ±1: the inverse applies
             * the same signs. */
            double sum = 0;
            for (int s = 0; s < 4; s++)
              sum += haar_sign (s, y % 2, xx % 2) * at (x, n, s * C + c, y / 2, xx / 2);
            *ptr (out, n, c, y, xx) = (float) (g * sum);
          }
  return out;
}

/* ---- Pooling ---------------------------------------------------------- */

static gboolean
pool_args_ok (const LisseTensor *x, int k, int s, int p)
{
  return k >= 1 && s >= 1 && p >= 0 && p <= k / 2
         && x->h + 2 * p >= k && x->w + 2 * p >= k;
}

LisseTensor *
lisse_avg_pool2d_ref (const LisseTensor *x, int k, int s, int p,
                      gboolean count_include_pad, GError **error)
{
  if (!pool_args_ok (x, k, s, p))
    return invalid (error, "average pooling");
  int oh = (x->h + 2 * p - k) / s + 1, ow = (x->w + 2 * p - k) / s + 1;
  LisseTensor *out = lisse_tensor_new (x->n, x->c, oh, ow);
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          {
            double sum = 0;
            int count = 0;
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++)
                {
                  int y = oy * s - p + ky, xx = ox * s - p + kx;
                  if (y >= 0 && y < x->h && xx >= 0 && xx < x->w)
                    {
                      sum += at (x, n, c, y, xx);
                      count++;
                    }
                }
            if (count_include_pad)
              count = k * k;
            *ptr (out, n, c, oy, ox) = (float) (sum / count);
          }
  return out;
}

static float
max_ref (float m, float v)
{
  if (isnan (m))
    return m;
  if (isnan (v) || v > m)
    return v;
  return m;
}

LisseTensor *
lisse_max_pool2d_ref (const LisseTensor *x, int k, int s, int p, GError **error)
{
  if (!pool_args_ok (x, k, s, p))
    return invalid (error, "max pooling");
  int oh = (x->h + 2 * p - k) / s + 1, ow = (x->w + 2 * p - k) / s + 1;
  LisseTensor *out = lisse_tensor_new (x->n, x->c, oh, ow);
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          {
            float m = -INFINITY;
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++)
                {
                  int y = oy * s - p + ky, xx = ox * s - p + kx;
                  if (y >= 0 && y < x->h && xx >= 0 && xx < x->w)
                    m = max_ref (m, at (x, n, c, y, xx));
                }
            *ptr (out, n, c, oy, ox) = m;
          }
  return out;
}

LisseTensor *
lisse_global_avg_pool_ref (const LisseTensor *x, GError **error)
{
  (void) error;
  LisseTensor *out = lisse_tensor_new (x->n, x->c, 1, 1);
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      {
        double sum = 0;
        for (int y = 0; y < x->h; y++)
          for (int xx = 0; xx < x->w; xx++)
            sum += at (x, n, c, y, xx);
        *ptr (out, n, c, 0, 0) = (float) (sum / ((double) x->h * x->w));
      }
  return out;
}

LisseTensor *
lisse_global_max_pool_ref (const LisseTensor *x, GError **error)
{
  (void) error;
  LisseTensor *out = lisse_tensor_new (x->n, x->c, 1, 1);
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      {
        float m = -INFINITY;
        for (int y = 0; y < x->h; y++)
          for (int xx = 0; xx < x->w; xx++)
            m = max_ref (m, at (x, n, c, y, xx));
        *ptr (out, n, c, 0, 0) = m;
      }
  return out;
}

LisseTensor *
lisse_channel_mean_ref (const LisseTensor *x, GError **error)
{
  (void) error;
  LisseTensor *out = lisse_tensor_new (x->n, 1, x->h, x->w);
  for (int n = 0; n < x->n; n++)
    for (int y = 0; y < x->h; y++)
      for (int xx = 0; xx < x->w; xx++)
        {
          double sum = 0;
          for (int c = 0; c < x->c; c++)
            sum += at (x, n, c, y, xx);
          *ptr (out, n, 0, y, xx) = (float) (sum / x->c);
        }
  return out;
}

LisseTensor *
lisse_channel_max_ref (const LisseTensor *x, GError **error)
{
  (void) error;
  LisseTensor *out = lisse_tensor_new (x->n, 1, x->h, x->w);
  for (int n = 0; n < x->n; n++)
    for (int y = 0; y < x->h; y++)
      for (int xx = 0; xx < x->w; xx++)
        {
          float m = -INFINITY;
          for (int c = 0; c < x->c; c++)
            m = max_ref (m, at (x, n, c, y, xx));
          *ptr (out, n, 0, y, xx) = m;
        }
  return out;
}

/* ---- Resize ----------------------------------------------------------- */

/* Input position sampled by output index o, as aten computes it. */
static double
source_pos (int in, int out, int o, gboolean align_corners)
{
  if (align_corners)
    return out > 1 ? (double) o * (in - 1) / (out - 1) : 0.0;
  double src = ((double) o + 0.5) * in / out - 0.5;
  return src < 0 ? 0 : src;
}

LisseTensor *
lisse_resize_bilinear_ref (const LisseTensor *x, int out_h, int out_w,
                           gboolean align_corners, GError **error)
{
  if (out_h < 1 || out_w < 1)
    return invalid (error, "resize");
  LisseTensor *out = lisse_tensor_new (x->n, x->c, out_h, out_w);
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      for (int oy = 0; oy < out_h; oy++)
        for (int ox = 0; ox < out_w; ox++)
          {
            double sy = source_pos (x->h, out_h, oy, align_corners);
            double sx = source_pos (x->w, out_w, ox, align_corners);
            int y0 = (int) floor (sy), x0 = (int) floor (sx);
            if (y0 > x->h - 1) y0 = x->h - 1;
            if (x0 > x->w - 1) x0 = x->w - 1;
            int y1 = y0 + 1 < x->h ? y0 + 1 : y0;
            int x1 = x0 + 1 < x->w ? x0 + 1 : x0;
            double ly = sy - y0, lx = sx - x0;
            double v = (1 - ly) * (1 - lx) * at (x, n, c, y0, x0)
                     + (1 - ly) * lx * at (x, n, c, y0, x1)
                     + ly * (1 - lx) * at (x, n, c, y1, x0)
                     + ly * lx * at (x, n, c, y1, x1);
            *ptr (out, n, c, oy, ox) = (float) v;
          }
  return out;
}

/* ---- Pixel shuffle ---------------------------------------------------- */

LisseTensor *
lisse_pixel_shuffle_ref (const LisseTensor *x, int r, GError **error)
{
  if (r < 1 || x->c % (r * r) != 0)
    return invalid (error, "pixel shuffle");
  LisseTensor *out = lisse_tensor_new (x->n, x->c / (r * r), x->h * r, x->w * r);
  for (int n = 0; n < out->n; n++)
    for (int c = 0; c < out->c; c++)
      for (int y = 0; y < out->h; y++)
        for (int xx = 0; xx < out->w; xx++)
          *ptr (out, n, c, y, xx) =
            at (x, n, c * r * r + (y % r) * r + xx % r, y / r, xx / r);
  return out;
}

LisseTensor *
lisse_pixel_unshuffle_ref (const LisseTensor *x, int r, GError **error)
{
  if (r < 1 || x->h % r != 0 || x->w % r != 0)
    return invalid (error, "pixel unshuffle");
  LisseTensor *out = lisse_tensor_new (x->n, x->c * r * r, x->h / r, x->w / r);
  for (int n = 0; n < x->n; n++)
    for (int c = 0; c < x->c; c++)
      for (int y = 0; y < x->h; y++)
        for (int xx = 0; xx < x->w; xx++)
          *ptr (out, n, c * r * r + (y % r) * r + xx % r, y / r, xx / r) =
            at (x, n, c, y, xx);
  return out;
}

/* ---- Attention -------------------------------------------------------- */

static double
sigmoid_ref (double v)
{
  return 1.0 / (1.0 + exp (-v));
}

/* mlp(v)[k] for one channel k. */
static double
mlp_ref (const LisseChannelMlp *m, const double *v, int k)
{
  double out = m->b2 ? m->b2[k] : 0.0;
  for (int j = 0; j < m->hidden; j++)
    {
      double hdn = m->b1 ? m->b1[j] : 0.0;
      for (int c = 0; c < m->channels; c++)
        hdn += m->w1[j * m->channels + c] * v[c];
      if (hdn < 0)
        hdn = 0;
      out += m->w2[k * m->hidden + j] * hdn;
    }
  return out;
}

static LisseTensor *
channel_attention_ref (const LisseTensor *x, const LisseChannelMlp *m,
                       gboolean with_max, GError **error)
{
  if (!m || !m->w1 || !m->w2 || m->hidden < 1 || m->channels != x->c)
    return invalid (error, "channel attention");
  LisseTensor *out = lisse_tensor_new (x->n, x->c, x->h, x->w);
  double *avg = g_new (double, x->c), *mx = g_new (double, x->c);
  for (int n = 0; n < x->n; n++)
    {
      for (int c = 0; c < x->c; c++)
        {
          double sum = 0;
          float best = -INFINITY;
          for (int y = 0; y < x->h; y++)
            for (int xx = 0; xx < x->w; xx++)
              {
                sum += at (x, n, c, y, xx);
                best = max_ref (best, at (x, n, c, y, xx));
              }
          avg[c] = sum / ((double) x->h * x->w);
          mx[c] = best;
        }
      for (int c = 0; c < x->c; c++)
        {
          double a = mlp_ref (m, avg, c);
          if (with_max)
            a += mlp_ref (m, mx, c);
          double scale = sigmoid_ref (a);
          for (int y = 0; y < x->h; y++)
            for (int xx = 0; xx < x->w; xx++)
              *ptr (out, n, c, y, xx) = (float) (at (x, n, c, y, xx) * scale);
        }
    }
  g_free (avg);
  g_free (mx);
  return out;
}

LisseTensor *
lisse_cbam_channel_attention_ref (const LisseTensor *x, const LisseChannelMlp *mlp,
                                  GError **error)
{
  return channel_attention_ref (x, mlp, TRUE, error);
}

LisseTensor *
lisse_rcab_channel_attention_ref (const LisseTensor *x, const LisseChannelMlp *mlp,
                                  GError **error)
{
  return channel_attention_ref (x, mlp, FALSE, error);
}

LisseTensor *
lisse_cbam_spatial_attention_ref (const LisseTensor *x, const float *weight,
                                  const float *bias, int k, GError **error)
{
  if (!weight || k < 1 || k % 2 == 0)
    return invalid (error, "spatial attention");
  int p = k / 2;
  LisseTensor *out = lisse_tensor_new (x->n, x->c, x->h, x->w);
  /* The two maps, [mean, max], computed the plain way. */
  LisseTensor *maps = lisse_tensor_new (x->n, 2, x->h, x->w);
  for (int n = 0; n < x->n; n++)
    for (int y = 0; y < x->h; y++)
      for (int xx = 0; xx < x->w; xx++)
        {
          double sum = 0;
          float best = -INFINITY;
          for (int c = 0; c < x->c; c++)
            {
              sum += at (x, n, c, y, xx);
              best = max_ref (best, at (x, n, c, y, xx));
            }
          *ptr (maps, n, 0, y, xx) = (float) (sum / x->c);
          *ptr (maps, n, 1, y, xx) = best;
        }
  for (int n = 0; n < x->n; n++)
    for (int y = 0; y < x->h; y++)
      for (int xx = 0; xx < x->w; xx++)
        {
          double s = bias ? bias[0] : 0.0;
          for (int m = 0; m < 2; m++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++)
                {
                  int yy = y + ky - p, xs = xx + kx - p;
                  if (yy >= 0 && yy < x->h && xs >= 0 && xs < x->w)
                    s += weight[(m * k + ky) * k + kx] * (double) at (maps, n, m, yy, xs);
                }
          double scale = sigmoid_ref (s);
          for (int c = 0; c < x->c; c++)
            *ptr (out, n, c, y, xx) = (float) (at (x, n, c, y, xx) * scale);
        }
  lisse_tensor_free (maps);
  return out;
}
