/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Deformable sampling (see ops-conv.h for the grid and offset convention).
 * Every channel is read at the same positions, so both ops first turn each
 * (pixel, kernel point) into a "tap" — four plane indices and four bilinear
 * weights, with any per-point factor (the average's weight, DCNv2's mask)
 * already multiplied in — and then sweep the channels with those taps. */
#include "fast-exp.h"
#include "ops-conv.h"
#include "simd-clones.h"
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

/* One job of the affinity average: pixels x0 … x0 + nx − 1 of row y of
 * image ni, in structure-of-arrays form so that each step is a loop over
 * the segment's pixels, which the compiler turns into vector code (AVX-512
 * or AVX2 gathers in the clones): tap positions in double (a float
 * position near column 4000 would be off by 2.4e-4 of a pixel), then per
 * kernel point the feature distances, the softmax over the points, and
 * the weighted colour sums.  Every pixel's sums run in the same order as
 * in the reference, so the two agree to float rounding. */
typedef struct
{
  int   *idx;   /* [k][4][DWA_SEGMENT] corner indices (0 outside) */
  float *wt;    /* [k][4][DWA_SEGMENT] bilinear weights (0 outside) */
  float *wk;    /* [k][DWA_SEGMENT] distance, then the softmax weight */
  float *acc;   /* [DWA_SEGMENT] scratch */
  float *den;   /* [DWA_SEGMENT] */
} AffinityScratch;

#define AFF_AT(a, kk, corner, t) ((a)[((size_t) (kk) * 4 + (corner)) * DWA_SEGMENT + (t)])

SIMD_CLONES static void
affinity_segment (const LisseTensor *x, const LisseTensor *feat, const LisseTensor *offsets,
                  int off_y0, int ni, int y, int x0, int nx, int kh, int kw, int dil_h,
                  int dil_w, float eps, LisseTensor *out, const AffinityScratch *s)
{
  const int h = x->h, w = x->w, k = kh * kw;
  const int pad_h = dil_h * (kh - 1) / 2, pad_w = dil_w * (kw - 1) / 2;
  const size_t plane = lisse_tensor_plane (x), row = (size_t) y * w + x0;
  const size_t orow = (size_t) (y - off_y0) * w + x0;   /* the same pixel in @offsets */
  float *restrict acc = s->acc, *restrict den = s->den;

  for (int kk = 0; kk < k; kk++)
    {
      const int i = kk / kw, j = kk % kw;
      const float *restrict dy = lisse_tensor_channel (offsets, ni, 2 * kk) + orow;
      const float *restrict dx = lisse_tensor_channel (offsets, ni, 2 * kk + 1) + orow;
      int *restrict i0 = &AFF_AT (s->idx, kk, 0, 0), *restrict i1 = &AFF_AT (s->idx, kk, 1, 0);
      int *restrict i2 = &AFF_AT (s->idx, kk, 2, 0), *restrict i3 = &AFF_AT (s->idx, kk, 3, 0);
      float *restrict w0 = &AFF_AT (s->wt, kk, 0, 0), *restrict w1 = &AFF_AT (s->wt, kk, 1, 0);
      float *restrict w2 = &AFF_AT (s->wt, kk, 2, 0), *restrict w3 = &AFF_AT (s->wt, kk, 3, 0);
      const double by = (double) y + i * dil_h - pad_h;
      const double bx = (double) x0 + j * dil_w - pad_w;
      for (int t = 0; t < nx; t++)
        {
          /* make_tap() without branches: NaN and far positions fail the
           * range test and get weight 0 at index 0. */
          const double py = by + dy[t], px = bx + t + dx[t];
          const int inside = py > -1.0 && py < h && px > -1.0 && px < w;
          const double fy = floor (inside ? py : 0.0), fx = floor (inside ? px : 0.0);
          const double ly = (inside ? py : 0.0) - fy, lx = (inside ? px : 0.0) - fx;
          const int yy = (int) fy, xx = (int) fx;
          const int ok_y0 = inside && yy >= 0, ok_y1 = inside && yy + 1 < h;
          const int ok_x0 = xx >= 0, ok_x1 = xx + 1 < w;
          i0[t] = ok_y0 && ok_x0 ? yy * w + xx : 0;
          i1[t] = ok_y0 && ok_x1 ? yy * w + xx + 1 : 0;
          i2[t] = ok_y1 && ok_x0 ? (yy + 1) * w + xx : 0;
          i3[t] = ok_y1 && ok_x1 ? (yy + 1) * w + xx + 1 : 0;
          w0[t] = ok_y0 && ok_x0 ? (float) ((1 - ly) * (1 - lx)) : 0.f;
          w1[t] = ok_y0 && ok_x1 ? (float) ((1 - ly) * lx) : 0.f;
          w2[t] = ok_y1 && ok_x0 ? (float) (ly * (1 - lx)) : 0.f;
          w3[t] = ok_y1 && ok_x1 ? (float) (ly * lx) : 0.f;
        }

      /* −‖F(p) − F(sample)‖², summed over the feature channels in order. */
      float *restrict d = s->wk + (size_t) kk * DWA_SEGMENT;
      for (int t = 0; t < nx; t++)
        d[t] = 0.f;
      for (int f = 0; f < feat->c; f++)
        {
          const float *restrict fp = lisse_tensor_channel (feat, ni, f);
          for (int t = 0; t < nx; t++)
            {
              const float sample = w0[t] * fp[i0[t]] + w1[t] * fp[i1[t]] + w2[t] * fp[i2[t]]
                                   + w3[t] * fp[i3[t]];
              const float diff = fp[row + t] - sample;
              d[t] += diff * diff;
            }
        }
      for (int t = 0; t < nx; t++)
        d[t] = -d[t];
    }

  /* Softmax over the kernel points, and the normaliser eps + Σ w·(corner
   * weights). */
  for (int t = 0; t < nx; t++)
    acc[t] = -INFINITY;
  for (int kk = 0; kk < k; kk++)
    {
      const float *restrict d = s->wk + (size_t) kk * DWA_SEGMENT;
      for (int t = 0; t < nx; t++)
        acc[t] = MAX (acc[t], d[t]);
    }
  for (int t = 0; t < nx; t++)
    den[t] = 0.f;
  for (int kk = 0; kk < k; kk++)
    {
      float *restrict d = s->wk + (size_t) kk * DWA_SEGMENT;
      for (int t = 0; t < nx; t++)
        den[t] += d[t] = fast_expf (d[t] - acc[t]);   /* vectorised; libm's is not */
    }
  for (int t = 0; t < nx; t++)
    acc[t] = den[t];   /* the softmax's sum */
  for (int t = 0; t < nx; t++)
    den[t] = eps;
  for (int kk = 0; kk < k; kk++)
    {
      float *restrict d = s->wk + (size_t) kk * DWA_SEGMENT;
      const float *restrict w0 = &AFF_AT (s->wt, kk, 0, 0), *restrict w1 = &AFF_AT (s->wt, kk, 1, 0);
      const float *restrict w2 = &AFF_AT (s->wt, kk, 2, 0), *restrict w3 = &AFF_AT (s->wt, kk, 3, 0);
      for (int t = 0; t < nx; t++)
        {
          d[t] /= acc[t];
          den[t] += d[t] * (w0[t] + w1[t] + w2[t] + w3[t]);
        }
    }

  for (int c = 0; c < x->c; c++)
    {
      const float *restrict src = lisse_tensor_channel (x, ni, c);
      float *restrict dst = lisse_tensor_channel (out, ni, c) + row;
      for (int t = 0; t < nx; t++)
        acc[t] = eps * src[row + t];
      for (int kk = 0; kk < k; kk++)
        {
          const float *restrict d = s->wk + (size_t) kk * DWA_SEGMENT;
          const int *restrict i0 = &AFF_AT (s->idx, kk, 0, 0), *restrict i1 = &AFF_AT (s->idx, kk, 1, 0);
          const int *restrict i2 = &AFF_AT (s->idx, kk, 2, 0), *restrict i3 = &AFF_AT (s->idx, kk, 3, 0);
          const float *restrict w0 = &AFF_AT (s->wt, kk, 0, 0), *restrict w1 = &AFF_AT (s->wt, kk, 1, 0);
          const float *restrict w2 = &AFF_AT (s->wt, kk, 2, 0), *restrict w3 = &AFF_AT (s->wt, kk, 3, 0);
          for (int t = 0; t < nx; t++)
            acc[t] += d[t] * (w0[t] * src[i0[t]] + w1[t] * src[i1[t]] + w2[t] * src[i2[t]]
                              + w3[t] * src[i3[t]]);
        }
      for (int t = 0; t < nx; t++)
        dst[t] = acc[t] / den[t];
    }
  (void) plane;
}

gboolean
lisse_deform_affinity_average_rows (const LisseTensor *x, const LisseTensor *feat,
                                    const LisseTensor *offsets, int off_y0, int y_begin,
                                    int y_end, int kh, int kw, int dil_h, int dil_w, float eps,
                                    LisseTensor *out, GError **error)
{
  g_return_val_if_fail (x && feat && offsets && out, FALSE);
  /* The sampling checks on the offsets as if they covered the image. */
  const LisseTensor as_whole = { offsets->n, offsets->c, x->h, x->w, offsets->data, FALSE };
  if (!check_sampling ("deform_affinity_average", x, &as_whole, NULL, NULL, kh, kw, dil_h, dil_w,
                       error)
      || !check_affinity ("deform_affinity_average", x, feat, eps, error))
    return FALSE;
  if (offsets->w != x->w || off_y0 < 0 || y_begin < off_y0 || y_end < y_begin
      || y_end > x->h || y_end > off_y0 + offsets->h || !lisse_tensor_same_shape (out, x))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "deform_affinity_average: rows %d–%d of a %d×%d image with offsets for %d "
                   "rows of width %d from row %d, or an output of another shape",
                   y_begin, y_end, x->h, x->w, offsets->h, offsets->w, off_y0);
      return FALSE;
    }

  const int w = x->w, k = kh * kw, rows = y_end - y_begin;
  const int segs = (w + DWA_SEGMENT - 1) / DWA_SEGMENT;
  const gint64 jobs = (gint64) x->n * rows * segs;

#pragma omp parallel num_threads (lisse_threads_get ())
  {
    AffinityScratch s;
    s.idx = g_new (int, (size_t) k * 4 * DWA_SEGMENT);
    s.wt = g_new (float, (size_t) k * 4 * DWA_SEGMENT);
    s.wk = g_new (float, (size_t) k * DWA_SEGMENT);
    s.acc = g_new (float, DWA_SEGMENT);
    s.den = g_new (float, DWA_SEGMENT);

#pragma omp for schedule (static)
    for (gint64 job = 0; job < jobs; job++)
      {
        const int x0 = (int) (job % segs) * DWA_SEGMENT;
        const int y = y_begin + (int) ((job / segs) % rows), ni = (int) (job / segs / rows);
        affinity_segment (x, feat, offsets, off_y0, ni, y, x0, MIN (DWA_SEGMENT, w - x0), kh, kw,
                          dil_h, dil_w, eps, out, &s);
      }
    g_free (s.idx);
    g_free (s.wt);
    g_free (s.wk);
    g_free (s.acc);
    g_free (s.den);
  }
  return TRUE;
}

LisseTensor *
lisse_deform_affinity_average (const LisseTensor *x, const LisseTensor *feat,
                               const LisseTensor *offsets, int kh, int kw, int dil_h,
                               int dil_w, float eps, GError **error)
{
  g_return_val_if_fail (x && feat && offsets, NULL);
  if (!check_sampling ("deform_affinity_average", x, offsets, NULL, NULL, kh, kw, dil_h, dil_w, error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (out && !lisse_deform_affinity_average_rows (x, feat, offsets, 0, 0, x->h, kh, kw, dil_h,
                                                  dil_w, eps, out, error))
    g_clear_pointer (&out, lisse_tensor_free);
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
