/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Running an effect on one drawable: its pixels (within the selection's
 * bounds plus a margin) go through lisse_effect_run() in this process, and
 * the result is merged back through the shadow buffer — one undo step, the
 * selection (feathering included) honoured, alpha untouched. */
#pragma once

#include "effect.h"
#include "params.h"

#include <libgimp/gimp.h>

G_BEGIN_DECLS

typedef struct
{
  const LisseEffectInfo *effect;
  LisseParams            params;   /* made from effect->params */
  const char            *choice;   /* a nick of effect->choice, NULL: default */
  /* MASK effects: a channel (a saved selection, a layer mask), mapped
   * through image coordinates, 0 outside it.  GUIDE effects: a drawable of
   * the same size as the target, pixel (x, y) steering pixel (x, y).
   * NULL: none given. */
  GimpDrawable          *aux;
} LisseApplyArgs;

/* Applies @args->effect to @drawable.  Returns FALSE with a one-line
 * @error (LISSE_ERROR; LISSE_ERROR_CANCELLED when cancelled) and the
 * drawable untouched on any failure. */
gboolean lisse_apply (GimpDrawable         *drawable,
                      const LisseApplyArgs *args,
                      GError              **error);

G_END_DECLS
