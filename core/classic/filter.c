/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "filter.h"
#include "filters-all.h"
#include "finite.h"
#include "lisse-error.h"

#include <string.h>

const LisseFilterInfo *const *
lisse_filters (void)
{
  static const LisseFilterInfo *const all[] = {
    &lisse_filter_l0,
    &lisse_filter_rtv,
    &lisse_filter_wls,
    &lisse_filter_guided,
    &lisse_filter_joint_bilateral,
    &lisse_filter_rolling_guidance,
    NULL,
  };
  return all;
}

const LisseFilterInfo *
lisse_filter_find (const char *name)
{
  for (const LisseFilterInfo *const *f = lisse_filters (); *f; f++)
    if (strcmp ((*f)->name, name) == 0)
      return *f;
  return NULL;
}

/* For a filter that declares no cost: above what any of the six takes. */
static const LisseMemoryCost default_cost = { 256.0, 16.0, 16.0 };

gboolean
lisse_filter_check_memory (const LisseFilterInfo *info, int width, int height, int channels,
                           int guide_channels, GError **error)
{
  const LisseMemoryCost *cost = &info->memory;
  if (cost->fixed_mib <= 0 && cost->planes <= 0 && cost->planes_per_channel <= 0)
    cost = &default_cost;
  return lisse_memory_check (lisse_memory_cost_bytes (cost, width, height,
                                                      channels + MAX (guide_channels, 0)),
                             info->name, width, height, error);
}

LisseTensor *
lisse_filter_run (const LisseFilterInfo *info,
                  const LisseTensor     *input,
                  int                    n_color,
                  const LisseTensor     *guide,
                  const LisseParams     *params,
                  const LisseProgress   *progress,
                  GError               **error)
{
  if (input->n != 1 || input->c < 1 || input->c > 4)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_BAD_IMAGE,
                   "%s: expected one image of 1–4 channels, got %d×%d",
                   info->name, input->n, input->c);
      return NULL;
    }
  if (n_color < 1 || n_color > input->c)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: %d colour channels asked of a %d-channel image",
                   info->name, n_color, input->c);
      return NULL;
    }
  if (params->specs != info->params)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: parameters were declared for another filter", info->name);
      return NULL;
    }
  /* Values filled in by hand (the GEGL ops, the effects, the tools) are
   * held to the declared ranges as `--set` values are, so no filter runs
   * on a NaN or beyond the range its solver was checked for. */
  if (!lisse_params_check (params, info->name, error))
    return NULL;
  if (guide && info->guide == LISSE_GUIDE_NONE)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s does not take a guide image", info->name);
      return NULL;
    }
  if (!guide && info->guide == LISSE_GUIDE_REQUIRED)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s needs a guide image (--guide FILE)", info->name);
      return NULL;
    }
  if (guide && (guide->n != 1 || guide->c < 1 || guide->c > 4
                || guide->h != input->h || guide->w != input->w))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_BAD_IMAGE,
                   "%s: the guide is %d×%d with %d channels; it must be %d×%d with 1–4",
                   info->name, guide->w, guide->h, guide->c, input->w, input->h);
      return NULL;
    }
  if (!lisse_filter_check_memory (info, input->w, input->h, input->c, guide ? guide->c : 0,
                                  error))
    return NULL;
  /* NaN and ±∞ are replaced before the filter sees them (finite.h): one
   * of them would turn every pixel a box sum, an FFT or a solve reaches
   * into NaN.  Images that hold none are not copied. */
  g_autoptr (LisseTensor) input_copy = NULL, guide_copy = NULL;
  if (!(input = lisse_finite_tensor (input, n_color, &input_copy, error)))
    return NULL;
  if (guide && !(guide = lisse_finite_tensor (guide, guide->c, &guide_copy, error)))
    return NULL;
  return info->run (input, n_color, guide, params, progress, error);
}
