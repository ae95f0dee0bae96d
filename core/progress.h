/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Progress and cancellation for long work (networks, iterative filters).
 * The callback gets the fraction done in [0,1] and returns FALSE to cancel;
 * the work then stops at its next check and fails with LISSE_ERROR_CANCELLED,
 * leaving its output unwritten. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*LisseProgressFunc) (double fraction, gpointer user_data);

typedef struct
{
  LisseProgressFunc func;        /* may be NULL: no reporting, never cancelled */
  gpointer          user_data;
  double            start, span; /* maps a sub-task's [0,1] into the caller's range */
} LisseProgress;

/* Report @fraction of the current (sub-)task.  Returns FALSE and sets
 * LISSE_ERROR_CANCELLED when the callback asked to stop. */
gboolean lisse_progress_report (const LisseProgress *progress, double fraction, GError **error);

/* A progress that covers [from, to] of @parent's range. */
LisseProgress lisse_progress_sub (const LisseProgress *parent, double from, double to);

G_END_DECLS
