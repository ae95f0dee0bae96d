/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Draft runs (lisse_effect_run_draft(), effect.h): what a preview shows
 * while a slider moves, in a fraction of the full run's time.
 *
 * The image is averaged down by the smallest integer factor f that brings
 * it within the pixel budget, the effect runs there (its spatial parameters
 * scaled by 1/f, as for a zoomed-out preview), and the small result comes
 * back to full size by fast guided upsampling against the full-size image
 * (guided-upsample.h).  The alternative, bilinear interpolation of the
 * small result, blurs every edge by f pixels: measured by
 * tools/bench/draft-preview, which also chose the fit's radius and ε
 * (LISSE_DRAFT_RADIUS, LISSE_DRAFT_EPS in effect-private.h;
 * docs/performance.md). */
#include "effect-private.h"

#include "guided-upsample.h"

int
lisse_effect_draft_factor (int width, int height, long max_pixels)
{
  return lisse_guided_upsample_factor (width, height, max_pixels);
}

LisseTensor *
lisse_draft_run (const LisseTensor *image, const LisseTensor *aux, double scale,
                 long max_pixels, int radius, double eps, LisseDraftRunFunc run, gpointer data,
                 const LisseProgress *progress, GError **error)
{
  const int f = lisse_effect_draft_factor (image->w, image->h, max_pixels);
  if (f == 1)
    return run (image, aux, scale, data, progress, error);

  /* The small run takes nearly all the time: it reports the progress. */
  g_autoptr (LisseTensor) small = lisse_box_downscale (image, f, error);
  g_autoptr (LisseTensor) small_aux = NULL;
  g_autoptr (LisseTensor) small_result = NULL;
  if (!small || (aux && !(small_aux = lisse_box_downscale (aux, f, error))))
    return NULL;
  small_result = run (small, small_aux, scale / f, data, progress, error);
  if (!small_result)
    return NULL;
  g_return_val_if_fail (lisse_tensor_same_shape (small_result, small), NULL);

  return lisse_guided_upsample (image, lisse_effect_n_color (image), small, small_result, f,
                                radius, eps, error);
}

/* ---- the whole effect as a draft ---- */

typedef struct
{
  const LisseEffectInfo *info;
  const LisseParams     *params;
  const char            *choice;
} EffectRun;

static LisseTensor *
run_effect_small (const LisseTensor *image, const LisseTensor *aux, double scale, gpointer data,
                  const LisseProgress *progress, GError **error)
{
  const EffectRun *r = data;
  return r->info->run (r->info, image, aux, r->params, r->choice, scale, progress, error);
}

LisseTensor *
lisse_effect_draft_whole (const LisseEffectInfo *info, const LisseTensor *image,
                          const LisseTensor *aux, const LisseParams *params, const char *choice,
                          double scale, long max_pixels, int radius, double eps,
                          const LisseProgress *progress, GError **error)
{
  EffectRun r = { info, params, choice };
  LisseTensor *out = lisse_draft_run (image, aux, scale, max_pixels, radius, eps,
                                      run_effect_small, &r, progress, error);
  if (out)
    lisse_effect_clamp (out);
  return out;
}

/* ---- a network's smoothing as a draft ---- */

typedef struct
{
  const char *model;
  double      lambda_f, lambda_e;
} SmoothRun;

static LisseTensor *
run_smooth_small (const LisseTensor *image, const LisseTensor *aux, double scale, gpointer data,
                  const LisseProgress *progress, GError **error)
{
  const SmoothRun *r = data;
  return lisse_effect_smooth_with (r->model, image, r->lambda_f, r->lambda_e, NULL, progress,
                                   error);
}

LisseTensor *
lisse_effect_smooth_draft_with (const char *model, const LisseTensor *image, double lambda_f,
                                double lambda_e, long max_pixels,
                                const LisseProgress *progress, GError **error)
{
  SmoothRun r = { model, lambda_f, lambda_e };
  return lisse_draft_run (image, NULL, 1.0, max_pixels, LISSE_DRAFT_RADIUS, LISSE_DRAFT_EPS,
                          run_smooth_small, &r, progress, error);
}
