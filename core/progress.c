/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "progress.h"
#include "lisse-error.h"

gboolean
lisse_progress_report (const LisseProgress *progress, double fraction, GError **error)
{
  if (!progress || !progress->func)
    return TRUE;
  double span = progress->span > 0 ? progress->span : 1.0;
  double f = progress->start + span * CLAMP (fraction, 0.0, 1.0);
  if (!progress->func (f, progress->user_data))
    {
      g_set_error_literal (error, LISSE_ERROR, LISSE_ERROR_CANCELLED, "cancelled");
      return FALSE;
    }
  return TRUE;
}

LisseProgress
lisse_progress_sub (const LisseProgress *parent, double from, double to)
{
  if (!parent)
    return (LisseProgress) { NULL, NULL, 0.0, 1.0 };
  double span = parent->span > 0 ? parent->span : 1.0;
  return (LisseProgress) { parent->func, parent->user_data,
                           parent->start + span * from, span * (to - from) };
}
