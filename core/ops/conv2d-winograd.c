/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * conv2d by Winograd's minimal filtering, F(4×4, 3×3) (Lavin & Gray 2016),
 * for the 3×3 "same" convolutions that make up most of every network here:
 * stride 1, one group, padding equal to the dilation on every side.
 *
 * Each 4×4 block of output pixels is computed from the 6×6 input patch
 * around it as  Y = Aᵀ [ Σ_c (G g G ᵀ) ⊙ (Bᵀ d B) ] A,  where the sum over
 * input channels c is, for each of the 36 positions ξ of the 6×6 transformed
 * tile, one matrix product  M_ξ [Cout × T] = U_ξ [Cout × Cin] · V_ξ [Cin × T]
 * over a chunk of T tiles.  That is 36 multiplies per tile and channel pair
 * where a direct (or im2col) 3×3 convolution needs 16 · 9 = 144: a quarter of
 * the arithmetic, at the price of the transforms (linear in the channel
 * count, not quadratic) and a larger float error (tests/op-cases-conv.c
 * states the bound).  F(4×4) rather than F(6×6): its transform constants
 * (±1, ±2, ±4, ±5) keep the error within a few float roundings of the
 * direct sum, where F(6×6)'s grow it by two orders of magnitude.
 *
 * Dilation d (fan18's residual blocks use 2, 4, 8, 16) goes through the
 * polyphase split: the rows a, a + d, a + 2d, … and columns b, b + d, … of
 * the image form a sub-image on which the dilated kernel is a dense 3×3
 * one, with the same zero padding at the sub-image's border as at the
 * image's.  The d² sub-images are not copied: a tile is (phase a, b; tile
 * row and column in that sub-image), and its patch is read, and its output
 * written, with stride d.
 *
 * bf16 (where the geometry allows it, the CPU has AMX and Cin ≥ 16): U
 * and each chunk's V are rounded to bf16 and the 36 products run on AMX's
 * tiles with float accumulation (gemm-bf16.c), about 3 % RMS of a random
 * layer's output (tests/op-cases-gemm.c); networks opt in through their
 * model files after an end-to-end measurement (LisseNet.bf16).
 *
 * Determinism: the tiles are cut into chunks of a size that depends on the
 * channel counts and the scratch budget only, each chunk computed by one
 * thread with single-threaded matrix products, so every output value comes out
 * of the same operations whatever the thread count.  The tile grid starts at
 * each (sub-)image's top-left corner, so a crop of the image puts the same
 * pixel in another position of its tile: tiled and whole results agree to
 * float rounding, not bit for bit. */
#include "buffer-pool.h"
#include "gemm-bf16.h"
#include "ops-conv.h"
#include "simd-clones.h"
#include "tensor.h"
#include "threads.h"
#include "lisse-error.h"

#include <cblas.h>
#include <string.h>

#define WINO_OUT  4                     /* output tile side */
#define WINO_IN   6                     /* input patch side */
#define WINO_POS  (WINO_IN * WINO_IN)   /* positions of a transformed tile */
/* Tiles per chunk at most.  The chunk's V and M hold 36 · (Cin + Cout)
 * floats a tile (1.2 MB for 64 tiles of a 64-channel layer, within L2);
 * Chosen with tools/bench/conv-bench (64 channels, 256×256, one thread, CPU
 * time) on an earlier, unvectorised build with this limit made a temporary
 * environment knob, since removed: 32 tiles 36.6 ms, 48 34.8, 64 33.8,
 * 96 36.2, 128 37.5, 192 39.7, 768 49.3 (im2col: 85 ms).  To re-measure,
 * rebuild with other values of this define. */
#define WINO_MAX_TILES 64

/* One phase of the polyphase split: the sub-image of rows a + i·dh and
 * columns b + j·dw. */
typedef struct
{
  int a, b;            /* first row and column */
  int hs, ws;          /* sub-image size */
  int tw;              /* tiles per tile row */
  int split_base;      /* offset of its first pixel in a split plane */
  gint64 first;        /* flat index of its first tile */
  gint64 count;        /* its tiles */
} Phase;

/* Lanes: a chunk's tile count is rounded up to a multiple of this, so the
 * transforms run on whole vectors (the extra lanes compute on stale values
 * and are never written out). */
#define WINO_LANES 8
typedef float WinoVec __attribute__ ((vector_size (WINO_LANES * sizeof (float))));
/* The same, for loads and stores at any float-aligned address (macros, not
 * functions: a vector-valued function's ABI differs between the clones). */
typedef float WinoVecU __attribute__ ((vector_size (WINO_LANES * sizeof (float)),
                                        aligned (sizeof (float)), may_alias));
/* A chunk's lanes are a multiple of this: whole transform vectors, and
 * whole 16-column tiles for the bf16 products (gemm-bf16.c). */
#define WINO_CHUNK_ALIGN 16
#define vec_load(p)     (*(const WinoVecU *) (p))
#define vec_store(p, v) (*(WinoVecU *) (p) = (v))

gboolean
lisse_conv2d_winograd_supported (const LisseTensor *x, const LisseTensor *weight,
                                 const LisseConv2dGeom *g)
{
  return x && weight && g && weight->h == 3 && weight->w == 3 && g->groups == 1
         && weight->c == x->c && g->stride_h == 1 && g->stride_w == 1
         && g->dil_h >= 1 && g->dil_w >= 1
         && g->pad_top == g->dil_h && g->pad_bottom == g->dil_h
         && g->pad_left == g->dil_w && g->pad_right == g->dil_w;
}

/* U_ξ = G g Gᵀ for every output/input channel pair, stored as 36 matrices
 * [Cout × Cin]. */
static void
transform_weights (const LisseTensor *weight, float *u)
{
  const int cout = weight->n, cin = weight->c;
  const size_t mat = (size_t) cout * cin;
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
  for (int co = 0; co < cout; co++)
    for (int ci = 0; ci < cin; ci++)
      {
        const float *g = weight->data + ((size_t) co * cin + ci) * 9;
        float t[WINO_IN][3], r[WINO_IN][WINO_IN];
        /* G g: rows of G are (1/4, 0, 0), −(1, 1, 1)/6, −(1, −1, 1)/6,
         * (1/24, 1/12, 1/6), (1/24, −1/12, 1/6), (0, 0, 1). */
        for (int j = 0; j < 3; j++)
          {
            const float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
            t[0][j] = g0 / 4.f;
            t[1][j] = -(g0 + g1 + g2) / 6.f;
            t[2][j] = -(g0 - g1 + g2) / 6.f;
            t[3][j] = g0 / 24.f + g1 / 12.f + g2 / 6.f;
            t[4][j] = g0 / 24.f - g1 / 12.f + g2 / 6.f;
            t[5][j] = g2;
          }
        for (int i = 0; i < WINO_IN; i++)
          {
            const float g0 = t[i][0], g1 = t[i][1], g2 = t[i][2];
            r[i][0] = g0 / 4.f;
            r[i][1] = -(g0 + g1 + g2) / 6.f;
            r[i][2] = -(g0 - g1 + g2) / 6.f;
            r[i][3] = g0 / 24.f + g1 / 12.f + g2 / 6.f;
            r[i][4] = g0 / 24.f - g1 / 12.f + g2 / 6.f;
            r[i][5] = g2;
          }
        for (int xi = 0; xi < WINO_POS; xi++)
          u[(size_t) xi * mat + (size_t) co * cin + ci] = r[xi / WINO_IN][xi % WINO_IN];
      }
}

typedef struct
{
  const LisseTensor *x;
  const float *split;  /* x's planes split into phases, or NULL */
  float *split_out;    /* the output's, when x is split */
  LisseTensor *out;
  const float *u, *bias;
  /* bf16 products on AMX: U as bf16 pairs along Cin, [36][mrows][kp],
   * zero-padded to whole 16 × 16 tiles (mrows ≥ Cout, kp ≥ ⌈Cin / 2⌉, both
   * multiples of 16), or NULL: float products, mrows = Cout */
  const guint32 *ub;
  int kp, mrows;
  const Phase *phases;
  int n_phases, dh, dw, ni;
  gboolean relu;       /* ReLU applied as the blocks are written */
  const LisseTensor *residual;  /* added before the ReLU, or NULL */
} WinoJob;

/* Bᵀ applied to six values. */
#define WINO_BT(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5) \
  do {                                                          \
    o0 = 4.f * d0 - 5.f * d2 + d4;                              \
    o1 = -4.f * d1 - 4.f * d2 + d3 + d4;                        \
    o2 = 4.f * d1 - 4.f * d2 - d3 + d4;                         \
    o3 = -2.f * d1 - d2 + 2.f * d3 + d4;                        \
    o4 = 2.f * d1 - d2 - 2.f * d3 + d4;                         \
    o5 = 4.f * d1 - 5.f * d3 + d5;                              \
  } while (0)

/* Aᵀ applied to six values. */
#define WINO_AT(m0, m1, m2, m3, m4, m5, y0, y1, y2, y3) \
  do {                                                  \
    y0 = m0 + m1 + m2 + m3 + m4;                        \
    y1 = m1 - m2 + 2.f * m3 - 2.f * m4;                 \
    y2 = m1 + m2 + 4.f * m3 + 4.f * m4;                 \
    y3 = m1 - m2 + 8.f * m3 - 8.f * m4 + m5;            \
  } while (0)

/* The transforms, which run over whole vectors of tiles, get AVX2 and
 * AVX-512 versions chosen at run time (simd-clones.h). */
#define WINO_CLONES SIMD_CLONES

/* A run of a chunk's tiles that lie side by side in one tile row of one
 * phase: their input patches are six rows of one sub-image, 4·n + 2
 * columns wide. */
typedef struct
{
  int lane;        /* the first tile's lane */
  int n;           /* tiles */
  int phase;
  int row0, col0;  /* the patches' top-left pixel in the sub-image (may be −1) */
} Segment;

/* The chunk's runs of neighbouring tiles (tiles [t0, t0 + nt) of the
 * image), from which the patches are read (gather_patches) and to which
 * the blocks are written (scatter_segments).  Computed once per chunk and
 * used for every channel.  Returns the number of segments (at most nt). */
static int
tile_offsets (const WinoJob *job, gint64 t0, int nt, Segment *seg)
{
  int p = 0, n_seg = 0;
  while (p + 1 < job->n_phases && job->phases[p + 1].first <= t0)
    p++;
  for (int t = 0; t < nt; t++)
    {
      const gint64 flat = t0 + t;
      while (flat >= job->phases[p].first + job->phases[p].count)
        p++;
      const Phase *ph = &job->phases[p];
      const gint64 local = flat - ph->first;
      const int sy = (int) (local / ph->tw) * WINO_OUT - 1;
      const int sx = (int) (local % ph->tw) * WINO_OUT - 1;
      Segment *last = n_seg ? &seg[n_seg - 1] : NULL;
      if (last && last->phase == p && last->row0 == sy && last->col0 + WINO_OUT * last->n == sx)
        last->n++;
      else
        seg[n_seg++] = (Segment) { t, 1, p, sy, sx };
    }
  return n_seg;
}

/* The 6×6 input patches of a chunk's tiles in one channel plane, as
 * d[k·lanes + t] (k = row·6 + column): per segment, each of its six rows
 * copied once into @line (zeros beyond the sub-image's edges), then dealt
 * out to the tiles, which overlap by two columns.  Idle lanes keep what
 * they hold (finite: the scratch starts zeroed). */
WINO_CLONES static void
gather_patches (const WinoJob *job, const float *plane, const Segment *seg, int n_seg,
                int lanes, float *restrict line, float *restrict d)
{
  for (int s = 0; s < n_seg; s++)
    {
      const Segment *g = &seg[s];
      const Phase *ph = &job->phases[g->phase];
      const int span = WINO_OUT * g->n + 2;
      /* The sub-image's row r starts at base + r·stride; without the split
       * (no dilation) the sub-image is the plane. */
      const float *base = job->split ? plane + ph->split_base : plane;
      const size_t stride = job->split ? (size_t) ph->ws : (size_t) job->x->w;
      const int c_lo = MAX (0, -g->col0), c_hi = MIN (span, ph->ws - g->col0);
      for (int u = 0; u < WINO_IN; u++)
        {
          const int r = g->row0 + u;
          /* A row wholly inside the sub-image is dealt out from the plane
           * itself; only rows that cross an edge go through @line. */
          const float *ln = line;
          if (r < 0 || r >= ph->hs || c_hi <= c_lo)
            memset (line, 0, span * sizeof (float));
          else if (c_lo == 0 && c_hi == span)
            ln = base + (size_t) r * stride + g->col0;
          else
            {
              const float *src = base + (size_t) r * stride + g->col0;
              for (int c = 0; c < c_lo; c++)
                line[c] = 0.f;
              memcpy (line + c_lo, src + c_lo, (c_hi - c_lo) * sizeof (float));
              for (int c = c_hi; c < span; c++)
                line[c] = 0.f;
            }
          for (int v = 0; v < WINO_IN; v++)
            {
              float *restrict dst = d + (size_t) (u * WINO_IN + v) * lanes + g->lane;
              for (int j = 0; j < g->n; j++)
                dst[j] = ln[WINO_OUT * j + v];
            }
        }
    }
}

/* V_ξ column t = Bᵀ d_t B for a chunk's tiles in one channel; @v points at
 * that channel's row of the ξ = 0 matrix, matrices @stride floats apart. */
WINO_CLONES static void
transform_input (const float *restrict d, int lanes, float *restrict tmp, float *restrict v,
                 size_t stride)
{
  for (int t = 0; t < lanes; t += WINO_LANES)
    {
      /* Bᵀ d down each column of the patch, then (Bᵀ d) B along each row. */
      for (int col = 0; col < WINO_IN; col++)
        {
          WinoVec d0 = vec_load (d + (0 * WINO_IN + col) * lanes + t);
          WinoVec d1 = vec_load (d + (1 * WINO_IN + col) * lanes + t);
          WinoVec d2 = vec_load (d + (2 * WINO_IN + col) * lanes + t);
          WinoVec d3 = vec_load (d + (3 * WINO_IN + col) * lanes + t);
          WinoVec d4 = vec_load (d + (4 * WINO_IN + col) * lanes + t);
          WinoVec d5 = vec_load (d + (5 * WINO_IN + col) * lanes + t);
          WinoVec o0, o1, o2, o3, o4, o5;
          WINO_BT (d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5);
          vec_store (tmp + (0 * WINO_IN + col) * WINO_LANES, o0);
          vec_store (tmp + (1 * WINO_IN + col) * WINO_LANES, o1);
          vec_store (tmp + (2 * WINO_IN + col) * WINO_LANES, o2);
          vec_store (tmp + (3 * WINO_IN + col) * WINO_LANES, o3);
          vec_store (tmp + (4 * WINO_IN + col) * WINO_LANES, o4);
          vec_store (tmp + (5 * WINO_IN + col) * WINO_LANES, o5);
        }
      for (int row = 0; row < WINO_IN; row++)
        {
          const float *s = tmp + row * WINO_IN * WINO_LANES;
          WinoVec s0 = vec_load (s), s1 = vec_load (s + WINO_LANES);
          WinoVec s2 = vec_load (s + 2 * WINO_LANES), s3 = vec_load (s + 3 * WINO_LANES);
          WinoVec s4 = vec_load (s + 4 * WINO_LANES), s5 = vec_load (s + 5 * WINO_LANES);
          WinoVec o0, o1, o2, o3, o4, o5;
          WINO_BT (s0, s1, s2, s3, s4, s5, o0, o1, o2, o3, o4, o5);
          float *o = v + (size_t) row * WINO_IN * stride + t;
          vec_store (o, o0);
          vec_store (o + stride, o1);
          vec_store (o + 2 * stride, o2);
          vec_store (o + 3 * stride, o3);
          vec_store (o + 4 * stride, o4);
          vec_store (o + 5 * stride, o5);
        }
    }
}

/* y[k·lanes + t] (k = row·4 + column of the output block) = Aᵀ m_t A for a
 * chunk's tiles in one output channel; @m points at that channel's row of
 * the ξ = 0 matrix, matrices @stride floats apart. */
WINO_CLONES static void
transform_output (const float *restrict m, size_t stride, int lanes, float *restrict tmp,
                  float *restrict y)
{
  for (int t = 0; t < lanes; t += WINO_LANES)
    {
      for (int col = 0; col < WINO_IN; col++)
        {
          const float *s = m + (size_t) col * stride + t;
          WinoVec m0 = vec_load (s), m1 = vec_load (s + WINO_IN * stride);
          WinoVec m2 = vec_load (s + 2 * WINO_IN * stride);
          WinoVec m3 = vec_load (s + 3 * WINO_IN * stride);
          WinoVec m4 = vec_load (s + 4 * WINO_IN * stride);
          WinoVec m5 = vec_load (s + 5 * WINO_IN * stride);
          WinoVec y0, y1, y2, y3;
          WINO_AT (m0, m1, m2, m3, m4, m5, y0, y1, y2, y3);
          vec_store (tmp + (0 * WINO_IN + col) * WINO_LANES, y0);
          vec_store (tmp + (1 * WINO_IN + col) * WINO_LANES, y1);
          vec_store (tmp + (2 * WINO_IN + col) * WINO_LANES, y2);
          vec_store (tmp + (3 * WINO_IN + col) * WINO_LANES, y3);
        }
      for (int row = 0; row < WINO_OUT; row++)
        {
          const float *s = tmp + row * WINO_IN * WINO_LANES;
          WinoVec s0 = vec_load (s), s1 = vec_load (s + WINO_LANES);
          WinoVec s2 = vec_load (s + 2 * WINO_LANES), s3 = vec_load (s + 3 * WINO_LANES);
          WinoVec s4 = vec_load (s + 4 * WINO_LANES), s5 = vec_load (s + 5 * WINO_LANES);
          WinoVec y0, y1, y2, y3;
          WINO_AT (s0, s1, s2, s3, s4, s5, y0, y1, y2, y3);
          float *o = y + (size_t) row * WINO_OUT * lanes + t;
          vec_store (o, y0);
          vec_store (o + lanes, y1);
          vec_store (o + 2 * lanes, y2);
          vec_store (o + 3 * lanes, y3);
        }
    }
}

/* One output row of a segment's blocks: @len pixels from @dst on, pixel q
 * from column q % 4 of tile q / 4 (y[(q % 4)·lanes + q / 4], the row's
 * first block position already added to @y), plus @bias, plus the residual
 * @res at the same offsets when given, then ReLU as relu_array (v > 0 ? v
 * : 0) when @relu.  The row is contiguous in the plane (or in the split
 * sub-image), so the writes are too. */
WINO_CLONES static void
scatter_row (const float *restrict y, int lanes, int len, float bias, gboolean relu,
             const float *restrict res, float *restrict dst)
{
  const float *restrict y0 = y, *restrict y1 = y + lanes, *restrict y2 = y + 2 * (size_t) lanes,
              *restrict y3 = y + 3 * (size_t) lanes;
  const int whole = len / WINO_OUT;
  /* Whole blocks: four rows of y interleaved, which vectorises (a loop
   * over q with q % 4 and q / 4 in the index does not). */
  if (!res && !relu)
    for (int t = 0; t < whole; t++)
      {
        dst[4 * t] = y0[t] + bias;
        dst[4 * t + 1] = y1[t] + bias;
        dst[4 * t + 2] = y2[t] + bias;
        dst[4 * t + 3] = y3[t] + bias;
      }
  else if (!res)
    for (int t = 0; t < whole; t++)
      {
        const float v0 = y0[t] + bias, v1 = y1[t] + bias, v2 = y2[t] + bias, v3 = y3[t] + bias;
        dst[4 * t] = v0 > 0.0f ? v0 : 0.0f;
        dst[4 * t + 1] = v1 > 0.0f ? v1 : 0.0f;
        dst[4 * t + 2] = v2 > 0.0f ? v2 : 0.0f;
        dst[4 * t + 3] = v3 > 0.0f ? v3 : 0.0f;
      }
  else
    for (int t = 0; t < whole; t++)
      {
        const float v0 = y0[t] + bias + res[4 * t], v1 = y1[t] + bias + res[4 * t + 1];
        const float v2 = y2[t] + bias + res[4 * t + 2], v3 = y3[t] + bias + res[4 * t + 3];
        dst[4 * t] = relu ? (v0 > 0.0f ? v0 : 0.0f) : v0;
        dst[4 * t + 1] = relu ? (v1 > 0.0f ? v1 : 0.0f) : v1;
        dst[4 * t + 2] = relu ? (v2 > 0.0f ? v2 : 0.0f) : v2;
        dst[4 * t + 3] = relu ? (v3 > 0.0f ? v3 : 0.0f) : v3;
      }
  /* The block cut by the edge. */
  for (int q = whole * WINO_OUT; q < len; q++)
    {
      float v = y[(size_t) (q % WINO_OUT) * lanes + q / WINO_OUT] + bias;
      if (res)
        v += res[q];
      dst[q] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
}

/* A chunk's output blocks @y (y[k·lanes + t], k = row·4 + column of tile
 * t's block) into @plane, segment by segment and row by row, cut at the
 * sub-image's edges. */
static void
scatter_segments (const WinoJob *job, const Segment *seg, int n_seg, const float *y, int lanes,
                  float bias, gboolean relu, const float *res, float *plane)
{
  for (int s = 0; s < n_seg; s++)
    {
      const Segment *g = &seg[s];
      const Phase *ph = &job->phases[g->phase];
      const int c0 = g->col0 + 1, len = MIN (WINO_OUT * g->n, ph->ws - c0);
      for (int i = 0; i < WINO_OUT && g->row0 + 1 + i < ph->hs; i++)
        {
          const int r = g->row0 + 1 + i;
          /* Without the split there is no dilation: the sub-image is the
           * plane (a = b = 0, dh = dw = 1). */
          const size_t at = job->split_out ? (size_t) ph->split_base + (size_t) r * ph->ws + c0
                                           : (size_t) r * job->out->w + c0;
          scatter_row (y + (size_t) i * WINO_OUT * lanes + g->lane, lanes, len, bias, relu,
                       res ? res + at : NULL, plane + at);
        }
    }
}

/* Bytes of per-thread scratch for chunks of @lanes tiles. */
static size_t
chunk_bytes (int cin, int cout, int lanes)
{
  return ((size_t) WINO_POS * lanes * (cin + cout)          /* V, M */
          + (size_t) WINO_POS * lanes                       /* patches, output blocks */
          + (size_t) WINO_POS * WINO_LANES                  /* half-transformed vectors */
          + (size_t) WINO_OUT * lanes + 2) * sizeof (float)  /* one patch row's line */
         + (size_t) lanes * sizeof (Segment);
}

/* Tiles [t0, t0 + nt) of image @job->ni; the chunk's arrays are @lanes
 * (nt rounded up to whole vectors) wide. */
static void
run_chunk (const WinoJob *job, gint64 t0, int nt, int lanes, void *scratch)
{
  const int cin = job->x->c, cout = job->out->c;
  float *v = scratch;
  float *m = v + (size_t) WINO_POS * cin * lanes;
  float *d = m + (size_t) WINO_POS * job->mrows * lanes;
  float *tmp = d + (size_t) WINO_POS * lanes;
  float *line = tmp + (size_t) WINO_POS * WINO_LANES;
  Segment *seg = (Segment *) (line + (size_t) WINO_OUT * lanes + 2);

  const int n_seg = tile_offsets (job, t0, nt, seg);
  /* V_ξ [Cin × lanes] */
  const size_t v_stride = (size_t) cin * lanes;
  for (int ci = 0; ci < cin; ci++)
    {
      const float *plane = job->split
                           ? job->split + ((size_t) job->ni * cin + ci) * lisse_tensor_plane (job->x)
                           : lisse_tensor_channel (job->x, job->ni, ci);
      gather_patches (job, plane, seg, n_seg, lanes, line, d);
      transform_input (d, lanes, tmp, v + (size_t) ci * lanes, v_stride);
    }
  /* M_ξ = U_ξ V_ξ: in bf16 on all lanes (each column is summed on its own,
   * so the idle ones change nothing), in float on the real tiles only */
  const size_t m_stride = (size_t) job->mrows * lanes, u_stride = (size_t) cout * cin;
  if (job->ub)
    for (int xi = 0; xi < WINO_POS; xi++)
      {
        /* V_ξ's rows to bf16 pairs, in place: pair row p over float row p,
         * which pair row p/2 has already read; the padding rows zero (they
         * fit: kp ≤ Cin for Cin ≥ 16) */
        float *vx = v + xi * v_stride;
        guint32 *vb = (guint32 *) vx;
        for (int p = 0; p < job->kp; p++)
          if (2 * p < cin)
            lisse_bf16_pack_pairs (vx + (size_t) 2 * p * lanes,
                                   2 * p + 1 < cin ? vx + (size_t) (2 * p + 1) * lanes : NULL,
                                   lanes, vb + (size_t) p * lanes);
          else
            memset (vb + (size_t) p * lanes, 0, (size_t) lanes * sizeof (guint32));
        lisse_gemm_bf16 (job->mrows, lanes, job->kp, job->ub + (size_t) xi * job->mrows * job->kp,
                         job->kp, vb, lanes, m + xi * m_stride, lanes);
      }
  else
    for (int xi = 0; xi < WINO_POS; xi++)
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, nt, cin, 1.f,
                   job->u + xi * u_stride, cin, v + xi * v_stride, lanes,
                   0.f, m + xi * m_stride, lanes);
  /* Y = Aᵀ M A, scattered into the output planes */
  for (int co = 0; co < cout; co++)
    {
      transform_output (m + (size_t) co * lanes, m_stride, lanes, tmp, d);
      float *plane = job->split_out
                     ? job->split_out + ((size_t) job->ni * cout + co) * lisse_tensor_plane (job->out)
                     : lisse_tensor_channel (job->out, job->ni, co);
      /* Split: the residual and the ReLU wait for the merge (the
       * residual is in the image's layout). */
      const float *res = job->residual && !job->split_out
                         ? lisse_tensor_channel (job->residual, job->ni, co) : NULL;
      scatter_segments (job, seg, n_seg, d, lanes, job->bias ? job->bias[co] : 0.f,
                      job->relu && (!job->residual || !job->split_out), res, plane);
    }
}

static LisseTensor *conv2d_winograd (const LisseTensor *x, const LisseTensor *weight,
                                     const LisseTensor *bias, const LisseConv2dGeom *g,
                                     const LisseTensor *residual, gboolean relu,
                                     GError **error);

LisseTensor *
lisse_conv2d_winograd (const LisseTensor *x, const LisseTensor *weight, const LisseTensor *bias,
                       const LisseConv2dGeom *g, GError **error)
{
  return conv2d_winograd (x, weight, bias, g, NULL, FALSE, error);
}

LisseTensor *
lisse_conv2d_winograd_relu (const LisseTensor *x, const LisseTensor *weight,
                            const LisseTensor *bias, const LisseConv2dGeom *g, GError **error)
{
  return conv2d_winograd (x, weight, bias, g, NULL, TRUE, error);
}

LisseTensor *
lisse_conv2d_winograd_add_relu (const LisseTensor *x, const LisseTensor *weight,
                                const LisseTensor *bias, const LisseConv2dGeom *g,
                                const LisseTensor *residual, GError **error)
{
  return conv2d_winograd (x, weight, bias, g, residual, TRUE, error);
}

static LisseTensor *
conv2d_winograd (const LisseTensor *x, const LisseTensor *weight, const LisseTensor *bias,
                 const LisseConv2dGeom *g, const LisseTensor *residual, gboolean relu,
                 GError **error)
{
  g_return_val_if_fail (x && weight && g, NULL);
  int oh, ow;
  if (!lisse_conv2d_out_size (x->h, x->w, weight->h, weight->w, g, &oh, &ow, error))
    return NULL;
  if (!lisse_conv2d_winograd_supported (x, weight, g))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "conv2d (Winograd): needs a 3×3 kernel over all %d input channels "
                   "(one group), stride 1 and padding equal to the dilation; got "
                   "%d×%d×%d×%d, stride %d×%d, padding (%d, %d, %d, %d), dilation %d×%d, "
                   "%d groups", x->c, weight->n, weight->c, weight->h, weight->w,
                   g->stride_h, g->stride_w, g->pad_top, g->pad_bottom, g->pad_left,
                   g->pad_right, g->dil_h, g->dil_w, g->groups);
      return NULL;
    }
  if (!lisse_ops_check_vector (bias, weight->n, TRUE, "conv2d bias", error))
    return NULL;

  const int cin = x->c, cout = weight->n, dh = g->dil_h, dw = g->dil_w;
  /* Every output pixel is written (by its tile's block, or from the split
   * plane, which every phase's tiles fill). */
  LisseTensor *out = lisse_tensor_try_new_uninit (x->n, cout, oh, ow, error);
  if (!out)
    return NULL;

  /* The phases that hold pixels (a dilation larger than the image leaves
   * some empty). */
  const int n_phases = MIN (dh, x->h) * MIN (dw, x->w);
  Phase *phases = g_try_new (Phase, n_phases);
  float *u = g_try_malloc ((size_t) WINO_POS * cout * cin * sizeof (float));
  guint32 *ub = NULL;
  /* bf16 on AMX where the network allows it; Cin ≥ 16 so that V's padded
   * pair rows fit in its float rows */
  const gboolean amx = g->bf16 && cin >= 16 && lisse_gemm_bf16_supported ();
  const int kp = amx ? ((cin + 1) / 2 + 15) / 16 * 16 : 0;
  const int mrows = amx ? (cout + 15) / 16 * 16 : cout;
  if (!phases || !u)
    goto oom;
  gint64 total = 0;
  int np = 0;
  for (int a = 0; a < MIN (dh, x->h); a++)
    for (int b = 0; b < MIN (dw, x->w); b++)
      {
        Phase *ph = &phases[np++];
        ph->a = a;
        ph->b = b;
        ph->hs = (x->h - a + dh - 1) / dh;
        ph->ws = (x->w - b + dw - 1) / dw;
        ph->tw = (ph->ws + WINO_OUT - 1) / WINO_OUT;
        ph->split_base = np == 1 ? 0 : phases[np - 2].split_base + phases[np - 2].hs * phases[np - 2].ws;
        ph->first = total;
        ph->count = (gint64) ((ph->hs + WINO_OUT - 1) / WINO_OUT) * ph->tw;
        total += ph->count;
      }
  transform_weights (weight, u);
  /* bf16 products: the transformed weights as pairs along Cin */
  if (amx)
    {
      ub = g_try_malloc0 ((size_t) WINO_POS * mrows * kp * sizeof (guint32));
      if (!ub)
        goto oom;
      for (int xi = 0; xi < WINO_POS; xi++)
        for (int co = 0; co < cout; co++)
          {
            const float *row = u + ((size_t) xi * cout + co) * cin;
            guint32 *dst = ub + ((size_t) xi * mrows + co) * kp;
            for (int p = 0; 2 * p < cin; p++)
              lisse_bf16_pack_pairs (row + 2 * p, 2 * p + 1 < cin ? row + 2 * p + 1 : NULL, 1,
                                     dst + p);
          }
    }

  /* Dilated: the input's and the output's planes rearranged phase by
   * phase, so that a tile reads six short rows of one sub-image and writes
   * four, instead of 36 and 16 points a dilation apart, each on its own
   * cache line (measured: 1.7× slower at dilation 8 without the split).
   * Costs a copy of the input and of the output. */
  float *split = NULL, *split_out = NULL;
  if (dh > 1 || dw > 1)
    {
      const size_t plane = lisse_tensor_plane (x);
      split = lisse_buffer_alloc (lisse_tensor_numel (x) * sizeof (float));
      split_out = lisse_buffer_alloc (lisse_tensor_numel (out) * sizeof (float));
      if (!split || !split_out)
        {
          lisse_buffer_free (split, lisse_tensor_numel (x) * sizeof (float));
          lisse_buffer_free (split_out, lisse_tensor_numel (out) * sizeof (float));
          goto oom;
        }
      const int planes = x->n * cin;
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
      for (int pl = 0; pl < planes; pl++)
        {
          const float *src = x->data + (size_t) pl * plane;
          for (int p = 0; p < n_phases; p++)
            {
              const Phase *ph = &phases[p];
              float *dst = split + (size_t) pl * plane + ph->split_base;
              for (int r = 0; r < ph->hs; r++)
                {
                  const float *row = src + (size_t) (r * dh + ph->a) * x->w + ph->b;
                  for (int c = 0; c < ph->ws; c++)
                    dst[(size_t) r * ph->ws + c] = row[(size_t) c * dw];
                }
            }
        }
    }

  /* Chunk size from the channel counts and the scratch budget only (never
   * the thread count: see the determinism note above). */
  const size_t per_tile = chunk_bytes (cin, mrows, 1);
  int nt = (int) CLAMP (lisse_ops_get_scratch_bytes () / per_tile, 1, WINO_MAX_TILES);
  if ((gint64) nt > total)
    nt = (int) total;
  const int lanes = (nt + WINO_CHUNK_ALIGN - 1) / WINO_CHUNK_ALIGN * WINO_CHUNK_ALIGN;
  const gint64 n_chunks = (total + nt - 1) / nt;

  WinoJob job = { x, split, split_out, out, u, bias ? bias->data : NULL, ub, kp, mrows,
                  phases, n_phases, dh, dw, 0, relu, residual };
  gboolean failed = FALSE;
  for (int ni = 0; ni < x->n && !failed; ni++)
    {
      job.ni = ni;
#pragma omp parallel num_threads (lisse_threads_get ()) if (n_chunks > 1)
      {
        /* Zeroed: a short last chunk's idle lanes hold finite values. */
        void *scratch = g_try_malloc0 (chunk_bytes (cin, mrows, lanes));
        if (!scratch)
          {
#pragma omp atomic write
            failed = TRUE;
          }
#pragma omp for schedule (dynamic, 1)
        for (gint64 c = 0; c < n_chunks; c++)
          if (scratch)
            run_chunk (&job, c * nt, (int) MIN ((gint64) nt, total - c * nt), lanes, scratch);
        g_free (scratch);
      }
    }
  if (split_out && !failed)
    {
      const size_t plane = lisse_tensor_plane (out);
      const int planes = out->n * cout;
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
      for (int pl = 0; pl < planes; pl++)
        {
          float *dst = out->data + (size_t) pl * plane;
          const float *res = residual ? residual->data + (size_t) pl * plane : NULL;
          for (int p = 0; p < n_phases; p++)
            {
              const Phase *ph = &phases[p];
              const float *src = split_out + (size_t) pl * plane + ph->split_base;
              for (int r = 0; r < ph->hs; r++)
                {
                  const size_t at = (size_t) (r * dh + ph->a) * out->w + ph->b;
                  float *row = dst + at;
                  if (res)   /* the residual, then the ReLU, held back from the scatter */
                    {
                      const float *rrow = res + at;
                      for (int c = 0; c < ph->ws; c++)
                        {
                          const float v = src[(size_t) r * ph->ws + c] + rrow[(size_t) c * dw];
                          row[(size_t) c * dw] = relu ? (v > 0.0f ? v : 0.0f) : v;
                        }
                    }
                  else
                    for (int c = 0; c < ph->ws; c++)
                      row[(size_t) c * dw] = src[(size_t) r * ph->ws + c];
                }
            }
        }
    }
  lisse_buffer_free (split, lisse_tensor_numel (x) * sizeof (float));
  lisse_buffer_free (split_out, lisse_tensor_numel (out) * sizeof (float));
  if (failed)
    goto oom;
  g_free (phases);
  g_free (u);
  g_free (ub);
  return out;

oom:
  g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
               "conv2d (Winograd): out of memory for the transformed weights or tiles");
  g_free (phases);
  g_free (u);
  g_free (ub);
  lisse_tensor_free (out);
  return NULL;
}
