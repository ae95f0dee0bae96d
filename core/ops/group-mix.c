/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The spatial projection of a multi-axis gMLP (MAXIM, MGPNet): one dense
 * layer over the n = s² positions of each block window or grid group of
 * every channel plane (ops-conv.h states the grouping).
 *
 * The work goes by units of s image rows of one plane (a row of block
 * windows, or one offset row oy of every grid cell: rows oy, oy + H/s, …),
 * a few units to a chunk.  A chunk is gathered into a matrix whose
 * products with the weight are the layer: for blocks one row per window
 * (its n pixels, s pieces of s), times the weight's transpose; for the grid
 * one row per position (gy, gx), whose cell's pixels of the chunk's offset
 * rows are runs of W/s, the weight times it.  The bias is written into the
 * result matrix first (lisse_sgemm, beta = 1), which is then scattered back.
 * Chunks are small (GROUP_MIX_CHUNK_BYTES for both matrices), so that all
 * three steps stay in cache: on 16 planes of 512² (s = 16, one thread) this
 * ran at sgemm's own speed, 1.8 times as fast as with one 32 MiB chunk
 * (2.9 times for s = 8).  Threads take whole
 * chunks, each into its own two matrices; the chunking depends on the
 * shapes only (and on the ops' scratch budget, where it is smaller), so
 * results do not depend on the thread count. */
#include "ops-conv.h"
#include "lisse-error.h"
#include "threads.h"

#include <limits.h>
#include <string.h>

#ifndef GROUP_MIX_CHUNK_BYTES
#define GROUP_MIX_CHUNK_BYTES (256u << 10)
#endif

gboolean
lisse_group_mix_check (const LisseTensor *x, LisseGroupKind kind, int size,
                       const LisseTensor *weight, const LisseTensor *bias, GError **error)
{
  if (kind != LISSE_GROUP_BLOCK && kind != LISSE_GROUP_GRID)
    return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "group_mix: unknown grouping %d",
                       (int) kind);
  if (size < 1 || size > LISSE_GROUP_MIX_MAX_SIZE)
    return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                       "group_mix: size %d is out of range [1, %d]", size,
                       LISSE_GROUP_MIX_MAX_SIZE);
  if (x->h % size || x->w % size)
    return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                       "group_mix: a %d×%d image does not split into %s of %d",
                       x->w, x->h, kind == LISSE_GROUP_BLOCK ? "blocks" : "a grid", size);
  if ((size_t) size * x->w > INT_MAX / 2)
    return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                       "group_mix: a %d pixel wide image is too wide for size %d", x->w, size);
  const int n = size * size;
  if (!weight || weight->n != n || (size_t) weight->c * weight->h * weight->w != (size_t) n)
    return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                       "group_mix: the weight must be %d×%d for size %d", n, n, size);
  return lisse_ops_check_vector (bias, n, TRUE, "group_mix bias", error);
}

/* Units of work: the s image rows [r·s, r·s + s) of a plane for a
 * block row of windows r, rows r, r + H/s, … for grid offset row oy = r:
 * s·W floats either way, in or out.  Unit @u of @planes, at @m: */
static inline void
move_unit (LisseGroupKind kind, int s, int h, int w, size_t u, float *planes, float *m,
           size_t ld, gboolean to_matrix)
{
  const int n = s * s, rows = h / s, cols = w / s;
  const size_t r = u % (size_t) rows;
  float *base = planes + u / (size_t) rows * ((size_t) h * w);
  for (int a = 0; a < s; a++)
    {
      /* Image row a of the unit: W/s pieces of s pixels (blocks), s
       * pieces of W/s (grid). */
      float *src = base + (kind == LISSE_GROUP_BLOCK ? r * s + a : (size_t) a * rows + r) * w;
      for (int b = 0; b < (kind == LISSE_GROUP_BLOCK ? cols : s); b++)
        {
          float *img, *mat;
          size_t len;
          if (kind == LISSE_GROUP_BLOCK)
            {
              /* Row a of window b: row b of the matrix, positions a·s … */
              img = src + (size_t) b * s;
              mat = m + (size_t) b * n + (size_t) a * s;
              len = s;
            }
          else
            {
              /* Cell (a, b)'s row r: row a·s + b of the matrix. */
              img = src + (size_t) b * cols;
              mat = m + ((size_t) a * s + b) * ld;
              len = cols;
            }
          if (to_matrix)
            memcpy (mat, img, len * sizeof (float));
          else
            memcpy (img, mat, len * sizeof (float));
        }
    }
}

LisseTensor *
lisse_group_mix (const LisseTensor *x, LisseGroupKind kind, int size,
                 const LisseTensor *weight, const LisseTensor *bias, GError **error)
{
  g_return_val_if_fail (x, NULL);
  if (!lisse_group_mix_check (x, kind, size, weight, bias, error))
    return NULL;
  const int s = size, n = s * s, h = x->h, w = x->w, cols = w / s;
  const size_t unit = (size_t) s * w;
  const size_t units = (size_t) x->n * x->c * (h / s);
  LisseTensor *out = lisse_tensor_try_new_uninit (x->n, x->c, h, w, error);
  if (!out)
    return NULL;

  /* Units per chunk: the chunk's two matrices within GROUP_MIX_CHUNK_BYTES
   * (the ops' scratch budget if smaller), so that the gather, sgemm and
   * scatter of a chunk stay in cache; at least one unit, and sizes that fit
   * an int for sgemm (lisse_group_mix_check bounds s·W).  The threads take
   * whole chunks, each with its own two matrices. */
  size_t k = MIN (lisse_ops_get_scratch_bytes (), (size_t) GROUP_MIX_CHUNK_BYTES)
             / (2 * unit * sizeof (float));
  k = CLAMP (k, 1, MIN (units, (size_t) INT_MAX / unit));
  const gint64 chunks = (gint64) ((units + k - 1) / k);
  const int nt = chunks > 1 ? lisse_threads_get () : 1;
  gboolean oom = FALSE;

#pragma omp parallel num_threads (nt) reduction (||:oom)
  {
    float *a = g_try_malloc (k * unit * sizeof (float));
    float *c = g_try_malloc (k * unit * sizeof (float));
    oom = !a || !c;
#pragma omp for schedule (static)
    for (gint64 ch = 0; ch < chunks; ch++)
      {
        if (oom)
          continue;
        const size_t u0 = (size_t) ch * k;
        const int nu = (int) MIN (k, units - u0);
        /* block: [nu·W/s windows, n positions]; grid: [n positions, nu·W/s
         * offsets] (ld columns); each unit W/s of them. */
        const size_t ld = kind == LISSE_GROUP_BLOCK ? (size_t) n : (size_t) nu * cols;
        for (int i = 0; i < nu; i++)
          {
            const size_t off = kind == LISSE_GROUP_BLOCK ? (size_t) i * unit : (size_t) i * cols;
            move_unit (kind, s, h, w, u0 + i, x->data, a + off, ld, TRUE);
            if (!bias)
              continue;
            if (kind == LISSE_GROUP_BLOCK)
              for (int r = 0; r < cols; r++)
                memcpy (c + off + (size_t) r * n, bias->data, (size_t) n * sizeof (float));
            else
              for (int j = 0; j < n; j++)
                for (int o = 0; o < cols; o++)
                  c[off + j * ld + o] = bias->data[j];
          }
        /* (Inside this parallel region lisse_sgemm runs on this thread.) */
        if (kind == LISSE_GROUP_BLOCK)
          lisse_sgemm (FALSE, TRUE, nu * cols, n, n, a, n, weight->data, n, bias ? 1.f : 0.f,
                       c, n);
        else
          lisse_sgemm (FALSE, FALSE, n, (int) ld, n, weight->data, n, a, (int) ld,
                       bias ? 1.f : 0.f, c, (int) ld);
        for (int i = 0; i < nu; i++)
          {
            const size_t off = kind == LISSE_GROUP_BLOCK ? (size_t) i * unit : (size_t) i * cols;
            move_unit (kind, s, h, w, u0 + i, out->data, c + off, ld, FALSE);
          }
      }
    g_free (a);
    g_free (c);
  }
  if (oom)
    {
      lisse_tensor_free (out);
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, "group_mix: out of memory for %zu "
                  "floats of scratch a thread", 2 * k * unit);
      return NULL;
    }
  return out;
}
