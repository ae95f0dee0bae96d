/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Image files for the command line: PNG, JPEG and TIFF, read through
 * libpng, libjpeg-turbo and libtiff directly (image-read.h: image files
 * are untrusted, and GEGL's loaders can crash or end the process on a
 * broken one) and written through GEGL's savers.
 *
 * Pixels are 1×C×H×W float tensors of the file's non-linear values
 * (R'G'B', Y') scaled to [0,1], as the engine wants them:
 *   C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA
 * Gray stays one channel and alpha stays a channel (not premultiplied).
 * Colour values are those of the file's own RGB colour space: an sRGB file
 * (the usual case) gives sRGB values, a file with another RGB ICC profile
 * gives values in that profile, and the output is written with the same
 * profile — nothing is converted, so nothing is clipped.  CMYK files and
 * files with gray profiles are read as sRGB.
 *
 * Bit depth: 8 and 16 for integer files, 32 for floating-point ones (TIFF
 * half/float/double and 32-bit integer samples are all read as float).
 * The writer keeps the input's depth where the format has it (PNG 8/16,
 * JPEG 8, TIFF 8/16/32 float) and otherwise uses the format's deepest;
 * 8- and 16-bit output clamps to [0,1] and rounds.
 *
 * Writing goes to a temporary file next to the destination, renamed over
 * it only when complete: a failure or an interruption never leaves a
 * partial or empty destination behind.
 *
 * Size: a file whose header declares an empty image, more than 524288
 * pixels on a side or more than 2^30 pixels in all is refused before any
 * pixel memory is allocated ("in.png: the image is too large (100000×100000
 * pixels; …)").
 *
 * Memory: a reader holds the decoded file in a GeglBuffer (GEGL's tile
 * cache, which swaps to disk beyond its size) and converts rectangles to
 * float on demand, so a tiled network run holds only one tile as float
 * (lisse_image_read_rect() is a LisseTileReadFunc and
 * lisse_image_write_rect() a LisseTileWriteFunc).  A writer collects its
 * output in a GeglBuffer of the output's bit depth.
 *
 * Nothing the codec libraries say is printed: a failure becomes one
 * GError of one line, with the library's first complaint as detail, and
 * no file, however broken, ends the process.
 */
#pragma once

#include "tensor.h"

#include <gegl.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  int         width, height;
  int         channels;    /* 1 … 4, see above */
  gboolean    has_alpha;   /* channels 2 and 4 */
  int         bit_depth;   /* 8, 16, or 32 (float) */
  const Babl *space;       /* the file's RGB space; NULL for sRGB */
} LisseImageInfo;

/* gegl_init and the message capture; call once before anything else here.
 * @program prefixes the one line printed if a codec library ends the
 * process while a file is being read or written ("lisse: …"). */
void lisse_image_io_init (const char *program);
/* Releases GEGL (gegl_exit). */
void lisse_image_io_exit (void);
/* Lowers the limit on width × height (0: back to the default, 2^30).  The
 * fuzz target uses it to stay inside its memory limit. */
void lisse_image_io_set_max_pixels (guint64 max_pixels);

typedef struct _LisseImageReader LisseImageReader;

/* Decodes @path (PNG, JPEG or TIFF, recognised by content, not by name).
 * Errors (LISSE_ERROR_IO, LISSE_ERROR_BAD_IMAGE) are one line naming the
 * file: "in.png: no such file", "in.txt: not a PNG, JPEG or TIFF image",
 * "in.jpg: the JPEG file is truncated", "in.png: the PNG file is corrupt:
 * IDAT: CRC error". */
LisseImageReader     *lisse_image_reader_open     (const char *path, GError **error);
/* The same for a file already in memory (@size bytes at @data, which need
 * only live during the call); @name stands for the file in messages. */
LisseImageReader     *lisse_image_reader_open_bytes (const void *data, gsize size,
                                                     const char *name, GError **error);
const LisseImageInfo *lisse_image_reader_get_info (const LisseImageReader *reader);
/* Fills the first info.channels channels of @dst (1×≥C×h×w) with the
 * rectangle at (@x, @y) of dst's size; channels beyond are left alone.
 * A LisseTileReadFunc: @reader is the user data. */
gboolean              lisse_image_read_rect       (int x, int y, LisseTensor *dst,
                                                   gpointer reader, GError **error);
/* The whole image as a new 1×C×H×W tensor. */
LisseTensor          *lisse_image_reader_read_all (LisseImageReader *reader, GError **error);
void                  lisse_image_reader_free     (LisseImageReader *reader);

/* Convenience: open, read all, close.  @info may be NULL. */
LisseTensor          *lisse_image_load            (const char *path, LisseImageInfo *info,
                                                   GError **error);

typedef struct _LisseImageWriter LisseImageWriter;

/* Prepares writing @path, checking up front (before any long computation)
 * that it can be done: the format from the extension (.png, .jpg/.jpeg,
 * .tif/.tiff, any case; others are refused), alpha (JPEG has none: refused,
 * suggesting PNG or TIFF), the bit depth, and that the destination's folder
 * exists and is writable.  @info gives the size, channels, depth and space
 * of the image to write.  @depth: 0 = automatic (see above), or 8, 16, 32
 * to ask for one (refused where the format lacks it). */
LisseImageWriter *lisse_image_writer_new   (const char *path, const LisseImageInfo *info,
                                            int depth, GError **error);
/* The depth that will be written. */
int               lisse_image_writer_get_depth (const LisseImageWriter *writer);
/* Stores @src (1×C×h×w, C = info.channels) at (@x, @y).  A
 * LisseTileWriteFunc: @writer is the user data. */
gboolean          lisse_image_write_rect   (int x, int y, const LisseTensor *src,
                                            gpointer writer, GError **error);
/* Encodes the image into a temporary file beside the destination and
 * renames it into place. */
gboolean          lisse_image_writer_commit (LisseImageWriter *writer, GError **error);
/* Without a successful commit nothing is left on disk. */
void              lisse_image_writer_free   (LisseImageWriter *writer);

/* Convenience: writer_new, write_rect of the whole tensor, commit. */
gboolean          lisse_image_save          (const char *path, const LisseTensor *image,
                                             const LisseImageInfo *info, int depth,
                                             GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LisseImageReader, lisse_image_reader_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LisseImageWriter, lisse_image_writer_free)

G_END_DECLS
