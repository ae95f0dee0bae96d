/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "tiling.h"
#include "lisse-error.h"

#include <stdatomic.h>
#include <string.h>

static atomic_size_t tiling_peak_bytes;

gsize
lisse_tiling_peak_bytes (void)
{
  return atomic_load (&tiling_peak_bytes);
}

void
lisse_tiling_reset_peak_bytes (void)
{
  atomic_store (&tiling_peak_bytes, 0);
}

static void
note_bytes (gsize bytes)
{
  size_t cur = atomic_load (&tiling_peak_bytes);
  while (bytes > cur
         && !atomic_compare_exchange_weak (&tiling_peak_bytes, &cur, bytes))
    ;
}

/* One axis of the grid.  Positions are computed in 64 bits: halo and
 * tile_size come from users and their sums may exceed int. */
typedef struct
{
  int size;      /* image extent along the axis */
  int step;      /* core length (tile_size, or the whole extent) */
  int halo;
  int multiple;
  int count;     /* tiles along the axis */
} Axis;

typedef struct
{
  int core0, core1;   /* [core0, core1) */
  int crop0, crop1;   /* [crop0, crop1) ⊇ core */
} Span;

static Span
axis_span (const Axis *a, int i)
{
  gint64 core0 = (gint64) i * a->step;
  gint64 core1 = MIN (core0 + a->step, (gint64) a->size);
  /* Left edge: back by the halo, then down onto the sampling grid.  0 is on
   * every grid, so a crop clipped at the image origin needs no rounding. */
  gint64 crop0 = MAX ((gint64) 0, core0 - a->halo);
  crop0 -= crop0 % a->multiple;
  /* Right edge: out by the halo, up onto the grid, then clipped: a crop that
   * reaches the image's end ends where the image does, grid or not. */
  gint64 crop1 = core1 + a->halo;
  crop1 = (crop1 + a->multiple - 1) / a->multiple * a->multiple;
  crop1 = MIN (crop1, (gint64) a->size);
  return (Span) { (int) core0, (int) core1, (int) crop0, (int) crop1 };
}

static int
axis_max_crop (const Axis *a)
{
  int m = 0;
  for (int i = 0; i < a->count; i++)
    {
      Span s = axis_span (a, i);
      m = MAX (m, s.crop1 - s.crop0);
    }
  return m;
}

#define invalid(error, ...) lisse_fail ((error), LISSE_ERROR_INVALID_ARGUMENT, __VA_ARGS__)

/* Validates and lays out the grid.  The Axis pair is what the runner uses,
 * so the plan the caller sees is the plan that runs. */
static gboolean
make_axes (int width, int height, int in_channels, const LisseTileSpec *spec,
           Axis *ax, Axis *ay, GError **error)
{
  if (!spec)
    return invalid (error, "tiling: no tile specification");
  if (width < 1 || height < 1)
    return invalid (error, "tiling: invalid image size %d×%d", width, height);
  if (in_channels < 1)
    return invalid (error, "tiling: invalid input channel count %d", in_channels);
  if (spec->out_channels < 1)
    return invalid (error, "tiling: invalid output channel count %d", spec->out_channels);
  if (spec->halo < 0)
    return invalid (error, "tiling: halo must be ≥ 0, got %d", spec->halo);
  if (spec->multiple < 1)
    return invalid (error, "tiling: alignment multiple must be ≥ 1, got %d", spec->multiple);
  /* A tile smaller than two cells of the coarsest sampling grid is nearly
   * all halo: never useful, and most likely tile size and multiple swapped. */
  if (spec->tile_size > 0 && spec->tile_size < 2 * (gint64) spec->multiple)
    return invalid (error,
                    "tiling: tile size %d is smaller than twice the alignment multiple %d",
                    spec->tile_size, spec->multiple);

  gboolean whole = spec->tile_size <= 0;
  *ax = (Axis) { width, whole ? width : spec->tile_size, whole ? 0 : spec->halo,
                 whole ? 1 : spec->multiple, 0 };
  *ay = (Axis) { height, whole ? height : spec->tile_size, whole ? 0 : spec->halo,
                 whole ? 1 : spec->multiple, 0 };
  ax->count = (int) (((gint64) width + ax->step - 1) / ax->step);
  ay->count = (int) (((gint64) height + ay->step - 1) / ay->step);
  if ((gint64) ax->count * ay->count > G_MAXINT)
    return invalid (error, "tiling: tile size %d gives too many tiles for a %d×%d image",
                    spec->tile_size, width, height);
  return TRUE;
}

/* Saturates instead of wrapping: a plan for an absurd spec must say
 * "enormous", and the allocation then fails cleanly in lisse_tensor_try_new. */
static gsize
floats_bytes (int c, int h, int w)
{
  gsize n = sizeof (float);
  int dims[3] = { c, h, w };
  for (int i = 0; i < 3; i++)
    {
      if (dims[i] > 0 && n > G_MAXSIZE / (gsize) dims[i])
        return G_MAXSIZE;
      n *= (gsize) dims[i];
    }
  return n;
}

static gsize
add_bytes (gsize a, gsize b)
{
  return a > G_MAXSIZE - b ? G_MAXSIZE : a + b;
}

static void
fill_plan (const Axis *ax, const Axis *ay, int in_channels, int out_channels,
           LisseTilePlan *plan)
{
  plan->tiles_x = ax->count;
  plan->tiles_y = ay->count;
  plan->max_crop_w = axis_max_crop (ax);
  plan->max_crop_h = axis_max_crop (ay);
  gsize bytes = add_bytes (floats_bytes (in_channels, plan->max_crop_h, plan->max_crop_w),
                           floats_bytes (out_channels, plan->max_crop_h, plan->max_crop_w));
  if (ax->count * ay->count > 1)    /* the stream variant's core buffer */
    bytes = add_bytes (bytes, floats_bytes (out_channels, MIN (ay->step, ay->size),
                                            MIN (ax->step, ax->size)));
  plan->buffer_bytes = bytes;
}

gboolean
lisse_tile_plan (int width, int height, int in_channels, const LisseTileSpec *spec,
                 LisseTilePlan *plan, GError **error)
{
  Axis ax, ay;
  if (!make_axes (width, height, in_channels, spec, &ax, &ay, error))
    return FALSE;
  fill_plan (&ax, &ay, in_channels, spec->out_channels, plan);
  return TRUE;
}

/* Internal sink: gets the whole output tile and the core's place in it, so
 * lisse_tiled_run() can copy straight into its result without the stream
 * variant's intermediate core buffer. */
typedef gboolean (*CoreWrite) (const LisseTensor *tile, int sx, int sy,
                               int x, int y, int w, int h,
                               gpointer data, GError **error);

static gboolean
run_tiles (const Axis *ax, const Axis *ay, int in_channels, const LisseTileSpec *spec,
           LisseTensor *in_buf, LisseTensor *out_buf,
           LisseTileReadFunc read, CoreWrite write, gpointer io_data,
           LisseTileFunc func, gpointer func_data, GError **error)
{
  const int cout = spec->out_channels;
  const int count = ax->count * ay->count;
  const double total = (double) ax->size * ay->size;
  double done = 0;
  int index = 0;

  for (int ty = 0; ty < ay->count; ty++)
    {
      Span sy = axis_span (ay, ty);
      for (int tx = 0; tx < ax->count; tx++, index++)
        {
          Span sx = axis_span (ax, tx);
          int cw = sx.crop1 - sx.crop0, ch = sy.crop1 - sy.crop0;
          int kw = sx.core1 - sx.core0, kh = sy.core1 - sy.core0;

          /* Views over the reused buffers, shaped for this crop (contiguous:
           * a smaller crop just uses the buffer's beginning). */
          LisseTensor in_tile = { 1, in_channels, ch, cw, in_buf->data, FALSE };
          LisseTensor out_tile = { 1, cout, ch, cw, out_buf->data, FALSE };
          /* Cleared every time so that a reader or tile function that misses
           * a pixel sees zeros, not the previous tile: deterministic output. */
          memset (in_tile.data, 0, lisse_tensor_numel (&in_tile) * sizeof (float));
          memset (out_tile.data, 0, lisse_tensor_numel (&out_tile) * sizeof (float));

          GError *local = NULL;
          if (!read (sx.crop0, sy.crop0, &in_tile, io_data, &local))
            {
              if (!local)
                g_set_error (&local, LISSE_ERROR, LISSE_ERROR_IO,
                             "tiling: reading the input at %d,%d (%d×%d) failed",
                             sx.crop0, sy.crop0, cw, ch);
              g_propagate_error (error, local);
              return FALSE;
            }

          double after = done + (double) kw * kh;
          LisseProgress sub = lisse_progress_sub (spec->progress, done / total,
                                                  after / total);
          LisseTileInfo info = { sx.crop0, sy.crop0, cw, ch,
                                 sx.core0, sy.core0, kw, kh,
                                 index, count, &sub };
          if (!func (&in_tile, &out_tile, &info, func_data, &local))
            {
              if (!local)
                g_set_error (&local, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                             "tiling: the tile function failed on tile %d of %d "
                             "without saying why", index + 1, count);
              g_propagate_error (error, local);
              return FALSE;
            }

          if (!write (&out_tile, sx.core0 - sx.crop0, sy.core0 - sy.crop0,
                      sx.core0, sy.core0, kw, kh, io_data, &local))
            {
              if (!local)
                g_set_error (&local, LISSE_ERROR, LISSE_ERROR_IO,
                             "tiling: writing the output at %d,%d (%d×%d) failed",
                             sx.core0, sy.core0, kw, kh);
              g_propagate_error (error, local);
              return FALSE;
            }

          done = after;
          /* The last report is exactly 1.0: done == total there. */
          if (!lisse_progress_report (spec->progress,
                                      index + 1 == count ? 1.0 : done / total, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* ---- stream variant ---------------------------------------------------- */

typedef struct
{
  LisseTileReadFunc  read;
  LisseTileWriteFunc write;
  gpointer           user_data;
  LisseTensor       *core_buf;   /* NULL when the single tile is its own core */
} StreamIO;

static gboolean
stream_read (int x, int y, LisseTensor *dst, gpointer data, GError **error)
{
  StreamIO *io = data;
  return io->read (x, y, dst, io->user_data, error);
}

static gboolean
stream_write (const LisseTensor *tile, int sx, int sy, int x, int y, int w, int h,
              gpointer data, GError **error)
{
  StreamIO *io = data;
  if (sx == 0 && sy == 0 && w == tile->w && h == tile->h)
    return io->write (x, y, tile, io->user_data, error);
  LisseTensor core = { 1, tile->c, h, w, io->core_buf->data, FALSE };
  lisse_tensor_copy_rect (tile, sx, sy, &core, 0, 0, w, h);
  return io->write (x, y, &core, io->user_data, error);
}

gboolean
lisse_tiled_run_stream (int width, int height, int in_channels,
                        const LisseTileSpec *spec,
                        LisseTileReadFunc read, LisseTileFunc func,
                        LisseTileWriteFunc write,
                        gpointer user_data, GError **error)
{
  g_return_val_if_fail (read && func && write, FALSE);

  Axis ax, ay;
  if (!make_axes (width, height, in_channels, spec, &ax, &ay, error))
    return FALSE;
  LisseTilePlan plan;
  fill_plan (&ax, &ay, in_channels, spec->out_channels, &plan);

  gboolean ok = FALSE;
  StreamIO io = { read, write, user_data, NULL };
  LisseTensor *in_buf = lisse_tensor_try_new (1, in_channels, plan.max_crop_h,
                                              plan.max_crop_w, error);
  LisseTensor *out_buf = in_buf ? lisse_tensor_try_new (1, spec->out_channels,
                                                        plan.max_crop_h,
                                                        plan.max_crop_w, error)
                                : NULL;
  if (!out_buf)
    goto out;
  if (ax.count * ay.count > 1)
    {
      io.core_buf = lisse_tensor_try_new (1, spec->out_channels,
                                          MIN (ay.step, height), MIN (ax.step, width),
                                          error);
      if (!io.core_buf)
        goto out;
    }
  note_bytes (plan.buffer_bytes);

  ok = run_tiles (&ax, &ay, in_channels, spec, in_buf, out_buf,
                  stream_read, stream_write, &io, func, user_data, error);
out:
  lisse_tensor_free (io.core_buf);
  lisse_tensor_free (out_buf);
  lisse_tensor_free (in_buf);
  return ok;
}

/* ---- whole-tensor variant ---------------------------------------------- */

typedef struct
{
  const LisseTensor *in;
  LisseTensor       *out;
} TensorIO;

static gboolean
tensor_read (int x, int y, LisseTensor *dst, gpointer data, GError **error)
{
  (void) error;
  TensorIO *io = data;
  lisse_tensor_copy_rect (io->in, x, y, dst, 0, 0, dst->w, dst->h);
  return TRUE;
}

static gboolean
tensor_write (const LisseTensor *tile, int sx, int sy, int x, int y, int w, int h,
              gpointer data, GError **error)
{
  (void) error;
  TensorIO *io = data;
  lisse_tensor_copy_rect (tile, sx, sy, io->out, x, y, w, h);
  return TRUE;
}

LisseTensor *
lisse_tiled_run (const LisseTensor *in, const LisseTileSpec *spec,
                 LisseTileFunc func, gpointer user_data, GError **error)
{
  g_return_val_if_fail (in && func, NULL);
  if (in->n != 1)
    {
      invalid (error, "tiling: expected one image (batch size 1), got %d", in->n);
      return NULL;
    }

  Axis ax, ay;
  if (!make_axes (in->w, in->h, in->c, spec, &ax, &ay, error))
    return NULL;
  LisseTilePlan plan;
  fill_plan (&ax, &ay, in->c, spec->out_channels, &plan);

  LisseTensor *out = lisse_tensor_try_new (1, spec->out_channels, in->h, in->w, error);
  if (!out)
    return NULL;

  gboolean ok;
  if (ax.count * ay.count == 1)
    {
      /* One tile covering the image: the caller's tensors are the tile. */
      LisseProgress sub = lisse_progress_sub (spec->progress, 0.0, 1.0);
      LisseTileInfo info = { 0, 0, in->w, in->h, 0, 0, in->w, in->h, 0, 1, &sub };
      GError *local = NULL;
      ok = func (in, out, &info, user_data, &local);
      if (!ok && !local)
        g_set_error_literal (&local, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                             "tiling: the tile function failed without saying why");
      if (!ok)
        g_propagate_error (error, local);
      else
        ok = lisse_progress_report (spec->progress, 1.0, error);
    }
  else
    {
      /* No core buffer here: cores are copied straight into @out. */
      LisseTensor *in_buf = lisse_tensor_try_new (1, in->c, plan.max_crop_h,
                                                  plan.max_crop_w, error);
      LisseTensor *out_buf = in_buf ? lisse_tensor_try_new (1, spec->out_channels,
                                                            plan.max_crop_h,
                                                            plan.max_crop_w, error)
                                    : NULL;
      ok = out_buf != NULL;
      if (ok)
        {
          note_bytes (add_bytes (floats_bytes (in->c, plan.max_crop_h, plan.max_crop_w),
                                 floats_bytes (spec->out_channels, plan.max_crop_h,
                                               plan.max_crop_w)));
          TensorIO io = { in, out };
          ok = run_tiles (&ax, &ay, in->c, spec, in_buf, out_buf,
                          tensor_read, tensor_write, &io, func, user_data, error);
        }
      lisse_tensor_free (out_buf);
      lisse_tensor_free (in_buf);
    }

  if (!ok)
    {
      lisse_tensor_free (out);
      return NULL;
    }
  return out;
}
