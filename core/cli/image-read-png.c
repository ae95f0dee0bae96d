/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * PNG files through libpng (see image-read.h for why not GEGL's loader).
 * Pixel formats and colour spaces are those gegl:png-load gives: gray
 * below 8 bits and palettes expanded to 8 bits, a tRNS chunk made an alpha
 * channel, 16 bits kept; the space from iCCP, none for sRGB, else one made
 * from gAMA (and cHRM).  Reading past the end of the data is "truncated";
 * any libpng error (a critical chunk's CRC, a zlib stream that does not
 * decode, too little image data) is "corrupt" with libpng's words. */
#include "image-read.h"
#include "lisse-error.h"

#include <png.h>
#include <setjmp.h>
#include <string.h>

/* Ancillary chunks libpng keeps in memory: its defaults, stated so that a
 * libpng built otherwise cannot be talked into more. */
#define MAX_CHUNK_BYTES 8000000
#define MAX_CACHED_CHUNKS 1000

typedef struct
{
  const guint8 *data;
  gsize         size, pos;
  gboolean      truncated;
  char          message[200];   /* libpng's first error */
  GError       *refusal;        /* our own reason to stop */
  png_structp   png;
  png_infop     info;
  GeglBuffer   *buffer;
  guint8       *row;
} PngJob;

static void
read_bytes (png_structp png, png_bytep out, size_t n)
{
  PngJob *job = png_get_io_ptr (png);
  if (n > job->size - job->pos)
    {
      job->truncated = TRUE;
      png_error (png, "unexpected end of file");
    }
  memcpy (out, job->data + job->pos, n);
  job->pos += n;
}

static void
on_error (png_structp png, png_const_charp message)
{
  PngJob *job = png_get_error_ptr (png);
  if (!job->message[0])
    g_strlcpy (job->message, message, sizeof job->message);
  png_longjmp (png, 1);
}

static void
on_warning (png_structp png, png_const_charp message)
{
  /* Benign trouble (an unknown or damaged ancillary chunk, which libpng
   * drops): the pixels are still right, and the command line prints one
   * line only. */
}

/* The colour space gegl:png-load would give; a profile babl cannot use is
 * left out (the values are then read as sRGB). */
static const Babl *
png_space (png_structp png, png_infop info)
{
  png_charp name;
  int compression;
  png_bytep profile;
  png_uint_32 length;
  const char *why;
  if (png_get_iCCP (png, info, &name, &compression, &profile, &length) == PNG_INFO_iCCP)
    return lisse_image_space_from_icc (profile, length, BABL_ICC_INTENT_RELATIVE_COLORIMETRIC,
                                       &why);
  if (png_get_valid (png, info, PNG_INFO_sRGB))
    return NULL;
  if (png_get_valid (png, info, PNG_INFO_gAMA))
    {
      double wp[2] = { 0.3127, 0.3290 }, r[2] = { 0.64, 0.33 }, g[2] = { 0.30, 0.60 },
             b[2] = { 0.15, 0.06 }, gamma = 0;
      png_get_gAMA (png, info, &gamma);
      if (png_get_valid (png, info, PNG_INFO_cHRM))
        png_get_cHRM (png, info, &wp[0], &wp[1], &r[0], &r[1], &g[0], &g[1], &b[0], &b[1]);
      return lisse_image_space_from_chromaticities (wp[0], wp[1], r[0], r[1], g[0], g[1],
                                                    b[0], b[1], gamma, &why);
    }
  return NULL;
}

/* Everything between setjmp and the last row; on a libpng error it
 * returns FALSE from the setjmp, leaving what it allocated in @job. */
static gboolean
decode (PngJob *job)
{
  png_structp png = job->png;
  png_infop info = job->info;
  if (setjmp (png_jmpbuf (png)))
    return FALSE;

  png_set_read_fn (png, job, read_bytes);
  /* Sizes are judged by lisse_image_check_size(), with its message. */
  png_set_user_limits (png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  png_set_chunk_malloc_max (png, MAX_CHUNK_BYTES);
  png_set_chunk_cache_max (png, MAX_CACHED_CHUNKS);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  /* A fuzzer cannot fix up checksums: let its mutations reach the
   * decoder (the corpus replay, built normally, checks them). */
  png_set_crc_action (png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
  png_set_option (png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
#endif
  png_read_info (png, info);

  png_uint_32 w, h;
  int depth, colour, interlace;
  png_get_IHDR (png, info, &w, &h, &depth, &colour, &interlace, NULL, NULL);
  if (!lisse_image_check_size (w, h, "PNG", &job->refusal))
    return FALSE;

  const Babl *space = png_space (png, info);
  if (colour == PNG_COLOR_TYPE_GRAY && depth < 8)
    png_set_expand_gray_1_2_4_to_8 (png);
  if (colour == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb (png);
  if (png_get_valid (png, info, PNG_INFO_tRNS))
    png_set_tRNS_to_alpha (png);
  if (depth == 16 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    png_set_swap (png);
  int passes = png_set_interlace_handling (png);
  png_read_update_info (png, info);

  static const char *const models[] = { NULL, "Y'", "Y'A", "R'G'B'", "R'G'B'A" };
  int channels = png_get_channels (png, info);
  int out_depth = png_get_bit_depth (png, info);
  gsize row_bytes = png_get_rowbytes (png, info);
  if (channels < 1 || channels > 4 || (out_depth != 8 && out_depth != 16)
      || row_bytes != (gsize) w * channels * (out_depth / 8))
    {
      job->refusal = g_error_new (LISSE_ERROR, LISSE_ERROR_BAD_IMAGE,
                                  "unsupported PNG layout (%d channels of %d bits)",
                                  channels, out_depth);
      return FALSE;
    }
  const Babl *format = lisse_image_format (models[channels], out_depth == 8 ? "u8" : "u16",
                                           space);

  GeglRectangle extent = { 0, 0, (int) w, (int) h };
  job->buffer = gegl_buffer_new (&extent, format);
  job->row = g_malloc0 (row_bytes);
  for (int pass = 0; pass < passes; pass++)
    for (png_uint_32 y = 0; y < h; y++)
      {
        GeglRectangle rect = { 0, (int) y, (int) w, 1 };
        /* Later passes of an interlaced file fill in between the pixels
         * of earlier ones: libpng needs the row as it stands. */
        if (pass > 0)
          gegl_buffer_get (job->buffer, &rect, 1.0, format, job->row, GEGL_AUTO_ROWSTRIDE,
                           GEGL_ABYSS_NONE);
        png_read_row (png, job->row, NULL);
        gegl_buffer_set (job->buffer, &rect, 0, format, job->row, GEGL_AUTO_ROWSTRIDE);
      }
  /* The chunks after the image, to IEND: a file cut there is truncated. */
  png_read_end (png, NULL);
  return TRUE;
}

GeglBuffer *
lisse_read_png (const guint8 *data, gsize size, GError **error)
{
  PngJob job = { .data = data, .size = size };
  job.png = png_create_read_struct (PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
  if (job.png)
    job.info = png_create_info_struct (job.png);
  if (!job.png || !job.info)
    {
      png_destroy_read_struct (job.png ? &job.png : NULL, NULL, NULL);
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY, "out of memory");
      return NULL;
    }

  gboolean ok = decode (&job);
  png_destroy_read_struct (&job.png, &job.info, NULL);
  g_free (job.row);
  if (ok)
    return job.buffer;

  g_clear_object (&job.buffer);
  if (job.refusal)
    g_propagate_error (error, job.refusal);
  else if (job.truncated)
    lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "the PNG file is truncated");
  else
    lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "the PNG file is corrupt: %s",
                job.message[0] ? job.message : "libpng gave up");
  return NULL;
}
