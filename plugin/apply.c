/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Applying an effect to a drawable (apply.h).  The plug-in process runs the
 * engine itself (lisse_effect_run), so its errors and progress reach the
 * user; GIMP's core only merges the result:
 *
 *   1. the selection's bounds on the drawable (gimp_drawable_mask_intersect),
 *      grown by a margin so the effect sees the context of the pixels it
 *      changes, are read as non-linear floats in the image's own colour
 *      space into a LisseTensor;
 *   2. the mask or guide is read over the same area;
 *   3. lisse_effect_run(), with GIMP's progress bar;
 *   4. only the selection's bounds are written into the shadow buffer, and
 *      gimp_drawable_merge_shadow (undo = TRUE) merges them through the
 *      selection (feathering included) as ONE undo step.
 * Any failure before step 4 leaves the drawable untouched.
 *
 * Memory: the processed area is held whole, as planar floats — C·W·H·4
 * bytes for the input and as much for the result (plus 4·W·H for a mask
 * or up to 12·W·H for a guide), on top of what the effect itself needs:
 * about 380 MB for a 12-megapixel RGBA layer with everything selected.
 * Pixels travel between GEGL and the tensors in strips, so no interleaved
 * copy of the whole area is made.  An area whose run would exceed the
 * memory budget (memory-budget.h) is refused with a message before any of
 * that is allocated. */
#include "apply.h"

#include "lisse-error.h"

#include <glib/gi18n-lib.h>

/* Context read around the selection's bounds: Fan et al. 2018's network
 * sees 254 pixels each way (core/nets/fan18.c), so with this margin a
 * partial selection gets exactly the pixels a whole-layer run would.  The
 * registry does not declare each effect's reach; global methods (L0, RTV,
 * WLS) see the cropped area, which only matters near the selection's edge. */
#define LISSE_APPLY_MARGIN 256

/* Bytes of interleaved floats moved per gegl_buffer_get/set. */
#define STRIP_BYTES (4 << 20)

typedef struct
{
  int x, y, width, height;
} Rect;

static int
strip_rows (const Rect *r, int channels)
{
  size_t row = (size_t) r->width * channels * sizeof (float);
  return (int) CLAMP (STRIP_BYTES / MAX (row, 1), 1, (size_t) r->height);
}

/* Reads @r of @buffer (in @buffer's coordinates; GEGL_ABYSS_NONE gives 0
 * outside it) as @format, which has @channels float components, into a
 * new planar 1×channels×h×w tensor. */
static LisseTensor *
read_tensor (GeglBuffer *buffer, const Rect *r, const Babl *format, int channels,
             GError **error)
{
  LisseTensor *t = lisse_tensor_try_new (1, channels, r->height, r->width, error);
  if (!t)
    return NULL;

  int rows = strip_rows (r, channels);
  float *strip = g_try_malloc ((size_t) rows * r->width * channels * sizeof (float));
  if (!strip)
    {
      lisse_tensor_free (t);
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, _("out of memory reading the image"));
      return NULL;
    }

  for (int y0 = 0; y0 < r->height; y0 += rows)
    {
      int h = MIN (rows, r->height - y0);
      gegl_buffer_get (buffer, GEGL_RECTANGLE (r->x, r->y + y0, r->width, h), 1.0, format,
                       strip, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      lisse_tensor_set_pixels (t, 0, y0, r->width, h, channels, strip);
    }
  g_free (strip);
  return t;
}

/* Writes the part of @t at (@tx, @ty) of size @r into @r of @buffer. */
static gboolean
write_tensor (GeglBuffer *buffer, const Rect *r, const Babl *format,
              const LisseTensor *t, int tx, int ty, GError **error)
{
  int channels = t->c;
  int rows = strip_rows (r, channels);
  float *strip = g_try_malloc ((size_t) rows * r->width * channels * sizeof (float));
  if (!strip)
    return lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, _("out of memory writing the result"));

  for (int y0 = 0; y0 < r->height; y0 += rows)
    {
      int h = MIN (rows, r->height - y0);
      lisse_tensor_get_pixels (t, tx, ty + y0, r->width, h, channels, strip);
      gegl_buffer_set (buffer, GEGL_RECTANGLE (r->x, r->y + y0, r->width, h), 0, format,
                       strip, GEGL_AUTO_ROWSTRIDE);
    }
  g_free (strip);
  return TRUE;
}

/* Non-linear ("perceptual") floats in the drawable's own colour space, as
 * the networks expect (R'G'B', effect.h); the space keeps wide-gamut images
 * from being clipped to sRGB on the way. */
static const Babl *
pixel_format (GimpDrawable *drawable, gboolean with_alpha, int *channels)
{
  gboolean gray = !gimp_drawable_is_rgb (drawable);
  const char *name;

  if (gray)
    name = with_alpha ? "Y'A float" : "Y' float";
  else
    name = with_alpha ? "R'G'B'A float" : "R'G'B' float";
  *channels = (gray ? 1 : 3) + (with_alpha ? 1 : 0);
  return babl_format_with_space (name, gimp_drawable_get_format (drawable));
}

static char *
item_name (GimpDrawable *drawable)
{
  char *name = gimp_item_get_name (GIMP_ITEM (drawable));
  return name ? name : g_strdup ("?");
}

/* The mask over @area (drawable coordinates of @drawable): a channel is
 * placed through image coordinates — an image channel at (0, 0), a layer
 * mask at its layer's offsets — and is 0 where it does not reach.  Read as
 * "Y float", the channel's own values (masks are linear coverage). */
static LisseTensor *
read_mask (GimpDrawable *drawable, GimpDrawable *mask, const Rect *area, GError **error)
{
  int dx, dy, mx, my;
  gimp_drawable_get_offsets (drawable, &dx, &dy);
  gimp_drawable_get_offsets (mask, &mx, &my);

  Rect r = { area->x + dx - mx, area->y + dy - my, area->width, area->height };
  GeglBuffer *buffer = gimp_drawable_get_buffer (mask);
  LisseTensor *t = read_tensor (buffer, &r, babl_format ("Y float"), 1, error);
  g_object_unref (buffer);
  return t;
}

/* The guide over @area: it must be as large as the target, and pixel (x, y)
 * of the guide steers pixel (x, y) of the target whatever their offsets.
 * Its alpha is not used (effect.h). */
static LisseTensor *
read_guide (GimpDrawable *drawable, GimpDrawable *guide, const LisseEffectInfo *effect,
            const Rect *area, GError **error)
{
  int gw = gimp_drawable_get_width (guide), gh = gimp_drawable_get_height (guide);
  int w = gimp_drawable_get_width (drawable), h = gimp_drawable_get_height (drawable);

  if (gimp_drawable_is_indexed (guide))
    {
      char *name = item_name (guide);
      lisse_fail (error, LISSE_ERROR_BAD_IMAGE,
                  _("%s: the guide '%s' is an indexed layer; convert its image to RGB or grayscale"),
                  _(effect->title), name);
      g_free (name);
      return NULL;
    }
  if (gw != w || gh != h)
    {
      char *name = item_name (guide);
      lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                  _("%s: the guide '%s' is %d×%d but the layer is %d×%d; "
                    "scale the guide to the layer's size first"),
                  _(effect->title), name, gw, gh, w, h);
      g_free (name);
      return NULL;
    }

  int channels;
  const Babl *format = pixel_format (guide, FALSE, &channels);
  GeglBuffer *buffer = gimp_drawable_get_buffer (guide);
  Rect r = *area;
  LisseTensor *t = read_tensor (buffer, &r, format, channels, error);
  g_object_unref (buffer);
  return t;
}

/* GIMP's progress bar, updated when the fraction moved by at least 0.5 %
 * (each update is a round trip to GIMP's core).  libgimp offers no way to
 * ask whether the user pressed Cancel: GIMP closes the plug-in instead,
 * which discards the unmerged shadow buffer, so this never cancels. */
typedef struct
{
  double last;
} ProgressState;

static gboolean
report_progress (double fraction, gpointer user_data)
{
  ProgressState *state = user_data;

  if (fraction >= 1.0 || fraction - state->last >= 0.005 || fraction < state->last)
    {
      state->last = fraction;
      gimp_progress_update (CLAMP (fraction, 0.0, 1.0));
    }
  return TRUE;
}

gboolean
lisse_apply (GimpDrawable *drawable, const LisseApplyArgs *args, GError **error)
{
  const LisseEffectInfo *effect = args->effect;
  const char *title = _(effect->title);

  if (gimp_drawable_is_indexed (drawable))
    return lisse_fail (error, LISSE_ERROR_BAD_IMAGE,
                       _("%s works on RGB and grayscale images; convert this indexed "
                         "image first (Image ▸ Mode ▸ RGB)"), title);
  if (gimp_item_is_group (GIMP_ITEM (drawable)))
    return lisse_fail (error, LISSE_ERROR_BAD_IMAGE,
                       _("%s cannot be applied to a layer group; pick one of its layers"),
                       title);

  if (args->aux == NULL && effect->aux_required)
    {
      if (effect->aux == LISSE_EFFECT_AUX_MASK)
        return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                           _("%s needs a mask: pass a channel (a saved selection or a "
                             "layer mask) as 'mask'"), title);
      if (effect->aux == LISSE_EFFECT_AUX_GUIDE)
        return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                           _("%s needs a guide: pass a layer or channel of the same size "
                             "as 'guide'"), title);
    }

  /* The part to change: the selection's bounds on this drawable. */
  Rect sel;
  if (!gimp_drawable_mask_intersect (drawable, &sel.x, &sel.y, &sel.width, &sel.height))
    return TRUE;   /* the selection does not touch this drawable: nothing to do */

  int w = gimp_drawable_get_width (drawable), h = gimp_drawable_get_height (drawable);
  Rect area;
  area.x = MAX (0, sel.x - LISSE_APPLY_MARGIN);
  area.y = MAX (0, sel.y - LISSE_APPLY_MARGIN);
  area.width = MIN (w, sel.x + sel.width + LISSE_APPLY_MARGIN) - area.x;
  area.height = MIN (h, sel.y + sel.height + LISSE_APPLY_MARGIN) - area.y;

  int channels;
  const Babl *format = pixel_format (drawable, gimp_drawable_has_alpha (drawable), &channels);

  /* Before anything image-sized exists: a layer beyond the memory budget
   * gets a message, not a plug-in that the kernel kills half-way. */
  int aux_channels = !args->aux ? 0 : effect->aux == LISSE_EFFECT_AUX_MASK ? 1 : 3;
  if (!lisse_effect_check_memory (effect, args->choice, area.width, area.height, channels,
                                  aux_channels, error))
    return FALSE;

  GeglBuffer *buffer = gimp_drawable_get_buffer (drawable);
  LisseTensor *image = read_tensor (buffer, &area, format, channels, error);
  g_object_unref (buffer);
  if (!image)
    return FALSE;

  LisseTensor *aux = NULL;
  if (args->aux)
    {
      aux = effect->aux == LISSE_EFFECT_AUX_MASK
              ? read_mask (drawable, args->aux, &area, error)
              : effect->aux == LISSE_EFFECT_AUX_GUIDE
                  ? read_guide (drawable, args->aux, effect, &area, error)
                  : NULL;
      if (!aux && effect->aux != LISSE_EFFECT_AUX_NONE)
        {
          lisse_tensor_free (image);
          return FALSE;
        }
    }

  ProgressState state = { 0.0 };
  LisseProgress progress = { report_progress, &state, 0.0, 1.0 };
  gimp_progress_init_printf (_("%s…"), title);

  LisseTensor *result = lisse_effect_run (effect, image, aux, &args->params, args->choice,
                                          1.0, &progress, error);
  lisse_tensor_free (image);
  lisse_tensor_free (aux);
  if (!result)
    {
      gimp_progress_end ();
      return FALSE;
    }

  GeglBuffer *shadow = gimp_drawable_get_shadow_buffer (drawable);
  gboolean ok = write_tensor (shadow, &sel, format, result,
                              sel.x - area.x, sel.y - area.y, error);
  /* Unreferencing flushes the written tiles to GIMP's core. */
  g_object_unref (shadow);
  lisse_tensor_free (result);
  gimp_progress_update (1.0);
  gimp_progress_end ();

  if (!ok)
    {
      gimp_drawable_free_shadow (drawable);
      return FALSE;
    }
  if (!gimp_drawable_merge_shadow (drawable, TRUE))
    {
      gimp_drawable_free_shadow (drawable);
      return lisse_fail (error, LISSE_ERROR_IO, _("%s: GIMP could not merge the result"), title);
    }
  gimp_drawable_update (drawable, sel.x, sel.y, sel.width, sel.height);
  return TRUE;
}
