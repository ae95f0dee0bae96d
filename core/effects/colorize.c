/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Colourisation from strokes with learned kernels (Fang et al. 2019, §4.3
 * and Fig. 9), Joint Filter's method "learned-colorize".  The set-up is
 * Levin et al. 2004's: the image is a gray photograph with colour strokes
 * painted on it, the guide is the gray photograph.  The strokes' chroma is
 * spread over the image along the guide's edges; the luma is the guide's.
 *
 * With Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' and the chroma
 * U = B' − Y', V = R' − Y' of the image, a pixel is a stroke when
 * |U| + |V| > STROKE_CHROMA.  The spreading is normalised convolution with
 * the kernels the fang19 model computes from the guide (the paper divides
 * the filtered colour by the filtered mask):
 *   pass k: (a, b, c) = K_guide (U·M, V·M, M)      M: 1 where known, else 0
 *           a pixel not yet known with c > KNOWN_WEIGHT becomes known,
 *           with U = a/c, V = b/c; known pixels keep their values;
 * until every pixel is known or MAX_PASSES passes have run (pixels still
 * unknown then, out of every stroke's reach, get no chroma).  One pass
 * reaches as far as the model's kernels (fang19-rtv: about 70 px at λ
 * 0.01); freezing what is known keeps the strokes' colours from being
 * averaged away over the passes.  The result is
 *   R' = Y'g + V,  B' = Y'g + U,  G' = (Y'g − 0.2126 R' − 0.0722 B') / 0.7152
 * with Y'g the guide's luma, clamped to [0, 1].  Without strokes the
 * result is the guide's luma, gray; a gray image (it cannot hold colour)
 * gets the guide's luma. */
#include "effect-private.h"

#include "lisse-error.h"

#include <math.h>
#include <string.h>

/* A stroke's least chroma |U| + |V| (5/255): well above the chroma that
 * 8-bit rounding and mild compression leave in a gray photo. */
#define STROKE_CHROMA (5.0f / 255.0f)
/* The least filtered-mask weight that makes a pixel known: a pixel with
 * less than this share of its kernel on known pixels waits for a later
 * pass. */
#define KNOWN_WEIGHT 1e-3f
#define MAX_PASSES 24

static LisseTensor *
colorize (const LisseNet *net, const char *model, const LisseTensor *image,
          const LisseTensor *guide, double lambda_scale, const LisseProgress *progress,
          GError **error)
{
  const int h = image->h, w = image->w;
  const size_t plane = (size_t) h * w;
  g_autofree float *yg = g_try_malloc (plane * sizeof (float));
  g_autoptr (LisseTensor) uvm = lisse_tensor_try_new (1, 3, h, w, error);
  g_autoptr (LisseTensor) map = uvm ? lisse_effect_guide_rgb (guide, error) : NULL;
  g_autofree guint8 *known = g_try_malloc0 (plane);
  if (!map)
    return NULL;
  if (!yg || !known)
    {
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, "colourisation: out of memory at %d×%d", w, h);
      return NULL;
    }
  lisse_effect_luma (guide, yg);
  float *u = lisse_tensor_channel (uvm, 0, 0), *v = lisse_tensor_channel (uvm, 0, 1);
  size_t n_known = 0;
  if (lisse_effect_n_color (image) == 3)
    {
      const float *r = lisse_tensor_channel (image, 0, 0), *g = lisse_tensor_channel (image, 0, 1),
                  *b = lisse_tensor_channel (image, 0, 2);
      for (size_t i = 0; i < plane; i++)
        {
          const float y = 0.2126f * r[i] + 0.7152f * g[i] + 0.0722f * b[i];
          const float cu = b[i] - y, cv = r[i] - y;
          if (fabsf (cu) + fabsf (cv) > STROKE_CHROMA)
            {
              u[i] = cu;
              v[i] = cv;
              known[i] = 1;
              n_known++;
            }
        }
    }

  for (int pass = 0; n_known > 0 && n_known < plane && pass < MAX_PASSES; pass++)
    {
      /* The target: the known chroma times the mask, and the mask. */
      float *m = lisse_tensor_channel (uvm, 0, 2);
      for (size_t i = 0; i < plane; i++)
        {
          m[i] = known[i];
          if (!known[i])
            u[i] = v[i] = 0.0f;
        }
      LisseProgress sub = lisse_progress_sub (progress, (double) pass / MAX_PASSES,
                                              (double) (pass + 1) / MAX_PASSES);
      g_autoptr (LisseTensor) f = lisse_effect_fang19_run (net, model, uvm, lambda_scale, map,
                                                           &sub, error);
      if (!f)
        return NULL;
      const float *fa = lisse_tensor_channel (f, 0, 0), *fb = lisse_tensor_channel (f, 0, 1),
                  *fc = lisse_tensor_channel (f, 0, 2);
      /* Fill after the whole pass, so this pass's new pixels do not feed it. */
      for (size_t i = 0; i < plane; i++)
        if (!known[i] && fc[i] > KNOWN_WEIGHT)
          {
            u[i] = fa[i] / fc[i];
            v[i] = fb[i] / fc[i];
            known[i] = 2;
          }
      for (size_t i = 0; i < plane; i++)
        if (known[i] == 2)
          {
            known[i] = 1;
            n_known++;
          }
      g_debug ("colourisation pass %d: %zu of %zu pixels known", pass + 1, n_known, plane);
    }
  if (!lisse_progress_report (progress, 1.0, error))
    return NULL;

  LisseTensor *out = lisse_tensor_try_new (1, image->c, h, w, error);
  if (!out)
    return NULL;
  if (lisse_effect_n_color (image) == 3)
    {
      float *r = lisse_tensor_channel (out, 0, 0), *g = lisse_tensor_channel (out, 0, 1),
            *b = lisse_tensor_channel (out, 0, 2);
      for (size_t i = 0; i < plane; i++)
        {
          const float cu = known[i] ? u[i] : 0.0f, cv = known[i] ? v[i] : 0.0f;
          r[i] = yg[i] + cv;
          b[i] = yg[i] + cu;
          g[i] = (yg[i] - 0.2126f * r[i] - 0.0722f * b[i]) / 0.7152f;
        }
    }
  else
    memcpy (lisse_tensor_channel (out, 0, 0), yg, plane * sizeof (float));
  if (image->c == 2 || image->c == 4)   /* alpha, untouched */
    memcpy (lisse_tensor_channel (out, 0, image->c - 1),
            lisse_tensor_channel (image, 0, image->c - 1), plane * sizeof (float));
  lisse_effect_clamp (out);
  return out;
}

LisseTensor *
lisse_effect_colorize_strokes (const char *model, const LisseTensor *image,
                               const LisseTensor *guide, double lambda_scale,
                               const LisseProgress *progress, GError **error)
{
  /* The model is loaded (and checked) even when there are no strokes to
   * spread: a missing or broken one is an error whatever the image
   * holds.  One network and one guide map serve every pass. */
  LisseNet *net = lisse_effect_net_acquire_arch (model, "fang19", error);
  if (!net)
    return NULL;
  LisseTensor *out = colorize (net, model, image, guide, lambda_scale, progress, error);
  lisse_effect_net_release (net);
  return out;
}
