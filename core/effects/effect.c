/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The effect registry (effect.h).  Being filled in: see core/effects/. */
#include "effect.h"

#include "lisse-error.h"

#include <string.h>

static const LisseEffectInfo *const effects[] = {
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
  for (int i = 0; effects[i]; i++)
    if (strcmp (effects[i]->name, name) == 0)
      return effects[i];
  return NULL;
}

int
lisse_effect_choice_index (const LisseEffectInfo *info, const char *nick)
{
  for (int i = 0; i < LISSE_EFFECT_MAX_CHOICES && info->choice.values[i].nick; i++)
    if (strcmp (info->choice.values[i].nick, nick) == 0)
      return i;
  return -1;
}

LisseTensor *
lisse_effect_run (const LisseEffectInfo *info, const LisseTensor *image,
                  const LisseTensor *aux, const LisseParams *params,
                  const char *choice, double scale,
                  const LisseProgress *progress, GError **error)
{
  return info->run (info, image, aux, params, choice, scale, progress, error);
}

void
lisse_effect_cache_clear (void)
{
}
