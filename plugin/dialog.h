/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The contract between the procedures (procedure.c) and the dialogs
 * (dialog.c, with the widgets of ui/): one call per INTERACTIVE run. */
#pragma once

#include "effect.h"

#include <libgimp/gimp.h>

G_BEGIN_DECLS

/* Shows the effect's dialog (INTERACTIVE runs).  Returns TRUE when the user
 * pressed OK; the config then holds the chosen values.  For content-aware,
 * a painted mask was stored as a channel of @image and set as the config's
 * "mask": that insertion opens an undo group on @image, and
 * *@undo_group_open says so — the caller applies the effect inside it and
 * then closes it (gimp_image_undo_group_end), so that mask and result are
 * one undo step.  On FALSE no group is open. */
gboolean lisse_dialog_run (GimpProcedure          *procedure,
                           GimpProcedureConfig    *config,
                           GimpImage              *image,
                           GimpDrawable           *drawable,
                           const LisseEffectInfo  *effect,
                           gboolean               *undo_group_open);

G_END_DECLS
