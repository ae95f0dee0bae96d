/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Op tests for ops-conv.h: every fast op against its reference.
 *
 * Values: inputs uniform in [−1, 1); weights uniform in ±1/√fan_in, as a
 * trained network's are, so that outputs stay of order 1 whatever the fan-in
 * and one absolute tolerance fits all shapes.
 *
 * Tolerances (pass when max |fast − ref| ≤ abs + rel · max |ref|): the
 * reference sums in double, the fast ops in float, so the error is float
 * rounding of a sum of F terms (F = fan-in: Cin/groups · kh · kw ≤ 24 · 49
 * here, K ≤ 300 for matmul).  Its typical size is √F · 2⁻²⁴ · |partial sums|,
 * about 1e-6 for outputs of order 1 (the largest seen is 6e-7); the bounds
 * below leave a factor of 20 or more over that, yet stay far below what a
 * wrong tap, a dropped chunk or a lost bias costs (errors of order 0.1–1).
 * The worst case F · 2⁻²⁴ · Σ|terms| is never approached by random data.
 *   conv2d, conv_transpose2d, deform_conv2d, matmul, linear_*,
 *   group_mix:                  abs 2e-5, rel 1e-5
 *   deform_affinity_average:    abs 5e-5, rel 2e-5  (a softmax of ≤ 49 points
 *                               and a division by a sum ≥ eps ≥ 1e-3);
 *                               by row bands: the whole op's bits, exactly
 *   deform_weighted_average:    abs 2e-5, rel 1e-5  (≤ 4·49 terms; the
 *                               bilinear weights are rounded to float once)
 *   batchnorm:                  abs 1e-5, rel 1e-5  (one multiply-add per
 *                               value; scale and shift rounded to float)
 *   fold_batchnorm:             abs 1e-5, rel 2e-5  (both sides through the
 *                               double reference conv; the difference is the
 *                               rounding of the folded weights and bias and
 *                               of the unfolded conv's output before BN)
 *   conv2d by Winograd F(4×4, 3×3): abs 1e-4, rel 5e-5 — the transforms
 *                               scale partial sums by up to 8·8 (Aᵀ) and
 *                               5·5 (Bᵀ) before they cancel, so a tile's
 *                               rounding is several times the direct sum's.
 *                               Largest seen: 0.03 of this bound over these
 *                               shapes (Cin ≤ 24); 1.8e-5 against im2col at
 *                               64 channels, 256×256, outputs up to 2.2
 *                               (tools/bench/conv-bench).  Still far below
 *                               the 1/255 that matters for an image, and
 *                               far below a wrong tap or a misplaced tile
 *                               (order 0.1–1)
 *   thread determinism:         0 (bit-identical; see threads.h)
 *
 * Some trials shrink the ops' scratch budget to a few hundred bytes so that
 * the chunked im2col / col2im paths run with many chunks, including chunks
 * of a single pixel and chunks that split output rows. */
#include "op-harness.h"
#include "ops-basic.h"
#include "ops-conv.h"
#include "tensor.h"
#include "threads.h"

#include <math.h>
#include <string.h>

#define TOL_CONV_ABS 2e-5
#define TOL_CONV_REL 1e-5
#define TOL_WINO_ABS 1e-4
#define TOL_WINO_REL 5e-5

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static LisseTensor *
rand_weight (OpCheck *check, int n, int c, int h, int w, int fan_in)
{
  float s = 1.f / sqrtf ((float) MAX (fan_in, 1));
  return op_rand_tensor (check, n, c, h, w, -s, s);
}

/* Half the time no bias. */
static LisseTensor *
maybe_bias (OpCheck *check, int count)
{
  if (op_rand_int (check, 0, 1))
    return NULL;
  return op_rand_tensor (check, 1, count, 1, 1, -1.f, 1.f);
}

/* A random divisor of @v. */
static int
rand_divisor (OpCheck *check, int v)
{
  int divs[64], nd = 0;
  for (int d = 1; d <= v && nd < 64; d++)
    if (v % d == 0)
      divs[nd++] = d;
  return divs[op_rand_int (check, 0, nd - 1)];
}

static int
gcd (int a, int b)
{
  while (b)
    {
      int t = a % b;
      a = b;
      b = t;
    }
  return a;
}

static int
rand_kernel (OpCheck *check)
{
  static const int sizes[] = { 1, 2, 3, 3, 3, 4, 5, 7 };
  return sizes[op_rand_int (check, 0, G_N_ELEMENTS (sizes) - 1)];
}

/* An image side: a quarter of the time tiny, so that kernels and padding
 * overhang the image on both sides at once. */
static int
rand_side (OpCheck *check, int max)
{
  return op_rand_int (check, 0, 3) ? op_rand_int (check, 1, max) : op_rand_int (check, 1, 4);
}

/* Mostly 1, sometimes 2 or 3. */
static int
rand_small (OpCheck *check)
{
  int r = op_rand_int (check, 0, 5);
  return r < 3 ? 1 : r < 5 ? 2 : 3;
}

/* Every third random trial runs with a scratch budget of a few hundred
 * bytes.  Returns the previous budget, for restore_scratch(). */
static size_t
maybe_shrink_scratch (OpCheck *check, char **note)
{
  size_t old = lisse_ops_get_scratch_bytes ();
  if (op_check_trial (check) % 3 == 2)
    {
      size_t bytes = (size_t) op_rand_int (check, 1, 2048);
      lisse_ops_set_scratch_bytes (bytes);
      *note = g_strdup_printf (", scratch %zu B", bytes);
    }
  else
    *note = g_strdup ("");
  return old;
}

static void
restore_scratch (size_t old, char *note)
{
  lisse_ops_set_scratch_bytes (old);
  g_free (note);
}

static void
compare_and_free (OpCheck *check, const char *what, LisseTensor *fast, LisseTensor *ref,
                  GError *fast_error, GError *ref_error, double abs_tol, double rel_tol)
{
  if (!fast || !ref)
    {
      char *msg = g_strdup_printf ("op refused valid input: fast: %s; ref: %s",
                                   fast ? "ok" : fast_error->message,
                                   ref ? "ok" : ref_error->message);
      op_check_fail (check, what, msg);
      g_free (msg);
    }
  else
    op_check_compare (check, what, fast, ref, abs_tol, rel_tol);
  lisse_tensor_free (fast);
  lisse_tensor_free (ref);
  g_clear_error (&fast_error);
  g_clear_error (&ref_error);
}

/* ---------------------------------------------------------------------- */
/* conv2d                                                                 */

typedef struct
{
  int n, cin, cout, h, w, kh, kw;
  LisseConv2dGeom g;
} ConvCfg;

/* Edge shapes first: 1×1 images, one channel, padding wider than the image,
 * CBAM's 2→1 7×7, depthwise, even kernels with one-sided padding, odd channel
 * counts, the 1×1 sgemm path. */
static const ConvCfg conv_edges[] = {
  { 1, 1, 1, 1, 1, 1, 1, { 1, 1, 0, 0, 0, 0, 1, 1, 1 } },
  { 1, 3, 5, 1, 1, 3, 3, { 1, 1, 1, 1, 1, 1, 1, 1, 1 } },
  { 1, 2, 1, 13, 7, 7, 7, { 1, 1, 3, 3, 3, 3, 1, 1, 1 } },
  { 2, 13, 13, 9, 11, 3, 3, { 1, 1, 1, 1, 1, 1, 1, 1, 13 } },
  { 1, 5, 7, 8, 9, 2, 2, { 2, 2, 0, 1, 0, 1, 1, 1, 1 } },
  { 1, 7, 3, 10, 11, 4, 4, { 2, 2, 1, 1, 1, 1, 1, 1, 1 } },
  { 1, 6, 9, 15, 13, 3, 3, { 1, 1, 2, 2, 2, 2, 2, 2, 3 } },
  { 1, 7, 5, 5, 3, 1, 1, { 1, 1, 0, 0, 0, 0, 1, 1, 1 } },
  { 1, 5, 10, 7, 6, 3, 3, { 1, 1, 1, 1, 1, 1, 1, 1, 5 } },
  { 1, 1, 24, 9, 9, 3, 3, { 1, 1, 1, 1, 1, 1, 1, 1, 1 } },
  { 1, 3, 4, 1, 17, 1, 7, { 1, 1, 0, 0, 3, 3, 1, 1, 1 } },
  { 1, 4, 4, 6, 6, 7, 7, { 3, 3, 3, 3, 3, 3, 1, 1, 2 } },
  /* padding wider than the kernel's reach: whole output rows see only zeros */
  { 1, 3, 4, 2, 1, 3, 7, { 1, 1, 2, 2, 6, 3, 1, 1, 1 } },
};

static void
rand_conv_cfg (OpCheck *check, ConvCfg *cfg)
{
  int trial = op_check_trial (check);
  if (trial < (int) G_N_ELEMENTS (conv_edges))
    {
      *cfg = conv_edges[trial];
      return;
    }
  for (;;)
    {
      cfg->n = op_rand_int (check, 1, 2);
      cfg->h = rand_side (check, 40);
      cfg->w = rand_side (check, 40);
      cfg->kh = rand_kernel (check);
      cfg->kw = op_rand_int (check, 0, 3) ? cfg->kh : rand_kernel (check);
      LisseConv2dGeom *g = &cfg->g;
      g->stride_h = rand_small (check);
      g->stride_w = op_rand_int (check, 0, 1) ? g->stride_h : rand_small (check);
      g->dil_h = rand_small (check);
      g->dil_w = op_rand_int (check, 0, 1) ? g->dil_h : rand_small (check);
      int ext_h = g->dil_h * (cfg->kh - 1), ext_w = g->dil_w * (cfg->kw - 1);
      if (op_rand_int (check, 0, 1))
        {
          /* "same" padding, the extra pixel of an even extent at the end */
          g->pad_top = ext_h / 2;
          g->pad_bottom = ext_h - ext_h / 2;
          g->pad_left = ext_w / 2;
          g->pad_right = ext_w - ext_w / 2;
        }
      else
        {
          g->pad_top = op_rand_int (check, 0, ext_h);
          g->pad_bottom = op_rand_int (check, 0, ext_h);
          g->pad_left = op_rand_int (check, 0, ext_w);
          g->pad_right = op_rand_int (check, 0, ext_w);
        }
      int kind = op_rand_int (check, 0, 4);
      cfg->cin = op_rand_int (check, 1, 24);
      if (kind == 0)
        {
          /* depthwise, channel multiplier 1 or 2 */
          g->groups = cfg->cin;
          cfg->cout = cfg->cin * op_rand_int (check, 1, 2);
        }
      else if (kind == 1)
        {
          cfg->cout = op_rand_int (check, 1, 24);
          g->groups = rand_divisor (check, gcd (cfg->cin, cfg->cout));
        }
      else
        {
          cfg->cout = op_rand_int (check, 1, 24);
          g->groups = 1;
        }
      int oh, ow;
      if (lisse_conv2d_out_size (cfg->h, cfg->w, cfg->kh, cfg->kw, g, &oh, &ow, NULL))
        return;
    }
}

static char *
conv_what (const char *op, const ConvCfg *c)
{
  const LisseConv2dGeom *g = &c->g;
  return g_strdup_printf ("%s x %d×%d×%d×%d → %d, k %d×%d, stride %d×%d, pad t%d b%d l%d r%d, "
                          "dil %d×%d, groups %d", op, c->n, c->cin, c->h, c->w, c->cout,
                          c->kh, c->kw, g->stride_h, g->stride_w, g->pad_top,
                          g->pad_bottom, g->pad_left, g->pad_right, g->dil_h, g->dil_w,
                          g->groups);
}

static void
case_conv2d (OpCheck *check)
{
  ConvCfg cfg;
  rand_conv_cfg (check, &cfg);
  int cin_g = cfg.cin / cfg.g.groups;
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.cin, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *w = rand_weight (check, cfg.cout, cin_g, cfg.kh, cfg.kw,
                                cin_g * cfg.kh * cfg.kw);
  LisseTensor *b = maybe_bias (check, cfg.cout);
  char *note;
  size_t old = maybe_shrink_scratch (check, &note);
  char *base = conv_what ("conv2d", &cfg);
  char *what = g_strconcat (base, b ? ", bias" : "", note, NULL);

  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_conv2d (x, w, b, &cfg.g, &fe);
  LisseTensor *ref = lisse_conv2d_ref (x, w, b, &cfg.g, &re);
  /* lisse_conv2d() takes the Winograd path by itself on these shapes. */
  gboolean wino = lisse_conv2d_winograd_supported (x, w, &cfg.g)
                  && cfg.cin >= LISSE_CONV_WINOGRAD_MIN_CHANNELS
                  && cfg.cout >= LISSE_CONV_WINOGRAD_MIN_CHANNELS;
  compare_and_free (check, what, fast, ref, fe, re, wino ? TOL_WINO_ABS : TOL_CONV_ABS,
                    wino ? TOL_WINO_REL : TOL_CONV_REL);

  restore_scratch (old, note);
  g_free (base);
  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
}

/* Winograd F(4×4, 3×3), called directly, on the shapes it takes: 3×3 "same"
 * convolutions with any dilation (the polyphase split), images from 1×1 to
 * larger than a tile row, dilations larger than the image, channel counts
 * from 1, chunks down to one tile. */
static void
rand_winograd_cfg (OpCheck *check, ConvCfg *cfg)
{
  static const ConvCfg edges[] = {
    { 1, 1, 1, 1, 1, 3, 3, { 1, 1, 1, 1, 1, 1, 1, 1, 1 } },
    { 1, 8, 8, 4, 4, 3, 3, { 1, 1, 1, 1, 1, 1, 1, 1, 1 } },
    { 1, 9, 11, 7, 5, 3, 3, { 1, 1, 1, 1, 1, 1, 1, 1, 1 } },
    { 2, 5, 3, 33, 29, 3, 3, { 1, 1, 16, 16, 16, 16, 16, 16, 1 } },
    { 1, 4, 6, 5, 40, 3, 3, { 1, 1, 8, 8, 2, 2, 8, 2, 1 } },
    { 1, 3, 2, 2, 3, 3, 3, { 1, 1, 17, 17, 17, 17, 17, 17, 1 } },
  };
  int trial = op_check_trial (check);
  if (trial < (int) G_N_ELEMENTS (edges))
    {
      *cfg = edges[trial];
      return;
    }
  static const int dils[] = { 1, 1, 1, 2, 2, 3, 4, 5, 8, 16 };
  cfg->n = op_rand_int (check, 1, 2);
  cfg->cin = op_rand_int (check, 1, 24);
  cfg->cout = op_rand_int (check, 1, 24);
  cfg->h = rand_side (check, 48);
  cfg->w = rand_side (check, 48);
  cfg->kh = cfg->kw = 3;
  int dh = dils[op_rand_int (check, 0, G_N_ELEMENTS (dils) - 1)];
  int dw = op_rand_int (check, 0, 3) ? dh : dils[op_rand_int (check, 0, G_N_ELEMENTS (dils) - 1)];
  cfg->g = (LisseConv2dGeom) { 1, 1, dh, dh, dw, dw, dh, dw, 1 };
}

static void
case_conv2d_winograd (OpCheck *check)
{
  ConvCfg cfg;
  rand_winograd_cfg (check, &cfg);
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.cin, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *w = rand_weight (check, cfg.cout, cfg.cin, 3, 3, cfg.cin * 9);
  LisseTensor *b = maybe_bias (check, cfg.cout);
  char *note;
  size_t old = maybe_shrink_scratch (check, &note);
  char *base = conv_what ("conv2d (Winograd)", &cfg);
  char *what = g_strconcat (base, b ? ", bias" : "", note, NULL);

  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_conv2d_winograd (x, w, b, &cfg.g, &fe);
  LisseTensor *ref = lisse_conv2d_ref (x, w, b, &cfg.g, &re);
  compare_and_free (check, what, fast, ref, fe, re, TOL_WINO_ABS, TOL_WINO_REL);

  restore_scratch (old, note);
  g_free (base);
  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
}

/* conv2d + ReLU (the networks' layers): fused into the Winograd output on
 * the shapes that path takes, conv then ReLU elsewhere; against the
 * reference convolution followed by the reference ReLU.  Half the trials
 * take Winograd's shapes, half any convolution's. */
static void
case_conv2d_relu (OpCheck *check)
{
  ConvCfg cfg;
  if (op_check_trial (check) % 2)
    rand_winograd_cfg (check, &cfg);
  else
    rand_conv_cfg (check, &cfg);
  int cin_g = cfg.cin / cfg.g.groups;
  int kh = op_check_trial (check) % 2 ? 3 : cfg.kh, kw = op_check_trial (check) % 2 ? 3 : cfg.kw;
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.cin, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *w = rand_weight (check, cfg.cout, cin_g, kh, kw, cin_g * kh * kw);
  LisseTensor *b = maybe_bias (check, cfg.cout);
  char *base = conv_what ("conv2d + ReLU", &cfg);
  char *what = g_strconcat (base, b ? ", bias" : "", NULL);

  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_conv2d_relu (x, w, b, &cfg.g, &fe);
  LisseTensor *ref = lisse_conv2d_ref (x, w, b, &cfg.g, &re);
  if (ref)
    lisse_relu_inplace_ref (ref);
  gboolean wino = lisse_conv2d_winograd_supported (x, w, &cfg.g)
                  && cfg.cin >= LISSE_CONV_WINOGRAD_MIN_CHANNELS
                  && cfg.cout >= LISSE_CONV_WINOGRAD_MIN_CHANNELS;
  compare_and_free (check, what, fast, ref, fe, re, wino ? TOL_WINO_ABS : TOL_CONV_ABS,
                    wino ? TOL_WINO_REL : TOL_CONV_REL);

  g_free (base);
  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
}

/* ReLU (conv2d + residual), a residual block's end: fused into the
 * Winograd output (or its polyphase merge, for dilated convolutions) on the
 * shapes that path takes, separate passes elsewhere; against the reference
 * convolution, a plain sum and the reference ReLU. */
static void
case_conv2d_add_relu (OpCheck *check)
{
  ConvCfg cfg;
  if (op_check_trial (check) % 2)
    rand_winograd_cfg (check, &cfg);
  else
    rand_conv_cfg (check, &cfg);
  int cin_g = cfg.cin / cfg.g.groups;
  int kh = op_check_trial (check) % 2 ? 3 : cfg.kh, kw = op_check_trial (check) % 2 ? 3 : cfg.kw;
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.cin, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *w = rand_weight (check, cfg.cout, cin_g, kh, kw, cin_g * kh * kw);
  LisseTensor *b = maybe_bias (check, cfg.cout);
  char *base = conv_what ("ReLU (conv2d + residual)", &cfg);
  char *what = g_strconcat (base, b ? ", bias" : "", NULL);

  GError *fe = NULL, *re = NULL;
  LisseTensor *ref = lisse_conv2d_ref (x, w, b, &cfg.g, &re);
  LisseTensor *res = ref ? op_rand_tensor (check, ref->n, ref->c, ref->h, ref->w, -1.f, 1.f)
                         : NULL;
  LisseTensor *fast = res ? lisse_conv2d_add_relu (x, w, b, &cfg.g, res, &fe) : NULL;
  if (ref)
    {
      for (size_t i = 0; i < lisse_tensor_numel (ref); i++)
        ref->data[i] += res->data[i];
      lisse_relu_inplace_ref (ref);
    }
  gboolean wino = lisse_conv2d_winograd_supported (x, w, &cfg.g)
                  && cfg.cin >= LISSE_CONV_WINOGRAD_MIN_CHANNELS
                  && cfg.cout >= LISSE_CONV_WINOGRAD_MIN_CHANNELS;
  compare_and_free (check, what, fast, ref, fe, re, wino ? TOL_WINO_ABS : TOL_CONV_ABS,
                    wino ? TOL_WINO_REL : TOL_CONV_REL);

  g_free (base);
  g_free (what);
  lisse_tensor_free (res);
  lisse_tensor_free (x);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
}

/* ---------------------------------------------------------------------- */
/* conv_transpose2d                                                       */

typedef struct
{
  int n, cin, cout, h, w, kh, kw;
  LisseConvTranspose2dGeom g;
} ConvTCfg;

/* 1×1 inputs, padding that crops all but one pixel, U-Net's 2×2 stride 2,
 * 4×4 stride 2 pad 1 upsampling, output padding, groups, dilation. */
static const ConvTCfg convt_edges[] = {
  { 1, 1, 1, 1, 1, 1, 1, { 1, 1, 0, 0, 0, 0, 1, 1, 1 } },
  { 1, 3, 5, 1, 1, 3, 3, { 1, 1, 1, 1, 0, 0, 1, 1, 1 } },
  { 1, 5, 3, 7, 9, 2, 2, { 2, 2, 0, 0, 0, 0, 1, 1, 1 } },
  { 2, 7, 13, 5, 6, 4, 4, { 2, 2, 1, 1, 0, 0, 1, 1, 1 } },
  { 1, 6, 9, 5, 7, 3, 3, { 2, 2, 1, 1, 1, 1, 1, 1, 3 } },
  { 1, 4, 4, 6, 5, 3, 3, { 1, 1, 2, 2, 1, 1, 2, 2, 4 } },
  { 1, 2, 1, 4, 3, 7, 7, { 3, 3, 3, 3, 2, 2, 1, 1, 1 } },
  { 1, 13, 1, 1, 8, 1, 5, { 1, 3, 0, 2, 0, 2, 1, 1, 1 } },
};

static void
rand_convt_cfg (OpCheck *check, ConvTCfg *cfg)
{
  int trial = op_check_trial (check);
  if (trial < (int) G_N_ELEMENTS (convt_edges))
    {
      *cfg = convt_edges[trial];
      return;
    }
  for (;;)
    {
      LisseConvTranspose2dGeom *g = &cfg->g;
      cfg->n = op_rand_int (check, 1, 2);
      cfg->h = rand_side (check, 24);
      cfg->w = rand_side (check, 24);
      cfg->kh = rand_kernel (check);
      cfg->kw = op_rand_int (check, 0, 3) ? cfg->kh : rand_kernel (check);
      g->stride_h = rand_small (check);
      g->stride_w = op_rand_int (check, 0, 1) ? g->stride_h : rand_small (check);
      g->dil_h = rand_small (check);
      g->dil_w = op_rand_int (check, 0, 1) ? g->dil_h : rand_small (check);
      g->pad_h = op_rand_int (check, 0, g->dil_h * (cfg->kh - 1));
      g->pad_w = op_rand_int (check, 0, g->dil_w * (cfg->kw - 1));
      g->out_pad_h = op_rand_int (check, 0, MAX (g->stride_h, g->dil_h) - 1);
      g->out_pad_w = op_rand_int (check, 0, MAX (g->stride_w, g->dil_w) - 1);
      cfg->cin = op_rand_int (check, 1, 24);
      cfg->cout = op_rand_int (check, 1, 24);
      g->groups = op_rand_int (check, 0, 2) ? 1 : rand_divisor (check, gcd (cfg->cin, cfg->cout));
      int oh, ow;
      if (lisse_conv_transpose2d_out_size (cfg->h, cfg->w, cfg->kh, cfg->kw, g,
                                           &oh, &ow, NULL))
        return;
    }
}

static char *
convt_what (const char *op, const ConvTCfg *c)
{
  const LisseConvTranspose2dGeom *g = &c->g;
  return g_strdup_printf ("%s x %d×%d×%d×%d → %d, k %d×%d, stride %d×%d, pad %d×%d, "
                          "out_pad %d×%d, dil %d×%d, groups %d", op, c->n, c->cin, c->h,
                          c->w, c->cout, c->kh, c->kw, g->stride_h, g->stride_w,
                          g->pad_h, g->pad_w, g->out_pad_h, g->out_pad_w,
                          g->dil_h, g->dil_w, g->groups);
}

static void
case_conv_transpose2d (OpCheck *check)
{
  ConvTCfg cfg;
  rand_convt_cfg (check, &cfg);
  int cout_g = cfg.cout / cfg.g.groups;
  /* Each output sums about Cin/groups · kh·kw / stride² terms. */
  int fan_in = MAX (1, cfg.cin / cfg.g.groups * cfg.kh * cfg.kw
                       / (cfg.g.stride_h * cfg.g.stride_w));
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.cin, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *w = rand_weight (check, cfg.cin, cout_g, cfg.kh, cfg.kw, fan_in);
  LisseTensor *b = maybe_bias (check, cfg.cout);
  char *note;
  size_t old = maybe_shrink_scratch (check, &note);
  char *base = convt_what ("conv_transpose2d", &cfg);
  char *what = g_strconcat (base, b ? ", bias" : "", note, NULL);

  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_conv_transpose2d (x, w, b, &cfg.g, &fe);
  LisseTensor *ref = lisse_conv_transpose2d_ref (x, w, b, &cfg.g, &re);
  compare_and_free (check, what, fast, ref, fe, re, TOL_CONV_ABS, TOL_CONV_REL);

  restore_scratch (old, note);
  g_free (base);
  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
}

/* ---------------------------------------------------------------------- */
/* Deformable sampling                                                    */

typedef struct
{
  int n, c, h, w, kh, kw, dil_h, dil_w;
} DeformCfg;

static const DeformCfg deform_edges[] = {
  { 1, 1, 1, 1, 1, 1, 1, 1 },
  { 1, 1, 1, 1, 3, 3, 1, 1 },
  { 1, 3, 5, 7, 3, 3, 2, 2 },
  { 2, 5, 9, 4, 2, 2, 1, 1 },
  { 1, 7, 13, 11, 5, 5, 1, 3 },
  { 1, 13, 3, 17, 7, 7, 1, 1 },
  { 1, 2, 1, 9, 1, 3, 1, 2 },
  { 1, 4, 6, 6, 4, 3, 3, 1 },
};

static void
rand_deform_cfg (OpCheck *check, DeformCfg *cfg)
{
  int trial = op_check_trial (check);
  if (trial < (int) G_N_ELEMENTS (deform_edges))
    {
      *cfg = deform_edges[trial];
      return;
    }
  cfg->n = op_rand_int (check, 1, 2);
  cfg->c = op_rand_int (check, 1, 24);
  cfg->kh = rand_kernel (check);
  cfg->kw = op_rand_int (check, 0, 3) ? cfg->kh : rand_kernel (check);
  cfg->dil_h = rand_small (check);
  cfg->dil_w = op_rand_int (check, 0, 1) ? cfg->dil_h : rand_small (check);
  /* The references cost C·K·H·W bilinear reads per output channel: keep
   * large kernels on smaller images. */
  int side = cfg->kh * cfg->kw > 16 ? 20 : 40;
  cfg->h = rand_side (check, side);
  cfg->w = rand_side (check, side);
}

/* Offsets of a few pixels, or of the whole image, so that samples leave the
 * image on every side; a quarter of them rounded to whole pixels so that
 * positions land exactly on pixel centres and on the −1 / H borders where the
 * bilinear weights switch corners off. */
static LisseTensor *
rand_offsets (OpCheck *check, const DeformCfg *cfg)
{
  float range;
  switch (op_rand_int (check, 0, 2))
    {
    case 0:
      range = 0.75f;
      break;
    case 1:
      range = 3.5f;
      break;
    default:
      range = MAX (cfg->h, cfg->w) + 2.5f;
      break;
    }
  LisseTensor *off = op_rand_tensor (check, cfg->n, 2 * cfg->kh * cfg->kw, cfg->h, cfg->w,
                                     -range, range);
  size_t numel = lisse_tensor_numel (off);
  for (size_t i = 0; i < numel; i++)
    if (op_rand_int (check, 0, 3) == 0)
      off->data[i] = roundf (off->data[i]);
  return off;
}

static char *
deform_what (const char *op, const DeformCfg *c)
{
  return g_strdup_printf ("%s x %d×%d×%d×%d, k %d×%d, dil %d×%d", op, c->n, c->c, c->h,
                          c->w, c->kh, c->kw, c->dil_h, c->dil_w);
}

static void
case_deform_weighted_average (OpCheck *check)
{
  DeformCfg cfg;
  rand_deform_cfg (check, &cfg);
  int k = cfg.kh * cfg.kw;
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.c, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *off = rand_offsets (check, &cfg);
  LisseTensor *wt = op_rand_tensor (check, cfg.n, k, cfg.h, cfg.w, -1.f, 1.f);
  char *what = deform_what ("deform_weighted_average", &cfg);

  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_deform_weighted_average (x, off, wt, cfg.kh, cfg.kw,
                                                     cfg.dil_h, cfg.dil_w, &fe);
  LisseTensor *ref = lisse_deform_weighted_average_ref (x, off, wt, cfg.kh, cfg.kw,
                                                        cfg.dil_h, cfg.dil_w, &re);
  compare_and_free (check, what, fast, ref, fe, re, 2e-5, 1e-5);

  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (off);
  lisse_tensor_free (wt);
}

/* The feature-weighted average of Fang 2019: random features (1-7
 * channels, so that the softmax is neither flat nor one-hot), offsets that
 * leave the image on every side, eps from 1e-3 to 1. */
static void
case_deform_affinity_average (OpCheck *check)
{
  DeformCfg cfg;
  rand_deform_cfg (check, &cfg);
  const int nf = op_rand_int (check, 1, 7);
  const float eps = powf (10.f, -3.f * (float) op_rand_int (check, 0, 3) / 3.f);
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.c, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *feat = op_rand_tensor (check, cfg.n, nf, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *off = rand_offsets (check, &cfg);
  char *base = deform_what ("deform_affinity_average", &cfg);
  char *what = g_strdup_printf ("%s, %d features, eps %g", base, nf, eps);

  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_deform_affinity_average (x, feat, off, cfg.kh, cfg.kw,
                                                     cfg.dil_h, cfg.dil_w, eps, &fe);
  LisseTensor *ref = lisse_deform_affinity_average_ref (x, feat, off, cfg.kh, cfg.kw,
                                                        cfg.dil_h, cfg.dil_w, eps, &re);
  compare_and_free (check, what, fast, ref, fe, re, 5e-5, 2e-5);

  g_free (base);
  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (feat);
  lisse_tensor_free (off);
}

/* The image rows [*lo, *hi) that the points of output rows [y0, y1) of
 * image @ni read (their bilinear corners inside the image). */
static void
rows_read (const DeformCfg *cfg, const LisseTensor *off, int ni, int y0, int y1, int *lo, int *hi)
{
  const int pad_h = cfg->dil_h * (cfg->kh - 1) / 2, pad_w = cfg->dil_w * (cfg->kw - 1) / 2;
  *lo = y0;
  *hi = y1;
  for (int y = y0; y < y1; y++)
    for (int xx = 0; xx < cfg->w; xx++)
      for (int kk = 0; kk < cfg->kh * cfg->kw; kk++)
        {
          const size_t at = (size_t) y * cfg->w + xx;
          const double py = (double) y + (kk / cfg->kw) * cfg->dil_h - pad_h
                            + lisse_tensor_channel (off, ni, 2 * kk)[at];
          const double px = (double) xx + (kk % cfg->kw) * cfg->dil_w - pad_w
                            + lisse_tensor_channel (off, ni, 2 * kk + 1)[at];
          if (!(py > -1.0 && py < cfg->h && px > -1.0 && px < cfg->w))
            continue;
          const int r = (int) floor (py);
          if (r >= 0)
            *lo = MIN (*lo, r), *hi = MAX (*hi, r + 1);
          if (r + 1 < cfg->h)
            *lo = MIN (*lo, r + 1), *hi = MAX (*hi, r + 2);
        }
}

/* The same op on pixel-interleaved rows, band by band as fang19 runs it:
 * random bands, each with offsets for its rows plus random extra rows, and
 * the image rows its points read plus random extra rows, must give the
 * whole-image op bit for bit; a band given only its own rows where its
 * points read others must fail. */
static void
case_deform_affinity_average_interleaved (OpCheck *check)
{
  DeformCfg cfg;
  rand_deform_cfg (check, &cfg);
  const int nf = op_rand_int (check, 1, 5);
  const int stride = lisse_affinity_pixel_floats (nf, cfg.c);
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.c, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *feat = op_rand_tensor (check, cfg.n, nf, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *off = rand_offsets (check, &cfg);
  char *base = deform_what ("deform_affinity_average_interleaved", &cfg);
  GError *fe = NULL, *re = NULL;
  LisseTensor *whole = lisse_deform_affinity_average (x, feat, off, cfg.kh, cfg.kw, cfg.dil_h,
                                                      cfg.dil_w, 1e-3f, &re);
  LisseTensor *banded = lisse_tensor_new (cfg.n, cfg.c, cfg.h, cfg.w);
  const size_t row_floats = (size_t) cfg.w * stride;
  float *src = g_new0 (float, cfg.h * row_floats), *dst = g_new0 (float, cfg.h * row_floats);
  for (int ni = 0; ni < cfg.n && !fe; ni++)
    {
      lisse_affinity_interleave (src, stride, 0, feat, ni, 0, 0, cfg.h);
      lisse_affinity_interleave (src, stride, nf, x, ni, 0, 0, cfg.h);
      for (int y0 = 0, y1; y0 < cfg.h && !fe; y0 = y1)
        {
          /* (MIN and MAX evaluate their arguments twice: draw first.) */
          const int rows = op_rand_int (check, 1, 9), before = op_rand_int (check, 0, 2),
                    after = op_rand_int (check, 0, 2), more = op_rand_int (check, 0, 2);
          y1 = MIN (cfg.h, y0 + rows);
          const int ia = MAX (0, y0 - before), ib = MIN (cfg.h, y1 + after);
          LisseTensor *band = lisse_tensor_new (1, off->c, ib - ia, cfg.w);
          for (int c = 0; c < off->c; c++)
            memcpy (lisse_tensor_channel (band, 0, c),
                    lisse_tensor_channel (off, ni, c) + (size_t) ia * cfg.w,
                    (size_t) (ib - ia) * cfg.w * sizeof (float));
          int lo, hi;
          rows_read (&cfg, off, ni, y0, y1, &lo, &hi);
          const int s0 = MAX (0, lo - more), s1 = MIN (cfg.h, hi + more);
          lisse_deform_affinity_average_interleaved (src + s0 * row_floats, s0, s1 - s0, cfg.h,
                                                     cfg.w, nf, cfg.c, band, ia, y0, y1,
                                                     cfg.kh, cfg.kw, cfg.dil_h, cfg.dil_w,
                                                     1e-3f, dst, &fe);
          if (!fe)
            lisse_affinity_deinterleave (dst, stride, nf, banded, ni, 0, y0, y1);
          if (!fe && (lo < y0 || hi > y1))
            {
              GError *short_rows = NULL;
              if (lisse_deform_affinity_average_interleaved (src + y0 * row_floats, y0, y1 - y0,
                                                             cfg.h, cfg.w, nf, cfg.c, band, ia,
                                                             y0, y1, cfg.kh, cfg.kw, cfg.dil_h,
                                                             cfg.dil_w, 1e-3f, dst, &short_rows))
                op_check_fail (check, base, "read rows it was not given without an error");
              g_clear_error (&short_rows);
            }
          lisse_tensor_free (band);
        }
    }
  g_free (src);
  g_free (dst);
  if (fe)
    g_clear_pointer (&banded, lisse_tensor_free);
  compare_and_free (check, base, banded, whole, fe, re, 0.0, 0.0);
  g_free (base);
  lisse_tensor_free (x);
  lisse_tensor_free (feat);
  lisse_tensor_free (off);
}

static void
case_deform_conv2d (OpCheck *check)
{
  DeformCfg cfg;
  rand_deform_cfg (check, &cfg);
  int k = cfg.kh * cfg.kw;
  int cin = cfg.c, cout, groups;
  if (op_check_trial (check) < (int) G_N_ELEMENTS (deform_edges))
    {
      cout = 1 + (cin * 3) % 7;
      groups = 1;
    }
  else
    {
      cout = op_rand_int (check, 1, 16);
      groups = op_rand_int (check, 0, 2) ? 1 : rand_divisor (check, gcd (cin, cout));
    }
  int cin_g = cin / groups;
  LisseTensor *x = op_rand_tensor (check, cfg.n, cin, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *off = rand_offsets (check, &cfg);
  LisseTensor *w = rand_weight (check, cout, cin_g, cfg.kh, cfg.kw, cin_g * k);
  LisseTensor *b = maybe_bias (check, cout);
  LisseTensor *mask = op_rand_int (check, 0, 1)
                      ? op_rand_tensor (check, cfg.n, k, cfg.h, cfg.w, 0.f, 1.f) : NULL;
  char *note;
  size_t old = maybe_shrink_scratch (check, &note);
  char *base = deform_what ("deform_conv2d", &cfg);
  char *what = g_strdup_printf ("%s → %d, groups %d%s%s%s", base, cout, groups,
                                b ? ", bias" : "", mask ? ", mask" : "", note);

  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_deform_conv2d (x, off, w, b, mask, cfg.dil_h, cfg.dil_w, &fe);
  LisseTensor *ref = lisse_deform_conv2d_ref (x, off, w, b, mask, cfg.dil_h, cfg.dil_w, &re);
  compare_and_free (check, what, fast, ref, fe, re, TOL_CONV_ABS, TOL_CONV_REL);

  restore_scratch (old, note);
  g_free (base);
  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (off);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
  lisse_tensor_free (mask);
}

/* ---------------------------------------------------------------------- */
/* Dense layers                                                           */

static int
rand_dim (OpCheck *check, int trial, int edge)
{
  if (trial < 4)
    return edge;
  return op_rand_int (check, 0, 5) == 0 ? op_rand_int (check, 1, 3)
                                        : op_rand_int (check, 1, 70);
}

static void
case_matmul (OpCheck *check)
{
  int trial = op_check_trial (check);
  /* Trials 0–3: empty and one-element shapes (K = 0 must zero C). */
  static const int edges[4][3] = { { 1, 1, 1 }, { 3, 5, 0 }, { 0, 4, 3 }, { 7, 1, 13 } };
  int m = rand_dim (check, trial, trial < 4 ? edges[trial][0] : 0);
  int n = rand_dim (check, trial, trial < 4 ? edges[trial][1] : 0);
  int k = trial < 4 ? edges[trial][2] : op_rand_int (check, 1, 300);
  gboolean ta = trial < 4 ? trial & 1 : op_rand_int (check, 0, 1);
  gboolean tb = trial < 4 ? trial >> 1 : op_rand_int (check, 0, 1);

  LisseTensor *a = op_rand_tensor (check, 1, 1, MAX (m, 1), MAX (k, 1), -1.f, 1.f);
  LisseTensor *b = rand_weight (check, 1, 1, MAX (k, 1), MAX (n, 1), k);
  char *what = g_strdup_printf ("matmul %d×%d·%d×%d%s%s", m, k, k, n,
                                ta ? ", A transposed" : "", tb ? ", B transposed" : "");
  if (m == 0 || n == 0)
    {
      /* Must not touch C at all. */
      float sentinel = 12345.f;
      lisse_matmul (m, n, k, a->data, ta, b->data, tb, &sentinel);
      if (sentinel != 12345.f)
        op_check_fail (check, what, "wrote into an empty C");
    }
  else
    {
      LisseTensor *fast = lisse_tensor_new (1, 1, m, n);
      LisseTensor *ref = lisse_tensor_new (1, 1, m, n);
      lisse_tensor_fill (fast, NAN);   /* K = 0 must overwrite it */
      lisse_matmul (m, n, k, a->data, ta, b->data, tb, fast->data);
      lisse_matmul_ref (m, n, k, a->data, ta, b->data, tb, ref->data);
      op_check_compare (check, what, fast, ref, TOL_CONV_ABS, TOL_CONV_REL);
      lisse_tensor_free (fast);
      lisse_tensor_free (ref);
    }
  g_free (what);
  lisse_tensor_free (a);
  lisse_tensor_free (b);
}

static void
case_linear_channels (OpCheck *check)
{
  int trial = op_check_trial (check);
  int n = trial < 4 ? 1 : op_rand_int (check, 1, 2);
  int cin = trial < 4 ? 1 + trial * 4 : op_rand_int (check, 1, 64);
  int cout = trial < 4 ? 1 + (trial * 5) % 7 : op_rand_int (check, 1, 64);
  int h = trial < 4 ? 1 : op_rand_int (check, 1, 40);
  int w = trial < 4 ? 1 + trial * 2 : op_rand_int (check, 1, 40);
  LisseTensor *x = op_rand_tensor (check, n, cin, h, w, -1.f, 1.f);
  /* The weight's shape is free as long as n = Cout and c·h·w = Cin. */
  LisseTensor *wt = op_rand_int (check, 0, 1) ? rand_weight (check, cout, cin, 1, 1, cin)
                                              : rand_weight (check, cout, 1, 1, cin, cin);
  LisseTensor *b = maybe_bias (check, cout);
  char *what = g_strdup_printf ("linear_channels x %d×%d×%d×%d → %d%s", n, cin, h, w, cout,
                                b ? ", bias" : "");
  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_linear_channels (x, wt, b, &fe);
  LisseTensor *ref = lisse_linear_channels_ref (x, wt, b, &re);
  compare_and_free (check, what, fast, ref, fe, re, TOL_CONV_ABS, TOL_CONV_REL);
  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (wt);
  lisse_tensor_free (b);
}

static void
case_linear_lastdim (OpCheck *check)
{
  int trial = op_check_trial (check);
  int n = trial < 4 ? 1 : op_rand_int (check, 1, 2);
  int c = trial < 4 ? 1 + trial : op_rand_int (check, 1, 13);
  int h = trial < 4 ? 1 + 2 * trial : op_rand_int (check, 1, 40);
  int win = trial < 4 ? 1 + trial * 6 : op_rand_int (check, 1, 64);
  int wout = trial < 4 ? 1 + (trial * 3) % 5 : op_rand_int (check, 1, 64);
  LisseTensor *x = op_rand_tensor (check, n, c, h, win, -1.f, 1.f);
  LisseTensor *wt = rand_weight (check, wout, 1, 1, win, win);
  LisseTensor *b = maybe_bias (check, wout);
  char *what = g_strdup_printf ("linear_lastdim x %d×%d×%d×%d → %d%s", n, c, h, win, wout,
                                b ? ", bias" : "");
  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_linear_lastdim (x, wt, b, &fe);
  LisseTensor *ref = lisse_linear_lastdim_ref (x, wt, b, &re);
  compare_and_free (check, what, fast, ref, fe, re, TOL_CONV_ABS, TOL_CONV_REL);
  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (wt);
  lisse_tensor_free (b);
}

/* Block windows and grid groups of sizes 1 … 5 on images of 1 … 6 groups
 * a side, mostly not square; every third random trial with a scratch
 * budget of a few rows (many sgemm chunks, chunks that split a plane); and
 * the result at 1 thread against 3, bit for bit. */
static void
case_group_mix (OpCheck *check)
{
  int trial = op_check_trial (check);
  LisseGroupKind kind = trial % 2 ? LISSE_GROUP_GRID : LISSE_GROUP_BLOCK;
  int s = trial < 4 ? 1 + trial / 2 * 3 : op_rand_int (check, 1, 5);
  int n = trial < 4 ? 1 : op_rand_int (check, 1, 2);
  int c = trial < 4 ? 1 + trial : op_rand_int (check, 1, 5);
  int h = s * (trial < 4 ? 1 + trial : op_rand_int (check, 1, 6));
  int w = s * (trial < 4 ? 3 : op_rand_int (check, 1, 6));
  LisseTensor *x = op_rand_tensor (check, n, c, h, w, -1.f, 1.f);
  LisseTensor *wt = rand_weight (check, s * s, s * s, 1, 1, s * s);
  LisseTensor *b = maybe_bias (check, s * s);
  char *note;
  size_t old = maybe_shrink_scratch (check, &note);
  char *what = g_strdup_printf ("group_mix %s %d, x %d×%d×%d×%d%s%s",
                                kind == LISSE_GROUP_GRID ? "grid" : "block", s, n, c, h, w,
                                b ? ", bias" : "", note);
  int saved = lisse_threads_get ();
  lisse_threads_set (3);
  GError *e3 = NULL;
  LisseTensor *three = lisse_group_mix (x, kind, s, wt, b, &e3);
  lisse_threads_set (saved);
  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_group_mix (x, kind, s, wt, b, &fe);
  if (fast && three && memcmp (fast->data, three->data,
                               lisse_tensor_numel (fast) * sizeof (float)) != 0)
    op_check_fail (check, what, "the result at 3 threads differs from this thread count's");
  g_clear_error (&e3);
  lisse_tensor_free (three);
  LisseTensor *ref = lisse_group_mix_ref (x, kind, s, wt, b, &re);
  compare_and_free (check, what, fast, ref, fe, re, TOL_CONV_ABS, TOL_CONV_REL);
  restore_scratch (old, note);
  g_free (what);
  lisse_tensor_free (x);
  lisse_tensor_free (wt);
  lisse_tensor_free (b);
}

/* ---------------------------------------------------------------------- */
/* Batch-norm                                                             */

typedef struct
{
  LisseTensor *gamma, *beta, *mean, *var;
  float eps;
} BnParams;

/* Variances down to 1e-3, so that the scale reaches ~30: the case where
 * folding changes weights the most. */
static void
rand_bn (OpCheck *check, int c, BnParams *bn)
{
  bn->gamma = op_rand_int (check, 0, 3) ? op_rand_tensor (check, 1, c, 1, 1, -2.f, 2.f) : NULL;
  bn->beta = op_rand_int (check, 0, 3) ? op_rand_tensor (check, 1, c, 1, 1, -1.f, 1.f) : NULL;
  bn->mean = op_rand_tensor (check, 1, c, 1, 1, -1.f, 1.f);
  bn->var = op_rand_tensor (check, 1, c, 1, 1, 1e-3f, 3.f);
  bn->eps = op_rand_int (check, 0, 1) ? 1e-5f : 1e-3f;
}

static void
free_bn (BnParams *bn)
{
  lisse_tensor_free (bn->gamma);
  lisse_tensor_free (bn->beta);
  lisse_tensor_free (bn->mean);
  lisse_tensor_free (bn->var);
}

static void
case_batchnorm (OpCheck *check)
{
  int trial = op_check_trial (check);
  int n = trial < 3 ? 1 : op_rand_int (check, 1, 2);
  int c = trial < 3 ? 1 + trial * 6 : op_rand_int (check, 1, 24);
  int h = trial < 3 ? 1 : op_rand_int (check, 1, 40);
  int w = trial < 3 ? 1 + trial : op_rand_int (check, 1, 40);
  LisseTensor *x = op_rand_tensor (check, n, c, h, w, -1.f, 1.f);
  BnParams bn;
  rand_bn (check, c, &bn);
  char *what = g_strdup_printf ("batchnorm x %d×%d×%d×%d%s%s, eps %g", n, c, h, w,
                                bn.gamma ? ", γ" : "", bn.beta ? ", β" : "", bn.eps);
  GError *fe = NULL, *re = NULL;
  LisseTensor *fast = lisse_batchnorm_inference (x, bn.gamma, bn.beta, bn.mean, bn.var,
                                                 bn.eps, &fe);
  LisseTensor *ref = lisse_batchnorm_inference_ref (x, bn.gamma, bn.beta, bn.mean, bn.var,
                                                    bn.eps, &re);
  compare_and_free (check, what, fast, ref, fe, re, 1e-5, 1e-5);
  g_free (what);
  free_bn (&bn);
  lisse_tensor_free (x);
}

/* conv → BN through the references, against the folded conv (also through
 * the reference, so that only the folding is under test). */
static void
case_fold_batchnorm_conv2d (OpCheck *check)
{
  ConvCfg cfg;
  rand_conv_cfg (check, &cfg);
  int cin_g = cfg.cin / cfg.g.groups;
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.cin, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *w = rand_weight (check, cfg.cout, cin_g, cfg.kh, cfg.kw,
                                cin_g * cfg.kh * cfg.kw);
  LisseTensor *b = maybe_bias (check, cfg.cout);
  BnParams bn;
  rand_bn (check, cfg.cout, &bn);
  char *base = conv_what ("fold_batchnorm conv2d", &cfg);
  char *what = g_strconcat (base, b ? ", bias" : "", NULL);

  GError *fe = NULL, *re = NULL;
  LisseTensor *ref = NULL, *fast = NULL;
  LisseTensor *y = lisse_conv2d_ref (x, w, b, &cfg.g, &re);
  if (y)
    ref = lisse_batchnorm_inference_ref (y, bn.gamma, bn.beta, bn.mean, bn.var, bn.eps, &re);
  LisseTensor *wf = lisse_tensor_copy (w);
  LisseTensor *bf = b ? lisse_tensor_copy (b) : NULL;
  if (lisse_fold_batchnorm (wf, &bf, LISSE_WEIGHT_CONV2D, cfg.g.groups, bn.gamma, bn.beta,
                            bn.mean, bn.var, bn.eps, &fe))
    fast = lisse_conv2d_ref (x, wf, bf, &cfg.g, &fe);
  compare_and_free (check, what, fast, ref, fe, re, 1e-5, 2e-5);

  g_free (base);
  g_free (what);
  free_bn (&bn);
  lisse_tensor_free (y);
  lisse_tensor_free (x);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
  lisse_tensor_free (wf);
  lisse_tensor_free (bf);
}

static void
case_fold_batchnorm_conv_transpose2d (OpCheck *check)
{
  ConvTCfg cfg;
  rand_convt_cfg (check, &cfg);
  int cout_g = cfg.cout / cfg.g.groups;
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.cin, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *w = rand_weight (check, cfg.cin, cout_g, cfg.kh, cfg.kw,
                                cfg.cin / cfg.g.groups * cfg.kh * cfg.kw);
  LisseTensor *b = maybe_bias (check, cfg.cout);
  BnParams bn;
  rand_bn (check, cfg.cout, &bn);
  char *base = convt_what ("fold_batchnorm conv_transpose2d", &cfg);
  char *what = g_strconcat (base, b ? ", bias" : "", NULL);

  GError *fe = NULL, *re = NULL;
  LisseTensor *ref = NULL, *fast = NULL;
  LisseTensor *y = lisse_conv_transpose2d_ref (x, w, b, &cfg.g, &re);
  if (y)
    ref = lisse_batchnorm_inference_ref (y, bn.gamma, bn.beta, bn.mean, bn.var, bn.eps, &re);
  LisseTensor *wf = lisse_tensor_copy (w);
  LisseTensor *bf = b ? lisse_tensor_copy (b) : NULL;
  if (lisse_fold_batchnorm (wf, &bf, LISSE_WEIGHT_CONV_TRANSPOSE2D, cfg.g.groups, bn.gamma,
                            bn.beta, bn.mean, bn.var, bn.eps, &fe))
    fast = lisse_conv_transpose2d_ref (x, wf, bf, &cfg.g, &fe);
  compare_and_free (check, what, fast, ref, fe, re, 1e-5, 2e-5);

  g_free (base);
  g_free (what);
  free_bn (&bn);
  lisse_tensor_free (y);
  lisse_tensor_free (x);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
  lisse_tensor_free (wf);
  lisse_tensor_free (bf);
}

/* ---------------------------------------------------------------------- */
/* Semantics: the references against each other                           */

static double
dot (const LisseTensor *a, const LisseTensor *b, double *abs_sum)
{
  double s = 0.0, m = 0.0;
  for (size_t i = 0; i < lisse_tensor_numel (a); i++)
    {
      s += (double) a->data[i] * b->data[i];
      m += fabs ((double) a->data[i] * b->data[i]);
    }
  *abs_sum = m;
  return s;
}

/* PyTorch defines ConvTranspose2d as the adjoint (input gradient) of Conv2d
 * with the same weight tensor, stride, padding, dilation and groups, the
 * output padding picking the conv's input size: ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩.
 * Checking that identity ties the two references' geometry, group layout
 * and weight layout to each other.  Tolerance: both sides are sums of
 * products of float-rounded outputs, 1e-6 of the sum of |terms|. */
static void
case_conv_transpose2d_adjoint (OpCheck *check)
{
  ConvCfg cfg;
  int oh, ow;
  do
    {
      rand_conv_cfg (check, &cfg);
      cfg.g.pad_bottom = cfg.g.pad_top;
      cfg.g.pad_right = cfg.g.pad_left;
    }
  while (!lisse_conv2d_out_size (cfg.h, cfg.w, cfg.kh, cfg.kw, &cfg.g, &oh, &ow, NULL));
  const LisseConv2dGeom *g = &cfg.g;
  LisseConvTranspose2dGeom tg = {
    g->stride_h, g->stride_w, g->pad_top, g->pad_left,
    (cfg.h + 2 * g->pad_top - g->dil_h * (cfg.kh - 1) - 1) % g->stride_h,
    (cfg.w + 2 * g->pad_left - g->dil_w * (cfg.kw - 1) - 1) % g->stride_w,
    g->dil_h, g->dil_w, g->groups
  };
  int cin_g = cfg.cin / g->groups;
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.cin, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *w = rand_weight (check, cfg.cout, cin_g, cfg.kh, cfg.kw, cin_g * cfg.kh * cfg.kw);
  LisseTensor *y = op_rand_tensor (check, cfg.n, cfg.cout, oh, ow, -1.f, 1.f);
  char *what = conv_what ("⟨conv2d(x), y⟩ = ⟨x, conv_transpose2d(y)⟩", &cfg);

  GError *fe = NULL, *re = NULL;
  LisseTensor *cx = lisse_conv2d_ref (x, w, NULL, g, &fe);
  LisseTensor *ty = lisse_conv_transpose2d_ref (y, w, NULL, &tg, &re);
  if (!cx || !ty)
    op_check_fail (check, what, "op refused valid input");
  else if (!lisse_tensor_same_shape (ty, x))
    op_check_fail (check, what, "conv_transpose2d does not restore the input size");
  else
    {
      double m1, m2;
      LisseTensor *lhs = lisse_tensor_new (1, 1, 1, 1), *rhs = lisse_tensor_new (1, 1, 1, 1);
      lhs->data[0] = (float) dot (cx, y, &m1);
      rhs->data[0] = (float) dot (x, ty, &m2);
      op_check_compare (check, what, lhs, rhs, 1e-6 * MAX (m1, m2) + 1e-6, 0.0);
      lisse_tensor_free (lhs);
      lisse_tensor_free (rhs);
    }
  g_clear_error (&fe);
  g_clear_error (&re);
  g_free (what);
  lisse_tensor_free (cx);
  lisse_tensor_free (ty);
  lisse_tensor_free (x);
  lisse_tensor_free (w);
  lisse_tensor_free (y);
}

/* With zero offsets and no mask, deform_conv2d is conv2d padded by
 * ⌊dil·(k−1)/2⌋ at the top/left and the rest at the bottom/right — the grid
 * convention of ops-conv.h, and torchvision's.  Both versions are checked. */
static void
case_deform_conv2d_zero_offsets (OpCheck *check)
{
  DeformCfg cfg;
  rand_deform_cfg (check, &cfg);
  int k = cfg.kh * cfg.kw, cout = op_rand_int (check, 1, 9);
  int ext_h = cfg.dil_h * (cfg.kh - 1), ext_w = cfg.dil_w * (cfg.kw - 1);
  LisseConv2dGeom g = { 1, 1, ext_h / 2, ext_h - ext_h / 2, ext_w / 2, ext_w - ext_w / 2,
                        cfg.dil_h, cfg.dil_w, 1 };
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.c, cfg.h, cfg.w, -1.f, 1.f);
  LisseTensor *off = lisse_tensor_new (cfg.n, 2 * k, cfg.h, cfg.w);
  LisseTensor *w = rand_weight (check, cout, cfg.c, cfg.kh, cfg.kw, cfg.c * k);
  LisseTensor *b = maybe_bias (check, cout);
  char *base = deform_what ("deform_conv2d, zero offsets, against conv2d", &cfg);
  char *what_ref = g_strconcat (base, " (references)", NULL);
  char *what_fast = g_strconcat (base, " (fast)", NULL);

  GError *fe = NULL, *re = NULL;
  compare_and_free (check, what_ref, lisse_deform_conv2d_ref (x, off, w, b, NULL, cfg.dil_h,
                                                              cfg.dil_w, &fe),
                    lisse_conv2d_ref (x, w, b, &g, &re), fe, re, 1e-6, 1e-6);
  fe = re = NULL;
  compare_and_free (check, what_fast, lisse_deform_conv2d (x, off, w, b, NULL, cfg.dil_h,
                                                           cfg.dil_w, &fe),
                    lisse_conv2d (x, w, b, &g, &re), fe, re, TOL_CONV_ABS, TOL_CONV_REL);

  g_free (base);
  g_free (what_ref);
  g_free (what_fast);
  lisse_tensor_free (x);
  lisse_tensor_free (off);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
}

/* ---------------------------------------------------------------------- */
/* Thread-count independence                                              */

/* The fast ops with one thread and with three must agree bit for bit
 * (threads.h's promise): each output is summed by one thread in one order,
 * and lisse_sgemm() keeps OpenBLAS's blocking the same whatever its thread
 * count. */
static void
case_conv_thread_determinism (OpCheck *check)
{
  int saved = lisse_threads_get ();
  ConvCfg cfg;
  rand_conv_cfg (check, &cfg);
  int cin_g = cfg.cin / cfg.g.groups;
  LisseTensor *x = op_rand_tensor (check, cfg.n, cfg.cin, cfg.h + 8, cfg.w + 8, -1.f, 1.f);
  LisseTensor *w = rand_weight (check, cfg.cout, cin_g, cfg.kh, cfg.kw,
                                cin_g * cfg.kh * cfg.kw);
  LisseTensor *b = maybe_bias (check, cfg.cout);
  ConvTCfg tcfg;
  rand_convt_cfg (check, &tcfg);
  LisseTensor *tx = op_rand_tensor (check, tcfg.n, tcfg.cin, tcfg.h, tcfg.w, -1.f, 1.f);
  LisseTensor *tw = rand_weight (check, tcfg.cin, tcfg.cout / tcfg.g.groups, tcfg.kh,
                                 tcfg.kw, tcfg.cin);
  DeformCfg dcfg;
  rand_deform_cfg (check, &dcfg);
  int k = dcfg.kh * dcfg.kw;
  LisseTensor *dx = op_rand_tensor (check, dcfg.n, dcfg.c, dcfg.h, dcfg.w, -1.f, 1.f);
  LisseTensor *doff = rand_offsets (check, &dcfg);
  LisseTensor *dwt = op_rand_tensor (check, dcfg.n, k, dcfg.h, dcfg.w, -1.f, 1.f);
  LisseTensor *dw = rand_weight (check, 5, dcfg.c, dcfg.kh, dcfg.kw, dcfg.c * k);

  /* Inner dimensions past OpenBLAS's block size (see lisse_sgemm()). */
  int mk = op_rand_int (check, 300, 900), mm = op_rand_int (check, 1, 70);
  int mn = op_rand_int (check, 100, 3000);
  LisseTensor *ma = op_rand_tensor (check, 1, 1, mm, mk, -1.f, 1.f);
  LisseTensor *mb = rand_weight (check, 1, 1, mk, mn, mk);

  ConvCfg wcfg;
  rand_winograd_cfg (check, &wcfg);
  LisseTensor *wx = op_rand_tensor (check, wcfg.n, wcfg.cin, wcfg.h + 8, wcfg.w + 8, -1.f, 1.f);
  LisseTensor *ww = rand_weight (check, wcfg.cout, wcfg.cin, 3, 3, wcfg.cin * 9);

  LisseTensor *res[2][6];
  for (int pass = 0; pass < 2; pass++)
    {
      res[pass][4] = lisse_tensor_new (1, 1, mm, mn);
      res[pass][5] = NULL;
      lisse_threads_set (pass ? 3 : 1);
      res[pass][0] = lisse_conv2d (x, w, b, &cfg.g, NULL);
      res[pass][1] = lisse_conv_transpose2d (tx, tw, NULL, &tcfg.g, NULL);
      res[pass][2] = lisse_deform_weighted_average (dx, doff, dwt, dcfg.kh, dcfg.kw,
                                                    dcfg.dil_h, dcfg.dil_w, NULL);
      res[pass][3] = lisse_deform_conv2d (dx, doff, dw, NULL, dwt, dcfg.dil_h, dcfg.dil_w,
                                          NULL);
      lisse_matmul (mm, mn, mk, ma->data, FALSE, mb->data, FALSE, res[pass][4]->data);
      res[pass][5] = lisse_conv2d_winograd (wx, ww, NULL, &wcfg.g, NULL);
    }
  lisse_threads_set (saved);

  char *names[6] = {
    conv_what ("conv2d", &cfg), convt_what ("conv_transpose2d", &tcfg),
    deform_what ("deform_weighted_average", &dcfg), deform_what ("deform_conv2d", &dcfg),
    g_strdup_printf ("matmul %d×%d·%d×%d", mm, mk, mk, mn),
    conv_what ("conv2d (Winograd, image 8 px larger)", &wcfg),
  };
  for (int i = 0; i < 6; i++)
    {
      char *what = g_strdup_printf ("%s, 1 thread against 3", names[i]);
      g_free (names[i]);
      if (!res[0][i] || !res[1][i])
        op_check_fail (check, what, "op refused valid input");
      else
        op_check_compare (check, what, res[1][i], res[0][i], 0.0, 0.0);
      g_free (what);
      lisse_tensor_free (res[0][i]);
      lisse_tensor_free (res[1][i]);
    }
  lisse_tensor_free (x);
  lisse_tensor_free (w);
  lisse_tensor_free (b);
  lisse_tensor_free (tx);
  lisse_tensor_free (tw);
  lisse_tensor_free (dx);
  lisse_tensor_free (doff);
  lisse_tensor_free (dwt);
  lisse_tensor_free (dw);
  lisse_tensor_free (ma);
  lisse_tensor_free (mb);
  lisse_tensor_free (wx);
  lisse_tensor_free (ww);
}

/* ---------------------------------------------------------------------- */
/* Invalid arguments                                                      */

/* Each must be refused with an error by both versions, not crash. */
#define EXPECT_REFUSED(what, call_fast, call_ref)                              \
  G_STMT_START {                                                               \
    GError *fe_ = NULL, *re_ = NULL;                                           \
    LisseTensor *f_ = (call_fast), *r_ = (call_ref);                           \
    (void) fe_; (void) re_;                                                    \
    if (f_ || !fe_)                                                            \
      op_check_fail (check, what, "fast version accepted invalid input");      \
    if (r_ || !re_)                                                            \
      op_check_fail (check, what, "reference accepted invalid input");         \
    lisse_tensor_free (f_);                                                    \
    lisse_tensor_free (r_);                                                    \
    g_clear_error (&fe_);                                                      \
    g_clear_error (&re_);                                                      \
  } G_STMT_END

static void
case_invalid_arguments (OpCheck *check)
{
  /* Shapes vary a little with the trial so that messages are exercised with
   * different numbers; the cases themselves are fixed. */
  int c = 2 + op_check_trial (check) % 5;     /* 2 … 6 */
  LisseTensor *x = op_rand_tensor (check, 1, c, 5, 5, -1.f, 1.f);
  LisseTensor *w3 = op_rand_tensor (check, 4, c, 3, 3, -1.f, 1.f);
  LisseTensor *w7 = op_rand_tensor (check, 4, c, 7, 7, -1.f, 1.f);
  LisseTensor *wbadc = op_rand_tensor (check, 4, c + 1, 3, 3, -1.f, 1.f);
  LisseTensor *bias5 = op_rand_tensor (check, 1, 5, 1, 1, -1.f, 1.f);
  LisseConv2dGeom ok = lisse_conv2d_geom (1, 1, 1, 1);
  LisseConv2dGeom stride0 = lisse_conv2d_geom (0, 1, 1, 1);
  LisseConv2dGeom dil0 = lisse_conv2d_geom (1, 1, 0, 1);
  LisseConv2dGeom badgroups = lisse_conv2d_geom (1, 1, 1, c + 1);
  LisseConv2dGeom negpad = lisse_conv2d_geom (1, -1, 1, 1);
  LisseConv2dGeom nopad = lisse_conv2d_geom (1, 0, 1, 1);

  EXPECT_REFUSED ("conv2d stride 0", lisse_conv2d (x, w3, NULL, &stride0, &fe_),
                  lisse_conv2d_ref (x, w3, NULL, &stride0, &re_));
  EXPECT_REFUSED ("conv2d dilation 0", lisse_conv2d (x, w3, NULL, &dil0, &fe_),
                  lisse_conv2d_ref (x, w3, NULL, &dil0, &re_));
  EXPECT_REFUSED ("conv2d groups not dividing", lisse_conv2d (x, w3, NULL, &badgroups, &fe_),
                  lisse_conv2d_ref (x, w3, NULL, &badgroups, &re_));
  EXPECT_REFUSED ("conv2d negative padding", lisse_conv2d (x, w3, NULL, &negpad, &fe_),
                  lisse_conv2d_ref (x, w3, NULL, &negpad, &re_));
  EXPECT_REFUSED ("conv2d kernel larger than image", lisse_conv2d (x, w7, NULL, &nopad, &fe_),
                  lisse_conv2d_ref (x, w7, NULL, &nopad, &re_));
  EXPECT_REFUSED ("conv2d weight channel mismatch", lisse_conv2d (x, wbadc, NULL, &ok, &fe_),
                  lisse_conv2d_ref (x, wbadc, NULL, &ok, &re_));
  EXPECT_REFUSED ("conv2d bias size", lisse_conv2d (x, w3, bias5, &ok, &fe_),
                  lisse_conv2d_ref (x, w3, bias5, &ok, &re_));
  LisseConv2dGeom huge = lisse_conv2d_geom (1, G_MAXINT / 2, G_MAXINT / 4, 1);
  EXPECT_REFUSED ("conv2d absurd padding and dilation", lisse_conv2d (x, w3, NULL, &huge, &fe_),
                  lisse_conv2d_ref (x, w3, NULL, &huge, &re_));

  /* conv_transpose2d: weight [Cin, Cout/g, kh, kw] */
  LisseTensor *tw = op_rand_tensor (check, c, 3, 3, 3, -1.f, 1.f);
  LisseConvTranspose2dGeom tok = lisse_conv_transpose2d_geom (2, 1, 1, 1, 1);
  LisseConvTranspose2dGeom toutpad = lisse_conv_transpose2d_geom (2, 1, 2, 1, 1);
  LisseConvTranspose2dGeom tgroups = lisse_conv_transpose2d_geom (2, 1, 1, 1, c + 1);
  LisseConvTranspose2dGeom tcrop = lisse_conv_transpose2d_geom (1, 10, 0, 1, 1);
  EXPECT_REFUSED ("conv_transpose2d output padding ≥ stride",
                  lisse_conv_transpose2d (x, tw, NULL, &toutpad, &fe_),
                  lisse_conv_transpose2d_ref (x, tw, NULL, &toutpad, &re_));
  EXPECT_REFUSED ("conv_transpose2d groups not dividing",
                  lisse_conv_transpose2d (x, tw, NULL, &tgroups, &fe_),
                  lisse_conv_transpose2d_ref (x, tw, NULL, &tgroups, &re_));
  EXPECT_REFUSED ("conv_transpose2d padding leaves nothing",
                  lisse_conv_transpose2d (x, tw, NULL, &tcrop, &fe_),
                  lisse_conv_transpose2d_ref (x, tw, NULL, &tcrop, &re_));
  LisseTensor *twbad = op_rand_tensor (check, c + 1, 3, 3, 3, -1.f, 1.f);
  EXPECT_REFUSED ("conv_transpose2d weight input channels",
                  lisse_conv_transpose2d (x, twbad, NULL, &tok, &fe_),
                  lisse_conv_transpose2d_ref (x, twbad, NULL, &tok, &re_));
  LisseConvTranspose2dGeom thuge = lisse_conv_transpose2d_geom (G_MAXINT / 2, 0, 0, 1, 1);
  EXPECT_REFUSED ("conv_transpose2d absurd stride",
                  lisse_conv_transpose2d (x, tw, NULL, &thuge, &fe_),
                  lisse_conv_transpose2d_ref (x, tw, NULL, &thuge, &re_));
  EXPECT_REFUSED ("conv_transpose2d bias size",
                  lisse_conv_transpose2d (x, tw, bias5, &tok, &fe_),
                  lisse_conv_transpose2d_ref (x, tw, bias5, &tok, &re_));

  /* deformable: 3×3 needs 18 offset channels */
  LisseTensor *off17 = op_rand_tensor (check, 1, 17, 5, 5, -1.f, 1.f);
  LisseTensor *off18 = op_rand_tensor (check, 1, 18, 5, 5, -1.f, 1.f);
  LisseTensor *off18small = op_rand_tensor (check, 1, 18, 4, 5, -1.f, 1.f);
  LisseTensor *wt9 = op_rand_tensor (check, 1, 9, 5, 5, -1.f, 1.f);
  LisseTensor *wt8 = op_rand_tensor (check, 1, 8, 5, 5, -1.f, 1.f);
  EXPECT_REFUSED ("deform_weighted_average offset channels",
                  lisse_deform_weighted_average (x, off17, wt9, 3, 3, 1, 1, &fe_),
                  lisse_deform_weighted_average_ref (x, off17, wt9, 3, 3, 1, 1, &re_));
  EXPECT_REFUSED ("deform_weighted_average offset size",
                  lisse_deform_weighted_average (x, off18small, wt9, 3, 3, 1, 1, &fe_),
                  lisse_deform_weighted_average_ref (x, off18small, wt9, 3, 3, 1, 1, &re_));
  EXPECT_REFUSED ("deform_weighted_average weight channels",
                  lisse_deform_weighted_average (x, off18, wt8, 3, 3, 1, 1, &fe_),
                  lisse_deform_weighted_average_ref (x, off18, wt8, 3, 3, 1, 1, &re_));
  EXPECT_REFUSED ("deform_weighted_average dilation 0",
                  lisse_deform_weighted_average (x, off18, wt9, 3, 3, 0, 1, &fe_),
                  lisse_deform_weighted_average_ref (x, off18, wt9, 3, 3, 0, 1, &re_));
  EXPECT_REFUSED ("deform_conv2d weight channels",
                  lisse_deform_conv2d (x, off18, wbadc, NULL, NULL, 1, 1, &fe_),
                  lisse_deform_conv2d_ref (x, off18, wbadc, NULL, NULL, 1, 1, &re_));
  EXPECT_REFUSED ("deform_conv2d mask channels",
                  lisse_deform_conv2d (x, off18, w3, NULL, wt8, 1, 1, &fe_),
                  lisse_deform_conv2d_ref (x, off18, w3, NULL, wt8, 1, 1, &re_));
  EXPECT_REFUSED ("deform_conv2d bias size",
                  lisse_deform_conv2d (x, off18, w3, bias5, NULL, 1, 1, &fe_),
                  lisse_deform_conv2d_ref (x, off18, w3, bias5, NULL, 1, 1, &re_));

  /* dense */
  LisseTensor *dense_bad = op_rand_tensor (check, 4, c + 1, 1, 1, -1.f, 1.f);
  LisseTensor *dense_ok = op_rand_tensor (check, 4, c, 1, 1, -1.f, 1.f);
  LisseTensor *lw_bad = op_rand_tensor (check, 3, 1, 1, 6, -1.f, 1.f);
  EXPECT_REFUSED ("linear_channels weight size",
                  lisse_linear_channels (x, dense_bad, NULL, &fe_),
                  lisse_linear_channels_ref (x, dense_bad, NULL, &re_));
  EXPECT_REFUSED ("linear_channels bias size",
                  lisse_linear_channels (x, dense_ok, bias5, &fe_),
                  lisse_linear_channels_ref (x, dense_ok, bias5, &re_));
  EXPECT_REFUSED ("linear_lastdim weight size",
                  lisse_linear_lastdim (x, lw_bad, NULL, &fe_),
                  lisse_linear_lastdim_ref (x, lw_bad, NULL, &re_));
  {
    /* group mix: a size that does not divide the image; a weight of
     * another size */
    LisseTensor *gx = op_rand_tensor (check, 1, 2, 6, 9, -1.f, 1.f);
    LisseTensor *g9 = op_rand_tensor (check, 9, 9, 1, 1, -1.f, 1.f);
    LisseTensor *g4 = op_rand_tensor (check, 4, 4, 1, 1, -1.f, 1.f);
    EXPECT_REFUSED ("group_mix size not dividing the height",
                    lisse_group_mix (gx, LISSE_GROUP_GRID, 4, g4, NULL, &fe_),
                    lisse_group_mix_ref (gx, LISSE_GROUP_GRID, 4, g4, NULL, &re_));
    EXPECT_REFUSED ("group_mix weight size",
                    lisse_group_mix (gx, LISSE_GROUP_BLOCK, 3, g4, NULL, &fe_),
                    lisse_group_mix_ref (gx, LISSE_GROUP_BLOCK, 3, g4, NULL, &re_));
    EXPECT_REFUSED ("group_mix bias size",
                    lisse_group_mix (gx, LISSE_GROUP_BLOCK, 3, g9, bias5, &fe_),
                    lisse_group_mix_ref (gx, LISSE_GROUP_BLOCK, 3, g9, bias5, &re_));
    lisse_tensor_free (gx);
    lisse_tensor_free (g9);
    lisse_tensor_free (g4);
  }

  /* batch-norm */
  LisseTensor *vc = op_rand_tensor (check, 1, c, 1, 1, 0.5f, 1.f);
  LisseTensor *vc1 = op_rand_tensor (check, 1, c + 1, 1, 1, 0.5f, 1.f);
  EXPECT_REFUSED ("batchnorm mean size",
                  lisse_batchnorm_inference (x, NULL, NULL, vc1, vc, 1e-5f, &fe_),
                  lisse_batchnorm_inference_ref (x, NULL, NULL, vc1, vc, 1e-5f, &re_));
  EXPECT_REFUSED ("batchnorm missing variance",
                  lisse_batchnorm_inference (x, NULL, NULL, vc, NULL, 1e-5f, &fe_),
                  lisse_batchnorm_inference_ref (x, NULL, NULL, vc, NULL, 1e-5f, &re_));
  EXPECT_REFUSED ("batchnorm negative epsilon",
                  lisse_batchnorm_inference (x, vc, NULL, vc, vc, -1.f, &fe_),
                  lisse_batchnorm_inference_ref (x, vc, NULL, vc, vc, -1.f, &re_));
  {
    /* A refused fold must leave weight and bias as they were. */
    LisseTensor *wcopy = lisse_tensor_copy (twbad);   /* c + 1 outputs */
    LisseTensor *bnone = NULL;
    GError *err = NULL;
    if (lisse_fold_batchnorm (wcopy, &bnone, LISSE_WEIGHT_CONV2D, 1, NULL, NULL, vc, vc,
                              1e-5f, &err)
        || !err || bnone || lisse_tensor_max_abs_diff (wcopy, twbad) != 0.f)
      op_check_fail (check, "fold_batchnorm, C+1 output channels and a C-channel BN",
                     "accepted, or changed the weight or bias");
    g_clear_error (&err);
    lisse_tensor_free (wcopy);
    wcopy = lisse_tensor_copy (tw);                   /* c input channels */
    if (lisse_fold_batchnorm (wcopy, &bnone, LISSE_WEIGHT_CONV_TRANSPOSE2D, c + 1, NULL, NULL,
                              vc, vc, 1e-5f, &err) || !err)
      op_check_fail (check, "fold_batchnorm transposed with groups not dividing",
                     "accepted");
    g_clear_error (&err);
    lisse_tensor_free (wcopy);
    lisse_tensor_free (bnone);
  }

  /* And valid input is still taken (the harness also wants every case to
   * compare something). */
  {
    GError *fe = NULL, *re = NULL;
    compare_and_free (check, "conv2d on valid input after the refusals",
                      lisse_conv2d (x, w3, NULL, &ok, &fe),
                      lisse_conv2d_ref (x, w3, NULL, &ok, &re), fe, re,
                      TOL_CONV_ABS, TOL_CONV_REL);
  }

  LisseTensor *all[] = { x, w3, w7, wbadc, bias5, tw, twbad, off17, off18, off18small, wt9, wt8,
                         dense_bad, dense_ok, lw_bad, vc, vc1 };
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    lisse_tensor_free (all[i]);
}

/* ---------------------------------------------------------------------- */

const OpCase op_cases_conv[] = {
  { "conv2d", case_conv2d },
  { "conv2d_winograd", case_conv2d_winograd },
  { "conv2d_relu", case_conv2d_relu },
  { "conv2d_add_relu", case_conv2d_add_relu },
  { "conv_transpose2d", case_conv_transpose2d },
  { "deform_weighted_average", case_deform_weighted_average },
  { "deform_affinity_average", case_deform_affinity_average },
  { "deform_affinity_average_interleaved", case_deform_affinity_average_interleaved },
  { "deform_conv2d", case_deform_conv2d },
  { "matmul", case_matmul },
  { "linear_channels", case_linear_channels },
  { "linear_lastdim", case_linear_lastdim },
  { "group_mix", case_group_mix },
  { "batchnorm", case_batchnorm },
  { "fold_batchnorm_conv2d", case_fold_batchnorm_conv2d },
  { "fold_batchnorm_conv_transpose2d", case_fold_batchnorm_conv_transpose2d },
  { "conv_transpose2d_adjoint", case_conv_transpose2d_adjoint },
  { "deform_conv2d_zero_offsets", case_deform_conv2d_zero_offsets },
  { "conv_thread_determinism", case_conv_thread_determinism },
  { "conv_invalid_arguments", case_invalid_arguments },
  { NULL, NULL },
};
