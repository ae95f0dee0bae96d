/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Fast Filter (Fang et al. 2019): a slow optimisation filter reproduced by
 * the learned explicit kernels of core/nets/fang19.c, in a fraction of the
 * exact filter's time, with a λ slider that answers while it moves.  The
 * exact filters stay where they were (Filters ▸ Lisse ▸ Classic, `lisse
 * filter`); this effect is their learned option.  One model per filter,
 * "fang19-<filter>" from the model search path: RTV (fang19-rtv) and WLS
 * (fang19-wls); the L0 model joins the choice when it is trained (issue 13).
 *
 * One parameter, the strength s: the filter's λ = s · λ_ref, λ_ref being
 * the model's reference λ (its metadata; RTV 0.01, WLS 1), brought into the
 * λ range the model was trained on (RTV 0.002–0.05, WLS 0.2–5, i.e. s in
 * 0.2–5).  The
 * network has no spatial parameter: a zoomed-out preview runs it on the
 * downscaled image as it is (as Smooth does). */
#include "effect-private.h"
#include "i18n.h"
#include "effects-all.h"

static const LisseParamSpec fast_params[] = {
  { "strength", N_("Strength"), N_("The filter's λ as a multiple of its usual value "
    "(RTV: λ = 0.01 × strength; WLS: λ = strength): larger values flatten more"),
    0.2, 5.0, 1.0, FALSE },
};

static LisseTensor *
fast_run (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
          const LisseParams *params, const char *choice, double scale,
          const LisseProgress *progress, GError **error)
{
  (void) info; (void) aux; (void) scale;
  g_autofree char *model = g_strconcat ("fang19-", choice, NULL);
  LisseTensor *out = lisse_effect_fang19_with (model, image, lisse_params_get (params, "strength"),
                                               NULL, progress, error);
  if (out)
    lisse_effect_clamp (out);
  return out;
}

const LisseEffectInfo lisse_effect_fast_filter = {
  .name = "fast-filter",
  .title = N_("Fast Filter"),
  .blurb = N_("A slow edge-preserving filter (RTV, WLS) reproduced by learned smoothing "
              "kernels in a fraction of its time"),
  .reference = "Fang et al. 2019; Xu et al. 2012 (RTV); Farbman et al. 2008 (WLS)",
  .params = fast_params,
  .n_params = G_N_ELEMENTS (fast_params),
  .choice = {
    .name = "filter",
    .label = N_("Filter"),
    .blurb = N_("The filter the learned kernels reproduce (its model fang19-<filter> must be "
                "in the model search path)"),
    .values = {
      { "rtv", N_("RTV (learned, Fang et al. 2019)") },
      { "wls", N_("WLS (learned, Fang et al. 2019)") },
    },
    .def = 0,
  },
  .aux = LISSE_EFFECT_AUX_NONE,
  .aux_label = NULL,
  .aux_required = FALSE,
  .run = fast_run,
  .draft = NULL,
  /* Peak memory, input and result included (tools/bench/memory-cost, one thread): the
   * network runs whole up to 12.7 MP (its back end streamed, fang19.c) and in crops of that
   * size above: 1024² RGB 201 MiB, 1960² 459 MiB, 4000×3000 1201 MiB (1221 with the RTV model of
   * 2026-12-07, whose offsets reach 64 px); short wide images cost
   * most per pixel (their row bands are the whole image): 20000×64 RGB 306 MiB, 64×20000 gray
   * 155 MiB.  One line over all, with room: 160 MiB + 30 planes + 3 per channel (12 MP RGB:
   * 1.9 GB declared, 1.2 used; 20000×64: 350 MiB declared). */
  .memory = { 160.0, 30.0, 3.0 },
};
