/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * NCHW float32 tensors: the one data type every op, network and filter of
 * the engine takes.  Row-major, W fastest:
 *   data[((n * c + ci) * h + y) * w + x]
 * A tensor either owns its data (freed with it) or views memory it does not
 * own (a memory-mapped model file, a caller's buffer).
 */
#pragma once

#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

typedef struct
{
  int    n, c, h, w;
  float *data;
  gboolean owns_data;
} LisseTensor;

/* Zero-filled tensor; aborts (like g_malloc) only when memory is exhausted.
 * Sizes must be >= 1; use lisse_tensor_try_new() for sizes from user input. */
LisseTensor *lisse_tensor_new      (int n, int c, int h, int w);
/* Same, but returns NULL with a GError when the size overflows or cannot be
 * allocated (untrusted sizes: model files, images). */
LisseTensor *lisse_tensor_try_new  (int n, int c, int h, int w, GError **error);
/* Same, contents undefined: for ops that write every element (a zero fill
 * of a 64-channel 1280×720 output is a 236 MB pass of its own). */
LisseTensor *lisse_tensor_try_new_uninit (int n, int c, int h, int w, GError **error);
/* A tensor that views @data (not copied, not freed). */
LisseTensor *lisse_tensor_new_view (float *data, int n, int c, int h, int w);
LisseTensor *lisse_tensor_copy     (const LisseTensor *t);
void         lisse_tensor_free     (LisseTensor *t);

static inline size_t
lisse_tensor_numel (const LisseTensor *t)
{
  return (size_t) t->n * t->c * t->h * t->w;
}

static inline size_t
lisse_tensor_plane (const LisseTensor *t)
{
  return (size_t) t->h * t->w;
}

/* Pointer to channel @ci of batch item @ni. */
static inline float *
lisse_tensor_channel (const LisseTensor *t, int ni, int ci)
{
  return t->data + ((size_t) ni * t->c + ci) * lisse_tensor_plane (t);
}

static inline float
lisse_tensor_at (const LisseTensor *t, int ni, int ci, int y, int x)
{
  return t->data[(((size_t) ni * t->c + ci) * t->h + y) * t->w + x];
}

gboolean lisse_tensor_same_shape (const LisseTensor *a, const LisseTensor *b);
void     lisse_tensor_fill       (LisseTensor *t, float value);
/* Copy a rectangle of every channel: src[.., sy:sy+h, sx:sx+w] -> dst[.., dy:, dx:].
 * n and c must agree. */
void     lisse_tensor_copy_rect  (const LisseTensor *src, int sx, int sy,
                                  LisseTensor *dst, int dx, int dy, int w, int h);
/* Interleaved pixels <-> planes.  @pixels holds @w×@h pixels of @nc floats
 * each (rows of @w pixels, no padding), the layout GEGL and image files
 * use; they are channels [0, @nc) of columns [@x, @x+@w) and rows
 * [@y, @y+@h) of batch item 0 of @t.  @nc must be at most t->c. */
void     lisse_tensor_set_pixels (LisseTensor *t, int x, int y, int w, int h, int nc,
                                  const float *pixels);
void     lisse_tensor_get_pixels (const LisseTensor *t, int x, int y, int w, int h, int nc,
                                  float *pixels);
/* A new 1×@nc×@h×@w tensor holding @pixels (as above); NULL with @error
 * when it cannot be allocated. */
LisseTensor *lisse_tensor_new_from_pixels (const float *pixels, int nc, int w, int h,
                                           GError **error);
/* Largest |a - b| over all elements (shapes must agree). */
float    lisse_tensor_max_abs_diff (const LisseTensor *a, const LisseTensor *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LisseTensor, lisse_tensor_free)

G_END_DECLS
