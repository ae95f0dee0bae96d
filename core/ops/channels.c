/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Concatenating, splitting and slicing along channels.  In NCHW each
 * (n, c) plane is contiguous, so all three are plane copies; the planes are
 * shared among threads.
 */
#include "ops-basic.h"
#include "lisse-error.h"
#include "threads.h"

#include <string.h>

#define PARALLEL_MIN (1 << 18)

/* Copy channels [src_c0, src_c0 + count) of @src to channels
 * [dst_c0, dst_c0 + count) of @dst, for every batch item. */
static void
copy_channels (const LisseTensor *src, int src_c0, LisseTensor *dst, int dst_c0,
               int count)
{
  const size_t plane = lisse_tensor_plane (src);
  const long planes = (long) src->n * count;
  int nt = (size_t) planes * plane < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long p = 0; p < planes; p++)
    {
      const int ni = (int) (p / count), k = (int) (p % count);
      memcpy (lisse_tensor_channel (dst, ni, dst_c0 + k),
              lisse_tensor_channel (src, ni, src_c0 + k),
              plane * sizeof (float));
    }
}

LisseTensor *
lisse_concat_channels (const LisseTensor *const *tensors, int n_tensors,
                       GError **error)
{
  if (n_tensors < 1 || !tensors)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "concat: no tensors to concatenate");
      return NULL;
    }
  const LisseTensor *t0 = tensors[0];
  long total = 0;
  for (int i = 0; i < n_tensors; i++)
    {
      const LisseTensor *t = tensors[i];
      if (t->n != t0->n || t->h != t0->h || t->w != t0->w)
        {
          g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                       "concat: tensor %d is %d×%d×%d×%d, tensor 0 is "
                       "%d×%d×%d×%d (N, H and W must agree)", i,
                       t->n, t->c, t->h, t->w, t0->n, t0->c, t0->h, t0->w);
          return NULL;
        }
      total += t->c;
    }
  if (total > G_MAXINT)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "concat: %ld channels in all is too many", total);
      return NULL;
    }
  LisseTensor *out = lisse_tensor_try_new (t0->n, (int) total, t0->h, t0->w, error);
  if (!out)
    return NULL;
  int c0 = 0;
  for (int i = 0; i < n_tensors; i++)
    {
      copy_channels (tensors[i], 0, out, c0, tensors[i]->c);
      c0 += tensors[i]->c;
    }
  return out;
}

LisseTensor *
lisse_channel_slice (const LisseTensor *x, int start, int count, GError **error)
{
  if (start < 0 || count < 1 || start > x->c - count)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "channel slice: channels %d..%d+%d are outside 0..%d",
                   start, start, count, x->c);
      return NULL;
    }
  LisseTensor *out = lisse_tensor_try_new (x->n, count, x->h, x->w, error);
  if (out)
    copy_channels (x, start, out, 0, count);
  return out;
}

gboolean
lisse_split_channels (const LisseTensor *x, const int *sizes, int n_parts,
                      LisseTensor **out, GError **error)
{
  long total = 0;
  for (int i = 0; i < n_parts; i++)
    out[i] = NULL;
  for (int i = 0; i < n_parts; i++)
    {
      if (sizes[i] < 1)
        {
          g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                       "split: part %d has %d channels (must be >= 1)", i, sizes[i]);
          return FALSE;
        }
      total += sizes[i];
    }
  if (n_parts < 1 || total != x->c)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "split: %d parts with %ld channels in all cannot split %d channels",
                   n_parts, total, x->c);
      return FALSE;
    }
  int c0 = 0;
  for (int i = 0; i < n_parts; i++)
    {
      out[i] = lisse_channel_slice (x, c0, sizes[i], error);
      if (!out[i])
        {
          for (int j = 0; j < i; j++)
            g_clear_pointer (&out[j], lisse_tensor_free);
          return FALSE;
        }
      c0 += sizes[i];
    }
  return TRUE;
}
