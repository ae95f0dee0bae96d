/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Draft runs (lisse_effect_run_draft(), effect.h): what a preview shows
 * while a slider moves, in a fraction of the full run's time.
 *
 * The image is averaged down by the smallest integer factor f that brings
 * it within the pixel budget, the effect runs there (its spatial parameters
 * scaled by 1/f, as for a zoomed-out preview), and the small result comes
 * back to full size by fast guided upsampling (He & Sun, "Fast Guided
 * Filter", 2015): in every 5×5 window of the small images a linear model
 * result ≈ a·image + b is fitted (the guided filter's, guided.h), its
 * coefficients are interpolated bilinearly to full size and applied to the
 * full-size image.  Where the effect keeps an edge or a texture the model
 * has a ≈ 1 and the full-size image's own detail comes through, sharp;
 * where the effect flattens, a ≈ 0 and the small result is interpolated.
 * The alternative, bilinear interpolation of the small result, blurs every
 * edge by f pixels: measured by tools/bench/draft-preview, which also
 * chose the fit's radius and ε (LISSE_DRAFT_RADIUS, LISSE_DRAFT_EPS in
 * effect-private.h; docs/performance.md).
 *
 * Memory: the small run, its C·(C+1) coefficient planes at the small size,
 * and the result; the upsampling interpolates the coefficients row by row
 * instead of making full-size planes of them. */
#include "effect-private.h"

#include "guided.h"
#include "lisse-error.h"
#include "threads.h"

#include <math.h>
#include <string.h>

LisseTensor *
lisse_draft_downscale (const LisseTensor *t, int f, GError **error)
{
  const int w = t->w, h = t->h, ow = (w + f - 1) / f, oh = (h + f - 1) / f;
  LisseTensor *out = lisse_tensor_try_new (1, t->c, oh, ow, error);
  if (!out)
    return NULL;
  const int nt = lisse_threads_get ();
#pragma omp parallel for num_threads (nt) schedule (static)
  for (int row = 0; row < t->c * oh; row++)
    {
      const int c = row / oh, oy = row % oh;
      const int y0 = oy * f, y1 = MIN (h, y0 + f);
      const float *src = lisse_tensor_channel (t, 0, c);
      float *dst = lisse_tensor_channel (out, 0, c) + (size_t) oy * ow;
      for (int ox = 0; ox < ow; ox++)
        {
          const int x0 = ox * f, x1 = MIN (w, x0 + f);
          double s = 0.0;
          for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
              s += src[(size_t) y * w + x];
          dst[ox] = (float) (s / ((y1 - y0) * (x1 - x0)));
        }
    }
  return out;
}

/* Where full-size pixel @i samples the small grid (n pixels, factor f):
 * the two neighbours and the second one's weight, as a bilinear resize
 * with align_corners off, clamped at the edges. */
static void
sample_position (int i, int f, int n, int *i0, int *i1, float *w1)
{
  double s = (i + 0.5) / f - 0.5;
  if (s <= 0.0)
    {
      *i0 = *i1 = 0;
      *w1 = 0.0f;
      return;
    }
  int k = (int) s;
  if (k >= n - 1)
    {
      *i0 = *i1 = n - 1;
      *w1 = 0.0f;
      return;
    }
  *i0 = k;
  *i1 = k + 1;
  *w1 = (float) (s - k);
}

/* out's colour channels = Σ_i â_{c,i} I_i + b̂_c, with â, b̂ the small
 * coefficient planes @coef (guided.h layout, n_g guide planes of @image)
 * interpolated to full size; alpha copied from @image. */
static void
apply_upsampled (const LisseTensor *image, int n_g, float *const *coef, int lw, int lh,
                 int f, LisseTensor *out)
{
  const int w = image->w, h = image->h, n_color = lisse_effect_n_color (image);
  const int n_coef = n_g + 1;
  int *x0 = g_new (int, w), *x1 = g_new (int, w);
  float *wx = g_new (float, w);
  for (int x = 0; x < w; x++)
    sample_position (x, f, lw, &x0[x], &x1[x], &wx[x]);

  const int nt = lisse_threads_get ();
#pragma omp parallel for num_threads (nt) schedule (static)
  for (int y = 0; y < h; y++)
    {
      int y0, y1;
      float wy;
      sample_position (y, f, lh, &y0, &y1, &wy);
      for (int c = 0; c < n_color; c++)
        {
          float *dst = lisse_tensor_channel (out, 0, c) + (size_t) y * w;
          for (int x = 0; x < w; x++)
            dst[x] = 0.0f;
          for (int k = 0; k < n_coef; k++)
            {
              const float *r0 = coef[c * n_coef + k] + (size_t) y0 * lw;
              const float *r1 = coef[c * n_coef + k] + (size_t) y1 * lw;
              const float *g = k < n_g ? lisse_tensor_channel (image, 0, k) + (size_t) y * w
                                       : NULL;
              for (int x = 0; x < w; x++)
                {
                  float top = r0[x0[x]] + wx[x] * (r0[x1[x]] - r0[x0[x]]);
                  float bottom = r1[x0[x]] + wx[x] * (r1[x1[x]] - r1[x0[x]]);
                  float v = top + wy * (bottom - top);
                  dst[x] += g ? v * g[x] : v;
                }
            }
        }
      for (int c = n_color; c < image->c; c++)
        memcpy (lisse_tensor_channel (out, 0, c) + (size_t) y * w,
                lisse_tensor_channel (image, 0, c) + (size_t) y * w, w * sizeof (float));
    }
  g_free (x0);
  g_free (x1);
  g_free (wx);
}

int
lisse_effect_draft_factor (int width, int height, long max_pixels)
{
  if (max_pixels <= 0 || (double) width * height <= (double) max_pixels)
    return 1;
  int f = (int) ceil (sqrt ((double) width * height / (double) max_pixels));
  /* ceil() of the block counts can leave it a little over the budget. */
  while ((double) ((width + f - 1) / f) * ((height + f - 1) / f) > (double) max_pixels)
    f++;
  return f;
}

LisseTensor *
lisse_draft_run (const LisseTensor *image, const LisseTensor *aux, double scale,
                 long max_pixels, int radius, double eps, LisseDraftRunFunc run, gpointer data,
                 const LisseProgress *progress, GError **error)
{
  const int f = lisse_effect_draft_factor (image->w, image->h, max_pixels);
  if (f == 1)
    return run (image, aux, scale, data, progress, error);

  /* The small run takes nearly all the time: it reports the progress. */
  LisseTensor *out = NULL;
  g_autoptr (LisseTensor) small = lisse_draft_downscale (image, f, error);
  g_autoptr (LisseTensor) small_aux = NULL;
  g_autoptr (LisseTensor) small_result = NULL;
  if (!small || (aux && !(small_aux = lisse_draft_downscale (aux, f, error))))
    return NULL;
  small_result = run (small, small_aux, scale / f, data, progress, error);
  if (!small_result)
    return NULL;
  g_return_val_if_fail (lisse_tensor_same_shape (small_result, small), NULL);

  const int n_color = lisse_effect_n_color (image), n_g = n_color;
  const int lw = small->w, lh = small->h;
  const size_t plane = (size_t) lw * lh;
  const int n_coef = n_color * (n_g + 1);
  float *coef_data = g_try_malloc_n (plane * n_coef, sizeof (float));
  if (!coef_data)
    {
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, "out of memory for the draft");
      return NULL;
    }
  float *coef[4 * 5];
  const float *I[4], *p[4];
  for (int k = 0; k < n_coef; k++)
    coef[k] = coef_data + k * plane;
  for (int c = 0; c < n_color; c++)
    {
      I[c] = lisse_tensor_channel (small, 0, c);
      p[c] = lisse_tensor_channel (small_result, 0, c);
    }
  gboolean fitted = TRUE;
  if (radius >= 0)
    fitted = lisse_guided_coefficients (I, n_g, p, n_color, lw, lh, radius, eps, coef, NULL,
                                        error);
  else
    for (int c = 0; c < n_color; c++)   /* a = 0, b = the small result: bilinear */
      {
        memset (coef[c * (n_g + 1)], 0, n_g * plane * sizeof (float));
        memcpy (coef[c * (n_g + 1) + n_g], p[c], plane * sizeof (float));
      }
  if (fitted && (out = lisse_tensor_try_new (1, image->c, image->h, image->w, error)))
    apply_upsampled (image, n_g, coef, lw, lh, f, out);
  g_free (coef_data);
  return out;
}

/* ---- the whole effect as a draft ---- */

typedef struct
{
  const LisseEffectInfo *info;
  const LisseParams     *params;
  const char            *choice;
} EffectRun;

static LisseTensor *
run_effect_small (const LisseTensor *image, const LisseTensor *aux, double scale, gpointer data,
                  const LisseProgress *progress, GError **error)
{
  const EffectRun *r = data;
  return r->info->run (r->info, image, aux, r->params, r->choice, scale, progress, error);
}

LisseTensor *
lisse_effect_draft_whole (const LisseEffectInfo *info, const LisseTensor *image,
                          const LisseTensor *aux, const LisseParams *params, const char *choice,
                          double scale, long max_pixels, int radius, double eps,
                          const LisseProgress *progress, GError **error)
{
  EffectRun r = { info, params, choice };
  LisseTensor *out = lisse_draft_run (image, aux, scale, max_pixels, radius, eps,
                                      run_effect_small, &r, progress, error);
  if (out)
    lisse_effect_clamp (out);
  return out;
}

/* ---- a network's smoothing as a draft ---- */

typedef struct
{
  const char *model;
  double      lambda_f, lambda_e;
} SmoothRun;

static LisseTensor *
run_smooth_small (const LisseTensor *image, const LisseTensor *aux, double scale, gpointer data,
                  const LisseProgress *progress, GError **error)
{
  const SmoothRun *r = data;
  return lisse_effect_smooth_with (r->model, image, r->lambda_f, r->lambda_e, NULL, progress,
                                   error);
}

LisseTensor *
lisse_effect_smooth_draft_with (const char *model, const LisseTensor *image, double lambda_f,
                                double lambda_e, long max_pixels,
                                const LisseProgress *progress, GError **error)
{
  SmoothRun r = { model, lambda_f, lambda_e };
  return lisse_draft_run (image, NULL, 1.0, max_pixels, LISSE_DRAFT_RADIUS, LISSE_DRAFT_EPS,
                          run_smooth_small, &r, progress, error);
}
