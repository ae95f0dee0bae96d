/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Abstraction (Fan et al. 2018, §7.1, after Winnemöller et al. 2006): the
 * learned smoothing in place of Winnemöller's iterated bilateral filter,
 * then difference-of-Gaussians edges of the smoothed luma drawn dark over
 * it, and optionally the luma quantised into a few soft levels.
 *
 * Edges (Winnemöller's DoG with a soft threshold), on the smoothed luma Y
 * scaled to 0–100 as in the paper's L channel:
 *   D = G_σe ∗ Y − τ·G_1.6σe ∗ Y,  τ = 0.98,
 *   E = 1 where D ≥ 0, else 1 + tanh(φe·D),  φe = 1,
 * and the image is darkened where E < 1: out = S·(1 − k·(1 − E)), k the
 * edge strength.  σe is in pixels, × scale for a preview.
 * Quantisation into L levels (bins of width Δ = 1/L with centres q), a
 * smooth staircase that is continuous at the bin edges:
 *   Yq = q + (Δ/2)·tanh(φq·(Y − q)/(Δ/2)) / tanh(φq),  φq = 3,
 * applied to colour as a shift of every channel by Yq − Y (hue kept). */
#include "effect-private.h"
#include "box.h"
#include "i18n.h"
#include "lisse-error.h"
#include "effects-all.h"

#include <math.h>

#define DOG_TAU          0.98
#define DOG_SIGMA_RATIO  1.6
#define DOG_PHI          1.0
#define QUANT_PHI        3.0

static const LisseParamSpec abstraction_params[] = {
  { "lambda-f", "λf", N_("Flattening strength of the smoothing"), 0.1, 10.0, 2.0, FALSE },
  { "edge-strength", N_("Edges"), N_("How dark the drawn edges are (0: no edges)"), 0.0, 1.0, 0.8, FALSE },
  { "edge-sigma", "σe", N_("Width of the edges in pixels (the inner Gaussian of the DoG)"),
    0.3, 5.0, 1.0, FALSE },
  { "levels", N_("Levels"), N_("Luma quantisation levels (0: none)"), 0, 32, 0, TRUE },
};

/* The effect, its smoothing drafted at @draft_pixels (0: in full). */
static LisseTensor *
abstraction_render (const LisseParams *params, const char *choice, const LisseTensor *image,
                    double scale, long draft_pixels, const LisseProgress *progress,
                    GError **error)
{
  const double edge_strength = lisse_params_get (params, "edge-strength");
  const double edge_sigma = lisse_params_get (params, "edge-sigma") * scale;
  const int levels = (int) lisse_params_get (params, "levels");
  LisseTensor *out = lisse_effect_smooth_draft_with (choice, image,
                                                     lisse_params_get (params, "lambda-f"), NAN,
                                                     draft_pixels, progress, error);
  if (!out)
    return NULL;
  lisse_effect_clamp (out);

  const int w = image->w, h = image->h, nc = lisse_effect_n_color (image);
  const size_t plane = lisse_tensor_plane (image);
  /* g_try_new: this runs inside GIMP's process (the GEGL op), where running
   * out of memory must be an error, not an abort. */
  float *y = g_try_new (float, plane);
  float *g1 = g_try_new (float, plane);
  float *g2 = g_try_new (float, plane);
  if (!y || !g1 || !g2)
    {
      g_free (y); g_free (g1); g_free (g2);
      lisse_tensor_free (out);
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY,
                  "Abstraction: not enough memory for a %d×%d image", w, h);
      return NULL;
    }
  lisse_effect_luma (out, y);

  if (edge_strength > 0.0)
    {
      for (size_t i = 0; i < plane; i++)
        y[i] *= 100.0f;
      lisse_gaussian_blur (y, g1, w, h, edge_sigma, LISSE_BORDER_MIRROR);
      lisse_gaussian_blur (y, g2, w, h, DOG_SIGMA_RATIO * edge_sigma, LISSE_BORDER_MIRROR);
      for (size_t i = 0; i < plane; i++)
        {
          const double d = g1[i] - DOG_TAU * g2[i];
          const double e = d >= 0.0 ? 1.0 : 1.0 + tanh (DOG_PHI * d);
          g1[i] = (float) (1.0 - edge_strength * (1.0 - e));   /* the darkening factor */
          y[i] *= 0.01f;
        }
    }
  else
    for (size_t i = 0; i < plane; i++)
      g1[i] = 1.0f;

  for (size_t i = 0; i < plane; i++)
    {
      float shift = 0.0f;
      if (levels > 0)
        {
          const double delta = 1.0 / levels, half = 0.5 * delta;
          const double yi = CLAMP ((double) y[i], 0.0, 1.0);
          const int bin = MIN ((int) floor (yi * levels), levels - 1);
          const double q = (bin + 0.5) * delta;
          const double yq = q + half * tanh (QUANT_PHI * (yi - q) / half) / tanh (QUANT_PHI);
          shift = (float) (yq - yi);
        }
      for (int c = 0; c < nc; c++)
        {
          float *p = lisse_tensor_channel (out, 0, c) + i;
          *p = (*p + shift) * g1[i];
        }
    }
  g_free (g2);
  g_free (g1);
  g_free (y);
  lisse_effect_clamp (out);
  return out;
}

static LisseTensor *
abstraction_run (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
                 const LisseParams *params, const char *choice, double scale,
                 const LisseProgress *progress, GError **error)
{
  return abstraction_render (params, choice, image, scale, 0, progress, error);
}

/* The edges are a pixel or two wide: drawn at full size on the drafted
 * smoothing, not shrunk with it (draft.c). */
static LisseTensor *
abstraction_draft (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
                   const LisseParams *params, const char *choice, double scale,
                   long max_pixels, const LisseProgress *progress, GError **error)
{
  return abstraction_render (params, choice, image, scale, max_pixels, progress, error);
}

const LisseEffectInfo lisse_effect_abstraction = {
  .name = "abstraction",
  .title = N_("Abstraction"),
  .blurb = N_("Cartoon-like abstraction: learned smoothing, dark difference-of-Gaussians edges "
           "and optional tone quantisation"),
  .reference = "Fan et al. 2018, §7.1; Winnemöller et al. 2006",
  .params = abstraction_params,
  .n_params = G_N_ELEMENTS (abstraction_params),
  .choice = {
    .name = "model",
    .label = N_("Model"),
    .blurb = N_("The smoothing network (a model file in the model search path)"),
    .values = { { "fan18-smooth", N_("Fan et al. 2018 (learned)") } },
    .def = 0,
  },
  .aux = LISSE_EFFECT_AUX_NONE,
  .aux_label = NULL,
  .aux_required = FALSE,
  .run = abstraction_run,
  .draft = abstraction_draft,
  /* Peak memory, input and result included, in float planes (tools/bench/memory-cost, a
   * quarter added): as Smooth: the network's peak is the run's. */
  .memory = { 400.0, 10.0, 3.0 },
};
