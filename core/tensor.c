/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "tensor.h"
#include "buffer-pool.h"
#include "lisse-error.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 64-byte alignment keeps AVX loads on whole cache lines. */
#define LISSE_TENSOR_ALIGN 64

static gboolean
checked_numel (int n, int c, int h, int w, size_t *out)
{
  if (n < 1 || c < 1 || h < 1 || w < 1)
    return FALSE;
  size_t total = 1;
  int dims[4] = { n, c, h, w };
  for (int i = 0; i < 4; i++)
    {
      if (total > SIZE_MAX / sizeof (float) / (size_t) dims[i])
        return FALSE;
      total *= (size_t) dims[i];
    }
  *out = total;
  return TRUE;
}

static LisseTensor *
tensor_alloc (int n, int c, int h, int w, gboolean zero, GError **error)
{
  size_t numel;
  if (!checked_numel (n, c, h, w, &numel))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "invalid tensor shape %d×%d×%d×%d", n, c, h, w);
      return NULL;
    }
  size_t bytes = numel * sizeof (float);
  bytes = (bytes + LISSE_TENSOR_ALIGN - 1) / LISSE_TENSOR_ALIGN * LISSE_TENSOR_ALIGN;
  float *data = lisse_buffer_alloc (bytes);
  if (!data)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                   "out of memory allocating a %d×%d×%d×%d tensor (%.1f MiB)",
                   n, c, h, w, bytes / 1048576.0);
      return NULL;
    }
  if (zero)
    memset (data, 0, bytes);
  LisseTensor *t = g_new (LisseTensor, 1);
  *t = (LisseTensor) { n, c, h, w, data, TRUE };
  return t;
}

LisseTensor *
lisse_tensor_try_new (int n, int c, int h, int w, GError **error)
{
  return tensor_alloc (n, c, h, w, TRUE, error);
}

LisseTensor *
lisse_tensor_try_new_uninit (int n, int c, int h, int w, GError **error)
{
  return tensor_alloc (n, c, h, w, FALSE, error);
}

LisseTensor *
lisse_tensor_new (int n, int c, int h, int w)
{
  GError *error = NULL;
  LisseTensor *t = lisse_tensor_try_new (n, c, h, w, &error);
  if (!t)
    g_error ("%s", error->message);
  return t;
}

LisseTensor *
lisse_tensor_new_view (float *data, int n, int c, int h, int w)
{
  LisseTensor *t = g_new (LisseTensor, 1);
  *t = (LisseTensor) { n, c, h, w, data, FALSE };
  return t;
}

LisseTensor *
lisse_tensor_copy (const LisseTensor *src)
{
  LisseTensor *t = lisse_tensor_new (src->n, src->c, src->h, src->w);
  memcpy (t->data, src->data, lisse_tensor_numel (src) * sizeof (float));
  return t;
}

void
lisse_tensor_free (LisseTensor *t)
{
  if (!t)
    return;
  if (t->owns_data)
    lisse_buffer_free (t->data, lisse_tensor_numel (t) * sizeof (float));
  g_free (t);
}

gboolean
lisse_tensor_same_shape (const LisseTensor *a, const LisseTensor *b)
{
  return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

void
lisse_tensor_fill (LisseTensor *t, float value)
{
  size_t numel = lisse_tensor_numel (t);
  for (size_t i = 0; i < numel; i++)
    t->data[i] = value;
}

void
lisse_tensor_copy_rect (const LisseTensor *src, int sx, int sy,
                        LisseTensor *dst, int dx, int dy, int w, int h)
{
  g_return_if_fail (src->n == dst->n && src->c == dst->c);
  g_return_if_fail (sx >= 0 && sy >= 0 && sx + w <= src->w && sy + h <= src->h);
  g_return_if_fail (dx >= 0 && dy >= 0 && dx + w <= dst->w && dy + h <= dst->h);
  for (int ni = 0; ni < src->n; ni++)
    for (int ci = 0; ci < src->c; ci++)
      {
        const float *s = lisse_tensor_channel (src, ni, ci);
        float *d = lisse_tensor_channel (dst, ni, ci);
        for (int y = 0; y < h; y++)
          memcpy (d + (size_t) (dy + y) * dst->w + dx,
                  s + (size_t) (sy + y) * src->w + sx, (size_t) w * sizeof (float));
      }
}

void
lisse_tensor_set_pixels (LisseTensor *t, int x, int y, int w, int h, int nc,
                         const float *pixels)
{
  g_return_if_fail (nc >= 1 && nc <= t->c);
  g_return_if_fail (x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= t->w && y + h <= t->h);
  for (int ci = 0; ci < nc; ci++)
    {
      float *plane = lisse_tensor_channel (t, 0, ci);
      for (int yy = 0; yy < h; yy++)
        {
          float *dst = plane + (size_t) (y + yy) * t->w + x;
          const float *src = pixels + (size_t) yy * w * nc + ci;
          for (int xx = 0; xx < w; xx++)
            dst[xx] = src[(size_t) xx * nc];
        }
    }
}

void
lisse_tensor_get_pixels (const LisseTensor *t, int x, int y, int w, int h, int nc,
                         float *pixels)
{
  g_return_if_fail (nc >= 1 && nc <= t->c);
  g_return_if_fail (x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= t->w && y + h <= t->h);
  for (int ci = 0; ci < nc; ci++)
    {
      const float *plane = lisse_tensor_channel (t, 0, ci);
      for (int yy = 0; yy < h; yy++)
        {
          const float *src = plane + (size_t) (y + yy) * t->w + x;
          float *dst = pixels + (size_t) yy * w * nc + ci;
          for (int xx = 0; xx < w; xx++)
            dst[(size_t) xx * nc] = src[xx];
        }
    }
}

LisseTensor *
lisse_tensor_new_from_pixels (const float *pixels, int nc, int w, int h, GError **error)
{
  LisseTensor *t = lisse_tensor_try_new (1, nc, h, w, error);
  if (t)
    lisse_tensor_set_pixels (t, 0, 0, w, h, nc, pixels);
  return t;
}

float
lisse_tensor_max_abs_diff (const LisseTensor *a, const LisseTensor *b)
{
  g_return_val_if_fail (lisse_tensor_same_shape (a, b), INFINITY);
  float m = 0.f;
  size_t numel = lisse_tensor_numel (a);
  for (size_t i = 0; i < numel; i++)
    {
      float d = fabsf (a->data[i] - b->data[i]);
      if (!(d <= m))            /* also catches NaN */
        m = isnan (d) ? INFINITY : d;
    }
  return m;
}
