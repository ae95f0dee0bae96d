/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Content-Aware (Fan et al. 2018, §7.4): treat the salient foreground and
 * the background differently, from a mask m in [0,1] (1 = foreground) — a
 * selection, or, when none is given, the automatic frequency-tuned
 * saliency of saliency.h.
 *
 *   background: one run of the smoothing network with a per-pixel λf map,
 *     log λf = m·log λfg + (1 − m)·log λbg — the soft mask blended in log λ,
 *     exactly as training builds its λ maps (train.py, LambdaSchedule);
 *   foreground: detail magnification weighted by the mask,
 *     out = I + gain·m·(I − S), S = the smoothing at λf = λbg (the strength
 *     that flattens the background in the other mode).
 * Both clamped. */
#include "effect-private.h"
#include "i18n.h"
#include "effects-all.h"
#include "saliency.h"

#include <math.h>

/* The network trained with per-pixel λf maps (train.py map_fraction). */
#define CONTENT_MODEL "fan18-smooth"

static const LisseParamSpec content_params[] = {
  { "lambda-background", N_("λf background"), N_("Smoothing strength outside the mask (background "
    "mode), and of the smoothing whose removed detail is enhanced (foreground mode)"),
    0.1, 10.0, 4.0, FALSE },
  { "lambda-foreground", N_("λf foreground"), N_("Smoothing strength inside the mask (background mode)"),
    0.1, 10.0, 0.1, FALSE },
  { "gain", N_("Gain"), N_("Detail multiplier inside the mask (foreground mode)"), 0.0, 10.0, 2.0, FALSE },
};

static LisseTensor *
content_run (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
             const LisseParams *params, const char *choice, double scale,
             const LisseProgress *progress, GError **error)
{
  (void) info; (void) scale;
  const double lambda_bg = lisse_params_get (params, "lambda-background");
  const double lambda_fg = lisse_params_get (params, "lambda-foreground");
  const double gain = lisse_params_get (params, "gain");
  const size_t plane = lisse_tensor_plane (image);

  /* The automatic mask is computed on the image as given, so a preview
   * (downscaled) finds about the same salient region as the full run. */
  g_autoptr (LisseTensor) auto_mask = NULL;
  if (!aux)
    {
      LisseProgress sub = lisse_progress_sub (progress, 0.0, 0.05);
      auto_mask = lisse_saliency_auto_mask (image, error);
      if (!auto_mask || !lisse_progress_report (&sub, 1.0, error))
        return NULL;
    }
  const float *m = lisse_tensor_channel (aux ? aux : auto_mask, 0, 0);
  LisseProgress net_progress = lisse_progress_sub (progress, aux ? 0.0 : 0.05, 1.0);

  if (g_str_equal (choice, "background"))
    {
      g_autoptr (LisseTensor) map = lisse_tensor_try_new (1, 1, image->h, image->w, error);
      if (!map)
        return NULL;
      float *lm = lisse_tensor_channel (map, 0, 0);
      const double log_bg = log (lambda_bg), log_fg = log (lambda_fg);
      for (size_t i = 0; i < plane; i++)
        {
          const double mi = CLAMP ((double) m[i], 0.0, 1.0);
          /* m = 0 and m = 1 give exactly λbg and λfg (as float), so a
           * uniform mask is the same as a scalar run. */
          lm[i] = mi <= 0.0 ? (float) lambda_bg
                : mi >= 1.0 ? (float) lambda_fg
                : (float) exp (mi * log_fg + (1.0 - mi) * log_bg);
        }
      LisseTensor *out = lisse_effect_smooth_with (CONTENT_MODEL, image, lambda_bg, NAN, map,
                                                   &net_progress, error);
      if (out)
        lisse_effect_clamp (out);
      return out;
    }

  /* foreground */
  LisseTensor *out = lisse_effect_smooth_with (CONTENT_MODEL, image, lambda_bg, NAN, NULL,
                                               &net_progress, error);
  if (!out)
    return NULL;
  const int nc = lisse_effect_n_color (image);
  const float g = (float) gain;
  for (int c = 0; c < nc; c++)
    {
      const float *in = lisse_tensor_channel (image, 0, c);
      float *o = lisse_tensor_channel (out, 0, c);
      for (size_t i = 0; i < plane; i++)
        {
          const float mi = CLAMP (m[i], 0.0f, 1.0f);
          o[i] = in[i] + g * mi * (in[i] - o[i]);
        }
    }
  lisse_effect_clamp (out);
  return out;
}

const LisseEffectInfo lisse_effect_content_aware = {
  .name = "content-aware",
  .title = N_("Content-Aware Smoothing"),
  .blurb = N_("Smooth the background or enhance the foreground, from a mask or, without one, "
           "from automatic saliency"),
  .reference = "Fan et al. 2018, §7.4; Achanta et al. 2009 (saliency)",
  .params = content_params,
  .n_params = G_N_ELEMENTS (content_params),
  .choice = {
    .name = "mode",
    .label = N_("Mode"),
    .blurb = N_("What to do with the masked (salient) part and the rest"),
    .values = {
      { "background", N_("Smooth the background") },
      { "foreground", N_("Enhance the foreground") },
    },
    .def = 0,
  },
  .aux = LISSE_EFFECT_AUX_MASK,
  .aux_label = N_("Mask"),
  .aux_required = FALSE,
  .run = content_run,
  /* Peak memory, input and result included, in float planes (tools/bench/memory-cost, a
   * quarter added): fan18 as Smooth, with the λ map: 330 MiB; 7.5 + 2.8 per channel. */
  .memory = { 420.0, 10.0, 3.0 },
};
