/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Deformable sampling (see ops-conv.h for the grid and offset convention).
 * Every channel is read at the same positions, so both ops first turn each
 * (pixel, kernel point) into a "tap" — four plane indices and four bilinear
 * weights, with any per-point factor (the average's weight, DCNv2's mask)
 * already multiplied in — and then sweep the channels with those taps. */
#include "ops-conv.h"
#include "tensor.h"
#include "threads.h"
#include "lisse-error.h"

#include <limits.h>
#include <math.h>

/* Corners outside the image get weight 0 and index 0, so the channel sweep
 * needs no branches.  (It does read pixel 0 for them: a NaN or infinity
 * there would leak into such samples, which torchvision would skip.) */
typedef struct
{
  int   idx[4];
  float wt[4];
} Tap;

/* Columns per weighted-average job: bounds each thread's tap table. */
#define DWA_SEGMENT 128

static inline void
make_tap (double py, double px, int h, int w, double scale, Tap *t)
{
  for (int i = 0; i < 4; i++)
    {
      t->idx[i] = 0;
      t->wt[i] = 0.f;
    }
  /* Written so that NaN positions count as outside, before any conversion
   * to int. */
  if (!(py > -1.0 && py < h && px > -1.0 && px < w))
    return;
  const double fy = floor (py), fx = floor (px);
  const int y0 = (int) fy, x0 = (int) fx;
  const double ly = py - fy, lx = px - fx;
  const double cw[4] = { (1 - ly) * (1 - lx), (1 - ly) * lx, ly * (1 - lx), ly * lx };
  for (int i = 0; i < 4; i++)
    {
      const int y = y0 + (i >> 1), x = x0 + (i & 1);
      if (y >= 0 && y < h && x >= 0 && x < w)
        {
          t->idx[i] = y * w + x;
          t->wt[i] = (float) (scale * cw[i]);
        }
    }
}

static inline float
apply_tap (const Tap *t, const float *plane)
{
  return t->wt[0] * plane[t->idx[0]] + t->wt[1] * plane[t->idx[1]]
         + t->wt[2] * plane[t->idx[2]] + t->wt[3] * plane[t->idx[3]];
}

static gboolean
check_sampling (const char *op, const LisseTensor *x, const LisseTensor *offsets,
                const LisseTensor *per_point, const char *per_point_name,
                int kh, int kw, int dil_h, int dil_w, GError **error)
{
  if (kh < 1 || kw < 1 || dil_h < 1 || dil_w < 1 || (gint64) kh * kw > INT_MAX / 2
      || (gint64) dil_h * (kh - 1) > INT_MAX / 2 || (gint64) dil_w * (kw - 1) > INT_MAX / 2)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: kernel %d×%d and dilation %d×%d must be at least 1 "
                   "(and not absurdly large)",
                   op, kh, kw, dil_h, dil_w);
      return FALSE;
    }
  if ((gint64) x->h * x->w > INT_MAX)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: %d×%d image is too large", op, x->h, x->w);
      return FALSE;
    }
  const int k = kh * kw;
  if (offsets->n != x->n || offsets->c != 2 * k
      || offsets->h != x->h || offsets->w != x->w)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: offsets are %d×%d×%d×%d, expected %d×%d×%d×%d "
                   "(a Δy and a Δx per kernel point of a %d×%d kernel)",
                   op, offsets->n, offsets->c, offsets->h, offsets->w,
                   x->n, 2 * k, x->h, x->w, kh, kw);
      return FALSE;
    }
  if (per_point && (per_point->n != x->n || per_point->c != k
                    || per_point->h != x->h || per_point->w != x->w))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: %s are %d×%d×%d×%d, expected %d×%d×%d×%d",
                   op, per_point_name, per_point->n, per_point->c, per_point->h,
                   per_point->w, x->n, k, x->h, x->w);
      return FALSE;
    }
  return TRUE;
}

LisseTensor *
lisse_deform_weighted_average (const LisseTensor *x, const LisseTensor *offsets,
                               const LisseTensor *weights, int kh, int kw,
                               int dil_h, int dil_w, GError **error)
{
  g_return_val_if_fail (x && offsets && weights, NULL);
  if (!check_sampling ("deform_weighted_average", x, offsets, weights, "weights",
                       kh, kw, dil_h, dil_w, error))
    return NULL;

  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (!out)
    return NULL;

  const int h = x->h, w = x->w, k = kh * kw;
  const int pad_h = dil_h * (kh - 1) / 2, pad_w = dil_w * (kw - 1) / 2;
  const size_t plane = lisse_tensor_plane (x);
  const int segs = (w + DWA_SEGMENT - 1) / DWA_SEGMENT;
  const gint64 jobs = (gint64) x->n * h * segs;

#pragma omp parallel num_threads (lisse_threads_get ())
  {
    Tap *taps = g_new (Tap, (size_t) DWA_SEGMENT * k);

#pragma omp for schedule (static)
    for (gint64 job = 0; job < jobs; job++)
      {
        const int x0 = (int) (job % segs) * DWA_SEGMENT;
        const int y = (int) ((job / segs) % h), ni = (int) (job / segs / h);
        const int nx = MIN (DWA_SEGMENT, w - x0);
        const size_t row = (size_t) y * w + x0;

        for (int t = 0; t < nx; t++)
          for (int kk = 0; kk < k; kk++)
            {
              const int i = kk / kw, j = kk % kw;
              const float dy = lisse_tensor_channel (offsets, ni, 2 * kk)[row + t];
              const float dx = lisse_tensor_channel (offsets, ni, 2 * kk + 1)[row + t];
              const float wk = lisse_tensor_channel (weights, ni, kk)[row + t];
              make_tap ((double) y + i * dil_h - pad_h + dy,
                        (double) (x0 + t) + j * dil_w - pad_w + dx,
                        h, w, wk, &taps[(size_t) t * k + kk]);
            }

        for (int c = 0; c < x->c; c++)
          {
            const float *src = x->data + ((size_t) ni * x->c + c) * plane;
            float *dst = out->data + ((size_t) ni * x->c + c) * plane + row;
            for (int t = 0; t < nx; t++)
              {
                const Tap *tp = &taps[(size_t) t * k];
                float acc = 0.f;
                for (int kk = 0; kk < k; kk++)
                  acc += apply_tap (&tp[kk], src);
                dst[t] = acc;
              }
          }
      }
    g_free (taps);
  }
  return out;
}

/* Shapes of the affinity average's feature map and eps (the image and the
 * offsets are check_sampling's). */
static gboolean
check_affinity (const char *op, const LisseTensor *x, const LisseTensor *feat, float eps,
                GError **error)
{
  if (feat->n != x->n || feat->h != x->h || feat->w != x->w || feat->c < 1 || !(eps >= 0.f))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: features are %d×%d×%d×%d for an image of %d×%d×%d×%d, eps %g "
                   "(need the same N, H, W, at least one channel and eps ≥ 0)",
                   op, feat->n, feat->c, feat->h, feat->w, x->n, x->c, x->h, x->w, eps);
      return FALSE;
    }
  return TRUE;
}

LisseTensor *
lisse_deform_affinity_average (const LisseTensor *x, const LisseTensor *feat,
                               const LisseTensor *offsets, int kh, int kw, int dil_h,
                               int dil_w, float eps, GError **error)
{
  g_return_val_if_fail (x && feat && offsets, NULL);
  if (!check_sampling ("deform_affinity_average", x, offsets, NULL, NULL, kh, kw, dil_h, dil_w, error)
      || !check_affinity ("deform_affinity_average", x, feat, eps, error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (!out)
    return NULL;

  const int h = x->h, w = x->w, k = kh * kw;
  const int pad_h = dil_h * (kh - 1) / 2, pad_w = dil_w * (kw - 1) / 2;
  const size_t plane = lisse_tensor_plane (x);
  const int segs = (w + DWA_SEGMENT - 1) / DWA_SEGMENT;
  const gint64 jobs = (gint64) x->n * h * segs;

#pragma omp parallel num_threads (lisse_threads_get ())
  {
    Tap *taps = g_new (Tap, (size_t) k);
    float *wk = g_new (float, (size_t) k);

#pragma omp for schedule (static)
    for (gint64 job = 0; job < jobs; job++)
      {
        const int x0 = (int) (job % segs) * DWA_SEGMENT;
        const int y = (int) ((job / segs) % h), ni = (int) (job / segs / h);
        const int nx = MIN (DWA_SEGMENT, w - x0);
        const size_t row = (size_t) y * w + x0;
        const float *f0 = feat->data + (size_t) ni * feat->c * plane;
        const float *x0p = x->data + (size_t) ni * x->c * plane;
        float *o0 = out->data + (size_t) ni * x->c * plane;

        for (int t = 0; t < nx; t++)
          {
            const size_t p = row + t;
            float top = -INFINITY;
            for (int kk = 0; kk < k; kk++)
              {
                const int i = kk / kw, j = kk % kw;
                const float dy = lisse_tensor_channel (offsets, ni, 2 * kk)[p];
                const float dx = lisse_tensor_channel (offsets, ni, 2 * kk + 1)[p];
                make_tap ((double) y + i * dil_h - pad_h + dy,
                          (double) (x0 + t) + j * dil_w - pad_w + dx, h, w, 1.0, &taps[kk]);
                float d = 0.f;
                for (int f = 0; f < feat->c; f++)
                  {
                    const float *fp = f0 + (size_t) f * plane;
                    const float diff = fp[p] - apply_tap (&taps[kk], fp);
                    d += diff * diff;
                  }
                wk[kk] = -d;
                top = MAX (top, wk[kk]);
              }
            float sum = 0.f;
            for (int kk = 0; kk < k; kk++)
              sum += wk[kk] = expf (wk[kk] - top);
            float den = eps;
            for (int kk = 0; kk < k; kk++)
              {
                wk[kk] /= sum;
                const Tap *tp = &taps[kk];
                den += wk[kk] * (tp->wt[0] + tp->wt[1] + tp->wt[2] + tp->wt[3]);
              }
            for (int c = 0; c < x->c; c++)
              {
                const float *src = x0p + (size_t) c * plane;
                float num = eps * src[p];
                for (int kk = 0; kk < k; kk++)
                  num += wk[kk] * apply_tap (&taps[kk], src);
                o0[(size_t) c * plane + p] = num / den;
              }
          }
      }
    g_free (wk);
    g_free (taps);
  }
  return out;
}

LisseTensor *
lisse_deform_conv2d (const LisseTensor *x, const LisseTensor *offsets,
                     const LisseTensor *weight, const LisseTensor *bias,
                     const LisseTensor *mask, int dil_h, int dil_w, GError **error)
{
  g_return_val_if_fail (x && offsets && weight, NULL);
  const int kh = weight->h, kw = weight->w;
  if (!check_sampling ("deform_conv2d", x, offsets, mask, "mask",
                       kh, kw, dil_h, dil_w, error))
    return NULL;
  if (x->c % weight->c || weight->n % (x->c / weight->c))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "deform_conv2d: %d input channels and a %d×%d×%d×%d weight "
                   "disagree (the weight's input channels must divide Cin, and "
                   "the group count Cin / that divide Cout)",
                   x->c, weight->n, weight->c, weight->h, weight->w);
      return NULL;
    }
  const int cout = weight->n, cin_g = weight->c, groups = x->c / cin_g;
  const int cout_g = cout / groups;
  if (!lisse_ops_check_vector (bias, cout, TRUE, "deform_conv2d bias", error))
    return NULL;

  LisseTensor *out = lisse_tensor_try_new (x->n, cout, x->h, x->w, error);
  if (!out)
    return NULL;

  const int h = x->h, w = x->w, k = kh * kw, rows = cin_g * k;
  const int plane = h * w;
  const int pad_h = dil_h * (kh - 1) / 2, pad_w = dil_w * (kw - 1) / 2;

  if (bias)
    {
      const int nc = x->n * cout;
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
      for (int i = 0; i < nc; i++)
        for (int p = 0; p < plane; p++)
          out->data[(size_t) i * plane + p] = bias->data[i % cout];
    }

  const size_t per_pixel = (size_t) rows * sizeof (float) + (size_t) k * sizeof (Tap);
  size_t chunk = lisse_ops_get_scratch_bytes () / per_pixel;
  chunk = CLAMP (chunk, 1, (size_t) plane);
  float *cols = g_try_malloc ((size_t) rows * chunk * sizeof (float));
  Tap *taps = g_try_malloc ((size_t) k * chunk * sizeof (Tap));
  if (!cols || !taps)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                   "deform_conv2d: out of memory for the column buffer");
      g_free (cols);
      g_free (taps);
      lisse_tensor_free (out);
      return NULL;
    }

  for (int ni = 0; ni < x->n; ni++)
    for (int p0 = 0, np; p0 < plane; p0 += np)
      {
        np = (int) MIN (chunk, (size_t) (plane - p0));

        /* taps[kk·np + t]: one row per kernel point, so that im2col reads
         * them in order. */
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
        for (int t = 0; t < np; t++)
          {
            const int p = p0 + t, y = p / w, xx = p % w;
            for (int kk = 0; kk < k; kk++)
              {
                const int i = kk / kw, j = kk % kw;
                const float dy = lisse_tensor_channel (offsets, ni, 2 * kk)[p];
                const float dx = lisse_tensor_channel (offsets, ni, 2 * kk + 1)[p];
                const float m = mask ? lisse_tensor_channel (mask, ni, kk)[p] : 1.f;
                make_tap ((double) y + i * dil_h - pad_h + dy,
                          (double) xx + j * dil_w - pad_w + dx,
                          h, w, m, &taps[(size_t) kk * np + t]);
              }
          }

        for (int gi = 0; gi < groups; gi++)
          {
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
            for (int r = 0; r < rows; r++)
              {
                const int c = r / k, kk = r % k;
                const float *src = lisse_tensor_channel (x, ni, gi * cin_g + c);
                const Tap *tp = taps + (size_t) kk * np;
                float *dst = cols + (size_t) r * np;
                for (int t = 0; t < np; t++)
                  dst[t] = apply_tap (&tp[t], src);
              }
            lisse_sgemm (FALSE, FALSE, cout_g, np, rows,
                         weight->data + (size_t) gi * cout_g * rows, rows, cols, np,
                         1.f, lisse_tensor_channel (out, ni, gi * cout_g) + p0, plane);
          }
      }
  g_free (cols);
  g_free (taps);
  return out;
}
