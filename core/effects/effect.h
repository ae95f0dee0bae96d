/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Effects: what a user applies — Smooth, Magnify Detail, Remove Texture,
 * Content-Aware, Joint Filter, Abstraction, Pencil Sketch, Fast Filter —
 * declared once and run by one function each.  The GEGL operations
 * (core/gegl/effect-ops.c), the GIMP procedures (plugin/) and the command
 * line (`lisse effect`) are all generated from this registry, so a
 * parameter's name, range and default, the list of choices (models,
 * methods, modes) and the pixels computed are the same everywhere: a
 * dialog's on-canvas preview (the GEGL op in GIMP's core) and the
 * plug-in's final result (the plug-in process) come from the same
 * lisse_effect_run().
 *
 * An effect sees non-linear sRGB (R'G'B') floats, 1–4 channels (gray, gray +
 * alpha, RGB, RGBA); alpha is copied through untouched, gray is handled as
 * the networks handle it (net.h).  NaN and ±∞ are replaced before it runs
 * (finite.h), and an image beyond the memory budget is refused before it
 * runs (memory-budget.h).  Output values are clamped to [0, 1] (effects
 * are for display; the raw networks are unclamped).
 *
 * Effects that run a network take the model through their "model" choice:
 * the choice values are model names resolved through the model search path
 * (model.h, LISSE_MODEL_PATH), and loaded networks are cached process-wide
 * (lisse_effect_cache_clear() frees them). */
#pragma once

#include "memory-budget.h"
#include "params.h"
#include "progress.h"
#include "tensor.h"

#include <glib.h>

G_BEGIN_DECLS

#define LISSE_EFFECT_MAX_CHOICES 8

typedef enum
{
  LISSE_EFFECT_AUX_NONE,   /* one input */
  LISSE_EFFECT_AUX_MASK,   /* 1×1×H×W in [0,1]: a saliency / selection mask  */
  LISSE_EFFECT_AUX_GUIDE,  /* 1×C×H×W, C = 1..4: a guide image (alpha unused) */
} LisseEffectAux;

/* One value of a choice: nick is the Script-Fu / --choice / GEGL enum nick
 * ("fan18-smooth", "background"), label what a dialog shows ("Fan 2018
 * (learned)", "RTV (classical filter)"). */
typedef struct
{
  const char *nick;
  const char *label;
} LisseEffectChoiceValue;

/* A choice argument ("model", "method", "mode"), or name == NULL for none. */
typedef struct
{
  const char            *name;
  const char            *label;
  const char            *blurb;
  LisseEffectChoiceValue values[LISSE_EFFECT_MAX_CHOICES];  /* ends at nick == NULL */
  int                    def;        /* index of the default value */
} LisseEffectChoice;

typedef struct _LisseEffectInfo LisseEffectInfo;

/* The peak memory in bytes of a run with @choice (a nick, never NULL) on a
 * @width × @height image of @channels channels (a mask's or guide's
 * included), the input and result included: for effects whose choices cost
 * differently, or not in LisseMemoryCost's form (a network that runs the
 * whole image grows with it up to its whole-image size, then tiles). */
typedef guint64 (*LisseEffectMemoryFunc) (const LisseEffectInfo *info,
                                          const char            *choice,
                                          int                    width,
                                          int                    height,
                                          int                    channels);

/* Runs the effect.
 * @image: 1×C×H×W, C = 1..4, non-linear sRGB in [0,1] (alpha last).
 * @aux: NULL when info->aux is NONE (or when an optional aux is not given,
 *   see the effect's doc); else 1×1×H×W (MASK) or 1×C'×H×W (GUIDE), the same
 *   H and W as @image.
 * @params: made from info->params (lisse_params_init), range-checked.
 * @choice: one of info->choice.values[].nick, or NULL for the default.
 * @scale: 1.0 for a full-resolution run.  A preview of a zoomed-out view
 *   passes the image already downscaled by @scale (0 < scale ≤ 1, e.g. 1/2^level
 *   for GEGL level > 0); spatial parameters (radii, σs) are multiplied by
 *   @scale so the preview looks like the full result, and no network is run
 *   at more than the given image's resolution.
 * @progress: may be NULL; reports in [0,1], cancels with LISSE_ERROR_CANCELLED.
 * Returns a new 1×C×H×W tensor, or NULL with @error set (one line, e.g.
 * "model 'fan18-smooth' not found in data/models:/usr/share/lisse/models"). */
typedef LisseTensor *(*LisseEffectRunFunc) (const LisseEffectInfo *info,
                                            const LisseTensor     *image,
                                            const LisseTensor     *aux,
                                            const LisseParams     *params,
                                            const char            *choice,
                                            double                 scale,
                                            const LisseProgress   *progress,
                                            GError               **error);

/* An effect's own draft (lisse_effect_run_draft()): the run's arguments and
 * the pixel budget. */
typedef LisseTensor *(*LisseEffectDraftFunc) (const LisseEffectInfo *info,
                                              const LisseTensor     *image,
                                              const LisseTensor     *aux,
                                              const LisseParams     *params,
                                              const char            *choice,
                                              double                 scale,
                                              long                   max_pixels,
                                              const LisseProgress   *progress,
                                              GError               **error);

struct _LisseEffectInfo
{
  const char            *name;        /* "smooth": lisse:smooth, plug-in-lisse-smooth */
  const char            *title;       /* "Smooth" (menu label adds "…") */
  const char            *blurb;       /* one sentence: what the user gets */
  const char            *reference;   /* "Fan et al. 2018, §4" */
  const LisseParamSpec  *params;      /* names as in the papers: lambda-f, lambda-e, gain */
  int                    n_params;
  LisseEffectChoice      choice;      /* model / method / mode; name NULL: none */
  LisseEffectAux         aux;
  const char            *aux_label;   /* "Mask", "Guide" */
  gboolean               aux_required;  /* FALSE: aux may be NULL (e.g. content-aware
                                           falls back to automatic saliency) */
  LisseEffectRunFunc     run;
  /* NULL: a draft runs the whole effect at reduced size (draft.c).  Else
   * the effect's own draft, for effects whose work after the network does
   * not survive that (thin lines, a pencil texture): they draft only their
   * network and draw the rest at full size. */
  LisseEffectDraftFunc   draft;
  /* Peak memory of a run, the input and result included, for the worst of
   * its choices (memory-budget.h); all zero: a cautious default. */
  LisseMemoryCost        memory;
  /* NULL: .memory for every choice.  Else the cost of each choice, which
   * may use .memory for those it does not set apart. */
  LisseEffectMemoryFunc  memory_for;
};

/* NULL-terminated, stable order: smooth, magnify-detail, remove-texture,
 * content-aware, joint-filter, abstraction, pencil-sketch, fast-filter. */
const LisseEffectInfo *const *lisse_effects      (void);
const LisseEffectInfo        *lisse_effect_find  (const char *name);

/* Checks the arguments (shapes, aux presence, choice nick valid, scale in
 * (0,1]) and calls info->run.  Every caller goes through this. */
LisseTensor *lisse_effect_run (const LisseEffectInfo *info,
                               const LisseTensor     *image,
                               const LisseTensor     *aux,
                               const LisseParams     *params,
                               const char            *choice,
                               double                 scale,
                               const LisseProgress   *progress,
                               GError               **error);

/* What a preview shows while a parameter changes: a quick approximation of
 * lisse_effect_run() with the same arguments, checks and errors.  The image
 * (and @aux) are averaged down by the smallest integer factor f that leaves
 * at most @max_pixels pixels (lisse_effect_draft_factor()), the effect runs
 * there at @scale / f, and the result is brought back to full size by fast
 * guided upsampling against @image, which restores the detail the small run
 * kept (draft.c).  An image within @max_pixels, or @max_pixels <= 0, runs
 * exactly as lisse_effect_run().  LISSE_DRAFT_PIXELS is the budget the
 * previews use: chosen so that the slowest shipped effect drafts a 1 MP view
 * within 0.3 s on two cores (tools/bench/draft-preview,
 * docs/performance.md). */
#define LISSE_DRAFT_PIXELS 32768
LisseTensor *lisse_effect_run_draft (const LisseEffectInfo *info,
                                     const LisseTensor     *image,
                                     const LisseTensor     *aux,
                                     const LisseParams     *params,
                                     const char            *choice,
                                     double                 scale,
                                     long                   max_pixels,
                                     const LisseProgress   *progress,
                                     GError               **error);

/* The factor f by which lisse_effect_run_draft() shrinks a @width × @height
 * image for @max_pixels: 1 when it fits. */
int          lisse_effect_draft_factor (int width, int height, long max_pixels);

/* The peak memory in bytes of a run with @choice (NULL: the default) on a
 * @width × @height image of @channels channels, a mask's or guide's
 * included: info->memory_for when set, else info->memory (or a cautious
 * default when that is all zero). */
guint64      lisse_effect_memory_bytes (const LisseEffectInfo *info, const char *choice,
                                        int width, int height, int channels);

/* Whether a run with @choice (NULL: the default) on a @width × @height
 * image of @channels channels, with a mask or guide of @aux_channels (0:
 * none), fits the memory budget (memory-budget.h); FALSE with a one-line
 * error when it does not.  Front ends call this before they allocate the
 * image; lisse_effect_run() checks it again. */
gboolean     lisse_effect_check_memory (const LisseEffectInfo *info, const char *choice,
                                        int width, int height, int channels,
                                        int aux_channels, GError **error);

/* Index of @nick in info->choice.values, or -1. */
int          lisse_effect_choice_index (const LisseEffectInfo *info, const char *nick);

/* Frees the process-wide cache of loaded networks. */
void         lisse_effect_cache_clear  (void);

G_END_DECLS
