/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Remove Texture (Fan et al. 2018, §7.3): remove fine repetitive patterns
 * and keep the main structures.  Until a learned texture-removal model
 * ships, this runs the classical scale-aware filters the paper compares
 * with (its Fig. 12), labelled as such.  Two parameters common to both,
 * mapped to each filter's own (docs/effects.md):
 *   texture-scale σ (pixels, × scale)  RTV: sigma = σ;  rolling guidance: sigma-s = σ
 *   strength s                         RTV: lambda = 0.015·s;  rolling guidance: sigma-r = 0.1·s */
#include "effect-private.h"
#include "i18n.h"
#include "effects-all.h"

#include "filter.h"

/* Strength 1 gives each filter's usual setting: RTV's λ = 0.015 sits in
 * the 0.01–0.03 of Xu et al. 2012; rolling guidance's σr = 0.1 is Zhang et
 * al. 2014's default. */
#define RTV_LAMBDA_PER_STRENGTH  0.015
#define RGF_SIGMA_R_PER_STRENGTH 0.1

static const LisseParamSpec texture_params[] = {
  { "texture-scale", "σ", N_("Size in pixels of the texture to remove: patterns finer than "
    "about σ go, larger structures stay"), 0.5, 10.0, 3.0, FALSE },
  { "strength", N_("Strength"), N_("How strongly texture is flattened (1 is each filter's usual setting)"),
    0.1, 5.0, 1.0, FALSE },
};

static LisseTensor *
texture_run (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
             const LisseParams *params, const char *choice, double scale,
             const LisseProgress *progress, GError **error)
{
  (void) info; (void) aux;
  const double sigma = lisse_params_get (params, "texture-scale") * scale;
  const double strength = lisse_params_get (params, "strength");
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

const LisseEffectInfo lisse_effect_remove_texture = {
  .name = "remove-texture",
  .title = N_("Remove Texture"),
  .blurb = N_("Remove fine repetitive texture and keep the main structures (classical filters "
           "until a learned texture model ships)"),
  .reference = "Fan et al. 2018, §7.3; Xu et al. 2012 (RTV); Zhang et al. 2014 (rolling guidance)",
  .params = texture_params,
  .n_params = G_N_ELEMENTS (texture_params),
  .choice = {
    .name = "method",
    .label = N_("Method"),
    .blurb = N_("The texture-removal filter"),
    .values = {
      { "rtv", N_("RTV (classical filter)") },
      { "rolling-guidance", N_("Rolling guidance (classical filter)") },
    },
    .def = 0,
  },
  .aux = LISSE_EFFECT_AUX_NONE,
  .aux_label = NULL,
  .aux_required = FALSE,
  .run = texture_run,
};
