/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Helpers the effects share (effect-private.h): running a λf-conditioned
 * network (or a Fang 2019 one) through the cache, clamping, alpha, luma and a Gaussian blur. */
#include "effect-private.h"

#include "lisse-error.h"
#include "threads.h"

#include <math.h>
#include <string.h>

LisseTensor *
lisse_effect_smooth_with (const char *model, const LisseTensor *image,
                          double lambda_f, double lambda_e,
                          const LisseTensor *lambda_map,
                          const LisseProgress *progress, GError **error)
{
  LisseNet *net = lisse_effect_net_acquire (model, error);
  if (!net)
    return NULL;
  LisseTensor *out = NULL;
  LisseParams params;
  lisse_net_params_init (net, &params);
  GError *local = NULL;
  if (!lisse_params_set (&params, "lambda-f", lambda_f, &local)
      || (!isnan (lambda_e) && lisse_params_find (&params, "lambda-e")
          && !lisse_params_set (&params, "lambda-e", lambda_e, &local)))
    {
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "model '%s': %s", model, local->message);
      g_error_free (local);
      goto done;
    }
  if (lambda_map && net->info->n_map_channels < 1)
    {
      lisse_fail (error, LISSE_ERROR_BAD_MODEL,
                  "model '%s' (architecture '%s') takes no per-pixel λf map",
                  model, net->info->architecture);
      goto done;
    }
  out = lisse_net_run_map (net, image, &params, lambda_map, 0, progress, error);
done:
  lisse_effect_net_release (net);
  return out;
}

double
lisse_effect_fang19_lambda (const LisseNet *net, double lambda_scale)
{
  LisseParams params;
  lisse_net_params_init (net, &params);
  const LisseParamSpec *spec = lisse_params_find (&params, "lambda");
  g_return_val_if_fail (spec, NAN);
  return CLAMP (lambda_scale * spec->def, spec->min, spec->max);
}

LisseTensor *
lisse_effect_guide_rgb (const LisseTensor *guide, GError **error)
{
  if (guide->c >= 3)
    return lisse_tensor_new_view (guide->data, 1, 3, guide->h, guide->w);
  LisseTensor *map = lisse_tensor_try_new_uninit (1, 3, guide->h, guide->w, error);
  if (map)
    for (int c = 0; c < 3; c++)
      memcpy (lisse_tensor_channel (map, 0, c), lisse_tensor_channel (guide, 0, 0),
              lisse_tensor_plane (guide) * sizeof (float));
  return map;
}

LisseTensor *
lisse_effect_fang19_run (const LisseNet *net, const char *model, const LisseTensor *image,
                         double lambda_scale, const LisseTensor *map,
                         const LisseProgress *progress, GError **error)
{
  LisseParams params;
  lisse_net_params_init (net, &params);
  GError *local = NULL;
  if (!lisse_params_set (&params, "lambda", lisse_effect_fang19_lambda (net, lambda_scale), &local))
    {
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "model '%s': %s", model, local->message);
      g_error_free (local);
      return NULL;
    }
  return lisse_net_run_map (net, image, &params, map, 0, progress, error);
}

LisseTensor *
lisse_effect_fang19_with (const char *model, const LisseTensor *image, double lambda_scale,
                          const LisseTensor *guide, const LisseProgress *progress,
                          GError **error)
{
  LisseNet *net = lisse_effect_net_acquire_arch (model, "fang19", error);
  if (!net)
    return NULL;
  LisseTensor *out = NULL;
  g_autoptr (LisseTensor) map = NULL;
  if (!guide || (map = lisse_effect_guide_rgb (guide, error)))
    out = lisse_effect_fang19_run (net, model, image, lambda_scale, map, progress, error);
  lisse_effect_net_release (net);
  return out;
}

void
lisse_effect_clamp (LisseTensor *image)
{
  const int nc = lisse_effect_n_color (image);
  const size_t plane = lisse_tensor_plane (image);
  for (int c = 0; c < nc; c++)
    {
      float *p = lisse_tensor_channel (image, 0, c);
      for (size_t i = 0; i < plane; i++)
        /* NaN becomes 0: a display value must be a value. */
        p[i] = p[i] > 0.0f ? (p[i] < 1.0f ? p[i] : 1.0f) : 0.0f;
    }
}

void
lisse_effect_luma (const LisseTensor *image, float *out)
{
  const size_t plane = lisse_tensor_plane (image);
  if (lisse_effect_n_color (image) == 1)
    {
      memcpy (out, lisse_tensor_channel (image, 0, 0), plane * sizeof (float));
      return;
    }
  const float *r = lisse_tensor_channel (image, 0, 0);
  const float *g = lisse_tensor_channel (image, 0, 1);
  const float *b = lisse_tensor_channel (image, 0, 2);
  for (size_t i = 0; i < plane; i++)
    out[i] = 0.2126f * r[i] + 0.7152f * g[i] + 0.0722f * b[i];
}

