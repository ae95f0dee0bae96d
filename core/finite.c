/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The non-finite value rule (finite.h). */
#include "finite.h"

#include <string.h>

gboolean
lisse_finite_check (const LisseTensor *t, int n_channels)
{
  const size_t plane = lisse_tensor_plane (t);
  for (int ni = 0; ni < t->n; ni++)
    for (int ci = 0; ci < MIN (n_channels, t->c); ci++)
      {
        const float *p = lisse_tensor_channel (t, ni, ci);
        /* One branch per plane, not per value: the usual image passes. */
        int bad = 0;
        for (size_t i = 0; i < plane; i++)
          bad |= !(fabsf (p[i]) <= LISSE_PIXEL_LIMIT);
        if (bad)
          return FALSE;
      }
  return TRUE;
}

const LisseTensor *
lisse_finite_tensor (const LisseTensor *t, int n_channels, LisseTensor **copy,
                     GError **error)
{
  *copy = NULL;
  if (lisse_finite_check (t, n_channels))
    return t;
  LisseTensor *c = lisse_tensor_try_new (t->n, t->c, t->h, t->w, error);
  if (!c)
    return NULL;
  memcpy (c->data, t->data, lisse_tensor_numel (t) * sizeof (float));
  const size_t plane = lisse_tensor_plane (t);
  for (int ni = 0; ni < t->n; ni++)
    for (int ci = 0; ci < MIN (n_channels, t->c); ci++)
      {
        float *p = lisse_tensor_channel (c, ni, ci);
        for (size_t i = 0; i < plane; i++)
          p[i] = lisse_finite_value (p[i]);
      }
  *copy = c;
  return c;
}
