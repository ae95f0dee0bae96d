/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Tiled execution: run a whole-image function (a network, an iterative
 * filter) over an image of any size in bounded memory.  The image is cut
 * into a grid of tiles; each tile is processed together with a margin (the
 * halo) that covers the function's receptive field, and only the tile's own
 * part (its core) of the result is kept.  The result equals the whole-image
 * run exactly when the policy below is respected.
 *
 * Border policy.  A tile's input is the crop
 *     [core_x0 − halo, core_x1 + halo) × [core_y0 − halo, core_y1 + halo)
 * intersected with the image — no artificial padding is ever added.  The
 * tile function must treat the crop's edges exactly as it treats image edges
 * (zero, replicate, reflect: whatever the whole-image function does).  Then
 * every core pixel whose receptive field stays inside the crop gets the
 * whole-image value, which holds for all core pixels when
 * halo ≥ receptive radius.  Where the crop reaches the real image border the
 * function sees the real border, so border pixels are also exact.
 *
 * Alignment policy.  A network that samples on a coarser grid (stride-2
 * convolution, 2×2 pooling, followed by upsampling) computes a different
 * function when its input is shifted by an odd number of pixels: the
 * downsampling cells straddle other pixel pairs.  With @multiple = m the
 * crop's left/top edge is rounded DOWN and its right/bottom edge rounded UP
 * to multiples of m (in image coordinates, origin 0), then clipped to the
 * image.  So a crop starts on the whole image's sampling grid, and it ends on
 * it too unless it ends at the image border — where it ends exactly where
 * the whole image does.  Use m = 2^k for k nested stride-2 stages.  The
 * rounding only widens the crop, so the effective halo is ≥ @halo.
 * The receptive radius of such a net must be measured on the full-resolution
 * grid and cover the worst sampling phase (e.g. 2×2 mean → 3×3 → nearest ×2
 * reaches 3 pixels to each side).
 *
 * Order and threads.  Tiles are processed one at a time in row-major order
 * (left to right, top to bottom); every output pixel is written exactly once,
 * and all tiles of one tile row are written before the next row starts (a
 * sink that wants whole rows can buffer one band of tile_size rows).  Tiles
 * are not run in parallel: the ops inside the tile function already use all
 * threads (see threads.h), running N tiles at once would multiply the peak
 * memory by N and defeat the purpose of tiling, and a fixed order keeps
 * progress reports and results deterministic.
 *
 * Memory.  The tiler holds, for the duration of a run, one input buffer of
 * the largest crop (≤ (tile_size + 2·halo + 2·(multiple − 1))² · Cin floats),
 * one output buffer of the same size with Cout channels, and for the stream
 * variant one core buffer (≤ tile_size² · Cout floats) — plus whatever the
 * tile function allocates itself (for a network: its activations for one
 * crop).  Buffers are reused by every tile.  lisse_tile_plan() says how much
 * that is before running.  lisse_tiled_run() additionally holds the whole
 * input (the caller's) and the whole output; use lisse_tiled_run_stream() to
 * keep neither in memory.
 *
 * tile_size ≤ 0 means one tile covering the whole image (no halo needed; the
 * function gets the whole image).
 */
#pragma once

#include "progress.h"
#include "tensor.h"

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  int tile_size;     /* core edge length in pixels; ≤ 0: whole image as one tile */
  int halo;          /* ≥ 0: margin on each side, ≥ the receptive radius */
  int multiple;      /* ≥ 1: crop edges aligned to this (2^k for k stride-2 stages) */
  int out_channels;  /* ≥ 1: channels the tile function produces */
  const LisseProgress *progress;  /* may be NULL */
} LisseTileSpec;

/* Where a tile lies; given to the tile function for functions that need
 * absolute positions (noise seeded by position, debugging). */
typedef struct
{
  int x, y, w, h;                         /* the crop (in_tile), image coordinates */
  int core_x, core_y, core_w, core_h;     /* the part that is kept, image coordinates */
  int index, count;                       /* tile number in row-major order, tile count */
  /* This tile's share of the run's progress range.  A long tile function
   * (whole-image mode!) may report into it and so also be cancelled; never
   * NULL (reports into it are no-ops when the run has no progress). */
  const LisseProgress *progress;
} LisseTileInfo;

/* Computes @out_tile (1 × out_channels × h × w, zero-filled on entry) from
 * @in_tile (1 × Cin × h × w, the crop including its halo; its edges are to be
 * treated as image edges).  Both tensors are views of the tiler's buffers:
 * valid only during the call; do not keep or free them.  Returns FALSE with
 * @error set on failure (or cancellation). */
typedef gboolean (*LisseTileFunc) (const LisseTensor  *in_tile,
                                   LisseTensor        *out_tile,
                                   const LisseTileInfo *info,
                                   gpointer            user_data,
                                   GError            **error);

/* Stream source: fill @dst (1 × Cin × dst->h × dst->w) with the image
 * rectangle at (@x, @y) of that size.  Rectangles of neighbouring tiles
 * overlap (the halo), so a pixel may be read more than once. */
typedef gboolean (*LisseTileReadFunc)  (int x, int y, LisseTensor *dst,
                                        gpointer user_data, GError **error);

/* Stream sink: store @src (1 × Cout × src->h × src->w), the final output of
 * the rectangle at (@x, @y).  Called once per tile, in row-major order. */
typedef gboolean (*LisseTileWriteFunc) (int x, int y, const LisseTensor *src,
                                        gpointer user_data, GError **error);

typedef struct
{
  int   tiles_x, tiles_y;        /* grid size */
  int   max_crop_w, max_crop_h;  /* largest crop (incl. halo and alignment) */
  gsize buffer_bytes;            /* what lisse_tiled_run_stream() allocates */
} LisseTilePlan;

/* Validates @spec for a @width × @height × @in_channels image and describes
 * the run.  Fails with LISSE_ERROR_INVALID_ARGUMENT on a bad spec or size. */
gboolean     lisse_tile_plan        (int width, int height, int in_channels,
                                     const LisseTileSpec *spec,
                                     LisseTilePlan *plan, GError **error);

/* Whole-tensor form: @in is 1 × Cin × H × W; returns a new
 * 1 × out_channels × H × W tensor, or NULL with @error set (invalid spec,
 * out of memory, the tile function failed, LISSE_ERROR_CANCELLED).  On
 * failure nothing is returned: the partial output is freed.  When one tile
 * covers the image the function gets @in itself and writes the result
 * directly (no copies). */
LisseTensor *lisse_tiled_run        (const LisseTensor *in,
                                     const LisseTileSpec *spec,
                                     LisseTileFunc func, gpointer user_data,
                                     GError **error);

/* Stream form: the input is pulled through @read, the output pushed through
 * @write, one tile at a time, so neither needs to exist in memory as a
 * whole.  @user_data goes to all three callbacks.  On failure or
 * cancellation the run stops at once and returns FALSE with @error set:
 * tiles already written stay written and no further write happens, so a
 * caller that must not show a half result writes into a shadow/temporary
 * buffer and commits it only when this returns TRUE. */
gboolean     lisse_tiled_run_stream (int width, int height, int in_channels,
                                     const LisseTileSpec *spec,
                                     LisseTileReadFunc read,
                                     LisseTileFunc func,
                                     LisseTileWriteFunc write,
                                     gpointer user_data, GError **error);

/* Debugging/tests: the largest number of bytes the tiler itself held at once
 * during any single run since the last reset (the tile function's own
 * allocations and the whole tensors of lisse_tiled_run() not counted). */
gsize        lisse_tiling_peak_bytes       (void);
void         lisse_tiling_reset_peak_bytes (void);

G_END_DECLS
