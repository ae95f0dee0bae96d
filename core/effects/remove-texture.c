/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Remove Texture (Fan et al. 2018, §7.3): remove fine repetitive patterns
 * and keep the main structures.  Four methods: the classical scale-aware
 * filters the paper compares with (its Fig. 12), and two learned texture
 * removers, each with its model from the model search path (learned_methods
 * below): CSGIS-Net (Wang et al. 2022, core/nets/csgis.c, "csgis-texture")
 * and MGPNet (He et al., core/nets/mgpnet.c, "mgpnet-texture").  Three
 * parameters, mapped to each method's own (docs/effects.md):
 *   texture-scale σ (pixels, × scale)  RTV: sigma = σ;  rolling guidance: sigma-s = σ;
 *                                      learned: not used (the network has learned
 *                                      its texture scale)
 *   strength s                         RTV: lambda = 0.015·s;  rolling guidance: sigma-r = 0.1·s;
 *                                      learned: n = ⌈s⌉ passes of the network N,
 *                                      the last one blended by t = s − (n − 1):
 *                                        X0 = I,  X(k) = clamp(N(X(k−1))) for k < n,
 *                                        out = clamp(X(n−1) + t·(N(X(n−1)) − X(n−1)))
 *                                      so s ≤ 1 gives I + s·(N(I) − I), s = 1 one pass,
 *                                      s = 2.5 two passes and half a third.
 *   ensemble e (1 … 8)                 learned: each pass of N averaged over e flips and
 *                                      rotations of the image (ensemble.c; 1: one run);
 *                                      classical filters: not used
 * Between passes the image is clamped to [0, 1], as applying the effect
 * again would see it; the networks have no spatial parameter, so a
 * zoomed-out preview runs them on the downscaled image as it is (as Smooth
 * does).  MGPNet sees the whole image; above its whole-image size the
 * network runner runs it in tiles with 128 pixels of context each (net.h).
 * A missing or wrong model fails with one line naming it. */
#include "effect-private.h"
#include "i18n.h"
#include "effects-all.h"

#include "filter.h"

#include <math.h>

/* Strength 1 gives each filter's usual setting: RTV's λ = 0.015 sits in
 * the 0.01–0.03 of Xu et al. 2012; rolling guidance's σr = 0.1 is Zhang et
 * al. 2014's default. */
#define RTV_LAMBDA_PER_STRENGTH  0.015
#define RGF_SIGMA_R_PER_STRENGTH 0.1

/* The learned methods: the model each runs (model.h search path), the
 * architecture its file must declare, and its peak memory (input and result
 * included; tools/bench/memory-cost) besides what a global network's
 * whole-image run adds (lisse_net_global_run_bytes()).  CSGIS-Net is local:
 * about 320 MiB for one tile's crop of the shipped width-32 model, 10 planes
 * and 1 a channel (measured 362 MiB at 1024² gray, 479 at 2048² gray, 526 at
 * 2048² RGBA), a quarter added, and a self-ensemble's sum and rotated copy
 * (2 a channel).  MGPNet: its weights and buffers, and the image planes as
 * CSGIS-Net's; its activations grow with the image up to its whole-image
 * size and stay there in tiles above it: measured 472 MiB in all at 1024²
 * RGBA, 1489 MiB at 1832² (its whole-image size at widths 16/32/64; 2371
 * declared), 1736 at 4000 × 3000 (tiles; 3163 declared). */
typedef struct
{
  const char     *method, *model, *architecture;
  LisseMemoryCost memory;
} LearnedMethod;

static const LearnedMethod learned_methods[] = {
  { "csgis", "csgis-texture", "csgis", { 400.0, 12.0, 4.0 } },
  { "mgpnet", "mgpnet-texture", "mgpnet", { 16.0, 0.0, 6.0 } },
};

static const LearnedMethod *
learned_find (const char *choice)
{
  for (size_t i = 0; i < G_N_ELEMENTS (learned_methods); i++)
    if (g_str_equal (choice, learned_methods[i].method))
      return &learned_methods[i];
  return NULL;
}

static const LisseParamSpec texture_params[] = {
  { "texture-scale", "σ", N_("Size in pixels of the texture to remove: patterns finer than "
    "about σ go, larger structures stay (classical filters only; the networks have learned "
    "their own)"),
    0.5, 10.0, 3.0, FALSE },
  { "strength", N_("Strength"), N_("How strongly texture is flattened (1 is each filter's usual "
    "setting; for a learned method one pass of the network, above 1 repeated passes)"),
    0.1, 5.0, 1.0, FALSE },
  { "ensemble", N_("Self-ensemble"), N_("Learned methods only: average the network over this "
    "many flips and rotations of the image (1: one run; 8: all eight, slightly better and 8 "
    "times slower)"), 1.0, LISSE_ENSEMBLE_MAX, 1.0, TRUE },
};

/* y ← x + t·(y − x) on the colour channels (alpha is the same in both:
 * the network runner copies it). */
static void
blend_pass (LisseTensor *y, const LisseTensor *x, float t)
{
  const int nc = lisse_effect_n_color (y);
  const size_t plane = lisse_tensor_plane (y);
  for (int c = 0; c < nc; c++)
    {
      float *o = lisse_tensor_channel (y, 0, c);
      const float *in = lisse_tensor_channel (x, 0, c);
      for (size_t i = 0; i < plane; i++)
        o[i] = in[i] + t * (o[i] - in[i]);
    }
}

/* A learned method: the strength mapping at the top of this file. */
static LisseTensor *
learned_run (const LearnedMethod *method, const LisseTensor *image, double strength,
             int ensemble, const LisseProgress *progress, GError **error)
{
  LisseNet *net = lisse_effect_net_acquire_arch (method->model, method->architecture, error);
  if (!net)
    return NULL;
  const int passes = MAX (1, (int) ceil (strength));
  const float t = (float) (strength - (passes - 1));
  LisseTensor *x = NULL;   /* X(k); NULL: the input image */
  for (int k = 0; k < passes; k++)
    {
      const LisseTensor *in = x ? x : image;
      LisseProgress sub = lisse_progress_sub (progress, (double) k / passes,
                                              (double) (k + 1) / passes);
      LisseTensor *y = lisse_effect_net_run_ensemble (net, in, ensemble, &sub, error);
      if (y && k == passes - 1 && t < 1.0f)
        blend_pass (y, in, t);   /* the last, partial pass */
      lisse_tensor_free (x);
      if (!(x = y))
        break;
      lisse_effect_clamp (x);
    }
  lisse_effect_net_release (net);
  return x;
}

static LisseTensor *
texture_run (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
             const LisseParams *params, const char *choice, double scale,
             const LisseProgress *progress, GError **error)
{
  (void) info; (void) aux;
  const double sigma = lisse_params_get (params, "texture-scale") * scale;
  const double strength = lisse_params_get (params, "strength");
  const LearnedMethod *learned = learned_find (choice);
  if (learned)
    return learned_run (learned, image, strength, (int) lisse_params_get (params, "ensemble"),
                        progress, error);
  const LisseFilterInfo *filter = lisse_filter_find (choice);
  g_assert (filter);   /* every method nick is a filter name */
  LisseParams fp;
  lisse_params_init (&fp, filter->params, filter->n_params);
  gboolean ok;
  /* A preview far zoomed out can ask for less than a filter's smallest σ:
   * the nearest end of its range (the texture is then below a pixel anyway). */
  if (g_str_equal (choice, "rtv"))
    ok = lisse_params_set_clamped (&fp, "sigma", sigma, error)
         && lisse_params_set_clamped (&fp, "lambda", RTV_LAMBDA_PER_STRENGTH * strength, error);
  else
    ok = lisse_params_set_clamped (&fp, "sigma-s", sigma, error)
         && lisse_params_set_clamped (&fp, "sigma-r", RGF_SIGMA_R_PER_STRENGTH * strength, error);
  if (!ok)
    return NULL;
  LisseTensor *out = lisse_filter_run (filter, image, lisse_effect_n_color (image), NULL,
                                       &fp, progress, error);
  if (out)
    lisse_effect_clamp (out);
  return out;
}

/* LisseEffectMemoryFunc: a learned method's own cost, and a global
 * network's whole-image run on top; the classical filters' is .memory.  A
 * model that does not load counts nothing more: the run then fails on it
 * with its own message. */
static guint64
texture_memory (const LisseEffectInfo *info, const char *choice, int width, int height,
                int channels)
{
  const LearnedMethod *learned = learned_find (choice);
  if (!learned)
    return lisse_memory_cost_bytes (&info->memory, width, height, channels);
  guint64 bytes = lisse_memory_cost_bytes (&learned->memory, width, height, channels);
  LisseNet *net = lisse_effect_net_acquire_arch (learned->model, learned->architecture, NULL);
  if (net)
    {
      bytes += lisse_net_global_run_bytes (net, width, height);
      lisse_effect_net_release (net);
    }
  return bytes;
}

/* The classical filters cost about three times CSGIS-Net per pixel at a
 * draft's size (RTV's solves converge slower on the shrunk image): half
 * the budget keeps their drafts of a 1 MP view near 0.1 s, as the
 * network's (tools/bench/draft-preview, docs/performance.md); a
 * self-ensemble of e runs gets 1/e of it. */
static LisseTensor *
texture_draft (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
               const LisseParams *params, const char *choice, double scale, long max_pixels,
               const LisseProgress *progress, GError **error)
{
  long budget = max_pixels;
  if (lisse_effect_draft_factor (image->w, image->h, max_pixels) > 1)   /* else exact */
    {
      if (!learned_find (choice))
        budget = MAX (1, max_pixels / 2);
      else   /* an ensemble of e runs: e times fewer pixels, the same draft time */
        budget = MAX (1, max_pixels / (long) lisse_params_get (params, "ensemble"));
    }
  return lisse_effect_draft_whole (info, image, aux, params, choice, scale, budget,
                                   LISSE_DRAFT_RADIUS, LISSE_DRAFT_EPS, progress, error);
}

const LisseEffectInfo lisse_effect_remove_texture = {
  .name = "remove-texture",
  .title = N_("Remove Texture"),
  .blurb = N_("Remove fine repetitive texture and keep the main structures, with a classical "
           "filter or a learned network (CSGIS-Net, MGPNet)"),
  .reference = "Fan et al. 2018, §7.3; Xu et al. 2012 (RTV); Zhang et al. 2014 (rolling guidance); "
               "Wang et al. 2022 (CSGIS-Net); He, Quan, Xu, Xu (MGPNet)",
  .params = texture_params,
  .n_params = G_N_ELEMENTS (texture_params),
  .choice = {
    .name = "method",
    .label = N_("Method"),
    .blurb = N_("The texture-removal method (the learned ones need their models, csgis-texture "
                "and mgpnet-texture, in the model search path)"),
    .values = {
      { "rtv", N_("RTV (classical filter)") },
      { "rolling-guidance", N_("Rolling guidance (classical filter)") },
      { "csgis", N_("CSGIS-Net (learned)") },
      { "mgpnet", N_("MGPNet (learned)") },
    },
    .def = 0,
  },
  .aux = LISSE_EFFECT_AUX_NONE,
  .aux_label = NULL,
  .aux_required = FALSE,
  .run = texture_run,
  .draft = texture_draft,
  /* The classical filters' peak memory, input and result included, in float planes
   * (tools/bench/memory-cost, a quarter added): RTV's 41 + 2 per channel, rolling guidance's
   * less; the learned methods' in learned_methods. */
  .memory = { 8.0, 51.0, 4.0 },
  .memory_for = texture_memory,
};
