/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Smooth (Fan et al. 2018, §4): the learned smoothing network at the
 * energy's two weights, λf (flattening) and λe (edge preservation).
 *
 * Scale: the network has no spatial parameter, so a zoomed-out preview
 * runs it on the downscaled image as it is.  That is an approximation —
 * the network flattens structures of a given size in pixels, so a preview
 * at 1/4 looks somewhat smoother than the full-resolution result. */
#include "effect-private.h"
#include "i18n.h"
#include "effects-all.h"

static const LisseParamSpec smooth_params[] = {
  { "lambda-f", "λf", N_("Flattening strength: larger values flatten more"), 0.1, 10.0, 1.0, FALSE },
  { "lambda-e", "λe", N_("Edge preservation: larger values keep more of the strong edges"),
    0.01, 1.0, 0.1, FALSE },
};

static LisseTensor *
smooth_run (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
            const LisseParams *params, const char *choice, double scale,
            const LisseProgress *progress, GError **error)
{
  (void) info; (void) aux; (void) scale;
  LisseTensor *out = lisse_effect_smooth_with (choice, image,
                                               lisse_params_get (params, "lambda-f"),
                                               lisse_params_get (params, "lambda-e"),
                                               NULL, progress, error);
  if (out)
    lisse_effect_clamp (out);
  return out;
}

const LisseEffectInfo lisse_effect_smooth = {
  .name = "smooth",
  .title = N_("Smooth"),
  .blurb = N_("Flatten small detail and keep strong edges, with the learned smoothing network "
           "of Fan et al. 2018"),
  .reference = "Fan et al. 2018, §4",
  .params = smooth_params,
  .n_params = G_N_ELEMENTS (smooth_params),
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
  .run = smooth_run,
  /* Peak memory, input and result included, in float planes (tools/bench/memory-cost, a
   * quarter added): fan18-smooth: 320 MiB of activations for one 1020×1020 tile crop; 7.9 +
   * 2.2 per channel. */
  .memory = { 400.0, 10.0, 3.0 },
};
