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
#include <string.h>

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
  if (feat->n != x->n || feat->h != x->h || feat->w != x->w || feat->c < 1
      || feat->c > AFFINITY_MAX_FEATURES || !(eps >= 0.f))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: features are %d×%d×%d×%d for an image of %d×%d×%d×%d, eps %g "
                   "(need the same N, H, W, 1 to " G_STRINGIFY (AFFINITY_MAX_FEATURES)
                   " channels and eps ≥ 0)",
                   op, feat->n, feat->c, feat->h, feat->w, x->n, x->c, x->h, x->w, eps);
      return FALSE;
    }
  return TRUE;
}

/* The affinity average works on pixel-interleaved rows (ops-conv.h): a
 * point's four corners are four loads of whole pixels — features and image
 * channels together — instead of one gather per channel and corner (8
 * planes × 4 corners × 9 points a pixel for fang19).  Per segment of a row:
 * the tap positions, relative to each pixel in float and without branches,
 * vectorised over the pixels; per pixel the points' samples, whole pixels at
 * a time; over the pixels again the softmax; per pixel the weighted sums.
 * Every sum runs in the order of the reference (conv-ref.c), so the two
 * agree to float rounding.  This took the op from 30 % of fang19's time at
 * 1 MP to 18 % (perf, one thread): the tap loop had never been vectorised
 * (its && and floor kept GCC from it). */
typedef float AffVec __attribute__ ((vector_size (AFFINITY_LANES * sizeof (float))));
typedef int AffMask __attribute__ ((vector_size (AFFINITY_LANES * sizeof (int))));
static const AffMask lane_ids = { 0, 1, 2, 3, 4, 5, 6, 7 };

int
lisse_affinity_pixel_floats (int nf, int nc)
{
  return (nf + nc + AFFINITY_LANES - 1) / AFFINITY_LANES * AFFINITY_LANES;
}

typedef struct
{
  int    *idx;     /* [k][4][DWA_SEGMENT] corner pixels in the rows given (0 where unused) */
  float  *wt;      /* [k][4][DWA_SEGMENT] bilinear weights (0 where unused) */
  float  *wk;      /* [k][DWA_SEGMENT] minus the distance, then the softmax weight */
  float  *acc;     /* [DWA_SEGMENT] scratch */
  float  *den;     /* [DWA_SEGMENT] */
  AffVec *samp;    /* [DWA_SEGMENT][k][chunks] the points' samples */
  gint64  missed;  /* corners inside the image but outside the rows given */
} AffinityScratch;

#define AFF_AT(a, kk, corner, t) ((a)[((size_t) (kk) * 4 + (corner)) * DWA_SEGMENT + (t)])

/* What one call reads: rows [src_y0, src_y0 + src_rows) of an h × w image,
 * @stride floats a pixel, @nf features then @nc channels. */
typedef struct
{
  const float *src;
  int          src_y0, src_rows, h, w, nf, nc, stride;
  const float *off;   /* the offsets' channel 0 at row off_y0 */
  size_t       off_plane;
  int          off_y0, kh, kw, dil_h, dil_w;
  float        eps;
} AffinityJob;

SIMD_CLONES static void
affinity_segment (const AffinityJob *a, int y, int x0, int nx, float *dst, AffinityScratch *s)
{
  const int h = a->h, w = a->w, k = a->kh * a->kw, kw = a->kw, stride = a->stride;
  const int chunks = stride / AFFINITY_LANES, nf = a->nf;
  const int fchunks = (nf + AFFINITY_LANES - 1) / AFFINITY_LANES;
  const int pad_h = a->dil_h * (a->kh - 1) / 2, pad_w = a->dil_w * (kw - 1) / 2;
  const size_t orow = (size_t) (y - a->off_y0) * w + x0;   /* the pixel in the offsets */
  const float *centre = a->src + ((size_t) (y - a->src_y0) * w + x0) * stride;
  /* Locals, not a->…: the stores below through int pointers could alias
   * them, which keeps the loops from being vectorised. */
  const int src_y0 = a->src_y0, src_rows = a->src_rows, dil_h = a->dil_h, dil_w = a->dil_w;
  float *restrict acc = s->acc, *restrict den = s->den;
  int missed = 0;   /* ≤ 2·k·DWA_SEGMENT */

  for (int kk = 0; kk < k; kk++)
    {
      const int i = kk / kw, j = kk % kw;
      const float *restrict dy = a->off + (size_t) (2 * kk) * a->off_plane + orow;
      const float *restrict dx = a->off + (size_t) (2 * kk + 1) * a->off_plane + orow;
      int *restrict i0 = &AFF_AT (s->idx, kk, 0, 0), *restrict i1 = &AFF_AT (s->idx, kk, 1, 0);
      int *restrict i2 = &AFF_AT (s->idx, kk, 2, 0), *restrict i3 = &AFF_AT (s->idx, kk, 3, 0);
      float *restrict w0 = &AFF_AT (s->wt, kk, 0, 0), *restrict w1 = &AFF_AT (s->wt, kk, 1, 0);
      float *restrict w2 = &AFF_AT (s->wt, kk, 2, 0), *restrict w3 = &AFF_AT (s->wt, kk, 3, 0);
      /* Positions relative to the pixel, in float: the same for a pixel
       * wherever it lies (a tile's pixel reads exactly as the whole
       * image's), and exact to float rounding of the offset (an absolute
       * float position near column 4000 would be off by 2.4e-4 of a
       * pixel).  The image's rows and columns as bounds on them. */
      const float oy = (float) (i * dil_h - pad_h), ox = (float) (j * dil_w - pad_w);
      const float top = (float) (-1 - y), bottom = (float) (h - y);
      for (int t = 0; t < nx; t++)
        {
          /* make_tap() without branches: NaN and far positions fail the
           * range test and get weight 0 at index 0; so do corners in
           * image rows that were not given, which are counted.  Masks
           * combined with & and applied by bits or by multiplying, so that
           * the loop has no control flow and is vectorised. */
          const float ry = oy + dy[t], rx = ox + dx[t];
          const float left = (float) (-1 - x0 - t), right = (float) (w - x0 - t);
          const int inside = (ry > top) & (ry < bottom) & (rx > left) & (rx < right);
          const float qy = select_f (inside, ry, 0.f), qx = select_f (inside, rx, 0.f);
          /* floor by truncation (|q| is below the image's size), as
           * floorf keeps GCC from vectorising the loop. */
          const int ty = (int) qy, tx = (int) qx;
          const int iy = ty - ((float) ty > qy), ix = tx - ((float) tx > qx);
          const float ly = qy - (float) iy, lx = qx - (float) ix;
          const int yy = y + iy, xx = x0 + t + ix, r0 = yy - src_y0, r1 = r0 + 1;
          const int img_y0 = inside & (yy >= 0), img_y1 = inside & (yy + 1 < h);
          const int ok_y0 = img_y0 & (r0 >= 0) & (r0 < src_rows);
          const int ok_y1 = img_y1 & (r1 >= 0) & (r1 < src_rows);
          const int ok_x0 = xx >= 0, ok_x1 = xx + 1 < w;
          missed += (img_y0 ^ ok_y0) + (img_y1 ^ ok_y1);
          const int m0 = ok_y0 & ok_x0, m1 = ok_y0 & ok_x1, m2 = ok_y1 & ok_x0, m3 = ok_y1 & ok_x1;
          i0[t] = (r0 * w + xx) & -m0;
          i1[t] = (r0 * w + xx + 1) & -m1;
          i2[t] = (r1 * w + xx) & -m2;
          i3[t] = (r1 * w + xx + 1) & -m3;
          /* ly and lx are in [0, 1): the products are finite. */
          w0[t] = (1 - ly) * (1 - lx) * (float) m0;
          w1[t] = (1 - ly) * lx * (float) m1;
          w2[t] = ly * (1 - lx) * (float) m2;
          w3[t] = ly * lx * (float) m3;
        }
    }
  s->missed += missed;

  /* The samples, whole pixels at a time, and −‖F(p) − F(sample)‖² over the
   * feature lanes in order. */
  for (int t = 0; t < nx; t++)
    {
      const float *cp = centre + (size_t) t * stride;
      for (int kk = 0; kk < k; kk++)
        {
          const float *p0 = a->src + (size_t) AFF_AT (s->idx, kk, 0, t) * stride;
          const float *p1 = a->src + (size_t) AFF_AT (s->idx, kk, 1, t) * stride;
          const float *p2 = a->src + (size_t) AFF_AT (s->idx, kk, 2, t) * stride;
          const float *p3 = a->src + (size_t) AFF_AT (s->idx, kk, 3, t) * stride;
          const float w0 = AFF_AT (s->wt, kk, 0, t), w1 = AFF_AT (s->wt, kk, 1, t);
          const float w2 = AFF_AT (s->wt, kk, 2, t), w3 = AFF_AT (s->wt, kk, 3, t);
          AffVec *sp = s->samp + ((size_t) t * k + kk) * chunks;
          for (int ch = 0; ch < chunks; ch++)
            {
              const int o = ch * AFFINITY_LANES;
              AffVec c0, c1, c2, c3;
              memcpy (&c0, p0 + o, sizeof c0);
              memcpy (&c1, p1 + o, sizeof c1);
              memcpy (&c2, p2 + o, sizeof c2);
              memcpy (&c3, p3 + o, sizeof c3);
              sp[ch] = w0 * c0 + w1 * c1 + w2 * c2 + w3 * c3;
            }
          /* The squares in vectors, their sum in the reference's order. */
          float sq[AFFINITY_MAX_FEATURES];
          for (int ch = 0; ch < fchunks; ch++)
            {
              AffVec c;
              memcpy (&c, cp + ch * AFFINITY_LANES, sizeof c);
              c -= sp[ch];
              c *= c;
              memcpy (sq + ch * AFFINITY_LANES, &c, sizeof c);
            }
          float d = 0.f;
          for (int f = 0; f < nf; f++)
            d += sq[f];
          s->wk[(size_t) kk * DWA_SEGMENT + t] = -d;
        }
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
    den[t] = a->eps;
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

  /* The weighted sums of the samples, whole pixels at a time; the output
   * pixel keeps the centre's features (the next layer reads them). */
  for (int t = 0; t < nx; t++)
    {
      const float *cp = centre + (size_t) t * stride;
      float *dp = dst + (size_t) t * stride;
      const AffVec *sp = s->samp + (size_t) t * k * chunks;
      for (int ch = 0; ch < chunks; ch++)
        {
          const int o = ch * AFFINITY_LANES;
          AffVec v;
          memcpy (&v, cp + o, sizeof v);
          v *= a->eps;
          for (int kk = 0; kk < k; kk++)
            v += s->wk[(size_t) kk * DWA_SEGMENT + t] * sp[(size_t) kk * chunks + ch];
          v = v / den[t];
          /* The feature lanes from the centre: a blend, not a memcpy call
           * per pixel (nf is not a constant). */
          AffVec c;
          memcpy (&c, cp + o, sizeof c);
          AffMask vi, ci;
          memcpy (&vi, &v, sizeof vi);
          memcpy (&ci, &c, sizeof ci);
          const AffMask keep = lane_ids < (lane_ids * 0 + (nf - o));
          vi = (ci & keep) | (vi & ~keep);
          memcpy (dp + o, &vi, sizeof vi);
        }
    }
}

/* Output rows [@y_begin, @y_end) of @a into @dst (their first pixel). */
static gboolean
affinity_rows (const AffinityJob *a, int y_begin, int y_end, float *dst, GError **error)
{
  const int w = a->w, k = a->kh * a->kw, rows = y_end - y_begin;
  const int segs = (w + DWA_SEGMENT - 1) / DWA_SEGMENT, chunks = a->stride / AFFINITY_LANES;
  const gint64 jobs = (gint64) rows * segs;
  gint64 missed = 0;

#pragma omp parallel num_threads (lisse_threads_get ()) reduction (+:missed)
  {
    AffinityScratch s;
    s.idx = g_new (int, (size_t) k * 4 * DWA_SEGMENT);
    s.wt = g_new (float, (size_t) k * 4 * DWA_SEGMENT);
    s.wk = g_new (float, (size_t) k * DWA_SEGMENT);
    s.acc = g_new (float, DWA_SEGMENT);
    s.den = g_new (float, DWA_SEGMENT);
    s.samp = g_aligned_alloc ((size_t) DWA_SEGMENT * k * chunks, sizeof (AffVec), sizeof (AffVec));
    s.missed = 0;

#pragma omp for schedule (static)
    for (gint64 job = 0; job < jobs; job++)
      {
        const int x0 = (int) (job % segs) * DWA_SEGMENT, y = y_begin + (int) (job / segs);
        affinity_segment (a, y, x0, MIN (DWA_SEGMENT, w - x0),
                          dst + ((size_t) (y - y_begin) * w + x0) * a->stride, &s);
      }
    missed += s.missed;
    g_free (s.idx);
    g_free (s.wt);
    g_free (s.wk);
    g_free (s.acc);
    g_free (s.den);
    g_aligned_free (s.samp);
  }
  if (missed)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "deform_affinity_average: points of rows %d–%d read image rows outside the "
                   "%d rows given from row %d (%" G_GINT64_FORMAT " corners)",
                   y_begin, y_end, a->src_rows, a->src_y0, missed);
      return FALSE;
    }
  return TRUE;
}

gboolean
lisse_deform_affinity_average_interleaved (const float *src, int src_y0, int src_rows, int h,
                                           int w, int nf, int nc, const LisseTensor *offsets,
                                           int off_y0, int y_begin, int y_end, int kh, int kw,
                                           int dil_h, int dil_w, float eps, float *dst,
                                           GError **error)
{
  g_return_val_if_fail (src && offsets && dst, FALSE);
  /* The sampling checks on the offsets as if they covered the image. */
  const LisseTensor image = { 1, nc, h, w, NULL, FALSE };
  const LisseTensor as_whole = { offsets->n, offsets->c, h, w, offsets->data, FALSE };
  if (!check_sampling ("deform_affinity_average", &image, &as_whole, NULL, NULL, kh, kw, dil_h,
                       dil_w, error))
    return FALSE;
  if (nf < 1 || nf > AFFINITY_MAX_FEATURES || nc < 0 || !(eps >= 0.f) || offsets->w != w
      || off_y0 < 0 || y_begin < off_y0
      || y_end < y_begin || y_end > h || y_end > off_y0 + offsets->h || src_y0 < 0
      || src_rows < 0 || src_y0 + (gint64) src_rows > h || y_begin < src_y0
      || y_end > src_y0 + src_rows)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "deform_affinity_average: rows %d–%d of a %d×%d image with %d features, "
                   "%d channels, eps %g, offsets for %d rows of width %d from row %d and "
                   "%d rows from row %d",
                   y_begin, y_end, h, w, nf, nc, eps, offsets->h, offsets->w, off_y0, src_rows,
                   src_y0);
      return FALSE;
    }
  const AffinityJob a = {
    src, src_y0, src_rows, h, w, nf, nc, lisse_affinity_pixel_floats (nf, nc),
    offsets->data, lisse_tensor_plane (offsets), off_y0, kh, kw, dil_h, dil_w, eps,
  };
  return affinity_rows (&a, y_begin, y_end, dst, error);
}

void
lisse_affinity_interleave (float *dst, int stride, int lane0, const LisseTensor *x, int ni,
                           int x_y0, int y_begin, int y_end)
{
  const int w = x->w;
  for (int y = y_begin; y < y_end; y++)
    {
      float *d = dst + (size_t) (y - y_begin) * w * stride + lane0;
      for (int c = 0; c < x->c; c++)
        {
          const float *s = lisse_tensor_channel (x, ni, c) + (size_t) (y - x_y0) * w;
          for (int xx = 0; xx < w; xx++)
            d[(size_t) xx * stride + c] = s[xx];
        }
    }
}

void
lisse_affinity_deinterleave (const float *src, int stride, int lane0, LisseTensor *x, int ni,
                             int x_y0, int y_begin, int y_end)
{
  const int w = x->w;
  for (int y = y_begin; y < y_end; y++)
    {
      const float *s = src + (size_t) (y - y_begin) * w * stride + lane0;
      for (int c = 0; c < x->c; c++)
        {
          float *d = lisse_tensor_channel (x, ni, c) + (size_t) (y - x_y0) * w;
          for (int xx = 0; xx < w; xx++)
            d[xx] = s[(size_t) xx * stride + c];
        }
    }
}

LisseTensor *
lisse_deform_affinity_average (const LisseTensor *x, const LisseTensor *feat,
                               const LisseTensor *offsets, int kh, int kw, int dil_h,
                               int dil_w, float eps, GError **error)
{
  g_return_val_if_fail (x && feat && offsets, NULL);
  if (!check_sampling ("deform_affinity_average", x, offsets, NULL, NULL, kh, kw, dil_h, dil_w,
                       error)
      || !check_affinity ("deform_affinity_average", x, feat, eps, error))
    return NULL;
  const int h = x->h, w = x->w, nf = feat->c, nc = x->c;
  const int stride = lisse_affinity_pixel_floats (nf, nc);
  const size_t floats = (size_t) h * w * stride;
  LisseTensor *out = lisse_tensor_try_new (x->n, nc, h, w, error);
  float *src = out ? g_try_malloc0 (floats * sizeof (float)) : NULL;
  float *dst = src ? g_try_malloc (floats * sizeof (float)) : NULL;
  if (out && !dst)
    g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                 "deform_affinity_average: no memory for two %d×%d images of %d floats a pixel",
                 h, w, stride);
  gboolean ok = dst != NULL;
  for (int ni = 0; ok && ni < x->n; ni++)
    {
      lisse_affinity_interleave (src, stride, 0, feat, ni, 0, 0, h);
      lisse_affinity_interleave (src, stride, nf, x, ni, 0, 0, h);
      /* Image ni's offsets, as a tensor of their own. */
      const LisseTensor off = { 1, offsets->c, h, w,
                                (float *) lisse_tensor_channel (offsets, ni, 0), FALSE };
      ok = lisse_deform_affinity_average_interleaved (src, 0, h, h, w, nf, nc, &off, 0, 0, h, kh,
                                                      kw, dil_h, dil_w, eps, dst, error);
      if (ok)
        lisse_affinity_deinterleave (dst, stride, nf, out, ni, 0, 0, h);
    }
  g_free (src);
  g_free (dst);
  if (!ok)
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
