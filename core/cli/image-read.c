/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the three decoders share: the size limits, and the colour spaces of
 * embedded profiles, which go to babl.  babl's ICC parser trusts the
 * profile (it follows tag offsets unchecked, allocates what a curve's
 * count asks for, prints to stderr on some profiles), and babl keeps every
 * space and curve it makes in fixed tables of 100 that, once full, make it
 * return NULL where its own callers then crash; so profiles are checked
 * here first (CMYK ones by Little CMS, which babl hands them to) and the
 * number of distinct ones handed over is bounded. */
#include "image-read.h"
#include "image-io.h"
#include "lisse-error.h"

#include <lcms2.h>
#include <math.h>
#include <string.h>

static guint64 max_pixels = LISSE_IMAGE_MAX_PIXELS;

void
lisse_image_io_set_max_pixels (guint64 limit)
{
  max_pixels = limit ? limit : LISSE_IMAGE_MAX_PIXELS;
}

guint64
lisse_image_max_pixels (void)
{
  return max_pixels;
}

gboolean
lisse_image_check_size (guint64 width, guint64 height, const char *format, GError **error)
{
  if (width == 0 || height == 0)
    return lisse_fail (error, LISSE_ERROR_BAD_IMAGE,
                       "the %s file declares an empty image (%" G_GUINT64_FORMAT "×%"
                       G_GUINT64_FORMAT " pixels)", format, width, height);
  if (width > LISSE_IMAGE_MAX_SIDE || height > LISSE_IMAGE_MAX_SIDE
      || width * height > max_pixels)
    return lisse_fail (error, LISSE_ERROR_BAD_IMAGE,
                       "the image is too large (%" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT
                       " pixels; the limit is %" G_GUINT64_FORMAT " pixels, %d on a side)",
                       width, height, max_pixels, LISSE_IMAGE_MAX_SIDE);
  return TRUE;
}

const Babl *
lisse_image_format (const char *model, const char *type, const Babl *space)
{
  g_autofree char *name = g_strdup_printf ("%s %s", model, type);
  return babl_format_with_space (name, space);
}

/* ======================================================================== */
/* babl's tables                                                            */

/* Each distinct profile costs babl at most one space and three curves; with
 * its own dozen built-in spaces and curves this keeps both tables well
 * below 100.  A command-line run reads one to three images, so only a long
 * batch (or the fuzzer) ever meets the limit; past it, profiles are
 * ignored (the image is read as sRGB). */
#define MAX_DISTINCT_PROFILES 24

/* What babl made of each distinct profile so far (SHA-256 of its bytes →
 * Known).  babl is asked once per profile: it also leaks a little on every
 * call for gray and CMYK profiles. */
typedef struct
{
  const Babl *space;   /* NULL: babl refused it, for @why */
  const char *why;
} Known;

static GMutex known_lock;
static GHashTable *known;

static const Babl *
space_for (const guint8 *key, gsize length, const Babl *(*make) (gconstpointer, const char **),
           gconstpointer data, const char **why)
{
  char *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, key, length);
  g_mutex_lock (&known_lock);
  if (!known)
    known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  Known *k = g_hash_table_lookup (known, sum);
  if (k)
    g_free (sum);
  else if (g_hash_table_size (known) >= MAX_DISTINCT_PROFILES)
    {
      g_free (sum);
      g_mutex_unlock (&known_lock);
      *why = "too many different colour profiles in one process";
      return NULL;
    }
  else
    {
      k = g_new0 (Known, 1);
      k->space = make (data, &k->why);
      g_hash_table_insert (known, sum, k);
    }
  const Babl *space = k->space;
  *why = k->why;
  g_mutex_unlock (&known_lock);
  return space;
}

/* ======================================================================== */
/* ICC profiles                                                             */

/* Real profiles are a few kilobytes to a few megabytes. */
#define MAX_ICC_BYTES ((gsize) 16 << 20)
#define MAX_CURVE_POINTS 65536

static guint32
be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static guint16
be16 (const guint8 *p)
{
  return (guint16) (p[0] << 8 | p[1]);
}

typedef struct
{
  guint32 offset, size;
} IccTag;

/* The first tag called @sig, as babl finds it. */
static gboolean
icc_find (const guint8 *icc, guint32 n_tags, const char *sig, IccTag *tag)
{
  for (guint32 t = 0; t < n_tags; t++)
    {
      const guint8 *e = icc + 132 + 12 * (gsize) t;
      if (memcmp (e, sig, 4) == 0)
        {
          tag->offset = be32 (e + 4);
          tag->size = be32 (e + 8);
          return TRUE;
        }
    }
  return FALSE;
}

static double
s15f16 (const guint8 *p)
{
  return (gint16) be16 (p) + be16 (p + 2) / 65536.0;
}

/* NULL when babl can parse @icc safely and quietly, else why not. */
static const char *
icc_problem (const guint8 *icc, gsize length)
{
  if (length < 132 || length > MAX_ICC_BYTES)
    return "the profile's size is implausible";
  if (be32 (icc) != length)
    return "the profile's length field disagrees with its size";
  guint32 n_tags = be32 (icc + 128);
  if (n_tags > (length - 132) / 12)
    return "the profile's tag table runs past its end";
  /* Every tag inside the profile: babl follows offsets unchecked. */
  for (guint32 t = 0; t < n_tags; t++)
    {
      const guint8 *e = icc + 132 + 12 * (gsize) t;
      guint64 offset = be32 (e + 4), size = be32 (e + 8);
      if (size < 12 || offset + size > length)
        return "a tag of the profile lies outside it";
    }
  static const char *const curves[] = { "rTRC", "gTRC", "bTRC", "kTRC" };
  for (gsize i = 0; i < G_N_ELEMENTS (curves); i++)
    {
      IccTag tag;
      if (!icc_find (icc, n_tags, curves[i], &tag))
        continue;
      const guint8 *c = icc + tag.offset;
      if (memcmp (c, "curv", 4) == 0)
        {
          guint32 count = be32 (c + 8);
          if (count > MAX_CURVE_POINTS || 12 + 2 * (guint64) count > tag.size)
            return "a tone curve of the profile is longer than its tag";
        }
      else if (memcmp (c, "para", 4) == 0)
        {
          /* babl knows function types 0 and 3 (and prints on the others). */
          guint16 type = be16 (c + 8);
          if (type != 0 && type != 3)
            return "the profile uses a parametric curve babl does not handle";
          if (tag.size < (type == 0 ? 16u : 32u))
            return "a tone curve of the profile is shorter than its type";
        }
      else
        return "a tone curve of the profile has an unknown type";
    }
  /* babl prints a warning for a matrix with swapped primaries beside
   * cLUTs (an Argyll trick); it refuses such a profile anyway. */
  IccTag a2b0, b2a0, rxyz;
  if ((icc_find (icc, n_tags, "A2B0", &a2b0) || icc_find (icc, n_tags, "B2A0", &b2a0))
      && icc_find (icc, n_tags, "rXYZ", &rxyz) && rxyz.size >= 20
      && s15f16 (icc + rxyz.offset + 16) > s15f16 (icc + rxyz.offset + 8))
    return "the profile's matrix contradicts its lookup tables";
  /* babl leaks when it refuses a chrm tag. */
  IccTag chrm;
  if (icc_find (icc, n_tags, "chrm", &chrm)
      && (chrm.size < 36 || be16 (icc + chrm.offset + 8) != 3
          || be16 (icc + chrm.offset + 10) != 0))
    return "the profile's chromaticity tag is not one babl reads";
  return NULL;
}

/* babl hands a CMYK profile to Little CMS, keeps the two transforms it
 * asks for without looking, and calls cmsDoTransform() on them when it
 * converts pixels: a profile Little CMS cannot use (no lookup tables, say)
 * crashes the reader there.  So a CMYK profile goes to babl only when
 * Little CMS makes the same transforms here (babl's pixel formats, intent
 * and flags; sRGB for babl's own linear RGB profile, which only changes
 * the curves, not whether a transform can be made). */
#ifndef TYPE_CMYKA_DBL
#define TYPE_CMYKA_DBL (FLOAT_SH (1) | COLORSPACE_SH (PT_CMYK) | EXTRA_SH (1) | CHANNELS_SH (4) \
                        | BYTES_SH (0))
#endif
#ifndef TYPE_RGBA_DBL
#define TYPE_RGBA_DBL (FLOAT_SH (1) | COLORSPACE_SH (PT_RGB) | EXTRA_SH (1) | CHANNELS_SH (3) \
                       | BYTES_SH (0))
#endif

static gboolean
lcms_takes_cmyk (const guint8 *icc, gsize length)
{
  cmsContext context = cmsCreateContext (NULL, NULL);
  if (!context)
    return FALSE;
  cmsHPROFILE cmyk = cmsOpenProfileFromMemTHR (context, icc, (cmsUInt32Number) length);
  cmsHPROFILE rgb = cmsCreate_sRGBProfileTHR (context);
  cmsHTRANSFORM to_rgb = NULL, from_rgb = NULL;
  if (cmyk && rgb && cmsGetColorSpace (cmyk) == cmsSigCmykData)
    {
      to_rgb = cmsCreateTransformTHR (context, cmyk, TYPE_CMYKA_DBL, rgb, TYPE_RGBA_DBL,
                                      INTENT_RELATIVE_COLORIMETRIC,
                                      cmsFLAGS_BLACKPOINTCOMPENSATION);
      from_rgb = cmsCreateTransformTHR (context, rgb, TYPE_RGBA_DBL, cmyk, TYPE_CMYKA_DBL,
                                        INTENT_RELATIVE_COLORIMETRIC,
                                        cmsFLAGS_BLACKPOINTCOMPENSATION);
    }
  gboolean ok = to_rgb && from_rgb;
  if (to_rgb)
    cmsDeleteTransform (to_rgb);
  if (from_rgb)
    cmsDeleteTransform (from_rgb);
  if (rgb)
    cmsCloseProfile (rgb);
  if (cmyk)
    cmsCloseProfile (cmyk);
  cmsDeleteContext (context);
  return ok;
}

typedef struct
{
  const guint8 *icc;
  gsize         length;
  BablIccIntent intent;
} IccRequest;

static const Babl *
make_icc_space (gconstpointer data, const char **why)
{
  const IccRequest *r = data;
  if (memcmp (r->icc + 16, "CMYK", 4) == 0 && !lcms_takes_cmyk (r->icc, r->length))
    {
      *why = "Little CMS cannot make transforms of the CMYK profile";
      return NULL;
    }
  /* babl's bounds check lets it read one byte past the end. */
  g_autofree guint8 *padded = g_malloc0 (r->length + 8);
  memcpy (padded, r->icc, r->length);
  const char *error = NULL;
  const Babl *space = babl_space_from_icc ((const char *) padded, (int) r->length, r->intent,
                                           &error);
  if (!space)
    *why = error ? error : "babl cannot use the profile";
  return space;
}

const Babl *
lisse_image_space_from_icc (const guint8 *icc, gsize length, BablIccIntent intent,
                            const char **why)
{
  *why = icc_problem (icc, length);
  if (*why)
    return NULL;
  /* The intent is part of what babl makes; it goes into the key. */
  g_autofree guint8 *key = g_malloc (length + 1);
  memcpy (key, icc, length);
  key[length] = (guint8) intent;
  IccRequest request = { icc, length, intent };
  return space_for (key, length + 1, make_icc_space, &request, why);
}

/* @data: white point, primaries and gamma, as 9 doubles. */
static const Babl *
make_chromaticities_space (gconstpointer data, const char **why)
{
  const double *k = data;
  const Babl *trc = babl_trc_gamma (1.0 / k[8]);
  const Babl *space = trc ? babl_space_from_chromaticities (NULL, k[0], k[1], k[2], k[3], k[4],
                                                            k[5], k[6], k[7], trc, trc, trc, 1)
                          : NULL;
  if (!space)
    *why = "babl has no room for another colour space";
  return space;
}

const Babl *
lisse_image_space_from_chromaticities (double wx, double wy, double rx, double ry,
                                       double gx, double gy, double bx, double by,
                                       double gamma, const char **why)
{
  double key[9] = { wx, wy, rx, ry, gx, gy, bx, by, gamma };
  for (int i = 0; i < 9; i++)
    if (!isfinite (key[i]))
      {
        *why = "the gamma or chromaticities are not numbers";
        return NULL;
      }
  if (!(gamma > 0.0))
    {
      *why = "the gamma is not positive";
      return NULL;
    }
  return space_for ((const guint8 *) key, sizeof key, make_chromaticities_space, key, why);
}
