/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * "fan18": the smoothing network of Fan, Yang, Hua, Wipf, "Image Smoothing
 * via Unsupervised Learning" (SIGGRAPH Asia 2018), conditioned on the
 * energy's two weights λf (flattening) and λe (edge preservation) as the
 * PyTorch twin training/lisse_train/fan18_model.py defines it, with its
 * BatchNorms folded into the convolutions by training/lisse_train/export.py.
 *
 * Model file:
 *   metadata "architecture" = "fan18"
 *   optional metadata, checked when present: "conditioning" =
 *     "input-channels-log-lambda", "colour_encoding" = "srgb-nonlinear-0-1",
 *     "receptive_radius" = "254", "alignment" = "2", "dilations" =
 *     "2,2,4,4,8,8,16,16,1,1", "width" = F (must match the tensors),
 *     "params" = JSON [{"name": "lambda-f", "min", "max", "default"},
 *     {"name": "lambda-e", …}]: the sliders' ranges (else FAN18_PARAMS);
 *   tensors, each "NAME.weight" and "NAME.bias" [Cout] (F = width, from
 *   conv0.weight):
 *     conv0              [F, 5, 3, 3]   RGB + φ1 + φ2 → F
 *     conv1              [F, F, 3, 3]
 *     down               [F, F, 3, 3]   stride 2
 *     res{0..9}.conv_a   [F, F, 3, 3]   dilation d_i, padding d_i
 *     res{0..9}.conv_b   [F, F, 3, 3]
 *     up                 [F, F, 4, 4]   transposed, stride 2, padding 1
 *     conv_out1          [F, F, 3, 3]
 *     conv_out2          [3, F, 1, 1]
 *   with d = 2, 2, 4, 4, 8, 8, 16, 16, 1, 1.
 *
 * Forward (exactly the twin's, in eval mode):
 *   φ1 = ln max(λf, 10⁻³), φ2 = ln(max(λe, 10⁻³) / 0.1), per pixel (λf from
 *   the parameter map when one is given, else the constant);
 *   the size rule: where H or W is odd, one row at the bottom / column at
 *   the right is added by repeating the last one, for the image and the φ
 *   maps alike; the network runs on the even-sized image and its output is
 *   cropped back;
 *   f = ReLU(conv0([RGB, φ1, φ2])); f = ReLU(conv1 f); f = ReLU(down f);
 *   per block: f = ReLU(f + conv_b(ReLU(conv_a f)));
 *   f = ReLU(up f); f = ReLU(conv_out1 f); out = RGB + conv_out2 f.
 * All convolutions pad with zeros.
 *
 * Tiling.  Receptive radius 254, alignment 2 (the one stride-2 stage).  The
 * runner's crops start at even image coordinates, and a crop has an odd
 * side only where it ends at an odd image border: there the size rule
 * repeats the same last row/column that padding the whole image would, and
 * everywhere else the rule does not fire.  So applying the rule per crop is
 * applying it once to the whole image, and tiled output equals whole-image
 * output (tests/test_fan18_parity.py checks it).
 */
#include "net.h"
#include "nets-all.h"
#include "lisse-error.h"
#include "model.h"
#include "ops-basic.h"
#include "ops-conv.h"

#include <math.h>
#include <string.h>

#define FAN18_BLOCKS      10
#define FAN18_LAYERS      (3 + 2 * FAN18_BLOCKS + 3)
#define FAN18_IN_CHANNELS 5          /* R', G', B', φ1, φ2 */
#define FAN18_MAX_WIDTH   1024
#define FAN18_RADIUS      254        /* fan18_model.receptive_field_radius() */
#define FAN18_MULTIPLE    2
#define FAN18_LAMBDA_MIN  1e-3f      /* fan18_model.LAMBDA_MIN */
#define FAN18_LAMBDA_E_REF 0.1f      /* fan18_model.LAMBDA_E_REF */
/* Bounds on what a model file may declare as a λ range: positive (the
 * features are logarithms) and not absurd. */
#define FAN18_PARAM_LIMIT 1e6

static const int fan18_dilations[FAN18_BLOCKS] = { 2, 2, 4, 4, 8, 8, 16, 16, 1, 1 };

enum { P_LAMBDA_F, P_LAMBDA_E, N_PARAMS };

/* Defaults when the model file states no ranges: those export.py writes by
 * default (DEFAULT_PARAMS). */
static const LisseParamSpec fan18_params[N_PARAMS] = {
  { "lambda-f", "λf",
    "Flattening strength: larger values flatten more (a per-pixel map may replace it)",
    0.05, 20.0, 1.0, FALSE },
  { "lambda-e", "λe",
    "Edge preservation: larger values keep more of the input's strong edges",
    0.005, 2.0, 0.1, FALSE },
};

typedef enum { LAYER_CONV, LAYER_DECONV } LayerKind;

typedef struct
{
  char        name[24];   /* "res9.conv_b" */
  LayerKind   kind;
  int         k, stride, dil, pad;
  int         cin, cout;
} LayerSpec;

typedef struct
{
  LisseNet       base;
  int            width;
  LayerSpec      layers[FAN18_LAYERS];
  LisseTensor   *weights[FAN18_LAYERS];  /* may view the model file: read-only */
  LisseTensor   *biases[FAN18_LAYERS];
  LisseParamSpec params[N_PARAMS];       /* ranges from the model file */
} Fan18;

/* Layer order: conv0, conv1, down, res0.conv_a, res0.conv_b, …, up,
 * conv_out1, conv_out2. */
#define L_CONV0     0
#define L_CONV1     1
#define L_DOWN      2
#define L_RES(i, b) (3 + 2 * (i) + (b))
#define L_UP        (3 + 2 * FAN18_BLOCKS)
#define L_OUT1      (L_UP + 1)
#define L_OUT2      (L_UP + 2)

static void
layout (LayerSpec *l, int width)
{
  const int f = width;
  l[L_CONV0] = (LayerSpec) { "conv0", LAYER_CONV, 3, 1, 1, 1, FAN18_IN_CHANNELS, f };
  l[L_CONV1] = (LayerSpec) { "conv1", LAYER_CONV, 3, 1, 1, 1, f, f };
  l[L_DOWN] = (LayerSpec) { "down", LAYER_CONV, 3, 2, 1, 1, f, f };
  for (int i = 0; i < FAN18_BLOCKS; i++)
    for (int b = 0; b < 2; b++)
      {
        LayerSpec *s = &l[L_RES (i, b)];
        *s = (LayerSpec) { "", LAYER_CONV, 3, 1, fan18_dilations[i], fan18_dilations[i], f, f };
        g_snprintf (s->name, sizeof s->name, "res%d.conv_%c", i, b ? 'b' : 'a');
      }
  l[L_UP] = (LayerSpec) { "up", LAYER_DECONV, 4, 2, 1, 1, f, f };
  l[L_OUT1] = (LayerSpec) { "conv_out1", LAYER_CONV, 3, 1, 1, 1, f, f };
  l[L_OUT2] = (LayerSpec) { "conv_out2", LAYER_CONV, 1, 1, 1, 0, f, 3 };
}

static void
fan18_free (LisseNet *net)
{
  Fan18 *p = (Fan18 *) net;
  for (int k = 0; k < FAN18_LAYERS; k++)
    {
      lisse_tensor_free (p->weights[k]);
      lisse_tensor_free (p->biases[k]);
    }
  g_free (p);
}

static LisseNet *
fan18_load (LisseSafetensors *st, GError **error)
{
  /* Width and conditioning from conv0.weight; when it is missing or
   * malformed the tensor check below names the problem, so any guess does
   * here. */
  int width = 1;
  const LisseSafetensorsEntry *e = lisse_safetensors_lookup (st, "conv0.weight");
  if (e && e->rank == 4)
    {
      if (e->shape[1] == 3)
        {
          lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fan18: conv0 takes 3 input channels (a network without λ "
                     "conditioning); this Lisse runs the λ-conditioned one (5: RGB, "
                     "ln λf, ln λe)");
          return NULL;
        }
      width = e->shape[0];
      if (width < 1 || width > FAN18_MAX_WIDTH)
        {
          lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fan18: width %d is out of range [1, %d]",
                     width, FAN18_MAX_WIDTH);
          return NULL;
        }
    }

  if (!lisse_model_check_metadata_value (st, "fan18", "conditioning", "input-channels-log-lambda", error)
      || !lisse_model_check_metadata_value (st, "fan18", "colour_encoding", "srgb-nonlinear-0-1", error)
      || !lisse_model_check_metadata_value (st, "fan18", "receptive_radius", G_STRINGIFY (FAN18_RADIUS), error)
      || !lisse_model_check_metadata_value (st, "fan18", "alignment", G_STRINGIFY (FAN18_MULTIPLE), error)
      || !lisse_model_check_metadata_value (st, "fan18", "dilations", "2,2,4,4,8,8,16,16,1,1", error))
    return NULL;
  if (lisse_safetensors_get_metadata (st, "width"))
    {
      int declared;
      if (!lisse_model_get_metadata_int (st, "width", &declared, error))
        return NULL;
      if (e && e->rank == 4 && declared != width)
        {
          lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fan18: metadata 'width' = %d but conv0 has %d output channels",
                     declared, width);
          return NULL;
        }
    }

  Fan18 *p = g_new0 (Fan18, 1);
  p->width = width;
  memcpy (p->params, fan18_params, sizeof p->params);
  const char *ptext = lisse_safetensors_get_metadata (st, "params");
  if (ptext && !lisse_model_parse_param_ranges (ptext, "fan18", p->params, N_PARAMS,
                                                 FAN18_PARAM_LIMIT, error))
    goto fail;
  layout (p->layers, width);

  {
    LisseTensorSpec specs[2 * FAN18_LAYERS];
    char names[2 * FAN18_LAYERS][32];
    for (int k = 0; k < FAN18_LAYERS; k++)
      {
        const LayerSpec *l = &p->layers[k];
        g_snprintf (names[2 * k], sizeof names[0], "%s.weight", l->name);
        g_snprintf (names[2 * k + 1], sizeof names[0], "%s.bias", l->name);
        /* PyTorch layouts: Conv2d [Cout, Cin, k, k], ConvTranspose2d
         * [Cin, Cout, k, k]. */
        if (l->kind == LAYER_CONV)
          specs[2 * k] = (LisseTensorSpec) { names[2 * k], 4, { l->cout, l->cin, l->k, l->k } };
        else
          specs[2 * k] = (LisseTensorSpec) { names[2 * k], 4, { l->cin, l->cout, l->k, l->k } };
        specs[2 * k + 1] = (LisseTensorSpec) { names[2 * k + 1], 1, { l->cout, 0, 0, 0 } };
      }
    if (!lisse_model_check_tensors (st, specs, 2 * FAN18_LAYERS, error))
      goto fail;
    for (int k = 0; k < FAN18_LAYERS; k++)
      {
        if (!(p->weights[k] = lisse_safetensors_get_tensor (st, specs[2 * k].name, error))
            || !(p->biases[k] = lisse_safetensors_get_tensor (st, specs[2 * k + 1].name,
                                                              error)))
          goto fail;
      }
  }

  p->base.params = p->params;
  p->base.n_params = N_PARAMS;
  return &p->base;

fail:
  fan18_free (&p->base);
  return NULL;
}

/* ---- forward ------------------------------------------------------------ */

static inline float
phi (float lambda, float ref)
{
  /* NaN compares false and so becomes the floor too. */
  return logf ((lambda > FAN18_LAMBDA_MIN ? lambda : FAN18_LAMBDA_MIN) / ref);
}

/* dst plane (hp×wp) ← src plane (h×w) with the last row/column repeated to
 * fill; @ref > 0: through phi(·, ref). */
static void
pad_plane (const float *src, int h, int w, float *dst, int hp, int wp, float ref)
{
  for (int y = 0; y < hp; y++)
    {
      const float *s = src + (size_t) MIN (y, h - 1) * w;
      float *d = dst + (size_t) y * wp;
      if (ref > 0)
        for (int x = 0; x < w; x++)
          d[x] = phi (s[x], ref);
      else
        memcpy (d, s, (size_t) w * sizeof (float));
      for (int x = w; x < wp; x++)
        d[x] = d[w - 1];
    }
}

static void
fill_plane (float *dst, size_t n, float v)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = v;
}

/* Multiply-adds of layer @k for an hp×wp padded image: the progress
 * weights.  From down's output to up's input the image is at half size; a
 * transposed convolution costs k² taps per input pixel. */
static double
layer_cost (const LayerSpec *l, int k, int hp, int wp)
{
  double pixels = (double) hp * wp;
  if (k >= L_DOWN && k <= L_UP)
    pixels /= 4;
  return pixels * l->k * l->k * l->cin * l->cout;
}

typedef struct
{
  const Fan18         *p;
  const LisseProgress *progress;
  double               done, total;
  double               cost[FAN18_LAYERS];
} Runner;

/* One layer; frees @x when @consume.  With @residual (a convolution's
 * output shape), ReLU (layer + residual): a residual block's end, in the
 * convolution's output pass.  NULL with @error on failure. */
static LisseTensor *
run_layer (Runner *r, int k, LisseTensor *x, gboolean consume, gboolean relu,
           const LisseTensor *residual, GError **error)
{
  const Fan18 *p = r->p;
  const LayerSpec *l = &p->layers[k];
  LisseTensor *y;
  if (l->kind == LAYER_CONV)
    {
      LisseConv2dGeom geom = lisse_conv2d_geom (l->stride, l->pad, l->dil, 1);
      geom.bf16 = p->base.bf16;
      if (residual)
        y = lisse_conv2d_add_relu (x, p->weights[k], p->biases[k], &geom, residual, error);
      else
        y = (relu ? lisse_conv2d_relu : lisse_conv2d) (x, p->weights[k], p->biases[k], &geom,
                                                       error);
      relu = FALSE;   /* done */
    }
  else
    {
      LisseConvTranspose2dGeom geom = lisse_conv_transpose2d_geom (l->stride, l->pad, 0,
                                                                   l->dil, 1);
      y = lisse_conv_transpose2d (x, p->weights[k], p->biases[k], &geom, error);
    }
  if (consume)
    lisse_tensor_free (x);
  if (!y)
    return NULL;
  if (relu)
    lisse_relu_inplace (y);
  r->done += r->cost[k];
  if (!lisse_progress_report (r->progress, r->done / r->total, error))
    {
      lisse_tensor_free (y);
      return NULL;
    }
  return y;
}

static LisseTensor *
fan18_forward (const LisseNet *net, const LisseTensor *rgb, const LisseParams *params,
               const LisseTensor *param_map, const LisseProgress *progress,
               GError **error)
{
  const Fan18 *p = (const Fan18 *) net;
  const int h = rgb->h, w = rgb->w;
  /* The size rule: even sizes, by repeating the last row / column. */
  const int hp = h + (h & 1), wp = w + (w & 1);
  const size_t plane = (size_t) hp * wp;

  /* As the twin: λ is a float32 value before the features are taken. */
  const float lambda_f = (float) lisse_params_get (params, "lambda-f");
  const float lambda_e = (float) lisse_params_get (params, "lambda-e");

  Runner r = { p, progress, 0, 0, { 0 } };
  for (int k = 0; k < FAN18_LAYERS; k++)
    r.total += r.cost[k] = layer_cost (&p->layers[k], k, hp, wp);

  LisseTensor *x = lisse_tensor_try_new (1, FAN18_IN_CHANNELS, hp, wp, error);
  if (!x)
    return NULL;
  for (int c = 0; c < 3; c++)
    pad_plane (lisse_tensor_channel (rgb, 0, c), h, w, lisse_tensor_channel (x, 0, c),
               hp, wp, 0);
  if (param_map)
    pad_plane (lisse_tensor_channel (param_map, 0, 0), h, w,
               lisse_tensor_channel (x, 0, 3), hp, wp, 1.0f);
  else
    fill_plane (lisse_tensor_channel (x, 0, 3), plane, phi (lambda_f, 1.0f));
  fill_plane (lisse_tensor_channel (x, 0, 4), plane, phi (lambda_e, FAN18_LAMBDA_E_REF));

  /* Full resolution in, half resolution through the blocks.  Each
   * intermediate is freed as soon as the next layer has consumed it: at
   * width 64 one full-resolution activation of a 1020² crop is 266 MB. */
  LisseTensor *f = run_layer (&r, L_CONV0, x, TRUE, TRUE, NULL, error);
  if (f)
    f = run_layer (&r, L_CONV1, f, TRUE, TRUE, NULL, error);
  if (f)
    f = run_layer (&r, L_DOWN, f, TRUE, TRUE, NULL, error);
  for (int i = 0; f && i < FAN18_BLOCKS; i++)
    {
      /* f = ReLU (f + res.b (ReLU res.a f)) */
      LisseTensor *a = run_layer (&r, L_RES (i, 0), f, FALSE, TRUE, NULL, error);
      LisseTensor *g = a ? run_layer (&r, L_RES (i, 1), a, TRUE, TRUE, f, error) : NULL;
      lisse_tensor_free (f);
      f = g;
    }
  if (f)
    f = run_layer (&r, L_UP, f, TRUE, TRUE, NULL, error);
  if (f)
    f = run_layer (&r, L_OUT1, f, TRUE, TRUE, NULL, error);
  if (f)
    f = run_layer (&r, L_OUT2, f, TRUE, FALSE, NULL, error);
  if (!f)
    return NULL;
  if (f->h != hp || f->w != wp)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL,
                   "fan18: the layers gave %d×%d for a %d×%d input", f->h, f->w, hp, wp);
      lisse_tensor_free (f);
      return NULL;
    }

  /* out = input + residual, cropped back to h × w. */
  LisseTensor *out = lisse_tensor_try_new (1, 3, h, w, error);
  if (out)
    for (int c = 0; c < 3; c++)
      {
        const float *in = lisse_tensor_channel (rgb, 0, c);
        const float *res = lisse_tensor_channel (f, 0, c);
        float *o = lisse_tensor_channel (out, 0, c);
        for (int y = 0; y < h; y++)
          for (int xx = 0; xx < w; xx++)
            o[(size_t) y * w + xx] = in[(size_t) y * w + xx] + res[(size_t) y * wp + xx];
      }
  lisse_tensor_free (f);
  return out;
}

const LisseNetInfo lisse_net_fan18 = {
  .architecture = "fan18",
  .title = "Fan et al. 2018 unsupervised smoothing (λ-conditioned)",
  .reference = "Fan, Yang, Hua, Wipf: Image Smoothing via Unsupervised Learning, "
               "SIGGRAPH Asia 2018; λf, λe as input channels (docs/fan18-conditioning.md)",
  .params = fan18_params,
  .n_params = N_PARAMS,
  .n_map_channels = 1,                  /* a per-pixel λf */
  .map_kind = "lambda-f",
  .receptive_radius = FAN18_RADIUS,
  .multiple = FAN18_MULTIPLE,
  .load = fan18_load,
  .free = fan18_free,
  .forward = fan18_forward,
};
