/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The dialogs' two kinds of live preview.
 *
 *  - On canvas (effects without an aux input): a non-destructive
 *    GimpDrawableFilter running the GEGL operation lisse:<effect> in GIMP's
 *    core, kept in step with the dialog's config and deleted when the
 *    dialog closes — the plug-in then applies the final result itself,
 *    from the same lisse_effect_run().
 *  - In the dialog (effects with a mask or guide, which GIMP cannot show
 *    non-destructively): a GimpDrawablePreview whose visible rectangle, plus
 *    a context margin, is run through lisse_effect_run() in the plug-in.
 *    An approximation: near the rectangle's borders a network or filter
 *    sees less context than in the full run.
 *
 * Both keep up with a slider: while parameters change they show drafts
 * (lisse_effect_run_draft(), the op's "draft" property on canvas), and the
 * full-quality render once the parameters rest (preview.c). */
#pragma once

#include "effect.h"
#include "mask-model.h"

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

G_BEGIN_DECLS

/* Pixels of context read around the visible rectangle of an in-dialog
 * preview. */
#define LISSE_PREVIEW_MARGIN 24

typedef struct _LisseCanvasPreview LisseCanvasPreview;

/* Appends the filter and shows it; NULL with @error when GIMP cannot run
 * lisse:<effect> on @drawable (the op is not installed, or the drawable is
 * not a layer). */
LisseCanvasPreview *lisse_canvas_preview_new         (GimpDrawable          *drawable,
                                                      GimpProcedureConfig   *config,
                                                      const LisseEffectInfo *effect,
                                                      GError               **error);
void                lisse_canvas_preview_set_visible (LisseCanvasPreview *preview, gboolean visible);
gboolean            lisse_canvas_preview_get_visible (LisseCanvasPreview *preview);
/* The filter's id, for the test hooks' report. */
gint                lisse_canvas_preview_get_filter_id (LisseCanvasPreview *preview);
/* How many drafts and full-quality renders were handed to the filter. */
guint               lisse_canvas_preview_get_drafts    (LisseCanvasPreview *preview);
guint               lisse_canvas_preview_get_renders   (LisseCanvasPreview *preview);
/* Deletes the filter from the drawable and frees @preview. */
void                lisse_canvas_preview_free        (LisseCanvasPreview *preview);

typedef struct _LisseRegionPreview LisseRegionPreview;

/* Computes @preview's pictures from now on.  @status, when given, shows
 * why a preview could not be computed (no model, no guide yet).  For MASK
 * effects @mask is the painted mask (downscaled; resampled onto the
 * drawable here), for GUIDE effects the guide comes from the config's
 * "guide". */
LisseRegionPreview *lisse_region_preview_new    (GimpPreview           *preview,
                                                 GimpDrawable          *drawable,
                                                 GimpProcedureConfig   *config,
                                                 const LisseEffectInfo *effect,
                                                 LisseMaskModel        *mask,
                                                 GtkLabel              *status);
/* How many previews were computed, and whether the last one failed. */
guint               lisse_region_preview_get_count  (LisseRegionPreview *preview);
gboolean            lisse_region_preview_get_failed (LisseRegionPreview *preview);
/* How many drafts were shown, and (@latency_ms, may be NULL) the time from
 * the parameter change behind the last one to its picture, in ms (0 when
 * no parameter has changed). */
guint               lisse_region_preview_get_drafts (LisseRegionPreview *preview,
                                                     double             *latency_ms);
void                lisse_region_preview_free   (LisseRegionPreview *preview);

G_END_DECLS
