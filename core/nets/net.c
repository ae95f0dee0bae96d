/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "net.h"
#include "buffer-pool.h"
#include "nets-all.h"
#include "finite.h"
#include "lisse-error.h"
#include "model.h"
#include "tiling.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

const LisseNetInfo *const *
lisse_nets (void)
{
  static const LisseNetInfo *const all[] = {
    &lisse_net_plain_cnn,
    &lisse_net_fan18,
    &lisse_net_csgis,
    &lisse_net_fang19,
    &lisse_net_sasnet,
    &lisse_net_mgpnet,
    NULL,
  };
  return all;
}

const LisseNetInfo *
lisse_net_find (const char *architecture)
{
  if (!architecture)
    return NULL;
  for (const LisseNetInfo *const *n = lisse_nets (); *n; n++)
    if (strcmp ((*n)->architecture, architecture) == 0)
      return *n;
  return NULL;
}

static char *
known_architectures (void)
{
  GString *s = g_string_new (NULL);
  for (const LisseNetInfo *const *n = lisse_nets (); *n; n++)
    g_string_append_printf (s, "%s%s", s->len ? ", " : "", (*n)->architecture);
  return g_string_free (s, FALSE);
}

/* A string from a model file, made fit for a one-line message: valid UTF-8,
 * no control characters (a newline would split the line), at most 64
 * characters. */
static char *
printable (const char *s)
{
  g_autofree char *valid = g_utf8_make_valid (s, -1);
  GString *out = g_string_new (NULL);
  int n = 0;
  for (const char *p = valid; *p && n < 64; p = g_utf8_next_char (p), n++)
    {
      gunichar ch = g_utf8_get_char (p);
      if (g_unichar_iscntrl (ch))
        g_string_append_c (out, '?');
      else
        g_string_append_unichar (out, ch);
    }
  if (g_utf8_strlen (valid, -1) > 64)
    g_string_append (out, "…");
  return g_string_free (out, FALSE);
}

/* Errors about a file carry its name, as the safetensors reader's do, so the
 * one line the user sees says which file is wrong. */
static void
prefix_path (GError **error, const char *path)
{
  if (!path)
    return;
  g_autofree char *display = g_filename_display_name (path);
  g_prefix_error (error, "%s: ", display);
}

/* LisseNet.bf16 from the model file's "bf16_max_error" and $LISSE_BF16. */
static gboolean
bf16_from_model (const LisseSafetensors *model, gboolean *bf16, GError **error)
{
  *bf16 = FALSE;
  double max_error = 0;
  const gboolean stated = lisse_safetensors_get_metadata (model, "bf16_max_error") != NULL;
  if (stated && !lisse_model_get_metadata_double (model, "bf16_max_error", &max_error, error))
    return FALSE;
  if (stated && !(isfinite (max_error) && max_error >= 0))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL,
                   "metadata 'bf16_max_error' = %g is not an error size (a number ≥ 0)",
                   max_error);
      return FALSE;
    }
  const char *env = g_getenv ("LISSE_BF16");
  if (env && (!g_ascii_strcasecmp (env, "off") || !strcmp (env, "0")))
    return TRUE;
  if (env && !g_ascii_strcasecmp (env, "force"))
    *bf16 = TRUE;
  else
    *bf16 = stated && max_error <= 1.0;
  return TRUE;
}

LisseNet *
lisse_net_new_from_model (LisseSafetensors *model, const char *path,
                          const char *name, GError **error)
{
  g_return_val_if_fail (model != NULL, NULL);

  const char *arch = lisse_safetensors_get_metadata (model, "architecture");
  const LisseNetInfo *info = NULL;
  if (!arch)
    g_set_error_literal (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL,
                         "model file has no 'architecture' metadata");
  else if (!(info = lisse_net_find (arch)))
    {
      g_autofree char *known = known_architectures ();
      g_autofree char *shown = printable (arch);
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL,
                   "model file declares unknown architecture '%s' (known: %s)",
                   shown, known);
    }
  if (!info)
    {
      prefix_path (error, path);
      lisse_safetensors_free (model);
      return NULL;
    }

  GError *local = NULL;
  gboolean bf16;
  if (!bf16_from_model (model, &bf16, &local))
    {
      prefix_path (&local, path);
      g_propagate_error (error, local);
      lisse_safetensors_free (model);
      return NULL;
    }
  LisseNet *net = info->load (model, &local);
  if (!net)
    {
      if (!local)
        g_set_error (&local, LISSE_ERROR, LISSE_ERROR_BAD_MODEL,
                     "cannot load the %s network", info->architecture);
      prefix_path (&local, path);
      g_propagate_error (error, local);
      lisse_safetensors_free (model);
      return NULL;
    }

  net->info = info;
  net->bf16 = bf16;
  if (!net->params)
    {
      net->params = info->params;
      net->n_params = info->n_params;
    }
  if (info->receptive_radius != LISSE_NET_RADIUS_FROM_MODEL)
    net->receptive_radius = info->receptive_radius;
  net->multiple = MAX (1, info->multiple);
  net->model = model;
  net->path = g_strdup (path);
  net->name = g_strdup (name ? name : info->architecture);
  /* A load() that forgot its radius must not run tiled with no halo: that
   * would silently give seams.  Whole-image runs are always right. */
  if (net->receptive_radius < 0 && net->receptive_radius != LISSE_NET_GLOBAL)
    {
      g_critical ("%s: load() left an invalid receptive radius %d",
                  info->architecture, net->receptive_radius);
      net->receptive_radius = LISSE_NET_GLOBAL;
    }
  return net;
}

LisseNet *
lisse_net_open (const char *name_or_path, GError **error)
{
  LisseModel *model = lisse_model_open (name_or_path, NULL, 0, error);
  if (!model)
    return NULL;
  LisseSafetensors *st = g_steal_pointer (&model->st);
  LisseNet *net = lisse_net_new_from_model (st, model->path, model->name, error);
  lisse_model_free (model);
  return net;
}

void
lisse_net_free (LisseNet *net)
{
  if (!net)
    return;
  /* The architecture's part first: its weights may view the model file. */
  LisseSafetensors *model = net->model;
  char *path = net->path, *name = net->name;
  if (net->info && net->info->free)
    net->info->free (net);
  else
    g_free (net);
  lisse_safetensors_free (model);
  g_free (path);
  g_free (name);
}

void
lisse_net_free_layers (LisseTensor **weights, LisseTensor **biases, int n)
{
  for (int k = 0; k < n; k++)
    {
      if (weights)
        lisse_tensor_free (weights[k]);
      if (biases)
        lisse_tensor_free (biases[k]);
    }
  g_free (weights);
  g_free (biases);
}

void
lisse_net_params_init (const LisseNet *net, LisseParams *params)
{
  lisse_params_init (params, net->params, net->n_params);
}

#define bad_argument(error, ...) lisse_fail ((error), LISSE_ERROR_INVALID_ARGUMENT, __VA_ARGS__)

static gboolean
check_params (const LisseNet *net, const LisseParams *params, GError **error)
{
  if (params && params->specs != net->params)
    return bad_argument (error, "%s: parameters were declared for another network",
                         net->info->architecture);
  return TRUE;
}

static gboolean
check_map (const LisseNet *net, const LisseTensor *map, int h, int w, GError **error)
{
  if (!map)
    return TRUE;
  if (net->info->n_map_channels == 0)
    return bad_argument (error, "the %s network takes no parameter map",
                         net->info->architecture);
  if (map->n != 1 || map->c != net->info->n_map_channels || map->h != h || map->w != w)
    return bad_argument (error,
                         "parameter map is %d×%d×%d×%d; the %s network needs 1×%d×%d×%d",
                         map->n, map->c, map->h, map->w, net->info->architecture,
                         net->info->n_map_channels, h, w);
  return TRUE;
}

LisseTensor *
lisse_net_forward (const LisseNet *net, const LisseTensor *rgb,
                   const LisseParams *params, const LisseTensor *param_map,
                   const LisseProgress *progress, GError **error)
{
  g_return_val_if_fail (net && rgb, NULL);
  if (rgb->n != 1 || rgb->c != 3)
    {
      bad_argument (error, "%s: expected one 3-channel image, got %d×%d",
                    net->info->architecture, rgb->n, rgb->c);
      return NULL;
    }
  if (!check_params (net, params, error) || !check_map (net, param_map, rgb->h, rgb->w, error))
    return NULL;

  LisseParams defaults;
  if (!params)
    {
      lisse_net_params_init (net, &defaults);
      params = &defaults;
    }

  LisseTensor *out = net->info->forward (net, rgb, params, param_map, progress, error);
  if (!out)
    {
      if (error && !*error)
        g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                     "the %s network failed without saying why", net->info->architecture);
      return NULL;
    }
  if (out->n != 1 || out->c != 3 || out->h != rgb->h || out->w != rgb->w)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL,
                   "the %s network gave a %d×%d×%d×%d output for a 1×3×%d×%d input",
                   net->info->architecture, out->n, out->c, out->h, out->w,
                   rgb->h, rgb->w);
      lisse_tensor_free (out);
      return NULL;
    }
  return out;
}

long
lisse_net_whole_max_pixels (const LisseNet *net)
{
  return net->receptive_radius == LISSE_NET_GLOBAL ? MAX (net->whole_max_pixels, 0) : 0;
}

guint64
lisse_net_global_run_bytes (const LisseNet *net, int width, int height)
{
  const long max = lisse_net_whole_max_pixels (net);
  if (max <= 0)
    return 0;
  const double pixels = MIN ((double) MAX (width, 0) * MAX (height, 0), (double) max);
  return (guint64) ceil ((double) LISSE_NET_WHOLE_BYTES * pixels / (double) max);
}

/* A global network's automatic core tile above its whole-image size: the
 * largest crop edge within it, less the context on both sides. */
static int
global_tile (const LisseNet *net)
{
  const int crop = (int) floor (sqrt ((double) net->whole_max_pixels));
  return MAX (64, crop - 2 * LISSE_NET_GLOBAL_CONTEXT);
}

int
lisse_net_tile_size (const LisseNet *net, int tile_size, int width, int height)
{
  if (net->receptive_radius == LISSE_NET_GLOBAL && tile_size <= 0)
    {
      const long max = lisse_net_whole_max_pixels (net);
      if (max <= 0 || (double) width * height <= (double) max)
        return 0;
      tile_size = global_tile (net);
    }
  else if (tile_size <= 0)
    {
      tile_size = net->info->default_tile > 0 ? net->info->default_tile : LISSE_NET_DEFAULT_TILE;
      /* An image no larger than one tile's crop (the tile and its halo)
       * runs whole: no more memory than that crop, and none of its halo
       * computed twice — fan18 at 1280×720 did 2.9× the work in 512-pixel
       * tiles (halo 254). */
      const double crop = tile_size + 2.0 * MAX (net->receptive_radius, 0);
      if ((double) width * height <= crop * crop)
        return 0;
    }
  if (tile_size >= width && tile_size >= height)
    return 0;
  return tile_size;
}

/* ---- running over images ----------------------------------------------- */

typedef struct
{
  const LisseNet    *net;
  const LisseParams *params;
  int                channels;      /* image channels, 1 … 4 */
  int                map_channels;  /* appended to the tiler's input */
} RunContext;

/* Rec. 709 luma weights on R'G'B' (see net.h). */
#define LUMA_R 0.2126f
#define LUMA_G 0.7152f
#define LUMA_B 0.0722f

static gboolean
net_tile (const LisseTensor *in, LisseTensor *out, const LisseTileInfo *info,
          gpointer data, GError **error)
{
  const RunContext *ctx = data;
  const int h = in->h, w = in->w, c = ctx->channels;
  const size_t plane = (size_t) h * w;
  const gboolean gray = c <= 2;
  const gboolean alpha = c == 2 || c == 4;

  /* The colour channels lead the tile's channels, so RGB(A) needs no copy:
   * a 3-channel view of the contiguous NCHW data is the network's input. */
  LisseTensor *rgb_owned = NULL;
  LisseTensor rgb_view = { 1, 3, h, w, in->data, FALSE };
  const LisseTensor *rgb = &rgb_view;
  if (gray)
    {
      rgb_owned = lisse_tensor_try_new (1, 3, h, w, error);
      if (!rgb_owned)
        return FALSE;
      for (int k = 0; k < 3; k++)
        memcpy (lisse_tensor_channel (rgb_owned, 0, k), in->data, plane * sizeof (float));
      rgb = rgb_owned;
    }
  /* NaN and ±∞ are replaced before the network sees them (finite.h): a
   * convolution spreads one of them over its whole receptive field. */
  LisseTensor *rgb_finite = NULL;
  if (!(rgb = lisse_finite_tensor (rgb, 3, &rgb_finite, error)))
    {
      lisse_tensor_free (rgb_owned);
      return FALSE;
    }

  LisseTensor map_view = { 1, ctx->map_channels, h, w, in->data + (size_t) c * plane, FALSE };

  LisseTensor *y = lisse_net_forward (ctx->net, rgb, ctx->params,
                                      ctx->map_channels > 0 ? &map_view : NULL,
                                      info->progress, error);
  lisse_tensor_free (rgb_owned);
  lisse_tensor_free (rgb_finite);
  if (!y)
    return FALSE;

  if (gray)
    {
      const float *r = lisse_tensor_channel (y, 0, 0);
      const float *g = lisse_tensor_channel (y, 0, 1);
      const float *b = lisse_tensor_channel (y, 0, 2);
      float *dst = lisse_tensor_channel (out, 0, 0);
      for (size_t i = 0; i < plane; i++)
        dst[i] = LUMA_R * r[i] + LUMA_G * g[i] + LUMA_B * b[i];
    }
  else
    memcpy (out->data, y->data, 3 * plane * sizeof (float));
  if (alpha)
    memcpy (lisse_tensor_channel (out, 0, c - 1), lisse_tensor_channel (in, 0, c - 1),
            plane * sizeof (float));
  lisse_tensor_free (y);
  return TRUE;
}

static gboolean
check_run (const LisseNet *net, int width, int height, int channels,
           const LisseParams *params, GError **error)
{
  if (channels < 1 || channels > 4)
    return bad_argument (error, "%s: expected an image of 1–4 channels, got %d",
                         net->info->architecture, channels);
  if (width < 1 || height < 1)
    return bad_argument (error, "%s: invalid image size %d×%d",
                         net->info->architecture, width, height);
  return check_params (net, params, error);
}

static LisseTileSpec
tile_spec (const LisseNet *net, int tile_size, int width, int height, int channels,
           const LisseProgress *progress)
{
  int tile = lisse_net_tile_size (net, tile_size, width, height);
  return (LisseTileSpec) {
    .tile_size = tile,
    .halo = tile <= 0 ? 0
            : net->receptive_radius == LISSE_NET_GLOBAL ? LISSE_NET_GLOBAL_CONTEXT
            : net->receptive_radius,
    .multiple = net->multiple,
    .out_channels = channels,
    .progress = progress,
  };
}

/* The tiler hands one user_data to all three callbacks; these unwrap it. */
typedef struct
{
  RunContext         ctx;
  LisseTileReadFunc  read;
  LisseTileWriteFunc write;
  gpointer           user_data;
} StreamContext;

static gboolean
stream_read (int x, int y, LisseTensor *dst, gpointer data, GError **error)
{
  StreamContext *sc = data;
  return sc->read (x, y, dst, sc->user_data, error);
}

static gboolean
stream_write (int x, int y, const LisseTensor *src, gpointer data, GError **error)
{
  StreamContext *sc = data;
  return sc->write (x, y, src, sc->user_data, error);
}

static gboolean
stream_tile (const LisseTensor *in, LisseTensor *out, const LisseTileInfo *info,
             gpointer data, GError **error)
{
  StreamContext *sc = data;
  return net_tile (in, out, info, &sc->ctx, error);
}

gboolean
lisse_net_run_stream (const LisseNet *net, int width, int height, int channels,
                      int map_channels, const LisseParams *params, int tile_size,
                      LisseTileReadFunc read, LisseTileWriteFunc write,
                      gpointer user_data, const LisseProgress *progress,
                      GError **error)
{
  g_return_val_if_fail (net && read && write, FALSE);
  if (!check_run (net, width, height, channels, params, error))
    return FALSE;
  if (map_channels != 0 && map_channels != net->info->n_map_channels)
    return bad_argument (error, "the %s network takes %d parameter-map channels, not %d",
                         net->info->architecture, net->info->n_map_channels, map_channels);

  LisseParams defaults;
  if (!params)
    {
      lisse_net_params_init (net, &defaults);
      params = &defaults;
    }
  StreamContext sc = { { net, params, channels, map_channels }, read, write, user_data };
  LisseTileSpec spec = tile_spec (net, tile_size, width, height, channels, progress);
  gboolean ok = lisse_tiled_run_stream (width, height, channels + map_channels, &spec,
                                        stream_read, stream_tile, stream_write, &sc, error);
  lisse_buffer_pool_trim ();   /* nothing held between runs (buffer-pool.h) */
  return ok;
}

/* Stream callbacks over whole tensors, for lisse_net_run_map(): they put the
 * image and the map side by side without building a combined copy. */
typedef struct
{
  const LisseTensor *image;
  const LisseTensor *map;
  LisseTensor       *out;
} TensorPair;

static gboolean
pair_read (int x, int y, LisseTensor *dst, gpointer data, GError **error)
{
  const TensorPair *p = data;
  LisseTensor img = { 1, p->image->c, dst->h, dst->w, dst->data, FALSE };
  lisse_tensor_copy_rect (p->image, x, y, &img, 0, 0, dst->w, dst->h);
  if (p->map)
    {
      LisseTensor map = { 1, p->map->c, dst->h, dst->w,
                          dst->data + (size_t) p->image->c * dst->h * dst->w, FALSE };
      lisse_tensor_copy_rect (p->map, x, y, &map, 0, 0, dst->w, dst->h);
    }
  return TRUE;
}

static gboolean
pair_write (int x, int y, const LisseTensor *src, gpointer data, GError **error)
{
  const TensorPair *p = data;
  lisse_tensor_copy_rect (src, 0, 0, p->out, x, y, src->w, src->h);
  return TRUE;
}

LisseTensor *
lisse_net_run_map (const LisseNet *net, const LisseTensor *image,
                   const LisseParams *params, const LisseTensor *param_map,
                   int tile_size, const LisseProgress *progress, GError **error)
{
  g_return_val_if_fail (net && image, NULL);
  if (image->n != 1)
    {
      bad_argument (error, "%s: expected one image, got a batch of %d",
                    net->info->architecture, image->n);
      return NULL;
    }
  if (!check_run (net, image->w, image->h, image->c, params, error)
      || !check_map (net, param_map, image->h, image->w, error))
    return NULL;

  LisseParams defaults;
  if (!params)
    {
      lisse_net_params_init (net, &defaults);
      params = &defaults;
    }

  if (!param_map)
    {
      /* The plain case goes through lisse_tiled_run(), which hands a single
       * tile the caller's tensors without copying them. */
      RunContext ctx = { net, params, image->c, 0 };
      LisseTileSpec spec = tile_spec (net, tile_size, image->w, image->h, image->c, progress);
      LisseTensor *out = lisse_tiled_run (image, &spec, net_tile, &ctx, error);
      lisse_buffer_pool_trim ();   /* nothing held between runs (buffer-pool.h) */
      return out;
    }

  LisseTensor *out = lisse_tensor_try_new (1, image->c, image->h, image->w, error);
  if (!out)
    return NULL;
  TensorPair pair = { image, param_map, out };
  if (!lisse_net_run_stream (net, image->w, image->h, image->c, param_map->c, params,
                             tile_size, pair_read, pair_write, &pair, progress, error))
    {
      lisse_tensor_free (out);
      return NULL;
    }
  return out;
}

LisseTensor *
lisse_net_run (const LisseNet *net, const LisseTensor *image, const LisseParams *params,
               int tile_size, const LisseProgress *progress, GError **error)
{
  return lisse_net_run_map (net, image, params, NULL, tile_size, progress, error);
}

