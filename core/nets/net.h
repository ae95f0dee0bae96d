/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Networks: one interface for every learned smoothing network, a registry
 * keyed by the architecture name a model file declares, and the runner that
 * takes any image (gray or colour, with or without alpha, any size) through
 * a network tile by tile.
 *
 * A model file (safetensors) names its network in the metadata entry
 * "architecture"; lisse_net_open() finds the LisseNetInfo of that name and
 * lets it load the weights.  A network then sees only what it was trained
 * on: one 1×3×H×W image of non-linear sRGB (R'G'B') values in [0,1].
 * lisse_net_run() does the rest:
 *
 *   - Gray images (1 channel, or 2 with alpha) are replicated to R'=G'=B'
 *     for the network, and the network's output is brought back to one
 *     channel as its luma Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' (Rec. 709
 *     weights applied to the non-linear values, as JPEG and most editors do
 *     it; for the near-gray output a network gives to a gray input this is
 *     almost exactly its common value).
 *   - Alpha (the last channel of a 2- or 4-channel image) is copied from
 *     input to output untouched, bit for bit.  Colour is not premultiplied.
 *   - NaN, ±∞ and values beyond ±65504 in the colour channels are replaced
 *     (finite.h) before the network sees a tile: one of them would spread
 *     over the whole receptive field.
 *   - Output values are what the network computes: they are NOT clamped to
 *     [0,1] here (a float file or a following operation may want the
 *     overshoot); writing an 8- or 16-bit file clamps.
 *   - Images of any size run in bounded memory through core/tiling.h: each
 *     tile is processed with a halo of the network's receptive radius and
 *     aligned to its sampling grid, so the tiled result equals the
 *     whole-image result (up to float summation order).  Networks with a
 *     global receptive field (LISSE_NET_GLOBAL) run on the whole image:
 *     tiling would change what they compute.  Their memory grows with the
 *     image, so above a size (lisse_net_whole_max_pixels(): what fits
 *     LISSE_NET_WHOLE_BYTES) they run in tiles after all, each with
 *     LISSE_NET_GLOBAL_CONTEXT pixels of the image around it as context
 *     and its crop within that size: the network sees its texture at full
 *     resolution and a tile's worth of the image for its global branch.
 *     Measured against the whole-image run (tools/bench/global-strategy,
 *     docs/performance.md), that is far closer than running the whole
 *     image at reduced size with guided upsampling, the other strategy
 *     measured.  The size depends only on the model file, never on the
 *     machine, so a result is the same everywhere.
 */
#pragma once

#include "params.h"
#include "progress.h"
#include "safetensors.h"
#include "tensor.h"
#include "tiling.h"

#include <glib.h>

G_BEGIN_DECLS

/* Receptive radius of a network that looks at the whole image (global
 * pooling, attention over all pixels): it cannot be tiled. */
#define LISSE_NET_GLOBAL            (-1)
/* LisseNetInfo.receptive_radius for architectures whose radius depends on
 * the model file (depth, dilations): load() sets net->receptive_radius. */
#define LISSE_NET_RADIUS_FROM_MODEL (-2)
/* The memory a global network's whole-image run may take: 2 GiB, what a
 * GIMP user's machine spares for a filter (load() turns it into
 * LisseNet.whole_max_pixels). */
#define LISSE_NET_WHOLE_BYTES       (G_GINT64_CONSTANT (2) << 30)
/* The context around each tile of a global network above its whole-image
 * size: 128 pixels (tools/bench/global-strategy: 64, 128 and 256 within
 * 0.1 dB of each other against the whole run, docs/performance.md). */
#define LISSE_NET_GLOBAL_CONTEXT    128
/* Core tile edge used by lisse_net_run() when asked for tile_size 0 and the
 * network is local: large enough that the halo costs little, small enough
 * that a wide network's activations for one tile stay within a few hundred
 * MiB. */
#define LISSE_NET_DEFAULT_TILE      512

typedef struct _LisseNet     LisseNet;
typedef struct _LisseNetInfo LisseNetInfo;

/* Builds the network from a model file already opened and known to declare
 * this architecture.  Must validate everything it uses (tensor names and
 * shapes with lisse_model_check_tensors(), metadata values and their
 * ranges): model files are untrusted, and a bad one must give a one-line
 * LISSE_ERROR_BAD_MODEL error, never a crash.  Weight tensors may be views
 * into @model (it outlives the network: lisse_net_free() releases it after
 * info->free).  Returns a struct whose first member is a LisseNet (zeroed
 * apart from what load sets; lisse_net_open() fills the rest), or NULL with
 * @error set. */
typedef LisseNet    *(*LisseNetLoadFunc)    (LisseSafetensors *model, GError **error);

/* Frees what load() allocated, including the struct itself (NULL: g_free
 * of the struct only).  Must not free net->model or net->path. */
typedef void         (*LisseNetFreeFunc)    (LisseNet *net);

/* @rgb: 1×3×H×W non-linear sRGB in [0,1] (H, W ≥ 1, any size: for tiled
 * runs the crop of one tile, whose edges are to be treated as image edges).
 * @params: declared by info->params (already range-checked).
 * @param_map: NULL, or 1×info->n_map_channels×H×W per-pixel parameter
 * values (e.g. a λ map) that the network uses instead of the matching
 * scalar parameters.  @progress: may be NULL; a long forward pass reports
 * into it and stops with LISSE_ERROR_CANCELLED when asked.
 * Returns a new 1×3×H×W tensor, or NULL with @error set.  Must not modify
 * its inputs and must be safe to call from several threads at once on the
 * same net (the weights are read-only). */
typedef LisseTensor *(*LisseNetForwardFunc) (const LisseNet      *net,
                                             const LisseTensor   *rgb,
                                             const LisseParams   *params,
                                             const LisseTensor   *param_map,
                                             const LisseProgress *progress,
                                             GError             **error);

struct _LisseNetInfo
{
  const char           *architecture;  /* metadata "architecture" value: "plain-cnn" */
  const char           *title;         /* "Plain residual CNN" */
  const char           *reference;     /* "Fan et al. 2018"; or why it exists */
  const LisseParamSpec *params;        /* the --set parameters (lambda-f, …) */
  int                   n_params;
  int                   n_map_channels;   /* 0: no per-pixel parameter map */
  const char           *map_kind;         /* what the map is: "lambda-f" (a per-pixel
                                             λf), "guide" (an R'G'B' guide image:
                                             `lisse run --guide`); NULL without one */
  int                   receptive_radius; /* pixels ≥ 0, LISSE_NET_GLOBAL or
                                             LISSE_NET_RADIUS_FROM_MODEL */
  int                   multiple;         /* tile alignment (2^k for k stride-2
                                             stages), ≥ 1 */
  /* Core tile edge for automatic tiling; 0: LISSE_NET_DEFAULT_TILE.  A
   * narrow network with a wide halo (fang19: 16 channels, 181 pixels)
   * takes larger tiles, or recomputes its halo more than its tiles. */
  int                   default_tile;
  LisseNetLoadFunc      load;
  LisseNetFreeFunc      free;
  LisseNetForwardFunc   forward;
};

/* The part every loaded network shares; architectures embed it as their
 * first member. */
struct _LisseNet
{
  const LisseNetInfo *info;
  int                 receptive_radius;  /* pixels ≥ 0, or LISSE_NET_GLOBAL */
  int                 multiple;          /* ≥ 1 */
  LisseSafetensors   *model;             /* owned; weights may view it */
  char               *path;              /* the model file; NULL when loaded from memory */
  char               *name;              /* display name (file name less .safetensors) */
  /* The parameters of this model: info->params, unless load() set its own
   * (the same names, with ranges and defaults a model file states; owned by
   * the net, freed by info->free).  LisseParams for this net must be made
   * from these (lisse_net_params_init). */
  const LisseParamSpec *params;
  int                   n_params;
  /* bf16 products allowed in this network's convolutions (geometry flag
   * LisseConv2dGeom.bf16; used where the CPU has AMX): the model file's
   * "bf16_max_error" — the largest |bf16 − float32| of its output in 8-bit
   * steps, measured by tools/bench/bf16-gate — is at most 1, unless
   * $LISSE_BF16 says "off" (never) or "force" (always: for measuring). */
  gboolean              bf16;
  /* Global networks: the most pixels an image may have to run whole, set
   * by load() from the model's widths so that the run stays within
   * LISSE_NET_WHOLE_BYTES; 0: no limit (local networks, which tile). */
  long                  whole_max_pixels;
};

/* NULL-terminated list of every architecture, in a stable order. */
const LisseNetInfo *const *lisse_nets     (void);
const LisseNetInfo        *lisse_net_find (const char *architecture);

/* Resolves @name_or_path through the model search path (model.h), opens the
 * file, reads its "architecture" and loads the network.  Errors
 * (LISSE_ERROR_UNKNOWN_NAME, LISSE_ERROR_IO, LISSE_ERROR_BAD_MODEL), one
 * line each, e.g. "x.safetensors: model file declares unknown architecture
 * 'foo' (known: plain-cnn)", "x.safetensors: model file has no
 * 'architecture' metadata". */
LisseNet *lisse_net_open           (const char *name_or_path, GError **error);
/* Same from an opened file; takes ownership of @model (freed on failure
 * too).  @path and @name may be NULL. */
LisseNet *lisse_net_new_from_model (LisseSafetensors *model, const char *path,
                                    const char *name, GError **error);
void      lisse_net_free           (LisseNet *net);
/* For an architecture's free(): frees @weights[k] and @biases[k] for k < @n
 * (either array may be NULL, as may any entry) and the two arrays. */
void      lisse_net_free_layers    (LisseTensor **weights, LisseTensor **biases, int n);

/* The network's parameters (net->params) at their defaults. */
void      lisse_net_params_init    (const LisseNet *net, LisseParams *params);

/* One forward pass over a whole 1×3×H×W image, with the argument checks
 * every caller needs (shapes, params declared for this network, map shape,
 * output shape).  No tiling, no gray or alpha handling: see lisse_net_run. */
LisseTensor *lisse_net_forward     (const LisseNet      *net,
                                    const LisseTensor   *rgb,
                                    const LisseParams   *params,
                                    const LisseTensor   *param_map,
                                    const LisseProgress *progress,
                                    GError             **error);

/* The core tile size a run will use for a @width × @height image when asked
 * for @tile_size: ≤ 0 (automatic) gives 0 (whole image) when the image has
 * no more pixels than one tile's crop (tile + 2 · halo, squared), else the
 * architecture's default_tile (else LISSE_NET_DEFAULT_TILE) for local
 * networks; global networks give 0 (whole image) up to their whole-image
 * size and above it the largest core tile whose crop (LISSE_NET_GLOBAL_CONTEXT
 * on each side) fits that size.  A tile size asked for (> 0) is used as it
 * is, local or global; one at least as large as the image gives 0. */
int       lisse_net_tile_size      (const LisseNet *net, int tile_size,
                                    int width, int height);

/* For a global network, net->whole_max_pixels: the most pixels an image
 * may have to run whole automatically; 0 (no limit) for local networks
 * and for global ones without a limit. */
long      lisse_net_whole_max_pixels (const LisseNet *net);

/* For a global network with a whole-image size, the bytes its automatic
 * run on a @width × @height image takes beyond what the caller holds: the
 * whole-image estimate its load() made (LISSE_NET_WHOLE_BYTES at
 * whole_max_pixels) for the pixels it runs at once — the image while it
 * runs whole, at most one tile's crop above that.  0 for local networks,
 * whose one tile costs the same at any image size (the effects declare it
 * as a fixed part). */
guint64   lisse_net_global_run_bytes (const LisseNet *net, int width, int height);

/* Runs the network over @image (1×C×H×W, C = 1 gray, 2 gray+alpha, 3 RGB,
 * 4 RGBA; see the top of this file) and returns a new tensor of the same
 * shape, or NULL with @error set.  @tile_size: the core tile edge, 0 =
 * automatic (lisse_net_tile_size()).  @progress may be NULL. */
LisseTensor *lisse_net_run         (const LisseNet      *net,
                                    const LisseTensor   *image,
                                    const LisseParams   *params,
                                    int                  tile_size,
                                    const LisseProgress *progress,
                                    GError             **error);
/* Same with a per-pixel parameter map (1×n_map_channels×H×W, may be NULL). */
LisseTensor *lisse_net_run_map     (const LisseNet      *net,
                                    const LisseTensor   *image,
                                    const LisseParams   *params,
                                    const LisseTensor   *param_map,
                                    int                  tile_size,
                                    const LisseProgress *progress,
                                    GError             **error);

/* Streaming form for images that should not be held in memory whole:
 * @read fills a 1×(channels + map_channels)×h×w tensor with the image
 * rectangle at (x, y) — the image's @channels first, then, when
 * @map_channels is net->info->n_map_channels (> 0), the parameter map; pass
 * @map_channels = 0 for none.  @write receives each finished 1×channels×h×w
 * rectangle once, in row-major tile order (see tiling.h for the contract,
 * including what a failure leaves written).  Memory: one tile crop plus the
 * network's activations for it. */
gboolean  lisse_net_run_stream     (const LisseNet      *net,
                                    int                  width,
                                    int                  height,
                                    int                  channels,
                                    int                  map_channels,
                                    const LisseParams   *params,
                                    int                  tile_size,
                                    LisseTileReadFunc    read,
                                    LisseTileWriteFunc   write,
                                    gpointer             user_data,
                                    const LisseProgress *progress,
                                    GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LisseNet, lisse_net_free)

G_END_DECLS
