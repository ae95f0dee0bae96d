/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Joint bilateral filter (Petschnigg et al. 2004, Eisemann & Durand 2004):
 * the bilateral filter of Tomasi & Manduchi 1998 whose range weights come
 * from a guide image; with no guide, from the image itself.  The filter is
 * defined in joint-bilateral.h: Gaussian spatial and range weights, the range
 * distance Euclidean over the guide's channels, only in-image pixels.
 *
 * Methods, chosen by σs (LISSE_JBF_AUTO; joint-bilateral.h):
 *
 *  - Small σs: the exact sum over a disc of radius ceil(3σs), vectorised
 *    along rows (every tap of the disc applied to a whole row at once) with
 *    a polynomial exp: O(σs²) per pixel but a few nanoseconds per tap, so it
 *    is the fastest method up to σs ≈ 3.5 (grey guide) / 5.5 (colour).  It
 *    is also the reference the tests hold the others to.
 *
 *  - One-channel guide: the bilateral grid (Paris & Durand 2006, Chen,
 *    Paris & Durand 2007).  The filter is a Gaussian blur in (x, y, g)
 *    space of the homogeneous values (v·1, 1) placed at each pixel's
 *    (x, y, g); the grid samples that space every σ/GRID_K (x, y in σs, g
 *    in σr).  Pixels are splatted with trilinear weights, the grid blurred
 *    with a separable sampled Gaussian, and read back (sliced) trilinearly,
 *    v = Σv / Σ1.  Trilinear splat and slice each blur by a hat function of
 *    variance 1/6 cell², so the grid's own blur has variance
 *    GRID_K² − 1/3 cells² and the three together the requested σ².
 *
 *  - Guides of 2–4 channels (colour): the permutohedral lattice (Adams,
 *    Baek & Davis 2010) in d = 2 + Cg dimensions.  A grid in 5-D would need
 *    (1/σr)³ times more cells than the 3-D one, most of them empty; the
 *    lattice stores only the simplices pixels fall in (a hash table), at
 *    most d+1 per pixel, and costs O(d²) per pixel whatever σ.  A
 *    per-channel approximation (three 3-D grids, one per guide channel)
 *    would not be the colour-distance filter at all: an edge between two
 *    colours of equal red would be blurred across in the red grid.  The
 *    lattice's kernel is only roughly Gaussian; its scale (LATTICE_SCALE) is
 *    calibrated so that its spatial variance is σs².
 *
 * Tests bound the grid and lattice against the exact sum (PSNR >= 45 and
 * 40 dB; measured 55–70 and 47–54 dB on photos).
 *
 * Grid and lattice run on tiles with a halo wide enough that the tile's
 * grid or lattice holds every sample the tile's pixels read: memory stays
 * bounded for any image, tiles run in parallel, and the tiling depends only
 * on the image size and σ, never on the thread count.  Grid and lattice are
 * aligned to image coordinates, not to the tile, so tiles agree at seams. */
#include "filter.h"
#include "i18n.h"
#include "filters-all.h"
#include "joint-bilateral.h"
#include "lisse-error.h"
#include "threads.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Exact (brute force)                                                     */

/* e^−a for a >= 0 (clamped at 80, NaN counts as 80), relative error below
 * 4e-6, written so that a loop calling it vectorises: 2^(−a·log2 e) split
 * into a rounded integer n and f in [−½, ½], 2^f by its Taylor polynomial
 * (degree 6: remainder (½ ln 2)^7 / 7! ≈ 1.2e-7), 2^n put in the exponent
 * bits; the error comes from rounding −a·log2 e to float.  The clamp is an
 * integer compare on the bits (a float compare would stop GCC vectorising
 * under -ftrapping-math) and keeps results normal floats, away from slow
 * denormal arithmetic. */
static inline float
exp_neg (float a)
{
  /* As unsigned bits, +0 ≤ a ≤ 80 sorts below 80.0f; NaNs (either sign)
   * sort above it (a is a sum of squares, never negative). */
  union { float f; uint32_t i; } ua = { a };
  ua.i = ua.i < 0x42a00000u ? ua.i : 0x42a00000u;   /* 80.0f */
  float x = -ua.f * 1.44269504f;
  float r = (x + 12582912.f) - 12582912.f;        /* round to nearest */
  float f = (x - r) * 0.693147181f;               /* in [−½ ln 2, ½ ln 2] */
  float p = 1.f + f * (1.f + f * (0.5f + f * (1.f / 6 + f * (1.f / 24
            + f * (1.f / 120 + f * (1.f / 720))))));
  union { int32_t i; float f; } u;
  u.i = ((int32_t) r + 127) << 23;
  return p * u.f;
}

/* Built three times on x86-64 where the compiler can (GCC, clang): for
 * AVX-512, AVX2+FMA and the baseline; the loader picks one for the machine.  Both sum in
 * the same order; they may differ in the last bit where the compiler fuses
 * a multiply-add, never with the thread count. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define LISSE_SIMD_CLONES __attribute__ ((target_clones ("avx512f", "avx2,fma", "default")))
#endif
#endif
#ifndef LISSE_SIMD_CLONES
#define LISSE_SIMD_CLONES
#endif

typedef struct
{
  const float *const *src;
  int                 n_src;
  const float *const *guide;
  int                 n_g;
  float *const       *dst;
  int                 w, h, R;
  double              sigma_s;
  float               inv2r;
} ExactJob;

/* One tap (dx, dy) for pixels x0..x1 of row y: the weight from the guide,
 * added to the weight sum and, times the neighbour's values, to the
 * accumulators.  The channel counts are constants here so that each
 * combination gets its own fully unrolled loop, the weight never leaving a
 * register. */
static inline __attribute__ ((always_inline)) void
exact_tap (const ExactJob *j, int NG, int NS, size_t row, size_t nrow, int x0, int x1,
           float sp, float *restrict acc)
{
  const int w = j->w;
  const float *const *g = j->guide, *const *s = j->src;
  const float *restrict g0 = g[0], *restrict g1 = g[MIN (1, NG - 1)];
  const float *restrict g2 = g[MIN (2, NG - 1)], *restrict g3 = g[MIN (3, NG - 1)];
  const float *restrict s0 = s[0] + nrow, *restrict s1 = s[MIN (1, NS - 1)] + nrow;
  const float *restrict s2 = s[MIN (2, NS - 1)] + nrow, *restrict s3 = s[MIN (3, NS - 1)] + nrow;
  float *restrict a0 = acc, *restrict a1 = acc + w, *restrict a2 = acc + 2 * w;
  float *restrict a3 = acc + 3 * w, *restrict ws = acc + (size_t) NS * w;
  const float inv2r = j->inv2r;
#pragma omp simd
  for (int x = x0; x < x1; x++)
    {
      float t = g0[nrow + x] - g0[row + x];
      float d2 = t * t;
      if (NG > 1)
        {
          t = g1[nrow + x] - g1[row + x];
          d2 += t * t;
        }
      if (NG > 2)
        {
          t = g2[nrow + x] - g2[row + x];
          d2 += t * t;
        }
      if (NG > 3)
        {
          t = g3[nrow + x] - g3[row + x];
          d2 += t * t;
        }
      float wt = exp_neg (sp + d2 * inv2r);
      ws[x] += wt;
      a0[x] += wt * s0[x];
      if (NS > 1)
        a1[x] += wt * s1[x];
      if (NS > 2)
        a2[x] += wt * s2[x];
      if (NS > 3)
        a3[x] += wt * s3[x];
    }
}

#define EXACT_TAP_NS(NG)                                                       \
  switch (j->n_src)                                                            \
    {                                                                          \
    case 1: exact_tap (j, NG, 1, row, nrow, x0, x1, sp, acc); break;           \
    case 2: exact_tap (j, NG, 2, row, nrow, x0, x1, sp, acc); break;           \
    case 3: exact_tap (j, NG, 3, row, nrow, x0, x1, sp, acc); break;           \
    default: exact_tap (j, NG, 4, row, nrow, x0, x1, sp, acc); break;          \
    }

/* Output row y, summed tap by tap: for each offset (dx, dy) of the disc the
 * whole row takes that neighbour's weighted value, so the inner loops run
 * along the row (vectorised) instead of along a short window.  Pixels whose
 * neighbour lies outside the image skip that tap.  Each pixel's sum has the
 * same order for any thread count.  acc holds n_src + 1 rows (the last: the
 * weight sum). */
LISSE_SIMD_CLONES static void
exact_row (const ExactJob *j, int y, float *acc)
{
  const int w = j->w, R = j->R, n_src = j->n_src;
  memset (acc, 0, (size_t) (n_src + 1) * w * sizeof (float));
  for (int dy = MAX (-R, -y); dy <= MIN (R, j->h - 1 - y); dy++)
    for (int dx = -R; dx <= R; dx++)
      {
        if (dx * dx + dy * dy > R * R)
          continue;
        const float sp = (float) ((dx * dx + dy * dy) / (2.0 * j->sigma_s * j->sigma_s));
        const int x0 = MAX (0, -dx), x1 = MIN (w, w - dx);
        const size_t row = (size_t) y * w, nrow = (size_t) (y + dy) * w + dx;
        switch (j->n_g)
          {
          case 1: EXACT_TAP_NS (1); break;
          case 2: EXACT_TAP_NS (2); break;
          case 3: EXACT_TAP_NS (3); break;
          default: EXACT_TAP_NS (4); break;
          }
      }
  const float *wsum = acc + (size_t) n_src * w;
  for (int c = 0; c < n_src; c++)
    {
      float *d = j->dst[c] + (size_t) y * w;
      const float *ac = acc + (size_t) c * w;
      for (int x = 0; x < w; x++)
        d[x] = ac[x] / wsum[x];
    }
}

static gboolean
jbf_exact (const float *const *src, int n_src, const float *const *guide, int n_g,
           float *const *dst, int w, int h, double sigma_s, double sigma_r,
           const LisseProgress *progress, GError **error)
{
  ExactJob j = { src, n_src, guide, n_g, dst, w, h,
                 MAX (1, (int) ceil (3.0 * sigma_s)), sigma_s,
                 (float) (1.0 / (2.0 * sigma_r * sigma_r)) };
  /* Bands of rows between progress reports (and chances to cancel). */
  const int band = 64;
  gboolean ok = TRUE;
  for (int y0 = 0; y0 < h && ok; y0 += band)
    {
      int y1 = MIN (h, y0 + band);
#pragma omp parallel num_threads (lisse_threads_get ())
      {
        float *acc = g_new (float, (size_t) (n_src + 1) * w);
#pragma omp for schedule (static)
        for (int y = y0; y < y1; y++)
          exact_row (&j, y, acc);
        g_free (acc);
      }
      ok = lisse_progress_report (progress, (double) y1 / h, error);
    }
  return ok;
}

/* ---------------------------------------------------------------------- */
/* Shared: the job, guide ranges, tiles                                     */

typedef struct
{
  const float *const *src;
  int                 n_src;
  const float *const *guide;
  int                 n_g;
  float *const       *dst;
  int                 w, h;
  double              sigma_s, sigma_r;
  float               gmin[4], gmax[4];   /* finite range of each guide channel */
} Job;

typedef struct
{
  int x0, y0, x1, y1;      /* core: written */
  int ax0, ay0, ax1, ay1;  /* core + halo, clipped: read */
} Tile;

/* A guide value made safe to index with: non-finite values (which a float
 * image may hold) become the channel's minimum. */
static inline float
guide_at (const Job *job, int c, size_t p)
{
  float g = job->guide[c][p];
  if (!isfinite (g))
    return job->gmin[c];
  return g;
}

static void
guide_ranges (Job *job)
{
  size_t N = (size_t) job->w * job->h;
  for (int c = 0; c < job->n_g; c++)
    {
      float lo = INFINITY, hi = -INFINITY;
      for (size_t i = 0; i < N; i++)
        {
          float g = job->guide[c][i];
          if (isfinite (g))
            {
              lo = MIN (lo, g);
              hi = MAX (hi, g);
            }
        }
      if (!(lo <= hi))
        lo = hi = 0.f;
      job->gmin[c] = lo;
      job->gmax[c] = hi;
    }
}

static Tile *
make_tiles (int w, int h, int core, int halo, int *n_tiles)
{
  int nx = (w + core - 1) / core, ny = (h + core - 1) / core;
  Tile *tiles = g_new (Tile, (size_t) nx * ny);
  int n = 0;
  for (int ty = 0; ty < ny; ty++)
    for (int tx = 0; tx < nx; tx++)
      {
        Tile *t = &tiles[n++];
        t->x0 = tx * core;
        t->y0 = ty * core;
        t->x1 = MIN (w, t->x0 + core);
        t->y1 = MIN (h, t->y0 + core);
        t->ax0 = MAX (0, t->x0 - halo);
        t->ay0 = MAX (0, t->y0 - halo);
        t->ax1 = MIN (w, t->x1 + halo);
        t->ay1 = MIN (h, t->y1 + halo);
      }
  *n_tiles = n;
  return tiles;
}

/* Sampled Gaussian of standard deviation sd (in samples), truncated at 3 sd
 * (at least one tap each side).  Not normalised: the homogeneous weight
 * channel divides out any constant factor. */
static float *
gauss_kernel (double sd, int *radius)
{
  int R = MAX (1, (int) ceil (3.0 * sd));
  float *k = g_new (float, 2 * R + 1);
  for (int t = -R; t <= R; t++)
    k[t + R] = (float) exp (-0.5 * t * t / (sd * sd));
  *radius = R;
  return k;
}

/* out = in blurred along the middle axis of an [outer][axis][inner] array;
 * zero beyond the ends (nothing was splatted there). */
static void
blur_axis (const float *in, float *out, size_t outer, int axis, size_t inner,
           const float *k, int R)
{
  if (inner >= 64)
    {
      /* Long rows: one output row at a time, a row per tap. */
      for (size_t o = 0; o < outer; o++)
        for (int a = 0; a < axis; a++)
          {
            float *d = out + (o * axis + a) * inner;
#pragma omp simd
            for (size_t i = 0; i < inner; i++)
              d[i] = 0.f;
            int t0 = MAX (-R, -a), t1 = MIN (R, axis - 1 - a);
            for (int t = t0; t <= t1; t++)
              {
                const float kt = k[t + R];
                const float *s = in + (o * axis + a + t) * inner;
#pragma omp simd
                for (size_t i = 0; i < inner; i++)
                  d[i] += kt * s[i];
              }
          }
      return;
    }
  /* Short rows (the range axis, a few channels per cell): the [axis][inner]
   * block is small, so sweep all of it once per tap, shifted by t·inner,
   * which keeps the inner loop long. */
  const size_t block = (size_t) axis * inner;
  for (size_t o = 0; o < outer; o++)
    {
      const float *s = in + o * block;
      float *d = out + o * block;
#pragma omp simd
      for (size_t i = 0; i < block; i++)
        d[i] = k[R] * s[i];
      for (int t = 1; t <= MIN (R, axis - 1); t++)
        {
          const float kt = k[R + t];
          const size_t sh = (size_t) t * inner, n = block - sh;
          /* d[i] gets s[i+sh] (tap +t) and d[i+sh] gets s[i] (tap −t). */
#pragma omp simd
          for (size_t i = 0; i < n; i++)
            d[i] += kt * s[i + sh];
#pragma omp simd
          for (size_t i = 0; i < n; i++)
            d[i + sh] += kt * s[i];
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Bilateral grid (one-channel guide)                                       */

/* Samples per σ along each axis.  The cost grows about as GRID_K⁴ (cells
 * in three axes, taps per cell); measured on skimage's astronaut against the
 * brute force, GRID_K = 1 gives 47–58 dB, 1.5 gives 55–66 dB, 2 gives
 * 59–69 dB: 1.5 keeps the deviation below 8-bit quantisation (59 dB) in
 * typical settings at a third of the cost of 2. */
#define GRID_K 1.5
/* Upper bound on one tile's grid (floats, both buffers), ~32 MiB. */
#define GRID_MAX_FLOATS ((size_t) 8 << 20)

typedef struct
{
  double ss, sr;          /* cell size in pixels / guide units */
  float *k;               /* blur kernel, radius R cells */
  int    R;
  int    halo;            /* pixels */
} GridSetup;

static void
grid_setup (const Job *job, GridSetup *g)
{
  g->ss = job->sigma_s / GRID_K;
  g->sr = job->sigma_r / GRID_K;
  g->k = gauss_kernel (sqrt (GRID_K * GRID_K - 1.0 / 3.0), &g->R);
  /* A core pixel reads cells within 1 of it; their blurred values read R
   * cells further; those were splatted from pixels within 1 cell more. */
  g->halo = (int) ceil ((g->R + 2) * g->ss) + 1;
}

/* Floats a tile of core size `core` needs at most (whole range in z). */
static size_t
grid_tile_floats (const Job *job, const GridSetup *g, int core)
{
  double span = core + 2.0 * g->halo;
  double cxy = floor (span / g->ss) + 3;
  double cz = floor ((job->gmax[0] - job->gmin[0]) / g->sr) + 3;
  double f = cxy * cxy * cz * (job->n_src + 1) * 2.0;
  return f > 1e18 ? (size_t) -1 : (size_t) f;
}

static gboolean
grid_tile (const Job *job, const GridSetup *g, const Tile *t)
{
  const int ch = job->n_src + 1, w = job->w;
  const double ss = g->ss, sr = g->sr;
  const float gmin = job->gmin[0];

  /* Cells are aligned to the image origin: cell i sits at pixel i·ss. */
  int cx0 = (int) floor (t->ax0 / ss), cy0 = (int) floor (t->ay0 / ss);
  int gx = (int) floor ((t->ax1 - 1) / ss) + 2 - cx0;
  int gy = (int) floor ((t->ay1 - 1) / ss) + 2 - cy0;
  float zlo = INFINITY, zhi = -INFINITY;
  for (int y = t->ay0; y < t->ay1; y++)
    for (int x = t->ax0; x < t->ax1; x++)
      {
        float z = (float) ((guide_at (job, 0, (size_t) y * w + x) - gmin) / sr);
        zlo = MIN (zlo, z);
        zhi = MAX (zhi, z);
      }
  int cz0 = (int) floor (zlo);
  int gz = (int) floor (zhi) + 2 - cz0;
  size_t n_cells = (size_t) gx * gy * gz;
  float *A = g_try_malloc0 (n_cells * ch * sizeof (float));
  float *B = g_try_malloc (n_cells * ch * sizeof (float));
  if (!A || !B)
    {
      g_free (A);
      g_free (B);
      return FALSE;
    }
  const size_t sz = (size_t) ch, sx = (size_t) gz * ch, sy = (size_t) gx * gz * ch;

  /* Splat. */
  for (int y = t->ay0; y < t->ay1; y++)
    {
      double fy = y / ss - cy0;
      int iy = (int) fy;
      float wy = (float) (fy - iy);
      for (int x = t->ax0; x < t->ax1; x++)
        {
          size_t p = (size_t) y * w + x;
          double fx = x / ss - cx0;
          float fz = (float) ((guide_at (job, 0, p) - gmin) / sr) - cz0;
          int ix = (int) fx, iz = (int) fz;
          iz = CLAMP (iz, 0, gz - 2);
          float wx = (float) (fx - ix), wz = fz - iz;
          float v[5];
          for (int c = 0; c < job->n_src; c++)
            v[c] = job->src[c][p];
          v[ch - 1] = 1.f;
          float *base = A + iy * sy + ix * sx + iz * sz;
          for (int corner = 0; corner < 8; corner++)
            {
              int dx = corner & 1, dy = (corner >> 1) & 1, dz = corner >> 2;
              float wt = (dx ? wx : 1.f - wx) * (dy ? wy : 1.f - wy) * (dz ? wz : 1.f - wz);
              float *cell = base + dy * sy + dx * sx + dz * sz;
              for (int c = 0; c < ch; c++)
                cell[c] += wt * v[c];
            }
        }
    }

  /* Blur z, x, y: A -> B -> A -> B. */
  blur_axis (A, B, (size_t) gy * gx, gz, ch, g->k, g->R);
  blur_axis (B, A, (size_t) gy, gx, sx, g->k, g->R);
  blur_axis (A, B, 1, gy, sy, g->k, g->R);

  /* Slice. */
  for (int y = t->y0; y < t->y1; y++)
    {
      double fy = y / ss - cy0;
      int iy = (int) fy;
      float wy = (float) (fy - iy);
      for (int x = t->x0; x < t->x1; x++)
        {
          size_t p = (size_t) y * w + x;
          double fx = x / ss - cx0;
          float fz = (float) ((guide_at (job, 0, p) - gmin) / sr) - cz0;
          int ix = (int) fx, iz = (int) fz;
          iz = CLAMP (iz, 0, gz - 2);
          float wx = (float) (fx - ix), wz = fz - iz;
          float acc[5] = { 0 };
          const float *base = B + iy * sy + ix * sx + iz * sz;
          for (int corner = 0; corner < 8; corner++)
            {
              int dx = corner & 1, dy = (corner >> 1) & 1, dz = corner >> 2;
              float wt = (dx ? wx : 1.f - wx) * (dy ? wy : 1.f - wy) * (dz ? wz : 1.f - wz);
              const float *cell = base + dy * sy + dx * sx + dz * sz;
              for (int c = 0; c < ch; c++)
                acc[c] += wt * cell[c];
            }
          float inv = 1.f / acc[ch - 1];
          for (int c = 0; c < job->n_src; c++)
            job->dst[c][p] = acc[c] * inv;
        }
    }
  g_free (A);
  g_free (B);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Permutohedral lattice (guides of 2–4 channels)                           */

#define MAX_D 6                 /* x, y and up to four guide channels */
/* Position scale: features in units of σ are multiplied by
 * LATTICE_SCALE·(d+1) before elevation.  The [1 2 1] blur along each of
 * the d+1 lattice directions has variance (d+1)²/(2·scale²) per feature
 * axis; splat and slice add their own.  0.82 (Adams et al. use √(2/3) ≈
 * 0.816) was measured to give the impulse response of a constant-guide
 * image a variance of σs² (tests: /classic/joint-bilateral/kernel-scale).
 * A twice finer lattice blurred four times, tried as well, followed the
 * exact filter less closely (41 dB against 50 dB) at three times the cost. */
#define LATTICE_SCALE 0.82

typedef struct
{
  int      d, ch;
  int      n, cap;        /* points used / allocated */
  int32_t *keys;          /* d per point: the first d of the d+1 coordinates */
  float   *val;           /* ch per point: splatted Σ b·(v, 1) */
  int32_t *table;         /* point index, or -1 */
  size_t   mask;          /* table size − 1 (a power of two minus one) */
} Lattice;

static inline size_t
key_hash (const int32_t *key, int d)
{
  uint64_t h = 0;
  for (int i = 0; i < d; i++)
    h = h * 0x9e3779b1u + (uint32_t) key[i];
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return (size_t) (h ^ (h >> 32));
}

static inline gboolean
key_equal (const int32_t *a, const int32_t *b, int d)
{
  for (int i = 0; i < d; i++)
    if (a[i] != b[i])
      return FALSE;
  return TRUE;
}

static gboolean
lattice_init (Lattice *l, int d, int ch, int expected)
{
  l->d = d;
  l->ch = ch;
  l->n = 0;
  l->cap = MAX (64, expected);
  size_t ts = 1;
  while (ts < (size_t) l->cap * 2)
    ts <<= 1;
  l->mask = ts - 1;
  l->keys = g_try_malloc ((size_t) l->cap * d * sizeof (int32_t));
  l->val = g_try_malloc ((size_t) l->cap * ch * sizeof (float));
  l->table = g_try_malloc (ts * sizeof (int32_t));
  if (!l->keys || !l->val || !l->table)
    return FALSE;
  memset (l->table, 0xff, ts * sizeof (int32_t));
  return TRUE;
}

static void
lattice_clear (Lattice *l)
{
  g_free (l->keys);
  g_free (l->val);
  g_free (l->table);
}

static gboolean
lattice_grow (Lattice *l)
{
  int cap = l->cap * 2;
  int32_t *keys = g_try_realloc (l->keys, (size_t) cap * l->d * sizeof (int32_t));
  if (!keys)
    return FALSE;
  l->keys = keys;
  float *val = g_try_realloc (l->val, (size_t) cap * l->ch * sizeof (float));
  if (!val)
    return FALSE;
  l->val = val;
  l->cap = cap;
  size_t ts = (l->mask + 1) * 2;
  int32_t *table = g_try_malloc (ts * sizeof (int32_t));
  if (!table)
    return FALSE;
  memset (table, 0xff, ts * sizeof (int32_t));
  g_free (l->table);
  l->table = table;
  l->mask = ts - 1;
  for (int p = 0; p < l->n; p++)
    {
      size_t i = key_hash (l->keys + (size_t) p * l->d, l->d) & l->mask;
      while (l->table[i] >= 0)
        i = (i + 1) & l->mask;
      l->table[i] = p;
    }
  return TRUE;
}

/* Index of the point with this key; inserted if absent and insert is set,
 * else -1.  -2: out of memory. */
static inline int
lattice_find (Lattice *l, const int32_t *key, gboolean insert)
{
  const int d = l->d;
  size_t i = key_hash (key, d) & l->mask;
  for (;;)
    {
      int32_t p = l->table[i];
      if (p < 0)
        break;
      if (key_equal (l->keys + (size_t) p * d, key, d))
        return p;
      i = (i + 1) & l->mask;
    }
  if (!insert)
    return -1;
  if (l->n >= l->cap)
    {
      if (!lattice_grow (l))
        return -2;
      return lattice_find (l, key, TRUE);
    }
  int p = l->n++;
  memcpy (l->keys + (size_t) p * d, key, d * sizeof (int32_t));
  memset (l->val + (size_t) p * l->ch, 0, l->ch * sizeof (float));
  l->table[i] = p;
  return p;
}

/* The simplex of the lattice that holds the point pos (d features, already
 * scaled), as d+1 vertex keys (d coordinates each) and barycentric weights.
 *
 * Elevation: the feature space is mapped isometrically onto the hyperplane
 * Σ x = 0 of R^{d+1} with the basis whose i-th vector (i = 1..d) is
 * (1, …, 1, −i, 0, …, 0) / √(i(i+1)), i ones first.  The lattice is the
 * points of (d+1)·Z^{d+1} in that plane plus their d translates by
 * (k, …, k, k−(d+1), …): every point there has a nearest "remainder-0"
 * point, and the ordering of its offsets from it names its simplex (Adams
 * et al. 2010, §3.1). */
static void
lattice_simplex (const double *pos, int d, int32_t keys[MAX_D + 1][MAX_D], float *bary)
{
  /* pos[i−1] already carries the basis factor 1/√(i(i+1)) (lattice_setup). */
  double el[MAX_D + 1];
  double sm = 0.0;
  for (int i = d; i >= 1; i--)
    {
      double cf = pos[i - 1];
      el[i] = sm - i * cf;
      sm += cf;
    }
  el[0] = sm;

  const int D1 = d + 1;
  const double inv_d1 = 1.0 / D1;
  int32_t rem0[MAX_D + 1];
  double delta[MAX_D + 1];
  int rank[MAX_D + 1];
  int sum = 0;
  for (int i = 0; i <= d; i++)
    {
      /* Nearest multiple of d+1 (floor by hand: no libm call). */
      double t = el[i] * inv_d1 + 0.5;
      int64_t f = (int64_t) t;
      f -= t < (double) f;
      rem0[i] = (int32_t) (f * D1);
      delta[i] = el[i] - rem0[i];
      sum += rem0[i];
      rank[i] = 0;
    }
  sum /= D1;
  /* rank[i]: how many coordinates lie further above their rounding. */
  for (int i = 0; i <= d; i++)
    for (int j = i + 1; j <= d; j++)
      {
        if (delta[i] < delta[j])
          rank[i]++;
        else
          rank[j]++;
      }
  /* Bring the rounded point onto the plane (Σ = 0): move the |sum|
   * coordinates rounded furthest the wrong way by one step of d+1. */
  if (sum > 0)
    for (int i = 0; i <= d; i++)
      {
        if (rank[i] >= D1 - sum)
          {
            rem0[i] -= D1;
            rank[i] += sum - D1;
          }
        else
          rank[i] += sum;
      }
  else if (sum < 0)
    for (int i = 0; i <= d; i++)
      {
        if (rank[i] < -sum)
          {
            rem0[i] += D1;
            rank[i] += D1 + sum;
          }
        else
          rank[i] += sum;
      }

  double b[MAX_D + 2] = { 0 };
  for (int i = 0; i <= d; i++)
    {
      double dd = (el[i] - rem0[i]) * inv_d1;
      b[d - rank[i]] += dd;
      b[d + 1 - rank[i]] -= dd;
    }
  b[0] += 1.0 + b[d + 1];
  for (int k = 0; k <= d; k++)
    {
      bary[k] = (float) b[k];
      for (int i = 0; i < d; i++)
        keys[k][i] = rem0[i] + (rank[i] <= d - k ? k : k - D1);
    }
}

typedef struct
{
  int    d;
  double fscale[MAX_D];   /* per feature: lattice units per pixel / guide unit */
  int    halo;
} LatticeSetup;

static void
lattice_setup (const Job *job, LatticeSetup *s)
{
  s->d = 2 + job->n_g;
  double scale = LATTICE_SCALE * (s->d + 1);
  s->fscale[0] = s->fscale[1] = scale / job->sigma_s;
  for (int c = 0; c < job->n_g; c++)
    s->fscale[2 + c] = scale / job->sigma_r;
  /* The elevation's basis factors (lattice_simplex), folded in here. */
  for (int i = 0; i < s->d; i++)
    s->fscale[i] /= sqrt ((i + 1.0) * (i + 2.0));
  /* The lattice kernel's weight beyond 4σs is below float rounding of the
   * sums it would join. */
  s->halo = (int) ceil (4.0 * job->sigma_s) + 2;
}

/* The scaled features of pixel (x, y). */
static inline void
pixel_position (const Job *job, const LatticeSetup *s, int x, int y, size_t p, double *pos)
{
  pos[0] = x * s->fscale[0];
  pos[1] = y * s->fscale[1];
  for (int c = 0; c < job->n_g; c++)
    {
      /* Bounded so the integer keys cannot overflow on absurd (HDR) guide
       * values. */
      double v = guide_at (job, c, p) * s->fscale[2 + c];
      pos[2 + c] = CLAMP (v, -1e8, 1e8);
    }
}

/* Core pixels whose simplices are kept from splat to slice; above this (a
 * tile grown with a huge σs) the slice finds them again instead, so memory
 * stays bounded. */
#define LATTICE_KEEP_MAX ((size_t) 1 << 20)

static gboolean
lattice_tile (const Job *job, const LatticeSetup *s, const Tile *t)
{
  const int d = s->d, D1 = d + 1, ch = job->n_src + 1, w = job->w;
  const int cw = t->x1 - t->x0, chh = t->y1 - t->y0;
  const size_t n_core = (size_t) cw * chh;
  const size_t n_px = (size_t) (t->ax1 - t->ax0) * (t->ay1 - t->ay0);
  const gboolean keep = n_core <= LATTICE_KEEP_MAX;
  gboolean ok = FALSE;

  Lattice l = { 0 };
  int32_t *idx = keep ? g_try_malloc (n_core * D1 * sizeof (int32_t)) : NULL;
  float *bw = keep ? g_try_malloc (n_core * D1 * sizeof (float)) : NULL;
  float *tmp = NULL;
  int32_t *nbr = NULL;
  if ((keep && (!idx || !bw))
      || !lattice_init (&l, d, ch, (int) MIN (n_px, (size_t) 1 << 20)))
    goto out;

  /* Splat: each pixel's (v, 1) into the vertices of its simplex, which are
   * created as needed. */
  for (int y = t->ay0; y < t->ay1; y++)
    {
      int32_t prev[MAX_D + 1][MAX_D];
      int prev_i[MAX_D + 1];
      for (int x = t->ax0; x < t->ax1; x++)
        {
          size_t p = (size_t) y * w + x;
          double pos[MAX_D];
          int32_t keys[MAX_D + 1][MAX_D];
          float b[MAX_D + 1], v[5];
          pixel_position (job, s, x, y, p, pos);
          lattice_simplex (pos, d, keys, b);
          for (int c = 0; c < job->n_src; c++)
            v[c] = job->src[c][p];
          v[ch - 1] = 1.f;
          gboolean in_core = keep && x >= t->x0 && x < t->x1 && y >= t->y0 && y < t->y1;
          size_t q = in_core ? ((size_t) (y - t->y0) * cw + (x - t->x0)) * D1 : 0;
          for (int k = 0; k < D1; k++)
            {
              /* Neighbouring pixels mostly fall in the same simplex: try
               * the previous pixel's vertex before the hash table. */
              int i;
              if (x > t->ax0 && key_equal (prev[k], keys[k], d))
                i = prev_i[k];
              else if ((i = lattice_find (&l, keys[k], TRUE)) < 0)
                goto out;
              memcpy (prev[k], keys[k], sizeof keys[k]);
              prev_i[k] = i;
              float *dv = l.val + (size_t) i * ch;
              for (int c = 0; c < ch; c++)
                dv[c] += b[k] * v[c];
              if (in_core)
                {
                  idx[q + k] = i;
                  bw[q + k] = b[k];
                }
            }
        }
    }

  const size_t np = (size_t) l.n;
  tmp = g_try_malloc (np * ch * sizeof (float));
  nbr = g_try_malloc (np * D1 * 2 * sizeof (int32_t));
  if (!tmp || !nbr)
    goto out;

  /* Neighbours along each lattice direction j: ±(1, …, 1, −d, 1, …) with
   * −d at j (only the first d coordinates are keys). */
  for (size_t p = 0; p < np; p++)
    for (int j = 0; j < D1; j++)
      {
        int32_t up[MAX_D], dn[MAX_D];
        const int32_t *key = l.keys + p * d;
        for (int i = 0; i < d; i++)
          {
            int o = i == j ? -d : 1;
            up[i] = key[i] + o;
            dn[i] = key[i] - o;
          }
        nbr[(p * D1 + j) * 2] = lattice_find (&l, up, FALSE);
        nbr[(p * D1 + j) * 2 + 1] = lattice_find (&l, dn, FALSE);
      }

  /* Blur: [1 2 1]/4 along each direction. */
  float *val = l.val;
  for (int j = 0; j < D1; j++)
    {
      for (size_t p = 0; p < np; p++)
        {
          const float *c0 = val + p * ch;
          float *o = tmp + p * ch;
          int a = nbr[(p * D1 + j) * 2], b = nbr[(p * D1 + j) * 2 + 1];
          for (int c = 0; c < ch; c++)
            o[c] = 0.5f * c0[c];
          if (a >= 0)
            for (int c = 0; c < ch; c++)
              o[c] += 0.25f * val[(size_t) a * ch + c];
          if (b >= 0)
            for (int c = 0; c < ch; c++)
              o[c] += 0.25f * val[(size_t) b * ch + c];
        }
      float *sw = val;
      val = tmp;
      tmp = sw;
    }
  /* val and tmp now each own one of the two buffers; l.val is one of them. */

  /* Slice the core. */
  for (int y = t->y0; y < t->y1; y++)
    for (int x = t->x0; x < t->x1; x++)
      {
        size_t p = (size_t) y * w + x;
        int32_t vi[MAX_D + 1];
        float vb[MAX_D + 1];
        if (keep)
          {
            size_t q = ((size_t) (y - t->y0) * cw + (x - t->x0)) * D1;
            memcpy (vi, idx + q, D1 * sizeof (int32_t));
            memcpy (vb, bw + q, D1 * sizeof (float));
          }
        else
          {
            double pos[MAX_D];
            int32_t keys[MAX_D + 1][MAX_D];
            pixel_position (job, s, x, y, p, pos);
            lattice_simplex (pos, d, keys, vb);
            for (int k = 0; k < D1; k++)
              vi[k] = lattice_find (&l, keys[k], FALSE);   /* splatted: present */
          }
        float acc[5] = { 0 };
        for (int k = 0; k < D1; k++)
          {
            const float *sv = val + (size_t) vi[k] * ch;
            for (int c = 0; c < ch; c++)
              acc[c] += vb[k] * sv[c];
          }
        float inv = 1.f / acc[ch - 1];
        for (int c = 0; c < job->n_src; c++)
          job->dst[c][p] = acc[c] * inv;
      }
  ok = TRUE;
  /* Whichever buffer l.val is not, free it here; lattice_clear frees l.val. */
  if (tmp == l.val)
    tmp = val;

out:
  lattice_clear (&l);
  g_free (idx);
  g_free (bw);
  g_free (tmp);
  g_free (nbr);
  return ok;
}

/* ---------------------------------------------------------------------- */
/* Driver                                                                   */

gboolean
lisse_joint_bilateral_planes (const float *const *src, int n_src,
                              const float *const *guide, int n_guide,
                              float *const *dst, int w, int h,
                              double sigma_s, double sigma_r,
                              LisseJbfPath path,
                              const LisseProgress *progress,
                              GError **error)
{
  g_return_val_if_fail (n_src >= 1 && n_src <= 4 && n_guide >= 1 && n_guide <= 4, FALSE);
  g_return_val_if_fail (sigma_s > 0 && sigma_r > 0 && w >= 1 && h >= 1, FALSE);

  double exact_below = n_guide == 1 ? LISSE_JBF_EXACT_BELOW_GREY : LISSE_JBF_EXACT_BELOW_COLOUR;
  if (path == LISSE_JBF_EXACT || (path == LISSE_JBF_AUTO && sigma_s < exact_below))
    return jbf_exact (src, n_src, guide, n_guide, dst, w, h, sigma_s, sigma_r,
                      progress, error);

  Job job = { src, n_src, guide, n_guide, dst, w, h, sigma_s, sigma_r, { 0 }, { 0 } };
  guide_ranges (&job);

  GridSetup gs = { 0 };
  LatticeSetup ls = { 0 };
  gboolean use_grid = n_guide == 1 && path != LISSE_JBF_LATTICE;
  int halo, core;
  if (use_grid)
    {
      grid_setup (&job, &gs);
      halo = gs.halo;
      /* Cores several halos wide keep the re-splatted margin small; halve
       * while the grid would be too large (a wide guide range). */
      core = MAX (12 * halo, 128);
      while (core > 16 && grid_tile_floats (&job, &gs, core) > GRID_MAX_FLOATS)
        core /= 2;
      if (grid_tile_floats (&job, &gs, core) > GRID_MAX_FLOATS)
        {
          /* The guide spans thousands of σr (HDR data, tiny σr): most of
           * that grid would be empty; the lattice stores only what is used. */
          use_grid = FALSE;
          g_clear_pointer (&gs.k, g_free);
        }
    }
  if (!use_grid)
    {
      lattice_setup (&job, &ls);
      halo = ls.halo;
      /* Cores several halos wide keep the re-splatted margin small (the
       * lattice of a large σs is small; per-pixel memory is bounded by
       * LATTICE_KEEP_MAX). */
      core = MAX (8 * halo, 128);
    }

  int n_tiles;
  Tile *tiles = make_tiles (w, h, core, halo, &n_tiles);
  gboolean ok = TRUE, oom = FALSE;
  const int batch = 64;   /* tiles between progress reports */
  for (int b0 = 0; b0 < n_tiles && ok; b0 += batch)
    {
      int b1 = MIN (n_tiles, b0 + batch);
      int failed = 0;
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (dynamic, 1) reduction (|:failed)
      for (int i = b0; i < b1; i++)
        {
          gboolean r = use_grid ? grid_tile (&job, &gs, &tiles[i])
                                : lattice_tile (&job, &ls, &tiles[i]);
          failed |= !r;
        }
      if (failed)
        {
          ok = FALSE;
          oom = TRUE;
        }
      else if (!lisse_progress_report (progress, (double) b1 / n_tiles, error))
        ok = FALSE;
    }
  if (oom)
    g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                 "joint bilateral: out of memory for a %d×%d image", w, h);
  g_free (tiles);
  g_free (gs.k);
  return ok;
}

/* ---------------------------------------------------------------------- */
/* The filter                                                               */

static const LisseParamSpec jbf_params[] = {
  { "sigma-s", "σs", N_("Spatial standard deviation in pixels"), 0.5, 500.0, 4.0, FALSE },
  { "sigma-r", "σr", N_("Range standard deviation in [0,1] intensity units "
    "(Euclidean over the guide's channels)"), 0.001, 10.0, 0.1, FALSE },
};

static LisseTensor *
jbf_run (const LisseTensor   *input,
         int                  n_color,
         const LisseTensor   *guide,
         const LisseParams   *params,
         const LisseProgress *progress,
         GError             **error)
{
  double ss = lisse_params_get (params, "sigma-s");
  double sr = lisse_params_get (params, "sigma-r");
  if (!(ss > 0 && sr > 0))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "joint-bilateral: sigma-s %g and sigma-r %g must be positive", ss, sr);
      return NULL;
    }
  LisseTensor *out = lisse_tensor_try_new (1, input->c, input->h, input->w, error);
  if (!out)
    return NULL;
  memcpy (out->data, input->data, lisse_tensor_numel (input) * sizeof (float));

  const float *src[4], *g[4];
  float *dst[4];
  int n_g = guide ? guide->c : n_color;
  for (int c = 0; c < n_color; c++)
    {
      src[c] = lisse_tensor_channel (input, 0, c);
      dst[c] = lisse_tensor_channel (out, 0, c);
    }
  for (int c = 0; c < n_g; c++)
    g[c] = lisse_tensor_channel (guide ? guide : input, 0, c);
  if (!lisse_joint_bilateral_planes (src, n_color, g, n_g, dst, input->w, input->h,
                                     ss, sr, LISSE_JBF_AUTO, progress, error))
    {
      lisse_tensor_free (out);
      return NULL;
    }
  return out;
}

const LisseFilterInfo lisse_filter_joint_bilateral = {
  .name = "joint-bilateral",
  .title = N_("Joint bilateral filter"),
  .reference = "Petschnigg et al. 2004; Tomasi & Manduchi 1998",
  .params = jbf_params,
  .n_params = G_N_ELEMENTS (jbf_params),
  .guide = LISSE_GUIDE_OPTIONAL,
  .run = jbf_run,
  /* Peak memory, input and result included, in float planes (tools/bench/memory-cost, a
   * quarter added): measured 0.6 + 1.8 per channel. */
  .memory = { 8.0, 1.0, 3.0 },
};
