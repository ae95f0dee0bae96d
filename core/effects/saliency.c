/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Frequency-tuned saliency (saliency.h).  Following Achanta et al. 2009:
 * S(x) = ‖Lab_μ − Lab_blur(x)‖, with Lab_μ the mean CIELAB colour of the
 * image and Lab_blur the image blurred by the 5×5 binomial kernel
 * ([1 4 6 4 1]/16 each way, a small Gaussian that removes noise and fine
 * texture).  Colours: sRGB decoded to linear, to XYZ (D65), to CIELAB.
 * The map is then divided by its maximum. */
#include "saliency.h"

#include "effect-private.h"
#include "lisse-error.h"

#include <math.h>

static inline double
srgb_to_linear (double v)
{
  v = CLAMP (v, 0.0, 1.0);
  return v <= 0.04045 ? v / 12.92 : pow ((v + 0.055) / 1.055, 2.4);
}

static inline double
lab_f (double t)
{
  const double d = 6.0 / 29.0;
  return t > d * d * d ? cbrt (t) : t / (3.0 * d * d) + 4.0 / 29.0;
}

static inline int
clampi (int i, int n)
{
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

/* 5-tap binomial blur of one plane, edges replicated, rows then columns. */
static void
binomial5 (float *p, float *tmp, int w, int h)
{
  static const float k[5] = { 1 / 16.f, 4 / 16.f, 6 / 16.f, 4 / 16.f, 1 / 16.f };
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        float acc = 0.0f;
        for (int i = -2; i <= 2; i++)
          acc += k[i + 2] * p[(size_t) y * w + clampi (x + i, w)];
        tmp[(size_t) y * w + x] = acc;
      }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        float acc = 0.0f;
        for (int i = -2; i <= 2; i++)
          acc += k[i + 2] * tmp[(size_t) clampi (y + i, h) * w + x];
        p[(size_t) y * w + x] = acc;
      }
}

LisseTensor *
lisse_saliency_frequency_tuned (const LisseTensor *image, GError **error)
{
  if (!image || !image->data || image->n != 1 || image->c < 1 || image->c > 4
      || image->h < 1 || image->w < 1)
    {
      lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "saliency: the image must be 1×C×H×W "
                  "with 1 to 4 channels");
      return NULL;
    }
  const int w = image->w, h = image->h;
  const size_t plane = lisse_tensor_plane (image);
  const int nc = lisse_effect_n_color (image);
  LisseTensor *lab = lisse_tensor_try_new (1, 3, h, w, error);
  if (!lab)
    return NULL;
  float *L = lisse_tensor_channel (lab, 0, 0);
  float *A = lisse_tensor_channel (lab, 0, 1);
  float *B = lisse_tensor_channel (lab, 0, 2);
  const float *r = lisse_tensor_channel (image, 0, 0);
  const float *g = nc == 3 ? lisse_tensor_channel (image, 0, 1) : r;
  const float *b = nc == 3 ? lisse_tensor_channel (image, 0, 2) : r;
  /* D65 white. */
  const double xn = 0.95047, yn = 1.0, zn = 1.08883;
  for (size_t i = 0; i < plane; i++)
    {
      const double rl = srgb_to_linear (r[i]), gl = srgb_to_linear (g[i]), bl = srgb_to_linear (b[i]);
      const double X = 0.4124564 * rl + 0.3575761 * gl + 0.1804375 * bl;
      const double Y = 0.2126729 * rl + 0.7151522 * gl + 0.0721750 * bl;
      const double Z = 0.0193339 * rl + 0.1191920 * gl + 0.9503041 * bl;
      const double fx = lab_f (X / xn), fy = lab_f (Y / yn), fz = lab_f (Z / zn);
      L[i] = (float) (116.0 * fy - 16.0);
      A[i] = (float) (500.0 * (fx - fy));
      B[i] = (float) (200.0 * (fy - fz));
    }

  double mean[3] = { 0, 0, 0 };
  for (int c = 0; c < 3; c++)
    {
      const float *p = lisse_tensor_channel (lab, 0, c);
      for (size_t i = 0; i < plane; i++)
        mean[c] += p[i];
      mean[c] /= (double) plane;
    }

  LisseTensor *out = lisse_tensor_try_new (1, 1, h, w, error);
  if (!out)
    {
      lisse_tensor_free (lab);
      return NULL;
    }
  float *s = lisse_tensor_channel (out, 0, 0);
  /* The output plane doubles as the blur's scratch before it is written. */
  for (int c = 0; c < 3; c++)
    binomial5 (lisse_tensor_channel (lab, 0, c), s, w, h);
  float max = 0.0f;
  for (size_t i = 0; i < plane; i++)
    {
      const double dl = L[i] - mean[0], da = A[i] - mean[1], db = B[i] - mean[2];
      s[i] = (float) sqrt (dl * dl + da * da + db * db);
      max = MAX (max, s[i]);
    }
  if (max > 0.0f)
    for (size_t i = 0; i < plane; i++)
      s[i] /= max;
  lisse_tensor_free (lab);
  return out;
}

LisseTensor *
lisse_saliency_auto_mask (const LisseTensor *image, GError **error)
{
  LisseTensor *m = lisse_saliency_frequency_tuned (image, error);
  if (!m)
    return NULL;
  float *s = lisse_tensor_channel (m, 0, 0);
  const size_t plane = lisse_tensor_plane (m);
  double mean = 0.0;
  for (size_t i = 0; i < plane; i++)
    mean += s[i];
  mean /= (double) plane;
  const double t = MIN (2.0 * mean, 2.0 / 3.0);
  if (!(t > 0.0))
    {
      lisse_tensor_fill (m, 0.0f);
      return m;
    }
  const double lo = 0.5 * t, hi = 1.5 * t;
  for (size_t i = 0; i < plane; i++)
    {
      double x = CLAMP ((s[i] - lo) / (hi - lo), 0.0, 1.0);
      s[i] = (float) (x * x * (3.0 - 2.0 * x));
    }
  return m;
}
