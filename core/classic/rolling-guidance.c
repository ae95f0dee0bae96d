/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Rolling guidance filter, Zhang, Shen, Xu & Jia, ECCV 2014.  Small
 * structures are removed by a Gaussian blur, then large-scale edges are
 * recovered by joint bilateral filters of the input guided by the previous
 * result:
 *   J¹     = G_σs ∗ I                         (a bilateral filter whose guide
 *                                               is constant)
 *   J^{t+1} = JBF(I; guide J^t; σs, σr)        t = 1 … iterations−1
 * so "iterations" counts the Gaussian step, as in the paper's code.
 *
 * The Gaussian sees only in-image pixels (box.h LISSE_BORDER_NORMALIZE),
 * like the joint bilateral steps, so J¹ is exactly their limit for a
 * constant guide.  The joint bilateral is joint-bilateral.c's with
 * LISSE_JBF_AUTO: the exact sum below σs = 3.5 (grey) / 5.5 (colour), which
 * covers the σs of 2–5 the paper mostly uses, the bilateral grid (grey) or
 * the permutohedral lattice (colour) above; the range distance is Euclidean
 * over the colour channels as in the paper.
 *
 * OpenCV's ximgproc::rollingGuidanceFilter differs in two ways: its first
 * step uses the input itself as guide (a plain bilateral filter) instead of
 * the Gaussian, and its bilateral sums the absolute differences of the
 * colour channels over a disc of radius 1.5σs.  tests/compare-opencv.py
 * compares with the paper's algorithm built from OpenCV's parts. */
#include "filter.h"
#include "i18n.h"
#include "filters-all.h"
#include "box.h"
#include "joint-bilateral.h"
#include "lisse-error.h"

#include <string.h>

static const LisseParamSpec rgf_params[] = {
  { "sigma-s", "σs", N_("Spatial standard deviation in pixels: structures "
    "smaller than about σs are removed"), 0.5, 100.0, 3.0, FALSE },
  { "sigma-r", "σr", N_("Range standard deviation in [0,1] intensity units"),
    0.001, 10.0, 0.1, FALSE },
  { "iterations", "n", N_("Steps, the first being the Gaussian blur"), 1, 50, 4, TRUE },
};

static LisseTensor *
rgf_run (const LisseTensor   *input,
         int                  n_color,
         const LisseTensor   *guide,
         const LisseParams   *params,
         const LisseProgress *progress,
         GError             **error)
{
  (void) guide;
  double ss = lisse_params_get (params, "sigma-s");
  double sr = lisse_params_get (params, "sigma-r");
  int n_iter = (int) lisse_params_get (params, "iterations");
  if (!(ss > 0 && sr > 0 && n_iter >= 1))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "rolling-guidance: sigma-s %g, sigma-r %g and iterations %d "
                   "must be positive", ss, sr, n_iter);
      return NULL;
    }
  const int w = input->w, h = input->h;
  LisseTensor *out = lisse_tensor_try_new (1, input->c, h, w, error);
  if (!out)
    return NULL;
  memcpy (out->data, input->data, lisse_tensor_numel (input) * sizeof (float));
  /* J^t lives in out's colour channels; J^{t+1} is made in tmp. */
  LisseTensor *tmp = n_iter > 1 ? lisse_tensor_try_new (1, n_color, h, w, error) : NULL;
  if (n_iter > 1 && !tmp)
    {
      lisse_tensor_free (out);
      return NULL;
    }

  const float *src[4], *J[4];
  float *Jw[4], *T[4];
  for (int c = 0; c < n_color; c++)
    {
      src[c] = lisse_tensor_channel (input, 0, c);
      J[c] = Jw[c] = lisse_tensor_channel (out, 0, c);
      if (tmp)
        T[c] = lisse_tensor_channel (tmp, 0, c);
      lisse_gaussian_blur (src[c], Jw[c], w, h, ss, LISSE_BORDER_NORMALIZE);
    }
  gboolean ok = lisse_progress_report (progress, 1.0 / n_iter, error);
  for (int t = 1; t < n_iter && ok; t++)
    {
      LisseProgress sub = lisse_progress_sub (progress, (double) t / n_iter,
                                              (t + 1.0) / n_iter);
      ok = lisse_joint_bilateral_planes (src, n_color, J, n_color, T, w, h, ss, sr,
                                         LISSE_JBF_AUTO, &sub, error);
      if (ok)
        for (int c = 0; c < n_color; c++)
          memcpy (Jw[c], T[c], (size_t) w * h * sizeof (float));
    }
  lisse_tensor_free (tmp);
  if (!ok)
    {
      lisse_tensor_free (out);
      return NULL;
    }
  return out;
}

const LisseFilterInfo lisse_filter_rolling_guidance = {
  .name = "rolling-guidance",
  .title = N_("Rolling guidance filter"),
  .reference = "Zhang et al. 2014",
  .params = rgf_params,
  .n_params = G_N_ELEMENTS (rgf_params),
  .guide = LISSE_GUIDE_NONE,
  .run = rgf_run,
  /* Peak memory, input and result included, in float planes (tools/bench/memory-cost, a
   * quarter added): measured 1.3 + 2.7 per channel. */
  .memory = { 8.0, 2.0, 4.0 },
};
