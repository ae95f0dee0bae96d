/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Tiled execution must give the whole-image result.  The functions tiled
 * here are small op chains written with plain loops, with known receptive
 * radii: plain 3×3 layers, dilated ones, and a stride-2 chain (downsample,
 * filter, upsample).  Each is run once on the whole image (directly, not
 * through the tiler) and then tiled with many tile sizes and image shapes.
 * The negative checks (halo one short of the radius, no alignment for the
 * stride-2 chain) prove the positive ones could fail. */
#include "lisse-error.h"
#include "tiling.h"

#include <math.h>
#include <string.h>

/* ---- the op chains ------------------------------------------------------ */

typedef enum { BORDER_ZERO, BORDER_REPLICATE } Border;

typedef enum
{
  CHAIN_PLAIN,     /* three 3×3 layers:                 radius 3 */
  CHAIN_DILATED,   /* 3×3 layers dilated 1, 2, 4:       radius 7 */
  CHAIN_STRIDE,    /* 2×2 mean ↓, 3×3, ×2 nearest ↑:    radius 3 */
  CHAIN_STRIDE_BL, /* 2×2 mean ↓, 3×3, ×2 bilinear ↑:   radius 4 */
  CHAIN_POINT,     /* pointwise only:                   radius 0 */
} ChainKind;

static const int chain_radius[] = { 3, 7, 3, 4, 0 };

static float
softsign (float v)
{
  return v / (1.f + fabsf (v));
}

/* 3×3 (dilated) filter per channel with asymmetric weights (a flipped or
 * shifted kernel would show) and a nonlinearity.  Crop edges are image
 * edges: the function has no idea it may be looking at a tile. */
static LisseTensor *
conv3 (const LisseTensor *x, int dil, Border border)
{
  static const float k[9] = { 0.05f, 0.20f, -0.10f,
                              0.30f, 0.40f,  0.15f,
                             -0.05f, 0.25f,  0.10f };
  LisseTensor *y = lisse_tensor_new (1, x->c, x->h, x->w);
  for (int c = 0; c < x->c; c++)
    {
      const float *src = lisse_tensor_channel (x, 0, c);
      float *dst = lisse_tensor_channel (y, 0, c);
      float bias = 0.1f * (c + 1);
      for (int i = 0; i < x->h; i++)
        for (int j = 0; j < x->w; j++)
          {
            float acc = bias;
            for (int di = -1; di <= 1; di++)
              for (int dj = -1; dj <= 1; dj++)
                {
                  int ii = i + di * dil, jj = j + dj * dil;
                  float v;
                  if (ii >= 0 && ii < x->h && jj >= 0 && jj < x->w)
                    v = src[(size_t) ii * x->w + jj];
                  else if (border == BORDER_ZERO)
                    v = 0.f;
                  else
                    v = src[(size_t) CLAMP (ii, 0, x->h - 1) * x->w
                            + CLAMP (jj, 0, x->w - 1)];
                  acc += k[(di + 1) * 3 + dj + 1] * (1.f + 0.1f * c) * v;
                }
            dst[(size_t) i * x->w + j] = softsign (acc);
          }
    }
  return y;
}

/* 2×2 mean; odd sizes round up and the last cell averages what exists. */
static LisseTensor *
down2 (const LisseTensor *x)
{
  int h = (x->h + 1) / 2, w = (x->w + 1) / 2;
  LisseTensor *y = lisse_tensor_new (1, x->c, h, w);
  for (int c = 0; c < x->c; c++)
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++)
        {
          float s = 0.f;
          int n = 0;
          for (int ii = 2 * i; ii < MIN (2 * i + 2, x->h); ii++)
            for (int jj = 2 * j; jj < MIN (2 * j + 2, x->w); jj++, n++)
              s += lisse_tensor_at (x, 0, c, ii, jj);
          lisse_tensor_channel (y, 0, c)[(size_t) i * w + j] = s / n;
        }
  return y;
}

/* ×2 upsampling to @h × @w (the size before down2), nearest or bilinear
 * (half-pixel centres, clamped at the edges). */
static LisseTensor *
up2 (const LisseTensor *x, int h, int w, gboolean bilinear)
{
  LisseTensor *y = lisse_tensor_new (1, x->c, h, w);
  for (int c = 0; c < x->c; c++)
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++)
        {
          float v;
          if (!bilinear)
            v = lisse_tensor_at (x, 0, c, i / 2, j / 2);
          else
            {
              float si = MAX (0.f, (i + 0.5f) * 0.5f - 0.5f);
              float sj = MAX (0.f, (j + 0.5f) * 0.5f - 0.5f);
              int i0 = MIN ((int) si, x->h - 1), j0 = MIN ((int) sj, x->w - 1);
              int i1 = MIN (i0 + 1, x->h - 1), j1 = MIN (j0 + 1, x->w - 1);
              float fi = si - i0, fj = sj - j0;
              float top = (1 - fj) * lisse_tensor_at (x, 0, c, i0, j0)
                        + fj * lisse_tensor_at (x, 0, c, i0, j1);
              float bot = (1 - fj) * lisse_tensor_at (x, 0, c, i1, j0)
                        + fj * lisse_tensor_at (x, 0, c, i1, j1);
              v = (1 - fi) * top + fi * bot;
            }
          lisse_tensor_channel (y, 0, c)[(size_t) i * w + j] = v;
        }
  return y;
}

/* Pointwise channel mix Cin → Cout with a nonlinearity, written into @out. */
static void
mix (const LisseTensor *x, LisseTensor *out)
{
  size_t plane = lisse_tensor_plane (x);
  for (int o = 0; o < out->c; o++)
    {
      float *dst = lisse_tensor_channel (out, 0, o);
      for (size_t p = 0; p < plane; p++)
        {
          float acc = 0.05f * o;
          for (int c = 0; c < x->c; c++)
            acc += (((o + 1) * (c + 2)) % 5 - 2 + 0.5f) * 0.4f
                   * lisse_tensor_channel (x, 0, c)[p];
          dst[p] = softsign (acc);
        }
    }
}

typedef struct
{
  ChainKind kind;
  Border    border;
  int       calls;       /* tile function calls */
  int       fail_at;     /* ≥ 0: fail on this call (0-based) */
  gboolean  fail_silently;
  gboolean  report_inside;  /* report into info->progress halfway */
  const LisseTensor *expect_in;  /* if set: in_tile must be this tensor */
} Chain;

static void
chain_apply (const Chain *ch, const LisseTensor *in, LisseTensor *out)
{
  LisseTensor *x = lisse_tensor_copy (in), *t;
  switch (ch->kind)
    {
    case CHAIN_PLAIN:
      for (int l = 0; l < 3; l++)
        t = conv3 (x, 1, ch->border), lisse_tensor_free (x), x = t;
      break;
    case CHAIN_DILATED:
      for (int d = 1; d <= 4; d *= 2)
        t = conv3 (x, d, ch->border), lisse_tensor_free (x), x = t;
      break;
    case CHAIN_STRIDE:
    case CHAIN_STRIDE_BL:
      t = down2 (x), lisse_tensor_free (x), x = t;
      t = conv3 (x, 1, ch->border), lisse_tensor_free (x), x = t;
      t = up2 (x, in->h, in->w, ch->kind == CHAIN_STRIDE_BL), lisse_tensor_free (x), x = t;
      break;
    case CHAIN_POINT:
      break;
    }
  mix (x, out);
  lisse_tensor_free (x);
}

static gboolean
chain_tile (const LisseTensor *in_tile, LisseTensor *out_tile,
            const LisseTileInfo *info, gpointer user_data, GError **error)
{
  Chain *ch = user_data;
  int call = ch->calls++;
  g_assert_cmpint (in_tile->n, ==, 1);
  g_assert_cmpint (out_tile->h, ==, in_tile->h);
  g_assert_cmpint (out_tile->w, ==, in_tile->w);
  g_assert_cmpint (info->w, ==, in_tile->w);
  g_assert_cmpint (info->h, ==, in_tile->h);
  g_assert_cmpint (info->index, ==, call);
  g_assert_true (info->progress != NULL);
  /* The core lies inside the crop. */
  g_assert_cmpint (info->core_x, >=, info->x);
  g_assert_cmpint (info->core_y, >=, info->y);
  g_assert_cmpint (info->core_x + info->core_w, <=, info->x + info->w);
  g_assert_cmpint (info->core_y + info->core_h, <=, info->y + info->h);
  if (ch->expect_in)
    g_assert_true (in_tile == ch->expect_in);
  if (call == ch->fail_at)
    {
      if (!ch->fail_silently)
        g_set_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL, "tile %d broke", call);
      return FALSE;
    }
  if (ch->report_inside && !lisse_progress_report (info->progress, 0.5, error))
    return FALSE;
  chain_apply (ch, in_tile, out_tile);
  return TRUE;
}

static LisseTensor *
rand_image (int c, int h, int w, guint32 seed)
{
  GRand *rng = g_rand_new_with_seed (seed);
  LisseTensor *t = lisse_tensor_new (1, c, h, w);
  for (size_t i = 0; i < lisse_tensor_numel (t); i++)
    t->data[i] = (float) g_rand_double_range (rng, -1.0, 1.0);
  g_rand_free (rng);
  return t;
}

static LisseTensor *
whole_image (ChainKind kind, Border border, const LisseTensor *in, int cout)
{
  Chain ch = { kind, border, 0, -1, FALSE, FALSE, NULL };
  LisseTensor *out = lisse_tensor_new (1, cout, in->h, in->w);
  chain_apply (&ch, in, out);
  return out;
}

/* max |tiled − whole| for one configuration. */
static float
tiled_diff (ChainKind kind, Border border, const LisseTensor *in, const LisseTensor *ref,
            int tile, int halo, int multiple)
{
  Chain ch = { kind, border, 0, -1, FALSE, FALSE, NULL };
  LisseTileSpec spec = { tile, halo, multiple, ref->c, NULL };
  GError *error = NULL;
  LisseTensor *out = lisse_tiled_run (in, &spec, chain_tile, &ch, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_true (lisse_tensor_same_shape (out, ref));

  LisseTilePlan plan;
  g_assert_true (lisse_tile_plan (in->w, in->h, in->c, &spec, &plan, NULL));
  g_assert_cmpint (ch.calls, ==, plan.tiles_x * plan.tiles_y);

  float d = lisse_tensor_max_abs_diff (out, ref);
  lisse_tensor_free (out);
  return d;
}

static const int sizes[][2] = {   /* w, h */
  { 97, 61 }, { 1, 1 }, { 5, 300 }, { 300, 5 }, { 64, 64 }, { 33, 2 }, { 2, 33 },
};
static const int tiles[] = { 2, 4, 8, 17, 64, 1000, 0 };

static void
check_exact (ChainKind kind, Border border, const int *multiples, int n_multiples)
{
  int configs = 0;
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      int w = sizes[s][0], h = sizes[s][1];
      LisseTensor *in = rand_image (3, h, w, 1000 + s);
      LisseTensor *ref = whole_image (kind, border, in, 2);
      for (guint t = 0; t < G_N_ELEMENTS (tiles); t++)
        for (int mi = 0; mi < n_multiples; mi++)
          {
            int m = multiples[mi];
            if (tiles[t] > 0 && tiles[t] < 2 * m)
              continue;
            float d = tiled_diff (kind, border, in, ref, tiles[t], chain_radius[kind], m);
            if (d > 1e-6f)
              g_error ("chain %d border %d: %d×%d tile %d halo %d multiple %d: "
                       "max diff %g", kind, border, w, h, tiles[t],
                       chain_radius[kind], m, d);
            configs++;
          }
      lisse_tensor_free (ref);
      lisse_tensor_free (in);
    }
  g_test_message ("chain %d border %d: %d configurations exact", kind, border, configs);
}

/* ---- (1) receptive radius ----------------------------------------------- */

static void
test_plain (void)
{
  static const int ms[] = { 1, 2, 3 };
  check_exact (CHAIN_PLAIN, BORDER_ZERO, ms, 3);
  check_exact (CHAIN_PLAIN, BORDER_REPLICATE, ms, 3);
}

static void
test_dilated (void)
{
  static const int ms[] = { 1, 2 };
  check_exact (CHAIN_DILATED, BORDER_ZERO, ms, 2);
  check_exact (CHAIN_DILATED, BORDER_REPLICATE, ms, 2);
}

static void
test_pointwise_no_halo (void)
{
  static const int ms[] = { 1 };
  check_exact (CHAIN_POINT, BORDER_ZERO, ms, 1);
}

/* The halo matters: one pixel short of the radius is visibly wrong. */
static void
test_halo_too_small (void)
{
  static const ChainKind kinds[] = { CHAIN_PLAIN, CHAIN_DILATED };
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    for (int b = BORDER_ZERO; b <= BORDER_REPLICATE; b++)
      {
        LisseTensor *in = rand_image (3, 61, 97, 7);
        LisseTensor *ref = whole_image (kinds[k], b, in, 2);
        float exact = tiled_diff (kinds[k], b, in, ref, 17, chain_radius[kinds[k]], 1);
        float short_ = tiled_diff (kinds[k], b, in, ref, 17, chain_radius[kinds[k]] - 1, 1);
        g_test_message ("chain %d border %d: halo r → %g, halo r−1 → %g",
                        kinds[k], b, exact, short_);
        g_assert_cmpfloat (exact, <=, 1e-6f);
        g_assert_cmpfloat (short_, >, 1e-3f);
        lisse_tensor_free (ref);
        lisse_tensor_free (in);
      }
}

/* ---- (2) stride-2 alignment ----------------------------------------------- */

static void
test_stride_aligned (void)
{
  static const int ms[] = { 2, 4 };
  check_exact (CHAIN_STRIDE, BORDER_REPLICATE, ms, 2);
  check_exact (CHAIN_STRIDE, BORDER_ZERO, ms, 2);
  check_exact (CHAIN_STRIDE_BL, BORDER_REPLICATE, ms, 2);
}

/* Without alignment, crops starting at odd coordinates put the 2×2 cells on
 * the other phase: wrong even with a generous halo. */
static void
test_stride_unaligned (void)
{
  static const ChainKind kinds[] = { CHAIN_STRIDE, CHAIN_STRIDE_BL };
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      LisseTensor *in = rand_image (3, 61, 97, 11);
      LisseTensor *ref = whole_image (kinds[k], BORDER_REPLICATE, in, 2);
      int r = chain_radius[kinds[k]];
      /* Tile 9: core origins 9k alternate in parity, so some crops start odd. */
      float aligned = tiled_diff (kinds[k], BORDER_REPLICATE, in, ref, 9, r, 2);
      float odd = tiled_diff (kinds[k], BORDER_REPLICATE, in, ref, 9, r, 1);
      float odd_big_halo = tiled_diff (kinds[k], BORDER_REPLICATE, in, ref, 9, r + 3, 1);
      g_test_message ("stride chain %d: multiple 2 → %g, multiple 1 → %g "
                      "(halo %d: %g)", kinds[k], aligned, odd, r + 3, odd_big_halo);
      g_assert_cmpfloat (aligned, <=, 1e-6f);
      g_assert_cmpfloat (odd, >, 1e-3f);
      g_assert_cmpfloat (odd_big_halo, >, 1e-3f);
      lisse_tensor_free (ref);
      lisse_tensor_free (in);
    }
}

/* Crop edges land where the policy says. */
static void
test_plan_geometry (void)
{
  LisseTileSpec spec = { 10, 3, 4, 1, NULL };
  LisseTilePlan plan;
  GError *error = NULL;
  g_assert_true (lisse_tile_plan (37, 5, 2, &spec, &plan, &error));
  g_assert_no_error (error);
  g_assert_cmpint (plan.tiles_x, ==, 4);
  g_assert_cmpint (plan.tiles_y, ==, 1);
  /* Cores 0-10, 10-20, 20-30, 30-37; crops [0,16) [4,24) [16,36) [24,37):
   * widest 20; rows: the whole 5. */
  g_assert_cmpint (plan.max_crop_w, ==, 20);
  g_assert_cmpint (plan.max_crop_h, ==, 5);
  g_assert_cmpuint (plan.buffer_bytes, ==, (gsize) (20 * 5 * 2 + 20 * 5 * 1 + 10 * 5 * 1) * 4);

  spec.tile_size = 0;   /* whole image: one tile, halo irrelevant */
  g_assert_true (lisse_tile_plan (37, 5, 2, &spec, &plan, NULL));
  g_assert_cmpint (plan.tiles_x * plan.tiles_y, ==, 1);
  g_assert_cmpint (plan.max_crop_w, ==, 37);
  g_assert_cmpuint (plan.buffer_bytes, ==, (gsize) (37 * 5 * 3) * 4);
}

/* Recorded crop rectangles: aligned origins, aligned ends unless at the border. */
typedef struct
{
  int w, h, m;
  int reads;
} AlignCheck;

static gboolean
align_read (int x, int y, LisseTensor *dst, gpointer user_data, GError **error)
{
  (void) error;
  AlignCheck *a = user_data;
  a->reads++;
  g_assert_cmpint (x % a->m, ==, 0);
  g_assert_cmpint (y % a->m, ==, 0);
  g_assert_true ((x + dst->w) % a->m == 0 || x + dst->w == a->w);
  g_assert_true ((y + dst->h) % a->m == 0 || y + dst->h == a->h);
  lisse_tensor_fill (dst, 1.f);
  return TRUE;
}

static gboolean
copy_tile (const LisseTensor *in_tile, LisseTensor *out_tile,
           const LisseTileInfo *info, gpointer user_data, GError **error)
{
  (void) info, (void) user_data, (void) error;
  memcpy (out_tile->data, in_tile->data, lisse_tensor_numel (in_tile) * sizeof (float));
  return TRUE;
}

static gboolean
null_write (int x, int y, const LisseTensor *src, gpointer user_data, GError **error)
{
  (void) x, (void) y, (void) src, (void) user_data, (void) error;
  return TRUE;
}

static void
test_alignment_rects (void)
{
  static const int ms[] = { 1, 2, 3, 4, 8 };
  for (guint i = 0; i < G_N_ELEMENTS (ms); i++)
    {
      AlignCheck a = { 101, 67, ms[i], 0 };
      LisseTileSpec spec = { MAX (2 * ms[i], 13), 5, ms[i], 1, NULL };
      GError *error = NULL;
      g_assert_true (lisse_tiled_run_stream (a.w, a.h, 1, &spec, align_read, copy_tile,
                                             null_write, &a, &error));
      g_assert_no_error (error);
      g_assert_cmpint (a.reads, >, 1);
    }
}

/* Buffers are reused across tiles, but each tile starts from zeros: a
 * reader or function that misses pixels cannot leak the previous tile. */
static gboolean
skip_read (int x, int y, LisseTensor *dst, gpointer user_data, GError **error)
{
  (void) x, (void) y, (void) dst, (void) user_data, (void) error;
  return TRUE;
}

static gboolean
dirty_tile (const LisseTensor *in_tile, LisseTensor *out_tile,
            const LisseTileInfo *info, gpointer user_data, GError **error)
{
  (void) info, (void) user_data, (void) error;
  for (size_t i = 0; i < lisse_tensor_numel (in_tile); i++)
    g_assert_cmpfloat (in_tile->data[i], ==, 0.f);
  for (size_t i = 0; i < lisse_tensor_numel (out_tile); i++)
    g_assert_cmpfloat (out_tile->data[i], ==, 0.f);
  lisse_tensor_fill ((LisseTensor *) in_tile, 5.f);   /* scribble on both */
  lisse_tensor_fill (out_tile, 7.f);
  return TRUE;
}

static void
test_buffers_cleared (void)
{
  LisseTileSpec spec = { 8, 2, 2, 2, NULL };
  GError *error = NULL;
  g_assert_true (lisse_tiled_run_stream (30, 20, 3, &spec, skip_read, dirty_tile,
                                         null_write, NULL, &error));
  g_assert_no_error (error);
}

/* ---- (3) progress and cancellation ---------------------------------------- */

typedef struct
{
  GArray *fractions;
  int     cancel_at;   /* ≥ 1: return FALSE on this call (1-based) */
} ProgressLog;

static gboolean
log_progress (double fraction, gpointer user_data)
{
  ProgressLog *log = user_data;
  g_array_append_val (log->fractions, fraction);
  return !(log->cancel_at > 0 && (int) log->fractions->len == log->cancel_at);
}

static void
test_progress (void)
{
  LisseTensor *in = rand_image (3, 61, 97, 3);
  ProgressLog log = { g_array_new (FALSE, FALSE, sizeof (double)), 0 };
  LisseProgress progress = { log_progress, &log, 0.0, 1.0 };
  Chain ch = { CHAIN_PLAIN, BORDER_ZERO, 0, -1, FALSE, FALSE, NULL };
  LisseTileSpec spec = { 17, 3, 1, 2, &progress };
  GError *error = NULL;

  LisseTensor *out = lisse_tiled_run (in, &spec, chain_tile, &ch, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_cmpint (ch.calls, ==, 6 * 4);
  g_assert_cmpuint (log.fractions->len, ==, 24);
  for (guint i = 0; i < log.fractions->len; i++)
    {
      double f = g_array_index (log.fractions, double, i);
      g_assert_cmpfloat (f, >, i ? g_array_index (log.fractions, double, i - 1) : 0.0);
    }
  g_assert_cmpfloat (g_array_index (log.fractions, double, 23), ==, 1.0);
  lisse_tensor_free (out);

  /* Tile functions reporting into their share keep the sequence monotonic. */
  g_array_set_size (log.fractions, 0);
  ch = (Chain) { CHAIN_PLAIN, BORDER_ZERO, 0, -1, FALSE, TRUE, NULL };
  out = lisse_tiled_run (in, &spec, chain_tile, &ch, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log.fractions->len, ==, 48);
  for (guint i = 1; i < log.fractions->len; i++)
    g_assert_cmpfloat (g_array_index (log.fractions, double, i), >,
                       g_array_index (log.fractions, double, i - 1));
  g_assert_cmpfloat (g_array_index (log.fractions, double, 47), ==, 1.0);
  lisse_tensor_free (out);

  /* A sub-range of a caller's progress. */
  g_array_set_size (log.fractions, 0);
  LisseProgress half = lisse_progress_sub (&progress, 0.5, 1.0);
  spec.progress = &half;
  ch = (Chain) { CHAIN_PLAIN, BORDER_ZERO, 0, -1, FALSE, FALSE, NULL };
  out = lisse_tiled_run (in, &spec, chain_tile, &ch, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (g_array_index (log.fractions, double, 0), >, 0.5);
  g_assert_cmpfloat (g_array_index (log.fractions, double, 23), ==, 1.0);
  lisse_tensor_free (out);
  spec.progress = &progress;

  /* Whole-image mode: the function gets the caller's tensor itself, and
   * one report of 1.0 follows. */
  g_array_set_size (log.fractions, 0);
  ch = (Chain) { CHAIN_PLAIN, BORDER_ZERO, 0, -1, FALSE, FALSE, in };
  spec.tile_size = 0;
  out = lisse_tiled_run (in, &spec, chain_tile, &ch, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ch.calls, ==, 1);
  g_assert_cmpuint (log.fractions->len, ==, 1);
  g_assert_cmpfloat (g_array_index (log.fractions, double, 0), ==, 1.0);
  lisse_tensor_free (out);

  g_array_free (log.fractions, TRUE);
  lisse_tensor_free (in);
}

static void
test_cancel (void)
{
  LisseTensor *in = rand_image (3, 61, 97, 3);
  for (int k = 1; k <= 24; k += 7)
    {
      ProgressLog log = { g_array_new (FALSE, FALSE, sizeof (double)), k };
      LisseProgress progress = { log_progress, &log, 0.0, 1.0 };
      Chain ch = { CHAIN_PLAIN, BORDER_ZERO, 0, -1, FALSE, FALSE, NULL };
      LisseTileSpec spec = { 17, 3, 1, 2, &progress };
      GError *error = NULL;
      LisseTensor *out = lisse_tiled_run (in, &spec, chain_tile, &ch, &error);
      g_assert_null (out);
      g_assert_error (error, LISSE_ERROR, LISSE_ERROR_CANCELLED);
      g_assert_cmpint (ch.calls, ==, k);   /* no tile after the cancelling report */
      g_clear_error (&error);

      /* Cancelled from inside the tile function (its sub-progress). */
      g_array_set_size (log.fractions, 0);
      ch = (Chain) { CHAIN_PLAIN, BORDER_ZERO, 0, -1, FALSE, TRUE, NULL };
      out = lisse_tiled_run (in, &spec, chain_tile, &ch, &error);
      g_assert_null (out);
      g_assert_error (error, LISSE_ERROR, LISSE_ERROR_CANCELLED);
      g_assert_cmpint (ch.calls, ==, (k + 1) / 2);
      g_clear_error (&error);
      g_array_free (log.fractions, TRUE);
    }
  lisse_tensor_free (in);
}

/* Errors from the tile function come back as they were; a silent failure
 * still gets a message. */
static void
test_func_error (void)
{
  LisseTensor *in = rand_image (1, 20, 20, 5);
  LisseTileSpec spec = { 8, 3, 1, 1, NULL };
  GError *error = NULL;
  Chain ch = { CHAIN_PLAIN, BORDER_ZERO, 0, 4, FALSE, FALSE, NULL };
  g_assert_null (lisse_tiled_run (in, &spec, chain_tile, &ch, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_cmpint (ch.calls, ==, 5);
  g_clear_error (&error);

  ch = (Chain) { CHAIN_PLAIN, BORDER_ZERO, 0, 0, TRUE, FALSE, NULL };
  g_assert_null (lisse_tiled_run (in, &spec, chain_tile, &ch, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, !=, "");
  g_clear_error (&error);

  spec.tile_size = 0;
  ch = (Chain) { CHAIN_PLAIN, BORDER_ZERO, 0, 0, TRUE, FALSE, NULL };
  g_assert_null (lisse_tiled_run (in, &spec, chain_tile, &ch, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  lisse_tensor_free (in);
}

/* ---- (4) streaming a large virtual image in bounded memory ---------------- */

#define BIG_W 4000
#define BIG_H 3000
#define BIG_C 3

/* The virtual image: a value computed from the position, never stored. */
static float
big_pixel (int x, int y, int c)
{
  guint32 v = (guint32) x * 73856093u ^ (guint32) y * 19349663u ^ (guint32) c * 83492791u;
  v ^= v >> 13;
  v *= 0x5bd1e995u;
  v ^= v >> 15;
  return (float) (v & 0xffff) / 65536.f;
}

typedef struct
{
  guint8 *written;      /* one bit per pixel: 1.5 MB, not the 144 MB image */
  gsize   pixels;
  gsize   max_read_area;
  int     writes, cancel_after_writes;
  int     next_band_y;  /* row-major: writes never go back to an earlier band */
} BigStream;

static gboolean
big_read (int x, int y, LisseTensor *dst, gpointer user_data, GError **error)
{
  (void) error;
  BigStream *bs = user_data;
  g_assert_cmpint (dst->c, ==, BIG_C);
  g_assert_true (x >= 0 && y >= 0 && x + dst->w <= BIG_W && y + dst->h <= BIG_H);
  bs->max_read_area = MAX (bs->max_read_area, (gsize) dst->w * dst->h);
  for (int c = 0; c < BIG_C; c++)
    {
      float *d = lisse_tensor_channel (dst, 0, c);
      for (int i = 0; i < dst->h; i++)
        for (int j = 0; j < dst->w; j++)
          d[(size_t) i * dst->w + j] = big_pixel (x + j, y + i, c);
    }
  return TRUE;
}

/* Pointwise, so the expected output at every position is known; the
 * position-dependent input makes any misplaced crop or core show. */
static gboolean
big_func (const LisseTensor *in_tile, LisseTensor *out_tile,
          const LisseTileInfo *info, gpointer user_data, GError **error)
{
  (void) info, (void) user_data, (void) error;
  size_t plane = lisse_tensor_plane (in_tile);
  for (int c = 0; c < out_tile->c; c++)
    {
      const float *s = lisse_tensor_channel (in_tile, 0, (c + 1) % in_tile->c);
      float *d = lisse_tensor_channel (out_tile, 0, c);
      for (size_t p = 0; p < plane; p++)
        d[p] = 2.f * s[p] + (float) c;
    }
  return TRUE;
}

static gboolean
big_write (int x, int y, const LisseTensor *src, gpointer user_data, GError **error)
{
  (void) error;
  BigStream *bs = user_data;
  g_assert_cmpint (y, >=, bs->next_band_y);
  if (x + src->w == BIG_W)
    bs->next_band_y = y + src->h;
  for (int i = 0; i < src->h; i++)
    for (int j = 0; j < src->w; j++)
      {
        gsize p = (gsize) (y + i) * BIG_W + (x + j);
        g_assert_false (bs->written[p / 8] & (1u << (p % 8)));
        bs->written[p / 8] |= 1u << (p % 8);
        for (int c = 0; c < src->c; c++)
          {
            float expect = 2.f * big_pixel (x + j, y + i, (c + 1) % BIG_C) + (float) c;
            if (lisse_tensor_at (src, 0, c, i, j) != expect)
              g_error ("output at %d,%d channel %d is %g, expected %g", x + j, y + i,
                       c, lisse_tensor_at (src, 0, c, i, j), expect);
          }
      }
  bs->pixels += (gsize) src->w * src->h;
  bs->writes++;
  return TRUE;
}

static gboolean
cancel_after_writes (double fraction, gpointer user_data)
{
  (void) fraction;
  BigStream *bs = user_data;
  return bs->writes < bs->cancel_after_writes;
}

static void
test_stream_bounded_memory (void)
{
  const int tile = 256, halo = 8, m = 2, cout = 3;
  BigStream bs = { g_malloc0 ((gsize) BIG_W * BIG_H / 8 + 1), 0, 0, 0, 0, 0 };
  LisseTileSpec spec = { tile, halo, m, cout, NULL };
  GError *error = NULL;

  lisse_tiling_reset_peak_bytes ();
  g_assert_true (lisse_tiled_run_stream (BIG_W, BIG_H, BIG_C, &spec, big_read, big_func,
                                         big_write, &bs, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (bs.pixels, ==, (gsize) BIG_W * BIG_H);

  LisseTilePlan plan;
  g_assert_true (lisse_tile_plan (BIG_W, BIG_H, BIG_C, &spec, &plan, NULL));
  gsize crop = tile + 2 * halo + 2 * (m - 1);
  gsize bound = crop * crop * (BIG_C + cout) * sizeof (float)
              + (gsize) tile * tile * cout * sizeof (float);
  gsize peak = lisse_tiling_peak_bytes ();
  g_test_message ("stream %d×%d×%d: peak tiler memory %" G_GSIZE_FORMAT " bytes "
                  "(bound %" G_GSIZE_FORMAT ", whole image %" G_GSIZE_FORMAT "), "
                  "largest read %" G_GSIZE_FORMAT " px", BIG_W, BIG_H, BIG_C,
                  peak, bound, (gsize) BIG_W * BIG_H * BIG_C * 4, bs.max_read_area);
  g_assert_cmpuint (peak, ==, plan.buffer_bytes);
  g_assert_cmpuint (peak, <=, bound);
  g_assert_cmpuint (peak, <, (gsize) BIG_W * BIG_H * BIG_C * sizeof (float) / 50);
  g_assert_cmpuint (bs.max_read_area, <=, crop * crop);

  /* A cancelled stream stops writing at once. */
  memset (bs.written, 0, (gsize) BIG_W * BIG_H / 8 + 1);
  bs.pixels = 0, bs.writes = 0, bs.next_band_y = 0, bs.cancel_after_writes = 3;
  LisseProgress progress = { cancel_after_writes, &bs, 0.0, 1.0 };
  spec.progress = &progress;
  g_assert_false (lisse_tiled_run_stream (BIG_W, BIG_H, BIG_C, &spec, big_read, big_func,
                                          big_write, &bs, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_CANCELLED);
  g_assert_cmpint (bs.writes, ==, 3);
  g_clear_error (&error);
  g_free (bs.written);
}

/* ---- (5) invalid specifications -------------------------------------------- */

static void
expect_invalid (int w, int h, int cin, const LisseTileSpec *spec, const char *needle)
{
  GError *error = NULL;
  LisseTilePlan plan;
  g_assert_false (lisse_tile_plan (w, h, cin, spec, &plan, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_test_message ("rejected: %s", error->message);
  g_assert_nonnull (strstr (error->message, needle));
  g_clear_error (&error);

  AlignCheck a = { w, h, 1, 0 };
  g_assert_false (lisse_tiled_run_stream (w, h, cin, spec, align_read, copy_tile,
                                          null_write, &a, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (a.reads, ==, 0);
  g_clear_error (&error);
}

static void
test_invalid (void)
{
  expect_invalid (10, 10, 1, &(LisseTileSpec) { 8, -1, 1, 1, NULL }, "halo");
  expect_invalid (10, 10, 1, &(LisseTileSpec) { 8, 2, 0, 1, NULL }, "multiple");
  expect_invalid (10, 10, 1, &(LisseTileSpec) { 3, 2, 2, 1, NULL }, "tile size 3");
  expect_invalid (10, 10, 1, &(LisseTileSpec) { 1, 0, 1, 1, NULL }, "tile size 1");
  expect_invalid (10, 10, 1, &(LisseTileSpec) { 8, 2, 1, 0, NULL }, "output channel");
  expect_invalid (0, 10, 1, &(LisseTileSpec) { 8, 2, 1, 1, NULL }, "image size");
  expect_invalid (10, -3, 1, &(LisseTileSpec) { 8, 2, 1, 1, NULL }, "image size");
  expect_invalid (10, 10, 0, &(LisseTileSpec) { 8, 2, 1, 1, NULL }, "input channel");
  expect_invalid (G_MAXINT, G_MAXINT, 1, &(LisseTileSpec) { 2, 0, 1, 1, NULL },
                  "too many tiles");
  expect_invalid (10, 10, 1, NULL, "specification");

  /* lisse_tiled_run: batch of two, and a bad spec. */
  GError *error = NULL;
  Chain ch = { CHAIN_POINT, BORDER_ZERO, 0, -1, FALSE, FALSE, NULL };
  LisseTensor *batch = lisse_tensor_new (2, 1, 4, 4);
  g_assert_null (lisse_tiled_run (batch, &(LisseTileSpec) { 8, 0, 1, 1, NULL },
                                  chain_tile, &ch, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  LisseTensor *one = lisse_tensor_new (1, 1, 4, 4);
  g_assert_null (lisse_tiled_run (one, &(LisseTileSpec) { 8, -2, 1, 1, NULL },
                                  chain_tile, &ch, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (ch.calls, ==, 0);
  g_clear_error (&error);
  lisse_tensor_free (one);
  lisse_tensor_free (batch);
}

/* Huge halos and tile sizes must not overflow the geometry. */
static void
test_extreme_spec (void)
{
  LisseTensor *in = rand_image (3, 61, 97, 9);
  LisseTensor *ref = whole_image (CHAIN_PLAIN, BORDER_ZERO, in, 2);
  g_assert_cmpfloat (tiled_diff (CHAIN_PLAIN, BORDER_ZERO, in, ref, 8, G_MAXINT, 1), <=, 1e-6f);
  g_assert_cmpfloat (tiled_diff (CHAIN_PLAIN, BORDER_ZERO, in, ref, G_MAXINT, 3, 2), <=, 1e-6f);
  g_assert_cmpfloat (tiled_diff (CHAIN_PLAIN, BORDER_ZERO, in, ref, G_MAXINT - 1, G_MAXINT,
                                 G_MAXINT / 2), <=, 1e-6f);
  g_assert_cmpfloat (tiled_diff (CHAIN_PLAIN, BORDER_ZERO, in, ref, 2000, 3, 1000), <=, 1e-6f);
  lisse_tensor_free (ref);
  lisse_tensor_free (in);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tiling/exact/plain", test_plain);
  g_test_add_func ("/tiling/exact/dilated", test_dilated);
  g_test_add_func ("/tiling/exact/pointwise-no-halo", test_pointwise_no_halo);
  g_test_add_func ("/tiling/halo-too-small", test_halo_too_small);
  g_test_add_func ("/tiling/stride/aligned", test_stride_aligned);
  g_test_add_func ("/tiling/stride/unaligned", test_stride_unaligned);
  g_test_add_func ("/tiling/plan-geometry", test_plan_geometry);
  g_test_add_func ("/tiling/alignment-rects", test_alignment_rects);
  g_test_add_func ("/tiling/buffers-cleared", test_buffers_cleared);
  g_test_add_func ("/tiling/progress", test_progress);
  g_test_add_func ("/tiling/cancel", test_cancel);
  g_test_add_func ("/tiling/func-error", test_func_error);
  g_test_add_func ("/tiling/stream-bounded-memory", test_stream_bounded_memory);
  g_test_add_func ("/tiling/invalid", test_invalid);
  g_test_add_func ("/tiling/extreme-spec", test_extreme_spec);
  return g_test_run ();
}
