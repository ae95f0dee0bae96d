/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Joint Filter: smooth an image along the edges of a second, guide image
 * (flash / no-flash, depth upsampling, …): the learned joint filter of
 * Fang et al. 2019 (the kernels of the fang19-rtv model computed from the
 * guide and applied to the image, core/nets/fang19.c) and the classical
 * joint filters, labelled as such.  Two parameters common to all four,
 * mapped to each filter's own (docs/effects.md):
 *   radius r (pixels, × scale)  guided: radius = round(r);  joint bilateral: sigma-s = r;
 *                               WLS: lambda = (r/4)²;
 *                               learned RTV kernels: λ = 0.01·(r/4)², within the
 *                               model's λ range (0.002–0.05: r ≈ 1.8–8.9)
 *   range ρ                     guided: epsilon = ρ²;  joint bilateral: sigma-r = ρ;
 *                               WLS: unused (its edge term is the guide's log-luma
 *                               gradient, α = 1.2); learned: unused (the kernels'
 *                               affinities are learned)
 * "learned-colorize" is the same network spreading colour strokes painted
 * on the image over the guide's gray (colorize.c), with the same λ. */
#include "effect-private.h"
#include "i18n.h"
#include "effects-all.h"

#include "filter.h"

#include <math.h>

/* The model of the "learned-rtv" method (model.h search path). */
#define LEARNED_MODEL "fang19-rtv"

static const LisseParamSpec joint_params[] = {
  { "radius", "r", N_("Spatial extent of the smoothing in pixels"), 1.0, 100.0, 4.0, FALSE },
  { "range", "ρ", N_("Edge threshold in [0,1] intensity units: guide differences well above ρ "
    "are kept as edges"), 0.001, 1.0, 0.1, FALSE },
};

static LisseTensor *
joint_run (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
           const LisseParams *params, const char *choice, double scale,
           const LisseProgress *progress, GError **error)
{
  (void) info;
  const double radius = lisse_params_get (params, "radius") * scale;
  const double range = lisse_params_get (params, "range");
  const double learned_scale = (radius / 4.0) * (radius / 4.0);   /* λ / λ_ref */
  if (g_str_equal (choice, "learned-colorize"))
    return lisse_effect_colorize_strokes (LEARNED_MODEL, image, aux, learned_scale, progress, error);
  if (g_str_equal (choice, "learned-rtv"))
    {
      LisseTensor *out = lisse_effect_fang19_with (LEARNED_MODEL, image, learned_scale, aux,
                                                   progress, error);
      if (out)
        lisse_effect_clamp (out);
      return out;
    }
  const LisseFilterInfo *filter = lisse_filter_find (choice);
  g_assert (filter);   /* every method nick is a filter name */
  LisseParams fp;
  lisse_params_init (&fp, filter->params, filter->n_params);
  gboolean ok;
  /* A preview far zoomed out (scale < 1) or a wide radius can map beyond a
   * filter's own range: each value goes to the nearest end of it. */
  if (g_str_equal (choice, "guided"))
    ok = lisse_params_set_clamped (&fp, "radius", round (radius), error)
         && lisse_params_set_clamped (&fp, "epsilon", range * range, error);
  else if (g_str_equal (choice, "joint-bilateral"))
    ok = lisse_params_set_clamped (&fp, "sigma-s", radius, error)
         && lisse_params_set_clamped (&fp, "sigma-r", range, error);
  else   /* WLS: radii beyond about 28 px saturate at the top of its λ range */
    ok = lisse_params_set_clamped (&fp, "lambda", (radius / 4.0) * (radius / 4.0), error);
  if (!ok)
    return NULL;
  /* The guide's alpha plays no part (effect.h): view its colour channels. */
  g_autoptr (LisseTensor) guide = lisse_tensor_new_view (aux->data, 1, lisse_effect_n_color (aux),
                                                         aux->h, aux->w);
  LisseTensor *out = lisse_filter_run (filter, image, lisse_effect_n_color (image), guide,
                                       &fp, progress, error);
  if (out)
    lisse_effect_clamp (out);
  return out;
}

const LisseEffectInfo lisse_effect_joint_filter = {
  .name = "joint-filter",
  .title = N_("Joint Filter"),
  .blurb = N_("Smooth an image along the edges of a guide image, with the learned kernels of "
           "Fang et al. 2019 or a classical joint filter"),
  .reference = "Fang et al. 2019 (learned RTV kernels); He et al. 2010 (guided); "
               "Petschnigg et al. 2004 (joint bilateral); Farbman et al. 2008 (WLS)",
  .params = joint_params,
  .n_params = G_N_ELEMENTS (joint_params),
  .choice = {
    .name = "method",
    .label = N_("Method"),
    .blurb = N_("The joint filter (the learned one needs the model fang19-rtv in the model "
                "search path)"),
    .values = {
      { "guided", N_("Guided filter (classical filter)") },
      { "joint-bilateral", N_("Joint bilateral (classical filter)") },
      { "wls", N_("WLS with guide (classical filter)") },
      { "learned-rtv", N_("RTV kernels (learned, Fang et al. 2019)") },
      { "learned-colorize", N_("Colourise from strokes (learned, Fang et al. 2019)") },
    },
    .def = 0,
  },
  .aux = LISSE_EFFECT_AUX_GUIDE,
  .aux_label = N_("Guide"),
  .aux_required = TRUE,
  .run = joint_run,
  /* Peak memory, input and result included (tools/bench/memory-cost, a quarter added): WLS
   * with guide 32 + 2 per channel float planes; the learned kernels as Fast Filter's
   * (fast-filter.c: 160 MiB + 30 planes + 3 per channel; with an RGB guide, one thread: 1960²
   * 635 MiB, 4000×3000 1750 MiB of 2449 declared (1770 with the RTV model of 2026-12-07),
   * 20000×64 387 of 404); the larger of the two
   * in each term. */
  .memory = { 160.0, 32.0, 3.0 },
};
