/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * "fang19": the learned explicit smoothing kernels of Fang, Wang, Shamir and
 * Hu, "Learning Explicit Smoothing Kernels for Joint Image Filtering"
 * (Computer Graphics Forum 2019, §3), as the PyTorch twin
 * training/lisse_train/fang19_model.py defines it.  One model reproduces one
 * exact filter (WLS, L0 or RTV) over a range of its λ.
 *
 * Model file (training/lisse_train/fang19_export.py writes it):
 *   metadata "architecture" = "fang19"
 *   metadata "width" = F (1 … FANG19_MAX_WIDTH), "n_layers" = L (1 …
 *     FANG19_MAX_LAYERS), "dilations" = JSON list of 1 … FANG19_MAX_BLOCKS
 *     whole numbers in [1, FANG19_MAX_DILATION] (one per residual block),
 *     "offset_bound" = B (0 < B ≤ FANG19_MAX_BOUND), "lambda_ref" (> 0):
 *     required;
 *   optional, checked when present: "receptive_radius" (must equal the halo
 *     computed below), "colour_encoding" = "srgb-nonlinear-0-1", "params"
 *     (the λ slider: [{"name": "lambda", "min", "max", "default"}]),
 *     "filter" (the exact filter it reproduces, shown by `lisse info`);
 *   tensors, for every 3×3 convolution NAME (forward order):
 *     c0 [F, 3], c1 [F, F], c2 [F, F] (stride 2), res{i}.a, res{i}.b [F, F]
 *     (dilation dilations[i]), c3, c4 [F, F], c5 [5 + 18L, F]:
 *       NAME.weight   [Cout, Cin, 3, 3]     NAME.bias   [Cout]
 *       NAME.a_weight [2·Cout, Cin, 3, 3]   NAME.a_bias [2, Cout]
 *   and nothing else.
 *
 * Forward (exactly the twin's, Fang19Net.forward (guide, λ, target)):
 *   I = the guide (the net's parameter map, 3 channels, when given: joint
 *   filtering) or else the input; T = the input;
 *   t = λ / lambda_ref; every convolution's weight is
 *     (t·a_weight[:Cout] + a_weight[Cout:]/t) + weight (bias likewise):
 *     the paper's W = A·P + B with P = (t, 1/t), folded once per call;
 *   x = I padded to even size by repeating the last row / column;
 *   x = ReLU c0 x; x = ReLU c1 x; x = ReLU c2 x            (stride 2)
 *   per block: x = ReLU(x + res.b(ReLU res.a x))            (half size)
 *   x = nearest ×2 upsampling of x, cropped to H×W;
 *   x = ReLU c3 x; x = ReLU c4 x; o = c5 x;
 *   F = o[0:5];  O_l = B·tanh(o[5 + 18l : 5 + 18(l+1)] / B);
 *   Z_0 = T; per layer l, at the 9 points q_k = p + (i, j) + O_l,k(p):
 *     w_k = softmax_k(−‖F(p) − F(q_k)‖²),
 *     Z_l(p) = (Σ_k w_k Z_{l−1}(q_k) + ε Z_{l−1}(p)) / (Σ_k w_k 1(q_k) + ε)
 *   (bilinear reads, zero outside the image, as the engine's deformable
 *   ops; the plane of ones 1 keeps the weights summing to one at borders,
 *   ε = FANG19_BORDER_EPS keeps the pixel's own value where every point
 *   falls outside): lisse_deform_affinity_average_interleaved, band by
 *   band, the layers following c3–c5 as a wavefront (back_end, below).
 *   The result is Z_L.
 *
 * Halo (fang19_model.halo_radius): the extractor reaches 1 + 1 + 3 +
 * 4·Σ dilations + 1 + 3 pixels, each layer ceil(B) + 2 more.  The one
 * stride-2 layer makes tiles align to even coordinates (multiple 2).  A
 * tile with that halo gives the whole-image result.
 */
#include "net.h"
#include "nets-all.h"
#include "lisse-error.h"
#include "model.h"
#include "ops-basic.h"
#include "ops-conv.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define FANG19_FEATURES     5
#define FANG19_POINTS       9
#define FANG19_MAX_WIDTH    1024
#define FANG19_MAX_LAYERS   16
#define FANG19_MAX_BLOCKS   32
#define FANG19_MAX_DILATION 64
#define FANG19_MAX_BOUND    64.0
#define FANG19_PARAM_LIMIT  1e6
#define FANG19_BORDER_EPS   1e-3f   /* fang19_model.BORDER_EPS */

enum { P_LAMBDA, N_PARAMS };

/* Used when the file states no range: the widest the paper's filters use. */
static const LisseParamSpec fang19_params[N_PARAMS] = {
  { "lambda", "λ", "Smoothing strength of the reproduced filter: larger values flatten more",
    0.0001, 100.0, 0.01, FALSE },
};

typedef struct
{
  char name[16];   /* "res31.a" */
  int  stride, dil, cin, cout;
} LayerSpec;

typedef struct
{
  LisseNet       base;
  int            width, n_layers, n_blocks;
  int            dilations[FANG19_MAX_BLOCKS];
  double         offset_bound, lambda_ref;
  int            n_convs;
  LayerSpec     *layers;
  LisseTensor  **weight, **bias, **a_weight, **a_bias;   /* may view the file */
  LisseParamSpec params[N_PARAMS];
} Fang19;

/* Layer indices in forward order. */
#define L_C0        0
#define L_C1        1
#define L_C2        2
#define L_RES(i, b) (3 + 2 * (i) + (b))
#define L_C3(p)     (3 + 2 * (p)->n_blocks)
#define L_C4(p)     (L_C3 (p) + 1)
#define L_C5(p)     (L_C3 (p) + 2)

static int
fang19_halo (const int *dilations, int n_blocks, int n_layers, double bound)
{
  int sum = 0;
  for (int i = 0; i < n_blocks; i++)
    sum += dilations[i];
  return 1 + 1 + 3 + 4 * sum + 1 + 3 + n_layers * ((int) ceil (bound) + 2);
}

static void
set_layer (LayerSpec *l, const char *name, int stride, int dil, int cin, int cout)
{
  g_strlcpy (l->name, name, sizeof l->name);
  l->stride = stride;
  l->dil = dil;
  l->cin = cin;
  l->cout = cout;
}

static void
layout (Fang19 *p)
{
  const int f = p->width;
  LayerSpec *l = p->layers;
  set_layer (&l[L_C0], "c0", 1, 1, 3, f);
  set_layer (&l[L_C1], "c1", 1, 1, f, f);
  set_layer (&l[L_C2], "c2", 2, 1, f, f);
  for (int i = 0; i < p->n_blocks; i++)
    {
      char name[16];
      g_snprintf (name, sizeof name, "res%d.a", i);
      set_layer (&l[L_RES (i, 0)], name, 1, p->dilations[i], f, f);
      g_snprintf (name, sizeof name, "res%d.b", i);
      set_layer (&l[L_RES (i, 1)], name, 1, p->dilations[i], f, f);
    }
  set_layer (&l[L_C3 (p)], "c3", 1, 1, f, f);
  set_layer (&l[L_C4 (p)], "c4", 1, 1, f, f);
  set_layer (&l[L_C5 (p)], "c5", 1, 1, f, FANG19_FEATURES + 2 * FANG19_POINTS * p->n_layers);
}

static void
fang19_free (LisseNet *net)
{
  Fang19 *p = (Fang19 *) net;
  lisse_net_free_layers (p->weight, p->bias, p->n_convs);
  lisse_net_free_layers (p->a_weight, p->a_bias, p->n_convs);
  g_free (p->layers);
  g_free (p);
}

static gboolean
get_double (LisseSafetensors *st, const char *key, double lo, double hi, double *out,
            GError **error)
{
  GError *local = NULL;
  if (!lisse_model_get_metadata_double (st, key, out, &local))
    {
      lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fang19: %s", local->message);
      g_error_free (local);
      return FALSE;
    }
  if (!(*out > lo && *out <= hi))
    return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fang19: metadata '%s' = %g is out of range (%g, %g]",
                       key, *out, lo, hi);
  return TRUE;
}

/* metadata "dilations": a JSON list of whole numbers. */
static gboolean
get_dilations (LisseSafetensors *st, Fang19 *p, GError **error)
{
  const char *text = lisse_safetensors_get_metadata (st, "dilations");
  if (!text)
    return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fang19: metadata 'dilations' is missing");
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = json_parser_load_from_data (parser, text, -1, NULL)
                   ? json_parser_get_root (parser) : NULL;
  JsonArray *a = root && JSON_NODE_HOLDS_ARRAY (root) ? json_node_get_array (root) : NULL;
  const guint n = a ? json_array_get_length (a) : 0;
  if (n < 1 || n > FANG19_MAX_BLOCKS)
    return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fang19: metadata 'dilations' must be a JSON list of "
                       "1 to %d whole numbers", FANG19_MAX_BLOCKS);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
          || json_node_get_int (e) < 1 || json_node_get_int (e) > FANG19_MAX_DILATION)
        return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fang19: metadata 'dilations' entry %u must be a "
                           "whole number in [1, %d]", i + 1, FANG19_MAX_DILATION);
      p->dilations[i] = (int) json_node_get_int (e);
    }
  p->n_blocks = (int) n;
  return TRUE;
}

static LisseNet *
fang19_load (LisseSafetensors *st, GError **error)
{
  Fang19 *p = g_new0 (Fang19, 1);
  if (!lisse_model_get_metadata_int_in (st, "fang19", "width", 1, FANG19_MAX_WIDTH, &p->width, error)
      || !lisse_model_get_metadata_int_in (st, "fang19", "n_layers", 1, FANG19_MAX_LAYERS, &p->n_layers, error)
      || !get_dilations (st, p, error)
      || !get_double (st, "offset_bound", 0, FANG19_MAX_BOUND, &p->offset_bound, error)
      || !get_double (st, "lambda_ref", 0, FANG19_PARAM_LIMIT, &p->lambda_ref, error)
      || !lisse_model_check_metadata_value (st, "fang19", "colour_encoding", "srgb-nonlinear-0-1", error))
    goto fail;
  const int halo = fang19_halo (p->dilations, p->n_blocks, p->n_layers, p->offset_bound);
  if (lisse_safetensors_get_metadata (st, "receptive_radius"))
    {
      int declared;
      if (!lisse_model_get_metadata_int_in (st, "fang19", "receptive_radius", 0, G_MAXINT, &declared, error))
        goto fail;
      if (declared != halo)
        {
          lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fang19: metadata 'receptive_radius' = %d, but the "
                      "dilations, n_layers and offset_bound give %d", declared, halo);
          goto fail;
        }
    }
  memcpy (p->params, fang19_params, sizeof p->params);
  p->params[P_LAMBDA].def = p->lambda_ref;
  const char *ptext = lisse_safetensors_get_metadata (st, "params");
  if (ptext && !lisse_model_parse_param_ranges (ptext, "fang19", p->params, N_PARAMS,
                                                FANG19_PARAM_LIMIT, error))
    goto fail;
  if (!ptext && (p->lambda_ref < p->params[P_LAMBDA].min || p->lambda_ref > p->params[P_LAMBDA].max))
    {
      lisse_fail (error, LISSE_ERROR_BAD_MODEL, "fang19: metadata 'lambda_ref' = %g is outside the default λ "
                  "range [%g, %g]: state 'params'", p->lambda_ref, p->params[P_LAMBDA].min,
                  p->params[P_LAMBDA].max);
      goto fail;
    }

  p->n_convs = L_C5 (p) + 1;
  p->layers = g_new0 (LayerSpec, p->n_convs);
  layout (p);
  {
    const int n = 4 * p->n_convs;
    g_autofree LisseTensorSpec *specs = g_new0 (LisseTensorSpec, n);
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    for (int k = 0; k < p->n_convs; k++)
      {
        const LayerSpec *l = &p->layers[k];
        const char *keys[4] = { "weight", "bias", "a_weight", "a_bias" };
        char *nm[4];
        for (int j = 0; j < 4; j++)
          g_ptr_array_add (names, nm[j] = g_strdup_printf ("%s.%s", l->name, keys[j]));
        specs[4 * k + 0] = (LisseTensorSpec) { nm[0], 4, { l->cout, l->cin, 3, 3 } };
        specs[4 * k + 1] = (LisseTensorSpec) { nm[1], 1, { l->cout, 0, 0, 0 } };
        specs[4 * k + 2] = (LisseTensorSpec) { nm[2], 4, { 2 * l->cout, l->cin, 3, 3 } };
        specs[4 * k + 3] = (LisseTensorSpec) { nm[3], 2, { 2, l->cout, 0, 0 } };
      }
    if (!lisse_model_check_tensors (st, specs, n, error))
      goto fail;
    p->weight = g_new0 (LisseTensor *, p->n_convs);
    p->bias = g_new0 (LisseTensor *, p->n_convs);
    p->a_weight = g_new0 (LisseTensor *, p->n_convs);
    p->a_bias = g_new0 (LisseTensor *, p->n_convs);
    for (int k = 0; k < p->n_convs; k++)
      if (!(p->weight[k] = lisse_safetensors_get_tensor (st, specs[4 * k].name, error))
          || !(p->bias[k] = lisse_safetensors_get_tensor (st, specs[4 * k + 1].name, error))
          || !(p->a_weight[k] = lisse_safetensors_get_tensor (st, specs[4 * k + 2].name, error))
          || !(p->a_bias[k] = lisse_safetensors_get_tensor (st, specs[4 * k + 3].name, error)))
        goto fail;
  }
  p->base.receptive_radius = halo;
  p->base.params = p->params;
  p->base.n_params = N_PARAMS;
  return &p->base;

fail:
  fang19_free (&p->base);
  return NULL;
}

/* ---- forward ------------------------------------------------------------ */

typedef struct
{
  const Fang19        *p;
  float                t, inv_t;
  const LisseProgress *progress;
  double               done, total;
} Runner;

/* Output channels [@co0, @co0 + @nco) of convolution @k at this λ (its
 * folded weights live only for the call) on @x, ReLU when @relu. */
static LisseTensor *
run_conv_part (Runner *r, int k, const LisseTensor *x, int co0, int nco, gboolean relu,
               GError **error)
{
  const Fang19 *p = r->p;
  const LayerSpec *l = &p->layers[k];
  const size_t per_out = (size_t) l->cin * 9, nw = (size_t) l->cout * per_out;
  const size_t nw_part = (size_t) nco * per_out, w_first = (size_t) co0 * per_out;
  g_autoptr (LisseTensor) w = lisse_tensor_try_new (nco, l->cin, 3, 3, error);
  g_autoptr (LisseTensor) b = w ? lisse_tensor_try_new (1, 1, 1, nco, error) : NULL;
  LisseTensor *y = NULL;
  if (b)
    {
      /* As the twin's einsum then add: (t·A0 + A1/t) + W0. */
      const float *w0 = p->weight[k]->data + w_first, *aw = p->a_weight[k]->data + w_first;
      for (size_t i = 0; i < nw_part; i++)
        w->data[i] = (r->t * aw[i] + r->inv_t * aw[nw + i]) + w0[i];
      const float *b0 = p->bias[k]->data + co0, *ab = p->a_bias[k]->data + co0;
      for (int o = 0; o < nco; o++)
        b->data[o] = (r->t * ab[o] + r->inv_t * ab[l->cout + o]) + b0[o];
      LisseConv2dGeom geom = lisse_conv2d_geom (l->stride, l->dil, l->dil, 1);
      geom.bf16 = p->base.bf16;
      y = (relu ? lisse_conv2d_relu : lisse_conv2d) (x, w, b, &geom, error);
    }
  if (!y)
    return NULL;
  r->done += (double) nw_part * y->h * y->w;
  if (!lisse_progress_report (r->progress, MIN (1.0, r->done / r->total), error))
    g_clear_pointer (&y, lisse_tensor_free);
  return y;
}

/* Convolution @k at this λ on @x (freed when @consume), ReLU when @relu. */
static LisseTensor *
run_conv (Runner *r, int k, LisseTensor *x, gboolean consume, gboolean relu, GError **error)
{
  LisseTensor *y = run_conv_part (r, k, x, 0, r->p->layers[k].cout, relu, error);
  if (consume)
    lisse_tensor_free (x);
  return y;
}

/* @x (h×w) with its last row / column repeated up to even size. */
static LisseTensor *
pad_even (const LisseTensor *x, GError **error)
{
  const int hp = x->h + (x->h & 1), wp = x->w + (x->w & 1);
  LisseTensor *y = lisse_tensor_try_new (1, x->c, hp, wp, error);
  if (!y)
    return NULL;
  for (int c = 0; c < x->c; c++)
    {
      const float *s = lisse_tensor_channel (x, 0, c);
      float *d = lisse_tensor_channel (y, 0, c);
      for (int yy = 0; yy < hp; yy++)
        for (int xx = 0; xx < wp; xx++)
          d[(size_t) yy * wp + xx] = s[(size_t) MIN (yy, x->h - 1) * x->w + MIN (xx, x->w - 1)];
    }
  return y;
}

/* The extractor's front (c0, c1, c2) runs in bands of this many rows of
 * c2's half-size output, so that no full-size F-channel tensor is ever in
 * memory; its back end is streamed too (back_end). */
#define EXTRACT_BAND 64

/* Rows [@a, @b) of @x's channels as a tensor of their own. */
static LisseTensor *
copy_rows (const LisseTensor *x, int a, int b, GError **error)
{
  LisseTensor *band = lisse_tensor_try_new_uninit (1, x->c, b - a, x->w, error);
  if (band)
    for (int c = 0; c < x->c; c++)
      memcpy (lisse_tensor_channel (band, 0, c), lisse_tensor_channel (x, 0, c) + (size_t) a * x->w,
              (size_t) (b - a) * x->w * sizeof (float));
  return band;
}

/* @rows rows of @src, from its row @src_y0, into @dst from its row
 * @dst_y0 (the same channels and width). */
static void
put_rows (LisseTensor *dst, int dst_y0, const LisseTensor *src, int src_y0, int rows)
{
  for (int c = 0; c < dst->c; c++)
    memcpy (lisse_tensor_channel (dst, 0, c) + (size_t) dst_y0 * dst->w,
            lisse_tensor_channel (src, 0, c) + (size_t) src_y0 * src->w,
            (size_t) rows * dst->w * sizeof (float));
}

/* c0, c1 and c2 (stride 2) on the even-sized guide @xp, band by band: the
 * half-size result.  A band of half-size rows [j0, j1) needs the input rows
 * [2·j0 − 4, 2·j1 + 4) (each 3×3 layer reaches one row further; the band's
 * own first and last rows, zero-padded, are not used). */
static LisseTensor *
extract_front (Runner *r, const LisseTensor *xp, GError **error)
{
  const int hh = xp->h / 2;
  LisseTensor *half = lisse_tensor_try_new_uninit (1, r->p->width, hh, xp->w / 2, error);
  for (int j0 = 0; half && j0 < hh; j0 += EXTRACT_BAND)
    {
      const int j1 = MIN (hh, j0 + EXTRACT_BAND);
      const int a = MAX (0, 2 * j0 - 4), b = MIN (xp->h, 2 * j1 + 4);   /* a even */
      LisseTensor *x = copy_rows (xp, a, b, error);
      if (x)
        x = run_conv (r, L_C0, x, TRUE, TRUE, error);
      if (x)
        x = run_conv (r, L_C1, x, TRUE, TRUE, error);
      if (x)
        x = run_conv (r, L_C2, x, TRUE, TRUE, error);
      if (x)
        put_rows (half, j0, x, j0 - a / 2, j1 - j0);
      else
        g_clear_pointer (&half, lisse_tensor_free);
      lisse_tensor_free (x);
    }
  return half;
}

/* ---- the back end, streamed ----------------------------------------------
 * c3, c4 and c5 run band by band (BACK_BAND output rows, from the half-size
 * trunk), and the averaging layers follow them as a wavefront: layer l
 * averages a band once its input (the features and the image — the target
 * for layer 0, layer l − 1's result after) reaches the band's last row plus
 * the layers' reach.  Each layer keeps its input as pixel-interleaved rows
 * (lisse_deform_affinity_average_interleaved) from its reach above its band
 * on, and c5's input as the bands some layer still needs, so nothing
 * full-size is held but the half-size trunk, the target and the result:
 * `lisse run` takes a 12 MP image whole in 1.27 GiB, its input and output
 * included (it held c5's input, the features and two images whole before,
 * and had to be tiled), and each point's corners are read as whole pixels. */
#define BACK_BAND 64

/* Rows [y0, y0 + rows) of an image, w pixels of stride floats each, from
 * row first of a buffer of cap rows: appended at the bottom, dropped from
 * the top, moved back to the buffer's start only when the bottom is full
 * (the buffer is twice what a layer holds at once, so that costs at most a
 * copy of what passes through, and less than a memmove per band). */
typedef struct
{
  float *data;
  int    y0, rows, first, cap, w, stride;
} RowWindow;

/* A window of @cap rows, allocated when first used (and freed by the
 * caller when done with: a short image's windows are the whole image). */
static void
window_init (RowWindow *win, int cap, int w, int stride)
{
  *win = (RowWindow) { NULL, 0, 0, 0, cap, w, stride };
}

static float *
window_row (const RowWindow *win, int y)
{
  return win->data + (size_t) (win->first + y - win->y0) * win->w * win->stride;
}

/* Room for the rows [@y, @y + @n), which must follow the window's; NULL
 * (an internal error) when they do not fit. */
static float *
window_append (RowWindow *win, int y, int n, GError **error)
{
  /* Zeroed: the lanes after the channels must read as zeros. */
  if (!win->data && !(win->data = g_try_malloc0 ((size_t) win->cap * win->w * win->stride
                                                 * sizeof (float))))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                   "fang19: no memory for %d rows of %d pixels", win->cap, win->w);
      return NULL;
    }
  if (win->first + win->rows + n > win->cap)
    {
      memmove (win->data, window_row (win, win->y0),
               (size_t) win->rows * win->w * win->stride * sizeof (float));
      win->first = 0;
    }
  if (y != win->y0 + win->rows || win->rows + n > win->cap)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "fang19: rows %d–%d do not follow rows %d–%d in a window of %d", y, y + n,
                   win->y0, win->y0 + win->rows, win->cap);
      return NULL;
    }
  win->rows += n;
  return window_row (win, y);
}

/* Forgets the rows above @y. */
static void
window_drop_above (RowWindow *win, int y)
{
  const int k = CLAMP (y - win->y0, 0, win->rows);
  win->first += k;
  win->y0 += k;
  win->rows -= k;
}

/* c4's output rows [@ya, @yb) (c5's input): the nearest ×2 upsampling of
 * the half-size @half, c3 and c4 on the upsampled rows [ya − 2, yb + 2)
 * (each 3×3 layer reaches one row further; the band's own first and last
 * rows, zero-padded, are not used). */
static LisseTensor *
back_band (Runner *r, const LisseTensor *half, int h, int w, int ya, int yb, GError **error)
{
  const int a = MAX (0, ya - 2), b = MIN (h, yb + 2);
  LisseTensor *x = lisse_tensor_try_new_uninit (1, half->c, b - a, w, error);
  if (x)
    for (int c = 0; c < half->c; c++)
      for (int yy = a; yy < b; yy++)
        {
          const float *s = lisse_tensor_channel (half, 0, c) + (size_t) (yy / 2) * half->w;
          float *d = lisse_tensor_channel (x, 0, c) + (size_t) (yy - a) * w;
          for (int xx = 0; xx + 1 < w; xx += 2)
            d[xx] = d[xx + 1] = s[xx / 2];
          if (w & 1)
            d[w - 1] = s[w / 2];
        }
  if (x)
    x = run_conv (r, L_C3 (r->p), x, TRUE, TRUE, error);
  if (x)
    x = run_conv (r, L_C4 (r->p), x, TRUE, TRUE, error);
  LisseTensor *band = x ? copy_rows (x, ya - a, yb - a, error) : NULL;
  lisse_tensor_free (x);
  return band;
}

/* Layer @l's offsets for the rows of c5's input band @x, B·tanh(o / B) of
 * its 18 channels of c5's output. */
static LisseTensor *
layer_offsets (Runner *r, const LisseTensor *x, int l, GError **error)
{
  const Fang19 *p = r->p;
  LisseTensor *off = run_conv_part (r, L_C5 (p), x, FANG19_FEATURES + 2 * FANG19_POINTS * l,
                                    2 * FANG19_POINTS, FALSE, error);
  if (off)
    lisse_bounded_tanh_inplace (off, (float) p->offset_bound);
  return off;
}

typedef struct
{
  Runner            *r;
  const LisseTensor *target;
  LisseTensor       *half;      /* freed once the last band is made */
  LisseTensor      **c5_in;     /* per band: c4's output rows [y0 − 1, y1 + 1) ∩ the image */
  LisseTensor      **head;      /* per band: c5's first outputs on it, the features and layer
                                   0's offsets (squashed), until layer 0 has run the band */
  RowWindow          win[FANG19_MAX_LAYERS + 1];  /* layer l's input; [L]: the last's output */
  int                h, w, n_bands, made, done[FANG19_MAX_LAYERS], reach;
} Wavefront;

#define BAND_Y0(k)       ((k) * BACK_BAND)
#define BAND_Y1(wf, k)   MIN ((wf)->h, ((k) + 1) * BACK_BAND)
#define BAND_IA(k)       MAX (0, BAND_Y0 (k) - 1)

/* Layer 0's offsets in a band's head (a view of its channels after the
 * features). */
static LisseTensor
layer0_offsets (const LisseTensor *head)
{
  return (LisseTensor) { 1, 2 * FANG19_POINTS, head->h, head->w,
                         head->data + (size_t) FANG19_FEATURES * lisse_tensor_plane (head), FALSE };
}

/* The next band of c5's input, its features, layer 0's offsets and input
 * rows. */
static gboolean
make_band (Wavefront *wf, GError **error)
{
  const int k = wf->made, y0 = BAND_Y0 (k), y1 = BAND_Y1 (wf, k), ia = BAND_IA (k);
  const int ib = MIN (wf->h, y1 + 1);
  if (k >= wf->n_bands)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT, "fang19: no layer can go on");
      return FALSE;
    }
  wf->c5_in[k] = back_band (wf->r, wf->half, wf->h, wf->w, ia, ib, error);
  /* The features with layer 0's offsets, in one convolution: five outputs
   * alone are too few for the Winograd path, and cost an im2col of c5's
   * input (144 floats a pixel). */
  const float bound = (float) wf->r->p->offset_bound;
  LisseTensor *head = wf->c5_in[k] ? run_conv_part (wf->r, L_C5 (wf->r->p), wf->c5_in[k], 0,
                                                    FANG19_FEATURES + 2 * FANG19_POINTS, FALSE,
                                                    error) : NULL;
  if (!(wf->head[k] = head))
    return FALSE;
  LisseTensor off0 = layer0_offsets (head);
  lisse_bounded_tanh_inplace (&off0, bound);
  RowWindow *in = &wf->win[0];
  float *rows = window_append (in, y0, y1 - y0, error);
  if (!rows)
    return FALSE;
  const LisseTensor feat = { 1, FANG19_FEATURES, head->h, head->w, head->data, FALSE };
  lisse_affinity_interleave (rows, in->stride, 0, &feat, 0, ia, y0, y1);
  lisse_affinity_interleave (rows, in->stride, FANG19_FEATURES, wf->target, 0, 0, y0, y1);
  if (++wf->made == wf->n_bands)
    g_clear_pointer (&wf->half, lisse_tensor_free);
  return TRUE;
}

/* Layer @l on its next band when its input reaches far enough: TRUE and
 * *@ran when it ran. */
static gboolean
run_band (Wavefront *wf, int l, LisseTensor *out, gboolean *ran, GError **error)
{
  const int n_layers = wf->r->p->n_layers, k = wf->done[l];
  RowWindow *in = &wf->win[l];
  *ran = FALSE;
  if (k >= wf->n_bands)
    return TRUE;
  const int y0 = BAND_Y0 (k), y1 = BAND_Y1 (wf, k);
  if (in->y0 + in->rows < MIN (wf->h, y1 + wf->reach))
    return TRUE;
  /* Layer 0's offsets were made with the band's features (make_band). */
  const LisseTensor off0 = l ? (LisseTensor) { 0 } : layer0_offsets (wf->head[k]);
  g_autoptr (LisseTensor) off_l = l ? layer_offsets (wf->r, wf->c5_in[k], l, error) : NULL;
  const LisseTensor *off = l ? off_l : &off0;
  const gboolean last = l == n_layers - 1;
  RowWindow *next = &wf->win[l + 1];
  if (last)
    next->y0 = y0, next->rows = 0, next->first = 0;
  float *dst = off ? window_append (next, y0, y1 - y0, error) : NULL;
  if (!dst || !lisse_deform_affinity_average_interleaved (
                window_row (in, in->y0), in->y0, in->rows, wf->h, wf->w, FANG19_FEATURES,
                wf->target->c, off, BAND_IA (k), y0, y1, 3, 3, 1, 1, FANG19_BORDER_EPS, dst,
                error))
    return FALSE;
  if (l == 0)
    g_clear_pointer (&wf->head[k], lisse_tensor_free);
  if (last)
    {
      lisse_affinity_deinterleave (dst, next->stride, FANG19_FEATURES, out, 0, 0, y0, y1);
      g_clear_pointer (&wf->c5_in[k], lisse_tensor_free);
    }
  window_drop_above (in, y1 - wf->reach);   /* the next band reads from there */
  if (++wf->done[l] == wf->n_bands)
    g_clear_pointer (&in->data, g_free);
  *ran = TRUE;
  return TRUE;
}

/* From the trunk's half-size output @half (consumed) to the result. */
static LisseTensor *
back_end (Runner *r, LisseTensor *half, const LisseTensor *target, GError **error)
{
  const Fang19 *p = r->p;
  const int h = target->h, w = target->w, n_layers = p->n_layers;
  Wavefront wf = { .r = r, .target = target, .half = half, .h = h, .w = w,
                   .n_bands = (h + BACK_BAND - 1) / BACK_BAND };
  /* The rows a layer's points read beyond its own: the 3×3 grid's one,
   * the offset's ceil(B) and the bilinear corner's one. */
  wf.reach = (int) ceil (p->offset_bound) + 2;
  wf.c5_in = g_new0 (LisseTensor *, wf.n_bands);
  wf.head = g_new0 (LisseTensor *, wf.n_bands);
  const int stride = lisse_affinity_pixel_floats (FANG19_FEATURES, target->c);
  /* A layer holds its reach above its band, the band, and what the layer
   * before made ahead of it: as long as that stays short of the band's end
   * plus the reach, the layer before goes on, one band more at most. */
  const int held = ((wf.reach + BACK_BAND - 1) / BACK_BAND + 2) * BACK_BAND + wf.reach;
  LisseTensor *out = lisse_tensor_try_new_uninit (1, target->c, h, w, error);
  gboolean ok = out != NULL;
  for (int l = 0; l <= n_layers; l++)
    window_init (&wf.win[l], MIN (h, l < n_layers ? 2 * held : BACK_BAND), w, stride);
  while (ok && wf.done[n_layers - 1] < wf.n_bands)
    {
      /* The deepest layer that can go on goes first, which keeps the
       * layers' inputs short; when none can, the next band is made. */
      gboolean ran = FALSE;
      for (int l = n_layers - 1; ok && !ran && l >= 0; l--)
        ok = run_band (&wf, l, out, &ran, error);
      if (ok && !ran)
        ok = make_band (&wf, error);
    }
  for (int k = 0; k < wf.n_bands; k++)
    {
      lisse_tensor_free (wf.c5_in[k]);
      lisse_tensor_free (wf.head[k]);
    }
  g_free (wf.c5_in);
  g_free (wf.head);
  for (int l = 0; l <= n_layers; l++)
    g_free (wf.win[l].data);
  lisse_tensor_free (wf.half);
  if (!ok)
    g_clear_pointer (&out, lisse_tensor_free);
  return out;
}

/* @param_map, when given, is the guide (1×3×H×W R'G'B' in [0, 1]): the
 * features and offsets come from it and the layers average @rgb, the
 * target — joint filtering (§4.3).  Without it the image guides itself. */
static LisseTensor *
fang19_forward (const LisseNet *net, const LisseTensor *rgb, const LisseParams *params,
                const LisseTensor *param_map, const LisseProgress *progress, GError **error)
{
  const LisseTensor *guide = param_map ? param_map : rgb;
  const Fang19 *p = (const Fang19 *) net;
  const int h = rgb->h, w = rgb->w;
  /* As the twin: λ is a float32 value, t = λ / λ_ref in float32. */
  const float t = (float) lisse_params_get (params, "lambda") / (float) p->lambda_ref;
  Runner r = { p, t, 1.f / t, progress, 0, 0 };
  const double hp = h + (h & 1), wp = w + (w & 1);
  for (int k = 0; k < p->n_convs; k++)
    {
      const LayerSpec *l = &p->layers[k];
      const double px = (k >= L_C2 && k < L_C3 (p)) ? hp * wp / 4 : (double) h * w;
      r.total += px * l->cout * l->cin * 9;
    }

  LisseTensor *padded = pad_even (guide, error);
  LisseTensor *x = padded ? extract_front (&r, padded, error) : NULL;
  lisse_tensor_free (padded);
  for (int i = 0; x && i < p->n_blocks; i++)
    {
      LisseTensor *a = run_conv (&r, L_RES (i, 0), x, FALSE, TRUE, error);
      LisseTensor *b = a ? run_conv (&r, L_RES (i, 1), a, TRUE, FALSE, error) : NULL;
      if (b && lisse_add_inplace (b, x, error))
        lisse_relu_inplace (b);
      else
        g_clear_pointer (&b, lisse_tensor_free);
      lisse_tensor_free (x);
      x = b;
    }
  LisseTensor *z = x ? back_end (&r, x, rgb, error) : NULL;
  if (z && !lisse_progress_report (progress, 1.0, error))
    g_clear_pointer (&z, lisse_tensor_free);
  return z;
}

const LisseNetInfo lisse_net_fang19 = {
  .architecture = "fang19",
  .title = "Fang et al. 2019 learned explicit smoothing kernels",
  .reference = "Fang, Wang, Shamir, Hu: Learning Explicit Smoothing Kernels for Joint Image "
               "Filtering, Computer Graphics Forum 2019 (§3; offsets bounded for tiling)",
  .params = fang19_params,
  .n_params = N_PARAMS,
  .n_map_channels = 3,   /* an optional guide image (fang19_forward) */
  .map_kind = "guide",
  .receptive_radius = LISSE_NET_RADIUS_FROM_MODEL,
  .multiple = 2,
  /* With the back end streamed a 12 MP image runs whole in 1270 MiB
   * (4000×3000, one thread: 24.1 s, `tools/eval/fang19-eval.py --timing
   * --12mp`; in tiles of 1536 it computed 1.4× the pixels): an image up to
   * (3200 + 2·halo)², 12.7 MP for the bound-8 halo, runs whole; larger ones
   * in crops of that size. */
  .default_tile = 3200,
  .load = fang19_load,
  .free = fang19_free,
  .forward = fang19_forward,
};
