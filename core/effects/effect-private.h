/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the effect files share: the process-wide network cache, a "smooth
 * with a fan18-like network" helper, and small per-plane image tools
 * (luma, Gaussian blur, clamping).  Private to core/effects/. */
#pragma once

#include "effect.h"
#include "net.h"

G_BEGIN_DECLS

/* The colour channels of a 1..4-channel image (alpha, when present, last). */
static inline int
lisse_effect_n_color (const LisseTensor *image)
{
  return (image->c == 2 || image->c == 4) ? image->c - 1 : image->c;
}

/* A loaded network from the cache, by model name or path (model.h search
 * path), loaded on first use and reloaded when the file changed (mtime or
 * size).  The network stays valid until lisse_effect_net_release(), even if
 * the cache drops it meanwhile.  Fails with a one-line error when the model
 * is not found, cannot be read, or has no "lambda-f" parameter (an effect
 * needs a network conditioned on λf). */
LisseNet    *lisse_effect_net_acquire (const char *model, GError **error);
/* Same for a network of one @architecture ("csgis"), whatever its
 * parameters; a file of another architecture fails with one line naming
 * both. */
LisseNet    *lisse_effect_net_acquire_arch (const char *model, const char *architecture,
                                            GError **error);
void         lisse_effect_net_release (LisseNet *net);

/* Self-ensemble (ensemble.c): the flips and rotations of the square, 8. */
#define LISSE_ENSEMBLE_MAX 8

/* @image (1×C×H×W) under transform @k (0 … 7, ensemble.c's table), or with
 * @inverse, the image that transform @k maps to @image. */
LisseTensor *lisse_effect_ensemble_transform (const LisseTensor *image, int k,
                                              gboolean inverse, GError **error);

/* lisse_net_run (@net, @image) averaged over the first @n (1 … 8) of those
 * transforms: each run on the transformed image, brought back.  Colour is
 * averaged, alpha is the image's; @n 1 is lisse_net_run itself.  Not
 * clamped. */
LisseTensor *lisse_effect_net_run_ensemble (const LisseNet *net, const LisseTensor *image,
                                            int n, const LisseProgress *progress,
                                            GError **error);

/* Runs @model over @image (net.h handles gray and alpha, and tiles) at λf =
 * @lambda_f — or the per-pixel λf of @lambda_map (1×1×H×W) when not NULL —
 * and λe = @lambda_e (NAN: the network's default).  The result is NOT
 * clamped.  Errors name the model. */
LisseTensor *lisse_effect_smooth_with (const char          *model,
                                       const LisseTensor   *image,
                                       double               lambda_f,
                                       double               lambda_e,
                                       const LisseTensor   *lambda_map,
                                       const LisseProgress *progress,
                                       GError             **error);

/* The λ a Fang 2019 model (architecture "fang19") runs at for @lambda_scale:
 * @lambda_scale × the model's reference λ (its default), brought to the
 * nearest end of the λ range it was trained on. */
double       lisse_effect_fang19_lambda (const LisseNet *net, double lambda_scale);

/* @guide (1×C×H×W, C = 1..4) as the 1×3×H×W R'G'B' guide fang19 takes: a
 * view of the colour planes of an RGB(A) guide (valid while @guide is), or
 * a gray guide repeated. */
LisseTensor *lisse_effect_guide_rgb     (const LisseTensor *guide, GError **error);

/* The loaded fang19 network @net (named @model in errors) over @image at
 * lisse_effect_fang19_lambda (@lambda_scale), its kernels computed from
 * @map (lisse_effect_guide_rgb()) or, when NULL, from @image.  Not
 * clamped.  For callers that run one network several times. */
LisseTensor *lisse_effect_fang19_run    (const LisseNet      *net,
                                         const char          *model,
                                         const LisseTensor   *image,
                                         double               lambda_scale,
                                         const LisseTensor   *map,
                                         const LisseProgress *progress,
                                         GError             **error);

/* Runs the Fang 2019 model @model over @image at
 * lisse_effect_fang19_lambda (@lambda_scale), its kernels computed from
 * @guide (1×C×H×W, C = 1..4, the same size: gray repeated to R'G'B',
 * alpha unused) or, when @guide is NULL, from @image itself.  The result
 * is NOT clamped.  Errors name the model. */
LisseTensor *lisse_effect_fang19_with   (const char          *model,
                                         const LisseTensor   *image,
                                         double               lambda_scale,
                                         const LisseTensor   *guide,
                                         const LisseProgress *progress,
                                         GError             **error);

/* Colourisation from strokes (colorize.c): the colour strokes painted on
 * the gray @image spread along the edges of @guide (the same size, 1..4
 * channels) by the kernels of the fang19 model @model at @lambda_scale
 * (lisse_effect_fang19_lambda), the luma taken from @guide.  Clamped;
 * alpha copied from @image. */
LisseTensor *lisse_effect_colorize_strokes (const char          *model,
                                            const LisseTensor   *image,
                                            const LisseTensor   *guide,
                                            double               lambda_scale,
                                            const LisseProgress *progress,
                                            GError             **error);

/* Clamps the colour channels of @image to [0, 1] in place (alpha is left
 * as it is). */
void         lisse_effect_clamp       (LisseTensor *image);

/* Luma Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' of the colour channels into
 * @out (H×W floats); gray images give their one channel. */
void         lisse_effect_luma        (const LisseTensor *image, float *out);

/* What lisse_draft_run() runs at the reduced size: @image (and @aux)
 * shrunk, @scale already divided by the factor. */
typedef LisseTensor *(*LisseDraftRunFunc) (const LisseTensor   *image,
                                           const LisseTensor   *aux,
                                           double               scale,
                                           gpointer             data,
                                           const LisseProgress *progress,
                                           GError             **error);

/* The draft machinery (draft.c): @run on @image and @aux averaged down to
 * at most @max_pixels pixels, its result (the same shape as its input)
 * brought back to @image's size by guided upsampling against @image with
 * the fit @radius, @eps (radius < 0: bilinear); alpha from @image.  Not
 * clamped.  Within @max_pixels, @run on @image itself. */
LisseTensor *lisse_draft_run          (const LisseTensor     *image,
                                       const LisseTensor     *aux,
                                       double                 scale,
                                       long                   max_pixels,
                                       int                    radius,
                                       double                 eps,
                                       LisseDraftRunFunc      run,
                                       gpointer               data,
                                       const LisseProgress   *progress,
                                       GError               **error);

/* The whole effect run small and upsampled through lisse_draft_run() with
 * the fit @radius, @eps (radius < 0: plain bilinear upsampling of the small
 * result, the bench's baseline), clamped.  lisse_effect_run_draft() runs it
 * at the default fit for an effect without its own draft; an effect's own
 * draft may call it with another budget; the bench with other fits. */
LisseTensor *lisse_effect_draft_whole (const LisseEffectInfo *info,
                                       const LisseTensor     *image,
                                       const LisseTensor     *aux,
                                       const LisseParams     *params,
                                       const char            *choice,
                                       double                 scale,
                                       long                   max_pixels,
                                       int                    radius,
                                       double                 eps,
                                       const LisseProgress   *progress,
                                       GError               **error);

/* lisse_effect_smooth_with() (no λ map) as a draft at @max_pixels: for
 * effects that draft only their network and do the rest at full size
 * (LisseEffectInfo.draft).  @max_pixels 0: the full smoothing. */
LisseTensor *lisse_effect_smooth_draft_with (const char          *model,
                                             const LisseTensor   *image,
                                             double               lambda_f,
                                             double               lambda_e,
                                             long                 max_pixels,
                                             const LisseProgress *progress,
                                             GError             **error);

/* The guided fit of the draft's upsampling at the small size (draft.c):
 * radius 2 (5×5 windows) and ε in squared [0,1] units, chosen with
 * tools/bench/draft-preview (docs/performance.md). */
#define LISSE_DRAFT_RADIUS 2
#define LISSE_DRAFT_EPS 1e-5


G_END_DECLS
