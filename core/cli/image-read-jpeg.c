/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * JPEG files through libjpeg-turbo with an error manager that returns
 * (setjmp/longjmp) instead of libjpeg's default, which calls exit() — the
 * reason this exists: GEGL's JPEG loader keeps that default (see
 * image-read.h).  Decoding is as gegl:jpg-load does it (float DCT, default
 * upsampling; gray as Y', YCbCr and RGB as R'G'B', CMYK and YCCK as
 * Adobe-style inverted "cmyk"; the space of an embedded ICC profile), so
 * the pixels are the same.
 *
 * libjpeg only warns about damaged entropy-coded data and goes on with
 * made-up pixels; here a premature end of file is "truncated", and bad
 * Huffman or arithmetic codes, a segment cut short by a marker and a lost
 * restart marker are "corrupt".  Harmless warnings (stray bytes between
 * segments, an unknown JFIF version or Adobe transform, an odd progression
 * or SOS parameters, a broken ICC marker, which only loses the profile)
 * are let through, as viewers do. */
#include "image-read.h"
#include "lisse-error.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* Each scan of a progressive file passes over the whole image, and a
 * scan can be a few bytes long; real files have about ten. */
#define MAX_SCANS 256

typedef struct
{
  struct jpeg_error_mgr          errors;     /* first: libjpeg's cinfo->err points here */
  jmp_buf                        jump;
  gboolean                       truncated;
  gboolean                       unsupported;
  char                           message[JMSG_LENGTH_MAX];
  struct jpeg_progress_mgr       progress;
  struct jpeg_decompress_struct  cinfo;
  gboolean                       created;
  GError                        *refusal;    /* our own reason to stop */
  JOCTET                        *icc;        /* malloc()ed by libjpeg-turbo */
  GeglBuffer                    *buffer;
  JSAMPLE                       *row;
} JpegJob;

static void
stop (JpegJob *job)
{
  if (!job->message[0])
    (*job->errors.format_message) ((j_common_ptr) &job->cinfo, job->message);
  longjmp (job->jump, 1);
}

static void
on_error_exit (j_common_ptr cinfo)
{
  JpegJob *job = (JpegJob *) cinfo->err;
  switch (job->errors.msg_code)
    {
    case JERR_SOF_UNSUPPORTED:
    case JERR_BAD_PRECISION:
    case JERR_NOTIMPL:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_ARITH_NOTIMPL:
    case JERR_IMAGE_TOO_BIG:
      job->unsupported = TRUE;
      break;
    default:
      break;
    }
  stop (job);
}

static void
on_message (j_common_ptr cinfo, int level)
{
  JpegJob *job = (JpegJob *) cinfo->err;
  if (level >= 0)          /* trace messages */
    return;
  switch (job->errors.msg_code)
    {
    case JWRN_JPEG_EOF:
      job->truncated = TRUE;
      stop (job);
      break;
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
      stop (job);
      break;
    default:
      job->errors.num_warnings++;
      break;
    }
}

static void
on_output (j_common_ptr cinfo)
{
  /* libjpeg would print to stderr; the command line prints one line. */
}

static void
on_progress (j_common_ptr cinfo)
{
  JpegJob *job = (JpegJob *) cinfo->err;
  if (job->cinfo.input_scan_number > MAX_SCANS)
    {
      g_snprintf (job->message, sizeof job->message, "more than %d scans", MAX_SCANS);
      longjmp (job->jump, 1);
    }
}

static gboolean
decode (JpegJob *job, const guint8 *data, gsize size)
{
  struct jpeg_decompress_struct *cinfo = &job->cinfo;
  if (setjmp (job->jump))
    return FALSE;

  jpeg_create_decompress (cinfo);
  job->created = TRUE;
  job->progress.progress_monitor = on_progress;
  cinfo->progress = &job->progress;
  jpeg_mem_src (cinfo, data, size);
  jpeg_save_markers (cinfo, JPEG_APP0 + 2, 0xFFFF);   /* ICC profile */
  jpeg_read_header (cinfo, TRUE);
  if (!lisse_image_check_size (cinfo->image_width, cinfo->image_height, "JPEG", &job->refusal))
    return FALSE;

  const char *model;
  switch (cinfo->out_color_space)
    {
    case JCS_GRAYSCALE:
      model = "Y'";
      break;
    case JCS_RGB:
      model = "R'G'B'";
      break;
    case JCS_CMYK:
      model = "cmyk";
      break;
    default:
      job->refusal = g_error_new (LISSE_ERROR, LISSE_ERROR_BAD_IMAGE,
                                  "unsupported JPEG with %d colour components",
                                  cinfo->num_components);
      return FALSE;
    }
  cinfo->dct_method = JDCT_FLOAT;
  jpeg_start_decompress (cinfo);

  const Babl *space = NULL;
  unsigned int icc_length = 0;
  if (jpeg_read_icc_profile (cinfo, &job->icc, &icc_length) && job->icc)
    {
      const char *why;
      space = lisse_image_space_from_icc (job->icc, icc_length,
                                          BABL_ICC_INTENT_RELATIVE_COLORIMETRIC, &why);
    }
  const Babl *format = lisse_image_format (model, "u8", space);
  if (babl_format_get_bytes_per_pixel (format) != cinfo->output_components)
    {
      job->refusal = g_error_new (LISSE_ERROR, LISSE_ERROR_BAD_IMAGE,
                                  "unsupported JPEG with %d colour components",
                                  cinfo->output_components);
      return FALSE;
    }

  const int w = (int) cinfo->output_width, h = (int) cinfo->output_height;
  GeglRectangle extent = { 0, 0, w, h };
  job->buffer = gegl_buffer_new (&extent, format);
  job->row = g_malloc ((gsize) w * cinfo->output_components);
  while (cinfo->output_scanline < cinfo->output_height)
    {
      GeglRectangle rect = { 0, (int) cinfo->output_scanline, w, 1 };
      JSAMPROW rows[1] = { job->row };
      if (jpeg_read_scanlines (cinfo, rows, 1) != 1)
        {
          g_strlcpy (job->message, "the decoder stopped before the last row",
                     sizeof job->message);
          return FALSE;
        }
      gegl_buffer_set (job->buffer, &rect, 0, format, job->row, GEGL_AUTO_ROWSTRIDE);
    }
  /* Reads on to the end-of-image marker: a file cut after the last scan
   * is truncated too. */
  jpeg_finish_decompress (cinfo);
  return TRUE;
}

GeglBuffer *
lisse_read_jpeg (const guint8 *data, gsize size, GError **error)
{
  JpegJob *job = g_new0 (JpegJob, 1);
  job->cinfo.err = jpeg_std_error (&job->errors);
  job->errors.error_exit = on_error_exit;
  job->errors.emit_message = on_message;
  job->errors.output_message = on_output;

  gboolean ok = decode (job, data, size);
  if (job->created)
    jpeg_destroy_decompress (&job->cinfo);
  free (job->icc);
  g_free (job->row);
  GeglBuffer *buffer = job->buffer;
  if (!ok)
    {
      g_clear_object (&buffer);
      if (job->refusal)
        g_propagate_error (error, job->refusal);
      else if (job->truncated)
        lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "the JPEG file is truncated");
      else if (job->unsupported)
        lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "unsupported JPEG file: %s", job->message);
      else
        {
          /* libjpeg's warnings say "Corrupt JPEG data: …" themselves. */
          const char *detail = job->message;
          if (g_str_has_prefix (detail, "Corrupt JPEG data: "))
            detail += strlen ("Corrupt JPEG data: ");
          lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "the JPEG file is corrupt: %s", detail);
        }
    }
  g_free (job);
  return buffer;
}
