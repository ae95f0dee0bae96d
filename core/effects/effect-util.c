/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Helpers the effects share (effect-private.h): running a λf-conditioned
 * network through the cache, clamping, alpha, luma and a Gaussian blur. */
#include "effect-private.h"

#include "lisse-error.h"
#include "threads.h"

#include <math.h>
#include <string.h>

LisseTensor *
lisse_effect_smooth_with (const char *model, const LisseTensor *image,
                          double lambda_f, double lambda_e,
                          const LisseTensor *lambda_map,
                          const LisseProgress *progress, GError **error)
{
  LisseNet *net = lisse_effect_net_acquire (model, error);
  if (!net)
    return NULL;
  LisseTensor *out = NULL;
  LisseParams params;
  lisse_net_params_init (net, &params);
  GError *local = NULL;
  if (!lisse_params_set (&params, "lambda-f", lambda_f, &local)
      || (!isnan (lambda_e) && lisse_params_find (&params, "lambda-e")
          && !lisse_params_set (&params, "lambda-e", lambda_e, &local)))
    {
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "model '%s': %s", model, local->message);
      g_error_free (local);
      goto done;
    }
  if (lambda_map && net->info->n_map_channels < 1)
    {
      lisse_fail (error, LISSE_ERROR_BAD_MODEL,
                  "model '%s' (architecture '%s') takes no per-pixel λf map",
                  model, net->info->architecture);
      goto done;
    }
  out = lisse_net_run_map (net, image, &params, lambda_map, 0, progress, error);
done:
  lisse_effect_net_release (net);
  return out;
}

void
lisse_effect_clamp (LisseTensor *image)
{
  const int nc = lisse_effect_n_color (image);
  const size_t plane = lisse_tensor_plane (image);
  for (int c = 0; c < nc; c++)
    {
      float *p = lisse_tensor_channel (image, 0, c);
      for (size_t i = 0; i < plane; i++)
        /* NaN becomes 0: a display value must be a value. */
        p[i] = p[i] > 0.0f ? (p[i] < 1.0f ? p[i] : 1.0f) : 0.0f;
    }
}

void
lisse_effect_copy_alpha (const LisseTensor *src, LisseTensor *dst)
{
  if (src->c == 2 || src->c == 4)
    memcpy (lisse_tensor_channel (dst, 0, dst->c - 1),
            lisse_tensor_channel (src, 0, src->c - 1),
            lisse_tensor_plane (src) * sizeof (float));
}

void
lisse_effect_luma (const LisseTensor *image, float *out)
{
  const size_t plane = lisse_tensor_plane (image);
  if (lisse_effect_n_color (image) == 1)
    {
      memcpy (out, lisse_tensor_channel (image, 0, 0), plane * sizeof (float));
      return;
    }
  const float *r = lisse_tensor_channel (image, 0, 0);
  const float *g = lisse_tensor_channel (image, 0, 1);
  const float *b = lisse_tensor_channel (image, 0, 2);
  for (size_t i = 0; i < plane; i++)
    out[i] = 0.2126f * r[i] + 0.7152f * g[i] + 0.0722f * b[i];
}

/* Mirror index i into [0, n): …cba|abc… (edge sample repeated). */
static inline int
mirror (int i, int n)
{
  if (n == 1)
    return 0;
  const int period = 2 * n;
  i %= period;
  if (i < 0)
    i += period;
  return i < n ? i : period - 1 - i;
}

void
lisse_effect_gaussian (const float *in, float *out, int w, int h, double sigma)
{
  const size_t plane = (size_t) w * h;
  if (!(sigma > 0.0))
    {
      memcpy (out, in, plane * sizeof (float));
      return;
    }
  const int r = (int) ceil (3.0 * sigma);
  float *k = g_new (float, 2 * r + 1);
  double sum = 0.0;
  for (int i = -r; i <= r; i++)
    sum += k[i + r] = (float) exp (-0.5 * i * i / (sigma * sigma));
  for (int i = 0; i <= 2 * r; i++)
    k[i] = (float) (k[i] / sum);

  float *tmp = g_new (float, plane);
  const int nt = lisse_threads_get ();
  /* Rows: each row padded with its mirrored borders, then convolved.  Each
   * output value is one fixed sum whichever thread computes it. */
#pragma omp parallel num_threads (nt)
  {
    float *line = g_new (float, w + 2 * r);
#pragma omp for schedule (static)
    for (int y = 0; y < h; y++)
      {
        const float *src = in + (size_t) y * w;
        for (int x = -r; x < w + r; x++)
          line[x + r] = src[mirror (x, w)];
        float *dst = tmp + (size_t) y * w;
        for (int x = 0; x < w; x++)
          {
            float acc = 0.0f;
            for (int i = 0; i <= 2 * r; i++)
              acc += k[i] * line[x + i];
            dst[x] = acc;
          }
      }
    g_free (line);
  }
  /* Columns, as weighted sums of whole (mirrored) rows: cache-friendly. */
#pragma omp parallel for num_threads (nt) schedule (static)
  for (int y = 0; y < h; y++)
    {
      float *dst = out + (size_t) y * w;
      for (int x = 0; x < w; x++)
        dst[x] = 0.0f;
      for (int i = 0; i <= 2 * r; i++)
        {
          const float *src = tmp + (size_t) mirror (y + i - r, h) * w;
          const float ki = k[i];
          for (int x = 0; x < w; x++)
            dst[x] += ki * src[x];
        }
    }
  g_free (tmp);
  g_free (k);
}
