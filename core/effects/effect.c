/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The effect registry (effect.h) and the one entry point, which checks
 * every argument once so the effects themselves can trust them. */
#include "effect.h"
#include "effect-private.h"
#include "effects-all.h"

#include "finite.h"
#include "lisse-error.h"

#include <math.h>
#include <string.h>

static const LisseEffectInfo *const effects[] = {
  &lisse_effect_smooth,
  &lisse_effect_magnify_detail,
  &lisse_effect_remove_texture,
  &lisse_effect_content_aware,
  &lisse_effect_joint_filter,
  &lisse_effect_abstraction,
  &lisse_effect_pencil_sketch,
  &lisse_effect_fast_filter,
  NULL,
};

const LisseEffectInfo *const *
lisse_effects (void)
{
  return effects;
}

const LisseEffectInfo *
lisse_effect_find (const char *name)
{
  if (!name)
    return NULL;
  for (int i = 0; effects[i]; i++)
    if (strcmp (effects[i]->name, name) == 0)
      return effects[i];
  return NULL;
}

int
lisse_effect_choice_index (const LisseEffectInfo *info, const char *nick)
{
  if (!info || !nick || !info->choice.name)
    return -1;
  for (int i = 0; i < LISSE_EFFECT_MAX_CHOICES && info->choice.values[i].nick; i++)
    if (strcmp (info->choice.values[i].nick, nick) == 0)
      return i;
  return -1;
}

/* "rtv, rolling-guidance" */
static char *
choice_list (const LisseEffectInfo *info)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < LISSE_EFFECT_MAX_CHOICES && info->choice.values[i].nick; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", info->choice.values[i].nick);
  return g_string_free (s, FALSE);
}

static gboolean
check_shape (const LisseTensor *t, const char *what, GError **error)
{
  if (!t || !t->data)
    return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "no %s given", what);
  if (t->n != 1 || t->c < 1 || t->c > 4 || t->h < 1 || t->w < 1)
    return lisse_fail (error, LISSE_ERROR_BAD_IMAGE,
                       "%s must be 1×C×H×W with 1 to 4 channels (got %d×%d×%d×%d)",
                       what, t->n, t->c, t->h, t->w);
  return TRUE;
}

static gboolean
check_params (const LisseEffectInfo *info, const LisseParams *params, GError **error)
{
  if (!params || params->specs != info->params || params->n_specs != info->n_params)
    return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                       "%s: parameters were not made from this effect's declaration",
                       info->name);
  /* Callers that fill the values in by hand (the GEGL ops, the tools,
   * the tests) get the same one-line refusal as `--set`. */
  return lisse_params_check (params, info->name, error);
}

/* For an effect that declares no cost: above what any of the seven takes. */
static const LisseMemoryCost default_cost = { 1024.0, 16.0, 16.0 };

guint64
lisse_effect_memory_bytes (const LisseEffectInfo *info, const char *choice, int width,
                           int height, int channels)
{
  if (info->memory_for && info->choice.name)
    {
      if (!choice || lisse_effect_choice_index (info, choice) < 0)
        choice = info->choice.values[info->choice.def].nick;
      return info->memory_for (info, choice, width, height, channels);
    }
  const LisseMemoryCost *cost = &info->memory;
  if (cost->fixed_mib <= 0 && cost->planes <= 0 && cost->planes_per_channel <= 0)
    cost = &default_cost;
  return lisse_memory_cost_bytes (cost, width, height, channels);
}

gboolean
lisse_effect_check_memory (const LisseEffectInfo *info, const char *choice, int width,
                           int height, int channels, int aux_channels, GError **error)
{
  return lisse_memory_check (lisse_effect_memory_bytes (info, choice, width, height,
                                                        channels + MAX (aux_channels, 0)),
                             info->name, width, height, error);
}

/* Both entry points: every argument checked, NaN and ±∞ replaced, then
 * the effect run in full (@max_pixels 0) or as a draft (draft.c). */
static LisseTensor *
run_checked (const LisseEffectInfo *info, const LisseTensor *image,
             const LisseTensor *aux, const LisseParams *params,
             const char *choice, double scale, long max_pixels,
             const LisseProgress *progress, GError **error)
{
  if (!info)
    {
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "no effect given");
      return NULL;
    }
  if (!check_shape (image, "image", error) || !check_params (info, params, error))
    return NULL;
  if (!isfinite (scale) || scale <= 0.0 || scale > 1.0)
    {
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                  "%s: scale %g is not in (0, 1]", info->name, scale);
      return NULL;
    }

  const char *aux_what = info->aux == LISSE_EFFECT_AUX_MASK ? "mask" : "guide image";
  if (info->aux == LISSE_EFFECT_AUX_NONE && aux)
    {
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                  "%s takes no mask or guide image", info->name);
      return NULL;
    }
  if (info->aux != LISSE_EFFECT_AUX_NONE && !aux && info->aux_required)
    {
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "%s needs a %s", info->name, aux_what);
      return NULL;
    }
  if (aux)
    {
      if (!check_shape (aux, aux_what, error))
        return NULL;
      if (aux->h != image->h || aux->w != image->w)
        {
          lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                      "%s: the %s is %d×%d but the image is %d×%d",
                      info->name, aux_what, aux->w, aux->h, image->w, image->h);
          return NULL;
        }
      if (info->aux == LISSE_EFFECT_AUX_MASK && aux->c != 1)
        {
          lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                      "%s: the mask must have one channel (got %d)", info->name, aux->c);
          return NULL;
        }
    }

  if (info->choice.name)
    {
      if (!choice)
        choice = info->choice.values[info->choice.def].nick;
      else if (lisse_effect_choice_index (info, choice) < 0)
        {
          g_autofree char *known = choice_list (info);
          lisse_fail (error, LISSE_ERROR_UNKNOWN_NAME, "%s: unknown %s '%s' (known: %s)",
                      info->name, info->choice.name, choice, known);
          return NULL;
        }
    }
  else if (choice)
    {
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "%s takes no choice (got '%s')",
                  info->name, choice);
      return NULL;
    }

  if (!lisse_effect_check_memory (info, choice, image->w, image->h, image->c,
                                  aux ? aux->c : 0, error))
    return NULL;
  if (!lisse_progress_report (progress, 0.0, error))
    return NULL;
  /* NaN and ±∞ are replaced before the effect sees them (finite.h): the
   * effects, and the filters and networks they call, compute with finite
   * values only.  Images that hold none are not copied. */
  g_autoptr (LisseTensor) image_copy = NULL, aux_copy = NULL;
  image = lisse_finite_tensor (image, lisse_effect_n_color (image), &image_copy, error);
  if (!image)
    return NULL;
  if (aux && !(aux = lisse_finite_tensor (aux, aux->c, &aux_copy, error)))
    return NULL;
  if (max_pixels > 0)
    return info->draft
           ? info->draft (info, image, aux, params, choice, scale, max_pixels, progress, error)
           : lisse_effect_draft_whole (info, image, aux, params, choice, scale, max_pixels,
                                       LISSE_DRAFT_RADIUS, LISSE_DRAFT_EPS, progress, error);
  return info->run (info, image, aux, params, choice, scale, progress, error);
}

LisseTensor *
lisse_effect_run (const LisseEffectInfo *info, const LisseTensor *image,
                  const LisseTensor *aux, const LisseParams *params,
                  const char *choice, double scale,
                  const LisseProgress *progress, GError **error)
{
  return run_checked (info, image, aux, params, choice, scale, 0, progress, error);
}

LisseTensor *
lisse_effect_run_draft (const LisseEffectInfo *info, const LisseTensor *image,
                        const LisseTensor *aux, const LisseParams *params,
                        const char *choice, double scale, long max_pixels,
                        const LisseProgress *progress, GError **error)
{
  return run_checked (info, image, aux, params, choice, scale, MAX (max_pixels, 0), progress,
                      error);
}
