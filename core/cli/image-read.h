/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The decoders behind image-io.c's reader: PNG through libpng, JPEG through
 * libjpeg-turbo, TIFF through libtiff, each called directly and not through
 * GEGL's loaders.  Image files are untrusted input, and GEGL's loaders are
 * not written for it: its JPEG loader keeps libjpeg's exit()-on-error
 * handler and feeds libjpeg nothing at end of file, its TIFF loader
 * g_assert()s that allocations sized by the file succeed, reads scanlines
 * whose size it never compares with the pixel format it gives them, and
 * loops forever on a zero tile size, and its PNG loader leaks on every
 * libpng error.  Here every codec error comes back as a GError, warnings
 * are swallowed, nothing is printed, and no file can end the process.
 *
 * Each decoder reads a whole file held in memory and returns a GeglBuffer
 * of extent (0, 0, width, height) in the pixel format GEGL's loader would
 * have given (same components, type and colour space), so that what the
 * reader does afterwards is unchanged.  Errors are LISSE_ERROR_BAD_IMAGE
 * and do not name the file (the caller prefixes it): "the PNG file is
 * truncated", "the JPEG file is corrupt: Bogus Huffman table definition".
 */
#pragma once

#include <gegl.h>
#include <glib.h>

G_BEGIN_DECLS

/* GIMP's limit on a side; also keeps every size inside int arithmetic. */
#define LISSE_IMAGE_MAX_SIDE 524288
/* The default limit on width × height: 2^30 pixels (a 32768 × 32768
 * image, 16 GiB as RGBA floats).  A header that claims more is refused
 * before any pixel memory is allocated. */
#define LISSE_IMAGE_MAX_PIXELS ((guint64) 1 << 30)

GeglBuffer *lisse_read_png  (const guint8 *data, gsize size, GError **error);
GeglBuffer *lisse_read_jpeg (const guint8 *data, gsize size, GError **error);
GeglBuffer *lisse_read_tiff (const guint8 *data, gsize size, GError **error);

/* Shared by the decoders (image-read.c). */

/* The current limit on width × height (LISSE_IMAGE_MAX_PIXELS unless
 * lisse_image_io_set_max_pixels() changed it). */
guint64      lisse_image_max_pixels   (void);
/* Refuses a declared size of zero, above LISSE_IMAGE_MAX_SIDE on a side or
 * above lisse_image_max_pixels() in all; @format names the file type. */
gboolean     lisse_image_check_size   (guint64 width, guint64 height, const char *format,
                                       GError **error);
/* The babl space of an embedded ICC profile.  The profile is checked
 * first for what babl's parser reads without bounds checks (tag offsets,
 * curve lengths), and babl's fixed-size tables of spaces and curves are
 * not filled past a safe number of distinct profiles per process.
 * Returns NULL and sets *@why (static text) when the profile cannot be
 * used. */
const Babl  *lisse_image_space_from_icc (const guint8 *icc, gsize length, BablIccIntent intent,
                                         const char **why);
/* The space of a PNG gAMA (and cHRM) chunk, as GEGL's PNG loader makes
 * it; NULL with *@why set when babl has no room left for it. */
const Babl  *lisse_image_space_from_chromaticities (double wx, double wy, double rx, double ry,
                                                    double gx, double gy, double bx, double by,
                                                    double gamma, const char **why);
/* The babl format "<model> <type>" in @space, for the decoders' own
 * components: @model is e.g. "R'G'B'A", @type "u8". */
const Babl  *lisse_image_format (const char *model, const char *type, const Babl *space);

G_END_DECLS
