/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Fast guided upsampling (guided-upsample.h): the box downscale, the fit at
 * the small size (guided.c's coefficients) and the row-by-row upsampling of
 * the coefficients applied to the full-size image. */
#include "guided-upsample.h"

#include "guided.h"
#include "lisse-error.h"
#include "threads.h"

#include <math.h>
#include <string.h>

LisseTensor *
lisse_box_downscale (const LisseTensor *t, int f, GError **error)
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

/* out's first n_color channels = Σ_i â_{c,i} I_i + b̂_c, with â, b̂ the
 * small coefficient planes @coef (guided.h layout, the n_color first
 * planes of @image as the guide) interpolated to full size; the other
 * channels copied from @image. */
static void
apply_upsampled (const LisseTensor *image, int n_color, float *const *coef, int lw, int lh,
                 int f, LisseTensor *out)
{
  const int w = image->w, h = image->h, n_g = n_color;
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
lisse_guided_upsample_factor (int width, int height, long max_pixels)
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
lisse_guided_upsample (const LisseTensor *image, int n_color, const LisseTensor *small,
                       const LisseTensor *small_result, int f, int radius, double eps,
                       GError **error)
{
  g_return_val_if_fail (image && small && small_result, NULL);
  g_return_val_if_fail (n_color >= 1 && n_color <= 4 && n_color <= image->c, NULL);
  g_return_val_if_fail (small->c >= n_color && small_result->c >= n_color, NULL);
  g_return_val_if_fail (small->w == (image->w + f - 1) / f && small->h == (image->h + f - 1) / f,
                        NULL);
  g_return_val_if_fail (small_result->w == small->w && small_result->h == small->h, NULL);
  const int n_g = n_color;
  LisseTensor *out = NULL;
  const int lw = small->w, lh = small->h;
  const size_t plane = (size_t) lw * lh;
  const int n_coef = n_color * (n_g + 1);
  float *coef_data = g_try_malloc_n (plane * n_coef, sizeof (float));
  if (!coef_data)
    {
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, "out of memory for the guided upsampling");
      return NULL;
    }
  float *coef[4 * 5];   /* n_color ≤ 4 */
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
    apply_upsampled (image, n_color, coef, lw, lh, f, out);
  g_free (coef_data);
  return out;
}

