/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * TIFF files through libtiff (see image-read.h for why not GEGL's loader).
 * The first image of the file is read, in the pixel format gegl:tiff-load
 * gives it: gray, RGB or CMYK of 8, 16 (integer or half float), 32
 * (integer or float) or 64 (float) bits, with an alpha channel when the
 * ExtraSamples tag or the sample count says so (premultiplied when the tag
 * says associated); everything else (palettes, 1- to 4-bit and 12-bit
 * samples, YCbCr, CIELab, …) through libtiff's RGBA interface as 8-bit
 * premultiplied RGBA.  Samples beyond those are dropped.  Unlike
 * gegl:tiff-load, white-is-zero gray is inverted, and signed integer and
 * 64-bit integer samples are refused rather than misread.  Rows are in file
 * order (the Orientation tag is ignored, as gegl:tiff-load does, except
 * on the RGBA path, where both honour it).
 *
 * Every size libtiff reports is compared with what the pixel format
 * needs before a row or tile is used, and libtiff's own allocations are
 * capped, so no TIFF can make this read or allocate more than its image
 * needs. */
#include "image-read.h"
#include "lisse-error.h"

#include <stdio.h>
#include <string.h>

#include <tiffio.h>

/* libtiff's allocations (one strip or tile, its tables): a strip of an
 * uncompressed 100-megapixel RGB image needs 300 MB, but libtiff reads
 * those in pieces; compressed strips that large are rare. */
#define MAX_LIBTIFF_ALLOC ((tmsize_t) 256 << 20)
#define MAX_LIBTIFF_TOTAL ((tmsize_t) 1 << 30)
/* Our own row and tile buffers. */
#define MAX_BUFFER ((guint64) 64 << 20)

typedef struct
{
  const guint8 *data;
  gsize         size;
  guint64       pos;
  gboolean      truncated;     /* a read ran past the end of the data */
  char          message[256];  /* libtiff's first error */
  GError       *refusal;       /* our own reason to stop */
  TIFF         *tif;
  GeglBuffer   *buffer;
  guint8       *samples;       /* a row or tile as the file has it */
  guint8       *pixels;        /* the same in the buffer's format */
  guint32      *raster;        /* RGBA rows from libtiff's RGBA interface */
} TiffJob;

/* ------------------------------------------------------------------------ */
/* libtiff's view of the data                                               */

static tmsize_t
read_proc (thandle_t handle, void *buf, tmsize_t n)
{
  TiffJob *job = handle;
  if (n < 0)
    return -1;
  guint64 left = job->pos < job->size ? job->size - job->pos : 0;
  guint64 k = MIN ((guint64) n, left);
  if (k < (guint64) n)
    job->truncated = TRUE;
  if (k)
    memcpy (buf, job->data + job->pos, k);
  job->pos += k;
  return (tmsize_t) k;
}

static tmsize_t
write_proc (thandle_t handle, void *buf, tmsize_t n)
{
  return -1;
}

static toff_t
seek_proc (thandle_t handle, toff_t offset, int whence)
{
  TiffJob *job = handle;
  /* toff_t is unsigned: a backward SEEK_CUR arrives as a wrapped-around
   * offset, which unsigned addition turns back into the right place. */
  switch (whence)
    {
    case SEEK_SET:
      job->pos = offset;
      break;
    case SEEK_CUR:
      job->pos += offset;
      break;
    case SEEK_END:
      job->pos = job->size + offset;
      break;
    default:
      return (toff_t) -1;
    }
  return job->pos;
}

static int
close_proc (thandle_t handle)
{
  return 0;
}

static toff_t
size_proc (thandle_t handle)
{
  return ((TiffJob *) handle)->size;
}

static int
map_proc (thandle_t handle, void **base, toff_t *size)
{
  return 0;   /* not mapped: every read goes through read_proc */
}

static void
unmap_proc (thandle_t handle, void *base, toff_t size)
{
}

static int
on_error (TIFF *tif, void *user_data, const char *module, const char *format, va_list args)
{
  TiffJob *job = user_data;
  if (!job->message[0])
    g_vsnprintf (job->message, sizeof job->message, format, args);
  return 1;   /* handled: libtiff's global handler would print it */
}

static int
on_warning (TIFF *tif, void *user_data, const char *module, const char *format,
            va_list args)
{
  return 1;   /* unknown tags and the like: the pixels are still right */
}

static gboolean
refuse (TiffJob *job, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
refuse (TiffJob *job, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  job->refusal = g_error_new_literal (LISSE_ERROR, LISSE_ERROR_BAD_IMAGE, msg);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* The image's layout                                                       */

typedef struct
{
  guint32     width, height;
  guint16     samples_per_pixel;  /* in the file */
  guint16     components;         /* in the buffer's format (≤ the above) */
  guint16     colour;             /* of which colour: 1, 3 or 4 */
  guint16     sample_bytes;
  gboolean    planar;             /* one plane per sample */
  gboolean    invert;             /* white-is-zero integer gray */
  gboolean    rgba;               /* through libtiff's RGBA interface */
  const Babl *format;
} Layout;

/* The format gegl:tiff-load would choose, or FALSE with a refusal. */
static gboolean
choose_layout (TiffJob *job, Layout *l)
{
  TIFF *tif = job->tif;
  guint16 photometric, compression, bits, sample_format, planar_config;
  guint16 n_extra = 0, *extra = NULL;

  TIFFGetFieldDefaulted (tif, TIFFTAG_COMPRESSION, &compression);
  if (!TIFFGetField (tif, TIFFTAG_PHOTOMETRIC, &photometric))
    photometric = (compression == COMPRESSION_CCITTFAX3 || compression == COMPRESSION_CCITTFAX4
                   || compression == COMPRESSION_CCITTRLE || compression == COMPRESSION_CCITTRLEW)
                  ? PHOTOMETRIC_MINISWHITE : PHOTOMETRIC_MINISBLACK;
  TIFFGetFieldDefaulted (tif, TIFFTAG_SAMPLESPERPIXEL, &l->samples_per_pixel);
  TIFFGetFieldDefaulted (tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted (tif, TIFFTAG_SAMPLEFORMAT, &sample_format);
  TIFFGetFieldDefaulted (tif, TIFFTAG_PLANARCONFIG, &planar_config);
  if (!TIFFGetField (tif, TIFFTAG_EXTRASAMPLES, &n_extra, &extra))
    n_extra = 0;

  gboolean alpha = FALSE, premultiplied = FALSE;
  if (n_extra > 0 && extra)
    {
      if (extra[0] == EXTRASAMPLE_ASSOCALPHA)
        alpha = premultiplied = TRUE;
      else if (extra[0] == EXTRASAMPLE_UNASSALPHA || extra[0] == EXTRASAMPLE_UNSPECIFIED)
        alpha = TRUE;
      if (alpha)
        n_extra--;
    }

  const Babl *space = NULL;
  guint32 icc_length = 0;
  void *icc = NULL;
  if (TIFFGetField (tif, TIFFTAG_ICCPROFILE, &icc_length, &icc) && icc)
    {
      const char *why;
      space = lisse_image_space_from_icc (icc, icc_length, BABL_ICC_INTENT_DEFAULT, &why);
    }

  const char *model = NULL;
  switch (photometric)
    {
    case PHOTOMETRIC_MINISBLACK:
    case PHOTOMETRIC_MINISWHITE:
      l->colour = 1;
      model = premultiplied ? "Y'aA" : "Y'A";
      break;
    case PHOTOMETRIC_RGB:
      l->colour = 3;
      model = premultiplied ? "R'aG'aB'aA" : "R'G'B'A";
      break;
    case PHOTOMETRIC_SEPARATED:
      l->colour = 4;
      model = premultiplied ? "CaMaYaKaA" : "CMYKA";
      break;
    default:
      break;
    }
  /* More samples than colour and the declared extras: the next is alpha. */
  if (model && l->samples_per_pixel > l->colour + n_extra)
    alpha = TRUE;

  const char *type = NULL;
  gboolean is_float = sample_format == SAMPLEFORMAT_IEEEFP;
  gboolean is_uint = sample_format == SAMPLEFORMAT_UINT || sample_format == SAMPLEFORMAT_VOID;
  switch (bits)
    {
    case 8:
      type = is_uint ? "u8" : NULL;
      break;
    case 16:
      type = is_float ? "half" : is_uint ? "u16" : NULL;
      break;
    case 32:
      type = is_float ? "float" : is_uint ? "u32" : NULL;
      break;
    case 64:
      type = is_float ? "double" : NULL;
      break;
    default:
      break;
    }
  if (model && !type && (bits == 8 || bits == 16 || bits == 32 || bits == 64))
    return refuse (job, "unsupported TIFF sample format (%d-bit %s)", bits,
                   is_uint ? "unsigned integers"
                   : sample_format == SAMPLEFORMAT_INT ? "signed integers"
                   : is_float ? "floating point" : "complex or unknown samples");

  if (!model || !type)
    {
      /* Palettes, few-bit and 12-bit samples, YCbCr, CIELab…: libtiff's
       * RGBA interface knows them, or says why not. */
      char why[1024] = "";
      if (!TIFFRGBAImageOK (tif, why))
        return refuse (job, "unsupported TIFF image: %s", why);
      l->rgba = TRUE;
      l->components = 4;
      l->sample_bytes = 1;
      l->format = lisse_image_format ("R'aG'aB'aA", "u8", space);
      return TRUE;
    }

  if (!alpha)
    model = l->colour == 1 ? "Y'" : l->colour == 3 ? "R'G'B'" : "CMYK";
  l->components = l->colour + (alpha ? 1 : 0);
  l->sample_bytes = bits / 8;
  l->planar = planar_config == PLANARCONFIG_SEPARATE && l->samples_per_pixel > 1;
  if (l->components > l->samples_per_pixel)
    return refuse (job, "unsupported TIFF layout (%d samples per pixel for %d components)",
                   l->samples_per_pixel, l->components);
  if (photometric == PHOTOMETRIC_MINISWHITE)
    {
      if (is_float)
        return refuse (job, "unsupported TIFF image (white-is-zero floating point)");
      l->invert = TRUE;
    }
  l->format = lisse_image_format (model, type, space);
  if (babl_format_get_bytes_per_pixel (l->format) != l->components * l->sample_bytes)
    return refuse (job, "unsupported TIFF layout");
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

/* Copies the first l->components samples of each of @n pixels from the
 * file's layout (@plane < 0: all samples interleaved; else one plane) into
 * @pixels, inverting white-is-zero gray. */
static void
unpack (const Layout *l, const guint8 *src, guint8 *pixels, gsize n, int plane)
{
  const gsize sb = l->sample_bytes;
  const gsize out_px = l->components * sb;
  if (plane < 0)
    {
      const gsize in_px = l->samples_per_pixel * sb;
      for (gsize i = 0; i < n; i++)
        memcpy (pixels + i * out_px, src + i * in_px, out_px);
    }
  else
    for (gsize i = 0; i < n; i++)
      memcpy (pixels + i * out_px + plane * sb, src + i * sb, sb);

  if (l->invert && plane <= 0)       /* the gray sample comes with plane 0 */
    for (gsize i = 0; i < n; i++)
      {
        guint8 *s = pixels + i * out_px;   /* the gray sample, not alpha */
        if (sb == 1)
          s[0] = 255 - s[0];
        else if (sb == 2)
          *(guint16 *) s = 65535 - *(guint16 *) s;
        else
          *(guint32 *) s = G_MAXUINT32 - *(guint32 *) s;
      }
}

static gboolean
read_strips (TiffJob *job, const Layout *l)
{
  const int planes = l->planar ? l->components : 1;
  const guint64 expected = (guint64) l->width * l->sample_bytes
                           * (l->planar ? 1 : l->samples_per_pixel);
  if (TIFFScanlineSize64 (job->tif) != expected || expected > MAX_BUFFER)
    return refuse (job, "unsupported TIFF layout (rows of %" G_GUINT64_FORMAT " bytes for %"
                   G_GUINT64_FORMAT ")", (guint64) TIFFScanlineSize64 (job->tif), expected);
  job->samples = g_malloc (expected);
  job->pixels = g_malloc0 ((gsize) l->width * l->components * l->sample_bytes);
  for (int plane = 0; plane < planes; plane++)
    for (guint32 y = 0; y < l->height; y++)
      {
        GeglRectangle rect = { 0, (int) y, (int) l->width, 1 };
        if (TIFFReadScanline (job->tif, job->samples, y, (guint16) plane) < 0)
          return FALSE;
        /* One plane at a time: the row's other samples are in the buffer. */
        if (plane > 0)
          gegl_buffer_get (job->buffer, &rect, 1.0, l->format, job->pixels,
                           GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
        unpack (l, job->samples, job->pixels, l->width, l->planar ? plane : -1);
        gegl_buffer_set (job->buffer, &rect, 0, l->format, job->pixels, GEGL_AUTO_ROWSTRIDE);
      }
  return TRUE;
}

static gboolean
read_tiles (TiffJob *job, const Layout *l)
{
  guint32 tw = 0, th = 0;
  TIFFGetField (job->tif, TIFFTAG_TILEWIDTH, &tw);
  TIFFGetField (job->tif, TIFFTAG_TILELENGTH, &th);
  const int planes = l->planar ? l->components : 1;
  const guint64 expected = (guint64) tw * th * l->sample_bytes
                           * (l->planar ? 1 : l->samples_per_pixel);
  if (tw == 0 || th == 0 || TIFFTileSize64 (job->tif) != expected || expected > MAX_BUFFER)
    return refuse (job, "unsupported TIFF layout (%u×%u tiles)", tw, th);
  const gsize pixel_bytes = (gsize) l->components * l->sample_bytes;
  job->samples = g_malloc (expected);
  job->pixels = g_malloc0 ((gsize) tw * th * pixel_bytes);
  for (int plane = 0; plane < planes; plane++)
    for (guint32 ty = 0; ty < l->height; ty += th)
      for (guint32 tx = 0; tx < l->width; tx += tw)
        {
          GeglRectangle rect = { (int) tx, (int) ty, (int) MIN (tw, l->width - tx),
                                 (int) MIN (th, l->height - ty) };
          if (TIFFReadTile (job->tif, job->samples, tx, ty, 0, (guint16) plane) < 0)
            return FALSE;
          const gsize stride = (gsize) rect.width * pixel_bytes;
          if (plane > 0)
            gegl_buffer_get (job->buffer, &rect, 1.0, l->format, job->pixels, stride,
                             GEGL_ABYSS_NONE);
          const gsize in_row = (gsize) tw * l->sample_bytes * (l->planar ? 1 : l->samples_per_pixel);
          for (int r = 0; r < rect.height; r++)
            unpack (l, job->samples + r * in_row, job->pixels + r * stride, rect.width,
                    l->planar ? plane : -1);
          gegl_buffer_set (job->buffer, &rect, 0, l->format, job->pixels, stride);
        }
  return TRUE;
}

static gboolean
read_rgba (TiffJob *job, const Layout *l)
{
  TIFFRGBAImage img;
  char why[1024] = "";
  if (!TIFFRGBAImageBegin (&img, job->tif, 1, why))
    {
      if (!job->message[0])
        g_strlcpy (job->message, why, sizeof job->message);
      return FALSE;
    }
  /* libtiff is asked for rows in file order, so that bands can be read
   * one after the other, and they are flipped here as gegl:tiff-load's
   * RGBA path flips them (libtiff takes the transposed orientations 5-8
   * for their untransposed kin). */
  img.req_orientation = img.orientation;
  const guint16 o = img.orientation;
  const gboolean flip_x = o == ORIENTATION_TOPRIGHT || o == ORIENTATION_BOTRIGHT
                          || o == ORIENTATION_RIGHTTOP || o == ORIENTATION_RIGHTBOT;
  const gboolean flip_y = o == ORIENTATION_BOTRIGHT || o == ORIENTATION_BOTLEFT
                          || o == ORIENTATION_RIGHTBOT || o == ORIENTATION_LEFTBOT;

  /* Bands of whole strips or tiles, so that libtiff decodes each once. */
  guint32 band = 0;
  if (TIFFIsTiled (job->tif))
    TIFFGetField (job->tif, TIFFTAG_TILELENGTH, &band);
  else
    TIFFGetFieldDefaulted (job->tif, TIFFTAG_ROWSPERSTRIP, &band);
  guint32 most = (guint32) MAX (1, MAX_BUFFER / ((guint64) l->width * 4));
  band = CLAMP (band, 1, MIN (most, l->height));
  job->raster = g_malloc ((gsize) l->width * band * 4);

  gboolean ok = TRUE;
  for (guint32 y = 0; ok && y < l->height; y += band)
    {
      guint32 n = MIN (band, l->height - y);
      img.row_offset = (int) y;
      ok = TIFFRGBAImageGet (&img, job->raster, l->width, n);
      if (ok)
        {
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
          for (gsize i = 0; i < (gsize) l->width * n; i++)
            job->raster[i] = GUINT32_TO_LE (job->raster[i]);
#endif
          for (guint32 r = 0; r < n; r++)
            {
              guint32 *row = job->raster + (gsize) r * l->width;
              if (flip_x)
                for (guint32 a = 0, b = l->width - 1; a < b; a++, b--)
                  {
                    guint32 t = row[a];
                    row[a] = row[b];
                    row[b] = t;
                  }
              guint32 dest = flip_y ? l->height - 1 - (y + r) : y + r;
              GeglRectangle rect = { 0, (int) dest, (int) l->width, 1 };
              gegl_buffer_set (job->buffer, &rect, 0, l->format, row, GEGL_AUTO_ROWSTRIDE);
            }
        }
    }
  TIFFRGBAImageEnd (&img);
  return ok;
}

static gboolean
decode (TiffJob *job)
{
  TIFFOpenOptions *options = TIFFOpenOptionsAlloc ();
  TIFFOpenOptionsSetErrorHandlerExtR (options, on_error, job);
  TIFFOpenOptionsSetWarningHandlerExtR (options, on_warning, job);
  TIFFOpenOptionsSetMaxSingleMemAlloc (options, MAX_LIBTIFF_ALLOC);
  TIFFOpenOptionsSetMaxCumulatedMemAlloc (options, MAX_LIBTIFF_TOTAL);
  /* "m": no memory mapping, so that every read goes through read_proc
   * and a file cut short is recognised as such. */
  job->tif = TIFFClientOpenExt ("TIFF", "rm", job, read_proc, write_proc, seek_proc,
                                close_proc, size_proc, map_proc, unmap_proc, options);
  TIFFOpenOptionsFree (options);
  if (!job->tif)
    return FALSE;

  Layout l = { 0 };
  if (!TIFFGetField (job->tif, TIFFTAG_IMAGEWIDTH, &l.width)
      || !TIFFGetField (job->tif, TIFFTAG_IMAGELENGTH, &l.height))
    return refuse (job, "the TIFF file declares no image size");
  if (!lisse_image_check_size (l.width, l.height, "TIFF", &job->refusal))
    return FALSE;
  if (!choose_layout (job, &l))
    return FALSE;

  GeglRectangle extent = { 0, 0, (int) l.width, (int) l.height };
  job->buffer = gegl_buffer_new (&extent, l.format);
  if (l.rgba)
    return read_rgba (job, &l);
  if (TIFFIsTiled (job->tif))
    return read_tiles (job, &l);
  return read_strips (job, &l);
}

GeglBuffer *
lisse_read_tiff (const guint8 *data, gsize size, GError **error)
{
  TiffJob job = { .data = data, .size = size };
  gboolean ok = decode (&job);
  if (job.tif)
    TIFFClose (job.tif);
  g_free (job.samples);
  g_free (job.pixels);
  g_free (job.raster);
  /* libtiff tolerates some reads past the end (the last IFD's link to the
   * next one); a file cut anywhere is refused all the same. */
  if (ok && !job.truncated)
    return job.buffer;

  g_clear_object (&job.buffer);
  if (job.refusal)
    g_propagate_error (error, job.refusal);
  else if (job.truncated)
    lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "the TIFF file is truncated");
  else
    lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "the TIFF file is corrupt: %s",
                job.message[0] ? job.message : "libtiff gave up");
  return NULL;
}
