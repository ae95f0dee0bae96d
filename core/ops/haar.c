/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One level of the 2-D Haar transform and its inverse; band formulas and
 * channel order in ops-basic.h.  Each 2×2 block goes through two butterfly
 * stages (rows, then columns), 8 additions instead of the 12 of the four
 * formulas written out.
 */
#include "ops-basic.h"
#include "lisse-error.h"
#include "threads.h"

#define PARALLEL_MIN 32768

static void
haar_factors (LisseHaarScale scale, float *forward, float *inverse)
{
  if (scale == LISSE_HAAR_IRN)
    {
      *forward = 0.25f;
      *inverse = 1.0f;
    }
  else
    {
      *forward = 0.5f;
      *inverse = 0.5f;
    }
}

static gboolean
check_scale (LisseHaarScale scale, GError **error)
{
  if (scale == LISSE_HAAR_ORTHONORMAL || scale == LISSE_HAAR_IRN)
    return TRUE;
  g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
               "haar: unknown scaling %d", (int) scale);
  return FALSE;
}

LisseTensor *
lisse_haar_forward (const LisseTensor *x, LisseHaarScale scale, GError **error)
{
  if (!check_scale (scale, error))
    return NULL;
  if (x->h % 2 != 0 || x->w % 2 != 0)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "haar: the image is %d×%d; width and height must be even "
                   "(pad it first)", x->w, x->h);
      return NULL;
    }
  if (x->c > G_MAXINT / 4)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "haar: %d channels is too many", x->c);
      return NULL;
    }
  const int c = x->c, oh = x->h / 2, ow = x->w / 2;
  LisseTensor *out = lisse_tensor_try_new (x->n, 4 * c, oh, ow, error);
  if (!out)
    return NULL;

  float f, unused;
  haar_factors (scale, &f, &unused);
  const long rows = (long) x->n * c * oh;
  const size_t band = (size_t) c * oh * ow;     /* band s starts s·band later */
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long r = 0; r < rows; r++)
    {
      const int i = (int) (r % oh);
      const int k = (int) (r / oh % c);
      const int ni = (int) (r / oh / c);
      const float *r0 = lisse_tensor_channel (x, ni, k) + (size_t) 2 * i * x->w;
      const float *r1 = r0 + x->w;
      float *ll = lisse_tensor_channel (out, ni, k) + (size_t) i * ow;
      float *b1 = ll + band, *b2 = ll + 2 * band, *b3 = ll + 3 * band;
#pragma omp simd
      for (int j = 0; j < ow; j++)
        {
          float a = r0[2 * j], b = r0[2 * j + 1];
          float cc = r1[2 * j], d = r1[2 * j + 1];
          float s0 = a + b, d0 = a - b, s1 = cc + d, d1 = cc - d;
          ll[j] = (s0 + s1) * f;
          b1[j] = (d0 + d1) * f;
          b2[j] = (s0 - s1) * f;
          b3[j] = (d0 - d1) * f;
        }
    }
  return out;
}

LisseTensor *
lisse_haar_inverse (const LisseTensor *x, LisseHaarScale scale, GError **error)
{
  if (!check_scale (scale, error))
    return NULL;
  if (x->c % 4 != 0)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "inverse haar: %d channels is not a multiple of 4", x->c);
      return NULL;
    }
  if (x->h > G_MAXINT / 2 || x->w > G_MAXINT / 2)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "inverse haar: a %d×%d image is too large", x->w, x->h);
      return NULL;
    }
  const int c = x->c / 4, h = x->h, w = x->w;
  LisseTensor *out = lisse_tensor_try_new (x->n, c, 2 * h, 2 * w, error);
  if (!out)
    return NULL;

  float unused, g;
  haar_factors (scale, &unused, &g);
  const long rows = (long) x->n * c * h;
  const size_t band = (size_t) c * h * w;
  int nt = lisse_tensor_numel (x) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long r = 0; r < rows; r++)
    {
      const int i = (int) (r % h);
      const int k = (int) (r / h % c);
      const int ni = (int) (r / h / c);
      const float *ll = lisse_tensor_channel (x, ni, k) + (size_t) i * w;
      const float *b1 = ll + band, *b2 = ll + 2 * band, *b3 = ll + 3 * band;
      float *r0 = lisse_tensor_channel (out, ni, k) + (size_t) 2 * i * out->w;
      float *r1 = r0 + out->w;
#pragma omp simd
      for (int j = 0; j < w; j++)
        {
          float u = ll[j] + b1[j], v = ll[j] - b1[j];
          float p = b2[j] + b3[j], q = b2[j] - b3[j];
          r0[2 * j] = (u + p) * g;
          r0[2 * j + 1] = (v + q) * g;
          r1[2 * j] = (u - p) * g;
          r1[2 * j + 1] = (v - q) * g;
        }
    }
  return out;
}
