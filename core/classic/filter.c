/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "filter.h"
#include "filters-all.h"
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
  return info->run (input, n_color, guide, params, progress, error);
}
