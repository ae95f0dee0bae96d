/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * "csgis": the smoothing network of Wang et al., "Contrastive
 * Semantic-Guided Image Smoothing Network" (CSGIS-Net, Computer Graphics
 * Forum 2022, §3.2, Fig. 2) as the PyTorch twin
 * training/lisse_train/csgis_model.py defines it, with its BatchNorms
 * folded into the convolutions by training/lisse_train/csgis_export.py.
 * Only the smoothing network runs here: the paper's semantic branch and
 * contrastive loss are training-time only.
 *
 * Model file:
 *   metadata "architecture" = "csgis"
 *   metadata "width" = F (1 … CSGIS_MAX_WIDTH), "n_desc", "n_smooth",
 *     "n_refine" (block counts, 0 … CSGIS_MAX_BLOCKS each): required, since
 *     the layer list depends on them;
 *   optional metadata, checked when present: "receptive_radius" (must equal
 *     the radius computed below from the counts), "colour_encoding" =
 *     "srgb-nonlinear-0-1";
 *   tensors, each "NAME.weight" [Cout, Cin, k, k] and "NAME.bias" [Cout], in
 *   the order of csgis_model.layer_list():
 *     head                 [F, 3, 3, 3]
 *     desc{i}.c{0,1,2}     [F, F, 3, 3]   dilations 1, 2, 3   (i < n_desc)
 *     edge.c0, edge.c1     [F, F, 3, 3]
 *     edge.out             [1, F, 1, 1]
 *     smooth.in            [F, F+1, 3, 3]
 *     smooth{i}.c{0,1,2}   [F, F, 3, 3]   dilations 1, 2, 3   (i < n_smooth)
 *     smooth.mid           [F, F, 3, 3]
 *     smooth.out           [3, F, 3, 3]
 *     refine.in            [F, F+4, 3, 3]
 *     refine{i}.c{0,1,2}   [F, F, 3, 3]   dilations 1, 2, 3   (i < n_refine)
 *     refine.out           [3, F, 3, 3]
 *   and nothing else.
 *
 * Forward (exactly the twin's in eval mode; every convolution is stride 1
 * and pads with zeros, padding = dilation for 3×3, 0 for 1×1):
 *   rHDC(x) = x + ReLU(c2(ReLU(c1(ReLU(c0 x)))))
 *   F  = rHDC^n_desc(ReLU(head I))                      descriptor
 *   E  = sigmoid(edge.out(ReLU(edge.c1(ReLU(edge.c0 F)))))  edge map
 *   s  = rHDC^n_smooth(ReLU(smooth.in [F, E]))
 *   S0 = I + smooth.out(ReLU(smooth.mid s))
 *   r  = rHDC^n_refine(ReLU(refine.in [F, E, S0]))
 *   S1 = S0 + refine.out r                                the result
 * No parameters: strength is the effect's business (remove-texture.c).
 *
 * Receptive radius (csgis_model.receptive_field_radius): head 1, a block
 * 1 + 2 + 3 = 6, edge.c0/c1 2, smooth.in 1, smooth.mid/out 2, refine.in 1,
 * refine.out 1; the branches meet at refine.in, where S0's path is the
 * longest, so R = 8 + 6·(n_desc + n_smooth + n_refine).  Every layer is
 * stride 1, so a tile with a halo of R gives exactly the whole-image result
 * (zero padding at a crop edge corrupts at most R pixels inwards).
 *
 * Memory: every intermediate is freed as soon as the next layer has
 * consumed it, except F (the descriptor features) and E, which live until
 * refine.in.  The peak is in the smooth blocks: F, E, the block's input and
 * one convolution's input and output — about 4 F + 1 floats per pixel of
 * the tile, plus the convolution's bounded scratch (conv2d.c).
 */
#include "net.h"
#include "nets-all.h"
#include "lisse-error.h"
#include "model.h"
#include "ops-basic.h"
#include "ops-conv.h"

#include <stdarg.h>
#include <string.h>

#define CSGIS_MAX_WIDTH  1024
/* The paper's sizes are 12 / 3 / 6; a bound keeps the layer list and the
 * radius of an absurd file from growing without limit. */
#define CSGIS_MAX_BLOCKS 64
#define CSGIS_BLOCK_REACH 6         /* dilations 1 + 2 + 3 */

typedef struct
{
  char name[24];   /* "refine63.c2" */
  int  k, dil, cin, cout;
} LayerSpec;

typedef struct
{
  LisseNet     base;
  int          width, n_desc, n_smooth, n_refine;
  int          n_layers;
  LayerSpec   *layers;
  LisseTensor **weights;   /* may view the model file: read-only */
  LisseTensor **biases;
} Csgis;

/* Layer indices, in layer_list() order. */
#define L_HEAD           0
#define L_DESC(p, i)     (1 + 3 * (i))
#define L_EDGE_C0(p)     (1 + 3 * (p)->n_desc)
#define L_EDGE_C1(p)     (L_EDGE_C0 (p) + 1)
#define L_EDGE_OUT(p)    (L_EDGE_C0 (p) + 2)
#define L_SMOOTH_IN(p)   (L_EDGE_C0 (p) + 3)
#define L_SMOOTH(p, i)   (L_SMOOTH_IN (p) + 1 + 3 * (i))
#define L_SMOOTH_MID(p)  (L_SMOOTH_IN (p) + 1 + 3 * (p)->n_smooth)
#define L_SMOOTH_OUT(p)  (L_SMOOTH_MID (p) + 1)
#define L_REFINE_IN(p)   (L_SMOOTH_MID (p) + 2)
#define L_REFINE(p, i)   (L_REFINE_IN (p) + 1 + 3 * (i))
#define L_REFINE_OUT(p)  (L_REFINE_IN (p) + 1 + 3 * (p)->n_refine)
#define N_LAYERS(p)      (L_REFINE_OUT (p) + 1)

static int
csgis_radius (int n_desc, int n_smooth, int n_refine)
{
  return 8 + CSGIS_BLOCK_REACH * (n_desc + n_smooth + n_refine);
}

static void
set_layer (LayerSpec *l, int k, int dil, int cin, int cout, const char *fmt, ...) G_GNUC_PRINTF (6, 7);

static void
set_layer (LayerSpec *l, int k, int dil, int cin, int cout, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_vsnprintf (l->name, sizeof l->name, fmt, ap);
  va_end (ap);
  l->k = k;
  l->dil = dil;
  l->cin = cin;
  l->cout = cout;
}

static void
set_blocks (LayerSpec *l, const char *stage, int n, int f)
{
  for (int i = 0; i < n; i++)
    for (int c = 0; c < 3; c++)
      set_layer (&l[3 * i + c], 3, c + 1, f, f, "%s%d.c%d", stage, i, c);
}

static void
layout (Csgis *p)
{
  const int f = p->width;
  LayerSpec *l = p->layers;
  set_layer (&l[L_HEAD], 3, 1, 3, f, "head");
  set_blocks (&l[L_DESC (p, 0)], "desc", p->n_desc, f);
  set_layer (&l[L_EDGE_C0 (p)], 3, 1, f, f, "edge.c0");
  set_layer (&l[L_EDGE_C1 (p)], 3, 1, f, f, "edge.c1");
  set_layer (&l[L_EDGE_OUT (p)], 1, 1, f, 1, "edge.out");
  set_layer (&l[L_SMOOTH_IN (p)], 3, 1, f + 1, f, "smooth.in");
  set_blocks (&l[L_SMOOTH (p, 0)], "smooth", p->n_smooth, f);
  set_layer (&l[L_SMOOTH_MID (p)], 3, 1, f, f, "smooth.mid");
  set_layer (&l[L_SMOOTH_OUT (p)], 3, 1, f, 3, "smooth.out");
  set_layer (&l[L_REFINE_IN (p)], 3, 1, f + 4, f, "refine.in");
  set_blocks (&l[L_REFINE (p, 0)], "refine", p->n_refine, f);
  set_layer (&l[L_REFINE_OUT (p)], 3, 1, f, 3, "refine.out");
}

static void
csgis_free (LisseNet *net)
{
  Csgis *p = (Csgis *) net;
  lisse_net_free_layers (p->weights, p->biases, p->n_layers);
  g_free (p->layers);
  g_free (p);
}

static LisseNet *
csgis_load (LisseSafetensors *st, GError **error)
{
  int width, n_desc, n_smooth, n_refine;
  if (!lisse_model_get_metadata_int_in (st, "csgis", "width", 1, CSGIS_MAX_WIDTH, &width, error)
      || !lisse_model_get_metadata_int_in (st, "csgis", "n_desc", 0, CSGIS_MAX_BLOCKS, &n_desc, error)
      || !lisse_model_get_metadata_int_in (st, "csgis", "n_smooth", 0, CSGIS_MAX_BLOCKS, &n_smooth, error)
      || !lisse_model_get_metadata_int_in (st, "csgis", "n_refine", 0, CSGIS_MAX_BLOCKS, &n_refine, error))
    return NULL;
  const int radius = csgis_radius (n_desc, n_smooth, n_refine);
  if (lisse_safetensors_get_metadata (st, "receptive_radius"))
    {
      int declared;
      GError *local = NULL;
      if (!lisse_model_get_metadata_int (st, "receptive_radius", &declared, &local))
        {
          lisse_fail (error, LISSE_ERROR_BAD_MODEL, "csgis: %s", local->message);
          g_error_free (local);
          return NULL;
        }
      if (declared != radius)
        {
          lisse_fail (error, LISSE_ERROR_BAD_MODEL, "csgis: metadata 'receptive_radius' = %d, but "
                      "n_desc/n_smooth/n_refine = %d/%d/%d give %d", declared, n_desc, n_smooth, n_refine, radius);
          return NULL;
        }
    }
  const char *enc = lisse_safetensors_get_metadata (st, "colour_encoding");
  if (enc && strcmp (enc, "srgb-nonlinear-0-1") != 0)
    {
      lisse_fail (error, LISSE_ERROR_BAD_MODEL, "csgis: metadata 'colour_encoding' is not "
                  "'srgb-nonlinear-0-1', the only encoding this network runs on");
      return NULL;
    }

  Csgis *p = g_new0 (Csgis, 1);
  p->width = width;
  p->n_desc = n_desc;
  p->n_smooth = n_smooth;
  p->n_refine = n_refine;
  p->n_layers = N_LAYERS (p);
  p->layers = g_new0 (LayerSpec, p->n_layers);
  layout (p);

  {
    const int n = 2 * p->n_layers;
    g_autofree LisseTensorSpec *specs = g_new0 (LisseTensorSpec, n);
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    for (int k = 0; k < p->n_layers; k++)
      {
        const LayerSpec *l = &p->layers[k];
        char *w = g_strdup_printf ("%s.weight", l->name);
        char *b = g_strdup_printf ("%s.bias", l->name);
        g_ptr_array_add (names, w);
        g_ptr_array_add (names, b);
        specs[2 * k] = (LisseTensorSpec) { w, 4, { l->cout, l->cin, l->k, l->k } };
        specs[2 * k + 1] = (LisseTensorSpec) { b, 1, { l->cout, 0, 0, 0 } };
      }
    if (!lisse_model_check_tensors (st, specs, n, error))
      goto fail;
    p->weights = g_new0 (LisseTensor *, p->n_layers);
    p->biases = g_new0 (LisseTensor *, p->n_layers);
    for (int k = 0; k < p->n_layers; k++)
      if (!(p->weights[k] = lisse_safetensors_get_tensor (st, specs[2 * k].name, error))
          || !(p->biases[k] = lisse_safetensors_get_tensor (st, specs[2 * k + 1].name, error)))
        goto fail;
  }

  p->base.receptive_radius = radius;
  return &p->base;

fail:
  csgis_free (&p->base);
  return NULL;
}

/* ---- forward ------------------------------------------------------------ */

typedef struct
{
  const Csgis         *p;
  const LisseProgress *progress;
  double               done, total;
} Runner;

/* Layer @k on @x (freed when @consume, whatever happens), ReLU when @relu.
 * Progress is weighted by multiply-adds: every layer is at full size. */
static LisseTensor *
run_layer (Runner *r, int k, LisseTensor *x, gboolean consume, gboolean relu, GError **error)
{
  const LayerSpec *l = &r->p->layers[k];
  LisseConv2dGeom geom = lisse_conv2d_geom (1, l->k == 1 ? 0 : l->dil, l->dil, 1);
  geom.bf16 = r->p->base.bf16;
  LisseTensor *y = (relu ? lisse_conv2d_relu : lisse_conv2d) (x, r->p->weights[k],
                                                               r->p->biases[k], &geom, error);
  if (consume)
    lisse_tensor_free (x);
  if (!y)
    return NULL;
  r->done += (double) l->k * l->k * l->cin * l->cout;
  if (!lisse_progress_report (r->progress, r->done / r->total, error))
    {
      lisse_tensor_free (y);
      return NULL;
    }
  return y;
}

/* @n rHDC blocks from layer @first on @x (consumed). */
static LisseTensor *
run_blocks (Runner *r, int first, int n, LisseTensor *x, GError **error)
{
  for (int i = 0; x && i < n; i++)
    {
      const int k = first + 3 * i;
      LisseTensor *h = run_layer (r, k, x, FALSE, TRUE, error);
      if (h)
        h = run_layer (r, k + 1, h, TRUE, TRUE, error);
      if (h)
        h = run_layer (r, k + 2, h, TRUE, TRUE, error);
      if (h && !lisse_add_inplace (h, x, error))
        g_clear_pointer (&h, lisse_tensor_free);
      lisse_tensor_free (x);
      x = h;
    }
  return x;
}

/* The concatenation of @n tensors as the next layer's input, then that
 * layer (ReLU): the copy lives only as long as the convolution. */
static LisseTensor *
run_concat (Runner *r, int k, const LisseTensor *const *parts, int n, GError **error)
{
  LisseTensor *cat = lisse_concat_channels (parts, n, error);
  return cat ? run_layer (r, k, cat, TRUE, TRUE, error) : NULL;
}

static LisseTensor *
csgis_forward (const LisseNet *net, const LisseTensor *rgb, const LisseParams *params,
               const LisseTensor *param_map, const LisseProgress *progress, GError **error)
{
  (void) params; (void) param_map;
  const Csgis *p = (const Csgis *) net;
  Runner r = { p, progress, 0, 0 };
  for (int k = 0; k < p->n_layers; k++)
    r.total += (double) p->layers[k].k * p->layers[k].k * p->layers[k].cin * p->layers[k].cout;

  LisseTensor *feat = NULL, *edge = NULL, *s = NULL, *s0 = NULL, *out = NULL;

  /* Descriptor: F stays until refine.in.  (The input is not consumed:
   * the cast only fits run_layer's signature.) */
  feat = run_layer (&r, L_HEAD, (LisseTensor *) rgb, FALSE, TRUE, error);
  feat = feat ? run_blocks (&r, L_DESC (p, 0), p->n_desc, feat, error) : NULL;
  if (!feat)
    goto done;

  /* Edge interpreter. */
  edge = run_layer (&r, L_EDGE_C0 (p), feat, FALSE, TRUE, error);
  if (edge)
    edge = run_layer (&r, L_EDGE_C1 (p), edge, TRUE, TRUE, error);
  if (edge)
    edge = run_layer (&r, L_EDGE_OUT (p), edge, TRUE, FALSE, error);
  if (!edge)
    goto done;
  lisse_sigmoid_inplace (edge);

  /* Smooth interpreter: S0 = I + smooth.out(…). */
  s = run_concat (&r, L_SMOOTH_IN (p), (const LisseTensor *const[]) { feat, edge }, 2, error);
  s = s ? run_blocks (&r, L_SMOOTH (p, 0), p->n_smooth, s, error) : NULL;
  if (s)
    s = run_layer (&r, L_SMOOTH_MID (p), s, TRUE, TRUE, error);
  if (s)
    s0 = run_layer (&r, L_SMOOTH_OUT (p), s, TRUE, FALSE, error);
  if (!s0 || !lisse_add_inplace (s0, rgb, error))
    goto done;

  /* Refinement: the last use of F and E. */
  s = run_concat (&r, L_REFINE_IN (p), (const LisseTensor *const[]) { feat, edge, s0 }, 3, error);
  g_clear_pointer (&feat, lisse_tensor_free);
  g_clear_pointer (&edge, lisse_tensor_free);
  s = s ? run_blocks (&r, L_REFINE (p, 0), p->n_refine, s, error) : NULL;
  if (s)
    out = run_layer (&r, L_REFINE_OUT (p), s, TRUE, FALSE, error);
  if (out && !lisse_add_inplace (out, s0, error))
    g_clear_pointer (&out, lisse_tensor_free);

done:
  lisse_tensor_free (feat);
  lisse_tensor_free (edge);
  lisse_tensor_free (s0);
  return out;
}

const LisseNetInfo lisse_net_csgis = {
  .architecture = "csgis",
  .title = "CSGIS-Net texture-removing smoothing network",
  .reference = "Wang et al.: Contrastive Semantic-Guided Image Smoothing Network, "
               "Computer Graphics Forum 2022 (the smoothing network, §3.2)",
  .params = NULL,
  .n_params = 0,
  .n_map_channels = 0,
  .receptive_radius = LISSE_NET_RADIUS_FROM_MODEL,
  .multiple = 1,
  .load = csgis_load,
  .free = csgis_free,
  .forward = csgis_forward,
};
