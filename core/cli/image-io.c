/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "image-io.h"
#include "image-read.h"
#include "lisse-error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* Rows are converted between interleaved and planar floats in chunks of
 * about this many bytes, so conversions never need a whole-image buffer. */
#define CHUNK_BYTES ((gsize) 8 << 20)

/* ======================================================================== */
/* Catching what the libraries print                                        */
/*                                                                          */
/* GEGL reports a failed save only through g_warning(), and libpng,        */
/* libjpeg and libtiff print their complaints straight to stderr; libjpeg's */
/* default error handler, which GEGL's JPEG saver keeps, even calls exit()  */
/* on a fatal error.  The command line promises one line on failure, so     */
/* while a file is encoded: GLib warnings are collected by a log writer     */
/* (they decide failure), fd 2 points at a temporary file (the raw text     */
/* becomes the error's detail), and an atexit handler turns an exit() from  */
/* inside a codec into our one line and removes the temporary output.       */
/* Reading needs none of this: the decoders (image-read.h) call the codec   */
/* libraries directly, with handlers that neither print nor exit.           */

static struct
{
  GMutex      lock;
  gboolean    active;
  GString    *warnings;       /* GLib warnings and criticals, '\n'-separated */
  FILE       *sink;           /* where fd 2 points while active */
  int         saved_stderr;   /* the real stderr while active, else -1 */
  char       *context;        /* "in.jpg: cannot decode …", for the atexit line */
  char       *pending_tmp;    /* a temporary output file to remove on exit */
  const char *program;
  gboolean    initialised;
} cap = { .saved_stderr = -1 };

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
            gpointer user_data)
{
  g_mutex_lock (&cap.lock);
  gboolean active = cap.active;
  if (active && (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)))
    for (gsize i = 0; i < n_fields; i++)
      if (strcmp (fields[i].key, "MESSAGE") == 0 && fields[i].value)
        {
          if (fields[i].length < 0)
            g_string_append (cap.warnings, fields[i].value);
          else
            g_string_append_len (cap.warnings, fields[i].value, fields[i].length);
          g_string_append_c (cap.warnings, '\n');
        }
  g_mutex_unlock (&cap.lock);
  if (active)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void capture_begin (const char *context);

/* First non-empty line of @text, trimmed, at most 200 bytes, valid UTF-8. */
static char *
first_line (const char *text)
{
  if (!text)
    return NULL;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i]; i++)
    {
      char *l = g_strstrip (lines[i]);
      if (*l)
        {
          if (strlen (l) > 200)
            l[200] = '\0';
          for (char *p = l; *p; p++)     /* tabs, CRs: keep it one line */
            if ((unsigned char) *p < 0x20 || *p == 0x7f)
              *p = ' ';
          return g_utf8_make_valid (l, -1);
        }
    }
  return NULL;
}

static char *
read_sink (FILE *sink)
{
  if (!sink)
    return NULL;
  char buf[4096];
  rewind (sink);
  size_t n = fread (buf, 1, sizeof buf - 1, sink);
  buf[n] = '\0';
  return g_strdup (buf);
}

static void
capture_begin (const char *context)
{
  fflush (stderr);
  FILE *sink = tmpfile ();
  int saved = sink ? dup (STDERR_FILENO) : -1;
  if (saved >= 0 && dup2 (fileno (sink), STDERR_FILENO) < 0)
    {
      close (saved);
      saved = -1;
    }
  g_mutex_lock (&cap.lock);
  cap.active = TRUE;
  cap.sink = sink;
  cap.saved_stderr = saved;
  g_string_truncate (cap.warnings, 0);
  g_free (cap.context);
  cap.context = g_strdup (context);
  g_mutex_unlock (&cap.lock);
}

/* Ends the capture.  Returns TRUE when a GLib warning was seen; *@detail
 * (may be NULL) gets the first complaint: a warning, else printed text. */
static gboolean
capture_end (char **detail)
{
  fflush (stderr);
  g_mutex_lock (&cap.lock);
  cap.active = FALSE;
  FILE *sink = cap.sink;
  int saved = cap.saved_stderr;
  cap.sink = NULL;
  cap.saved_stderr = -1;
  gboolean warned = cap.warnings->len > 0;
  char *warning = first_line (cap.warnings->str);
  g_mutex_unlock (&cap.lock);

  if (saved >= 0)
    {
      dup2 (saved, STDERR_FILENO);
      close (saved);
    }
  g_autofree char *printed = read_sink (sink);
  if (sink)
    fclose (sink);

  if (detail)
    *detail = warning ? warning : first_line (printed);
  else
    g_free (warning);
  return warned;
}

static void
at_exit (void)
{
  if (cap.pending_tmp)
    g_unlink (cap.pending_tmp);
  if (!cap.active)
    return;
  /* A codec library called exit() mid-file (libjpeg's default error
   * handler): say what failed, in our format, on the real stderr. */
  fflush (stderr);
  FILE *sink = cap.sink;
  if (cap.saved_stderr >= 0)
    dup2 (cap.saved_stderr, STDERR_FILENO);
  g_autofree char *printed = read_sink (sink);
  g_autofree char *line = first_line (cap.warnings->len ? cap.warnings->str : printed);
  fprintf (stderr, "%s: %s: %s\n", cap.program ? cap.program : "lisse",
           cap.context ? cap.context : "image input/output failed",
           line ? line : "the codec library gave up");
  cap.active = FALSE;
}

/* Ctrl-C while a file is being encoded must not leave the temporary file
 * behind either.  The handler may only use async-signal-safe calls, so it
 * gets its own copy of the name and a flag saying the copy is complete. */
static char signal_tmp[4096];
static volatile sig_atomic_t signal_tmp_set;

static void
set_pending_tmp (char *tmp)
{
  signal_tmp_set = 0;
  cap.pending_tmp = tmp;
  if (tmp && strlen (tmp) < sizeof signal_tmp)
    {
      strcpy (signal_tmp, tmp);
      signal_tmp_set = 1;
    }
}

static void
on_signal (int sig)
{
  if (signal_tmp_set)
    unlink (signal_tmp);
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
install_signal_handlers (void)
{
  static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
  for (gsize i = 0; i < G_N_ELEMENTS (sigs); i++)
    {
      struct sigaction old;
      /* A shell that started us ignoring a signal (nohup, '&') meant it. */
      if (sigaction (sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
        continue;
      struct sigaction sa = { 0 };
      sa.sa_handler = on_signal;
      sigemptyset (&sa.sa_mask);
      sigaction (sigs[i], &sa, NULL);
    }
}

void
lisse_image_io_init (const char *program)
{
  if (cap.initialised)
    return;
  cap.initialised = TRUE;
  cap.program = program;
  cap.warnings = g_string_new (NULL);
  g_log_set_writer_func (log_writer, NULL, NULL);
  atexit (at_exit);
  install_signal_handlers ();
  /* GEGL may complain about optional modules it cannot load; none of that
   * concerns reading PNG, JPEG or TIFF. */
  capture_begin ("cannot start GEGL");
  gegl_init (NULL, NULL);
  capture_end (NULL);
}

void
lisse_image_io_exit (void)
{
  if (!cap.initialised)
    return;
  capture_begin ("cannot stop GEGL");
  gegl_exit ();
  capture_end (NULL);
}

/* ======================================================================== */
/* Errors                                                                   */

static gboolean
fail (GError **error, int code, const char *display, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

static gboolean
fail (GError **error, int code, const char *display, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, LISSE_ERROR, code, "%s: %s", display, msg);
  return FALSE;
}

/* ======================================================================== */
/* Recognising files                                                        */

typedef enum
{
  KIND_UNKNOWN,
  KIND_PNG,
  KIND_JPEG,
  KIND_TIFF,
} FileKind;

static const char *const kind_names[] = { "image", "PNG", "JPEG", "TIFF" };
static const char *const kind_savers[] = { NULL, "gegl:png-save", "gegl:jpg-save",
                                           "gegl:tiff-save" };

static FileKind
sniff (const guint8 *b, gsize n)
{
  static const guint8 png[8] = { 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a };
  if (n >= 8 && memcmp (b, png, 8) == 0)
    return KIND_PNG;
  if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
    return KIND_JPEG;
  /* Classic TIFF (42) and BigTIFF (43), either byte order. */
  if (n >= 4 && ((b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0)
                 || (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43))))
    return KIND_TIFF;
  return KIND_UNKNOWN;
}

/* ======================================================================== */
/* Formats                                                                  */

static const char *
model_name (int channels)
{
  static const char *const names[] = { NULL, "Y'", "Y'A", "R'G'B'", "R'G'B'A" };
  return names[channels];
}

static const Babl *
format_for (int channels, const char *type, const Babl *space)
{
  g_autofree char *name = g_strdup_printf ("%s %s", model_name (channels), type);
  return babl_format_with_space (name, space);
}

static int
depth_of_type (const Babl *type)
{
  if (type == babl_type ("u8"))
    return 8;
  if (type == babl_type ("u16"))
    return 16;
  return 32;
}

static const char *
type_of_depth (int depth)
{
  return depth == 8 ? "u8" : depth == 16 ? "u16" : "float";
}

/* ======================================================================== */
/* Reading                                                                  */

struct _LisseImageReader
{
  LisseImageInfo info;
  GeglBuffer    *buffer;
  const Babl    *float_format;   /* interleaved floats of info.channels */
  char          *display;
};

/* A codec's words can hold anything the file put there (a chunk name, a
 * tag's text): one line, valid UTF-8, not too long. */
static void
tidy_message (GError *error)
{
  g_autofree char *line = first_line (error->message);
  g_free (error->message);
  error->message = line ? g_steal_pointer (&line) : g_strdup ("cannot decode the file");
}

/* The decoded image of @data, named @display in messages. */
static LisseImageReader *
reader_from_bytes (const guint8 *data, gsize size, const char *display, GError **error)
{
  GeglBuffer *buffer = NULL;
  GError *local = NULL;
  switch (sniff (data, size))
    {
    case KIND_PNG:
      buffer = lisse_read_png (data, size, &local);
      break;
    case KIND_JPEG:
      buffer = lisse_read_jpeg (data, size, &local);
      break;
    case KIND_TIFF:
      buffer = lisse_read_tiff (data, size, &local);
      break;
    default:
      fail (error, LISSE_ERROR_BAD_IMAGE, display, "%s",
            size == 0 ? "the file is empty" : "not a PNG, JPEG or TIFF image");
      return NULL;
    }
  if (!buffer)
    {
      tidy_message (local);
      g_prefix_error (&local, "%s: ", display);
      g_propagate_error (error, local);
      return NULL;
    }

  const GeglRectangle *extent = gegl_buffer_get_extent (buffer);
  const Babl *format = gegl_buffer_get_format (buffer);
  gboolean alpha = babl_format_has_alpha (format);
  int colour = babl_format_get_n_components (format) - (alpha ? 1 : 0);
  const Babl *space = babl_format_get_space (format);
  /* Keep an RGB file's own space (see image-io.h); CMYK and gray-profile
   * files are read as sRGB, which the RGB and Y' formats then mean. */
  if (!space || space == babl_space ("sRGB") || babl_space_is_cmyk (space)
      || babl_space_is_gray (space))
    space = NULL;

  LisseImageReader *r = g_new0 (LisseImageReader, 1);
  r->buffer = buffer;
  r->display = g_strdup (display);
  r->info.width = extent->width;
  r->info.height = extent->height;
  r->info.has_alpha = alpha;
  r->info.channels = (colour == 1 ? 1 : 3) + (alpha ? 1 : 0);
  r->info.bit_depth = depth_of_type (babl_format_get_type (format, 0));
  r->info.space = space;
  r->float_format = format_for (r->info.channels, "float", space);
  return r;
}

LisseImageReader *
lisse_image_reader_open_bytes (const void *data, gsize size, const char *name, GError **error)
{
  g_return_val_if_fail (cap.initialised, NULL);
  g_return_val_if_fail (data || size == 0, NULL);
  return reader_from_bytes (data, size, name ? name : "image", error);
}

LisseImageReader *
lisse_image_reader_open (const char *path, GError **error)
{
  g_return_val_if_fail (cap.initialised, NULL);
  g_autofree char *display = g_filename_display_name (path);
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    {
      int e = errno;
      fail (error, LISSE_ERROR_IO, display, "%s",
            e == ENOENT ? "no such file" : g_strerror (e));
      return NULL;
    }
  if (S_ISDIR (st.st_mode))
    {
      fail (error, LISSE_ERROR_IO, display, "is a folder, not an image");
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      fail (error, LISSE_ERROR_IO, display, "not a regular file");
      return NULL;
    }

  GMappedFile *mapped = NULL;
  if (st.st_size > 0)
    {
      GError *local = NULL;
      mapped = g_mapped_file_new (path, FALSE, &local);
      if (!mapped)
        {
          fail (error, LISSE_ERROR_IO, display, "%s", local->message);
          g_error_free (local);
          return NULL;
        }
    }
  const guint8 *data = mapped ? (const guint8 *) g_mapped_file_get_contents (mapped) : NULL;
  gsize size = mapped ? g_mapped_file_get_length (mapped) : 0;
  LisseImageReader *r = reader_from_bytes (data, size, display, error);
  if (mapped)
    g_mapped_file_unref (mapped);
  return r;
}

const LisseImageInfo *
lisse_image_reader_get_info (const LisseImageReader *reader)
{
  return &reader->info;
}

gboolean
lisse_image_read_rect (int x, int y, LisseTensor *dst, gpointer data, GError **error)
{
  LisseImageReader *r = data;
  const int c = r->info.channels, w = dst->w, h = dst->h;
  if (dst->n != 1 || dst->c < c || x < 0 || y < 0
      || w > r->info.width - x || h > r->info.height - y)
    return fail (error, LISSE_ERROR_INVALID_ARGUMENT, r->display,
                 "read of %d×%d at %d,%d outside the %d×%d image",
                 w, h, x, y, r->info.width, r->info.height);

  gsize row_bytes = (gsize) w * c * sizeof (float);
  int rows = (int) CLAMP (CHUNK_BYTES / row_bytes, 1, (gsize) h);
  float *tmp = g_try_malloc (row_bytes * rows);
  if (!tmp)
    return fail (error, LISSE_ERROR_OUT_OF_MEMORY, r->display, "out of memory");
  for (int y0 = 0; y0 < h; y0 += rows)
    {
      int nrows = MIN (rows, h - y0);
      GeglRectangle rect = { x, y + y0, w, nrows };
      gegl_buffer_get (r->buffer, &rect, 1.0, r->float_format, tmp,
                       GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      lisse_tensor_set_pixels (dst, 0, y0, w, nrows, c, tmp);
    }
  g_free (tmp);
  return TRUE;
}

LisseTensor *
lisse_image_reader_read_all (LisseImageReader *r, GError **error)
{
  LisseTensor *t = lisse_tensor_try_new (1, r->info.channels, r->info.height,
                                         r->info.width, error);
  if (!t)
    {
      g_prefix_error (error, "%s: ", r->display);
      return NULL;
    }
  if (!lisse_image_read_rect (0, 0, t, r, error))
    {
      lisse_tensor_free (t);
      return NULL;
    }
  return t;
}

void
lisse_image_reader_free (LisseImageReader *r)
{
  if (!r)
    return;
  g_clear_object (&r->buffer);
  g_free (r->display);
  g_free (r);
}

LisseTensor *
lisse_image_load (const char *path, LisseImageInfo *info, GError **error)
{
  g_autoptr (LisseImageReader) r = lisse_image_reader_open (path, error);
  if (!r)
    return NULL;
  if (info)
    *info = r->info;
  return lisse_image_reader_read_all (r, error);
}

/* ======================================================================== */
/* Writing                                                                  */

struct _LisseImageWriter
{
  char          *path;
  char          *display;
  FileKind       kind;
  int            depth;
  LisseImageInfo info;
  GeglBuffer    *buffer;          /* in the output's own type */
  const Babl    *float_format;
};

static FileKind
kind_from_name (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  const char *dot = strrchr (base, '.');
  if (!dot)
    return KIND_UNKNOWN;
  g_autofree char *ext = g_ascii_strdown (dot + 1, -1);
  if (strcmp (ext, "png") == 0)
    return KIND_PNG;
  if (strcmp (ext, "jpg") == 0 || strcmp (ext, "jpeg") == 0)
    return KIND_JPEG;
  if (strcmp (ext, "tif") == 0 || strcmp (ext, "tiff") == 0)
    return KIND_TIFF;
  return KIND_UNKNOWN;
}

static int
choose_depth (FileKind kind, int input_depth, int asked, const char *display,
              GError **error)
{
  if (asked != 0 && asked != 8 && asked != 16 && asked != 32)
    {
      fail (error, LISSE_ERROR_INVALID_ARGUMENT, display,
            "bit depth %d is not 8, 16 or 32", asked);
      return 0;
    }
  switch (kind)
    {
    case KIND_PNG:
      if (asked == 32)
        {
          fail (error, LISSE_ERROR_INVALID_ARGUMENT, display,
                "PNG holds 8 or 16 bits per channel, not 32 (write TIFF for float)");
          return 0;
        }
      return asked ? asked : MIN (input_depth, 16);
    case KIND_JPEG:
      if (asked && asked != 8)
        {
          fail (error, LISSE_ERROR_INVALID_ARGUMENT, display,
                "JPEG holds 8 bits per channel, not %d (write PNG or TIFF)", asked);
          return 0;
        }
      return 8;
    case KIND_TIFF:
      return asked ? asked : input_depth;
    default:
      return 0;
    }
}

LisseImageWriter *
lisse_image_writer_new (const char *path, const LisseImageInfo *info, int depth,
                        GError **error)
{
  g_return_val_if_fail (cap.initialised, NULL);
  g_return_val_if_fail (info->channels >= 1 && info->channels <= 4, NULL);
  g_autofree char *display = g_filename_display_name (path);

  FileKind kind = kind_from_name (path);
  if (kind == KIND_UNKNOWN)
    {
      fail (error, LISSE_ERROR_INVALID_ARGUMENT, display,
            "unknown output format (use .png, .jpg, .jpeg, .tif or .tiff)");
      return NULL;
    }
  if (kind == KIND_JPEG && (info->channels == 2 || info->channels == 4))
    {
      fail (error, LISSE_ERROR_INVALID_ARGUMENT, display,
            "JPEG cannot store the image's alpha channel; write PNG or TIFF instead");
      return NULL;
    }
  int out_depth = choose_depth (kind, info->bit_depth, depth, display, error);
  if (!out_depth)
    return NULL;
  if (!gegl_has_operation (kind_savers[kind]))
    {
      fail (error, LISSE_ERROR_IO, display, "this GEGL has no %s saver (%s)",
            kind_names[kind], kind_savers[kind]);
      return NULL;
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      fail (error, LISSE_ERROR_IO, display, "is a folder");
      return NULL;
    }
  g_autofree char *dir = g_path_get_dirname (path);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *ddir = g_filename_display_name (dir);
      fail (error, LISSE_ERROR_IO, display, "folder %s does not exist", ddir);
      return NULL;
    }
  if (g_access (dir, W_OK) != 0)
    {
      int e = errno;
      g_autofree char *ddir = g_filename_display_name (dir);
      fail (error, LISSE_ERROR_IO, display, "cannot write in %s: %s", ddir, g_strerror (e));
      return NULL;
    }

  GeglRectangle rect = { 0, 0, info->width, info->height };
  LisseImageWriter *w = g_new0 (LisseImageWriter, 1);
  w->path = g_strdup (path);
  w->display = g_strdup (display);
  w->kind = kind;
  w->depth = out_depth;
  w->info = *info;
  w->info.bit_depth = out_depth;
  w->buffer = gegl_buffer_new (&rect, format_for (info->channels, type_of_depth (out_depth),
                                                  info->space));
  w->float_format = format_for (info->channels, "float", info->space);
  return w;
}

int
lisse_image_writer_get_depth (const LisseImageWriter *writer)
{
  return writer->depth;
}

gboolean
lisse_image_write_rect (int x, int y, const LisseTensor *src, gpointer data, GError **error)
{
  LisseImageWriter *wr = data;
  const int c = wr->info.channels, w = src->w, h = src->h;
  if (src->n != 1 || src->c != c || x < 0 || y < 0
      || w > wr->info.width - x || h > wr->info.height - y)
    return fail (error, LISSE_ERROR_INVALID_ARGUMENT, wr->display,
                 "write of %d×%d×%d at %d,%d outside the %d×%d×%d image",
                 src->c, w, h, x, y, wr->info.channels, wr->info.width, wr->info.height);

  /* Integer files clamp here rather than in babl, so that NaN (which a
   * network with broken weights may produce) becomes 0, not whatever the
   * conversion makes of it.  Float files get the values as they are. */
  const gboolean clamp = wr->depth != 32;
  gsize row_bytes = (gsize) w * c * sizeof (float);
  int rows = (int) CLAMP (CHUNK_BYTES / row_bytes, 1, (gsize) h);
  float *tmp = g_try_malloc (row_bytes * rows);
  if (!tmp)
    return fail (error, LISSE_ERROR_OUT_OF_MEMORY, wr->display, "out of memory");
  for (int y0 = 0; y0 < h; y0 += rows)
    {
      int nrows = MIN (rows, h - y0);
      lisse_tensor_get_pixels (src, 0, y0, w, nrows, c, tmp);
      if (clamp)
        for (gsize i = 0, n = (gsize) nrows * w * c; i < n; i++)
          {
            float v = tmp[i];
            tmp[i] = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;   /* NaN → 0 */
          }
      GeglRectangle rect = { x, y + y0, w, nrows };
      gegl_buffer_set (wr->buffer, &rect, 0, wr->float_format, tmp, GEGL_AUTO_ROWSTRIDE);
    }
  g_free (tmp);
  return TRUE;
}

gboolean
lisse_image_writer_commit (LisseImageWriter *wr, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (wr->path);
  g_autofree char *base = g_path_get_basename (wr->path);
  g_autofree char *tmpl_name = g_strdup_printf (".%s.lisse-XXXXXX", base);
  char *tmp = g_build_filename (dir, tmpl_name, NULL);
  /* 0666 less the umask, like any new file; mkstemp's 0600 would carry
   * over to the result. */
  int fd = g_mkstemp_full (tmp, O_RDWR, 0666);
  if (fd < 0)
    {
      int e = errno;
      g_free (tmp);
      return fail (error, LISSE_ERROR_IO, wr->display, "cannot create a file beside it: %s",
                   g_strerror (e));
    }
  close (fd);
  set_pending_tmp (tmp);

  GeglNode *graph = gegl_node_new ();
  GeglNode *source = gegl_node_new_child (graph, "operation", "gegl:buffer-source",
                                          "buffer", wr->buffer, NULL);
  GeglNode *save = gegl_node_new_child (graph, "operation", kind_savers[wr->kind],
                                        "path", tmp, NULL);
  if (wr->kind == KIND_PNG)
    gegl_node_set (save, "bitdepth", wr->depth, NULL);
  else if (wr->kind == KIND_JPEG)
    gegl_node_set (save, "grayscale", wr->info.channels == 1, NULL);
  gegl_node_link (source, save);

  g_autofree char *context = g_strdup_printf ("%s: cannot encode the %s file", wr->display,
                                              kind_names[wr->kind]);
  capture_begin (context);
  gegl_node_process (save);
  g_autofree char *detail = NULL;
  gboolean warned = capture_end (&detail);
  g_object_unref (graph);

  GStatBuf st;
  gboolean ok = !warned && g_stat (tmp, &st) == 0 && st.st_size > 0;
  if (!ok)
    fail (error, LISSE_ERROR_IO, wr->display, "cannot encode the %s file%s%s",
          kind_names[wr->kind], detail ? ": " : "", detail ? detail : "");
  else if (g_rename (tmp, wr->path) != 0)
    {
      int e = errno;
      ok = fail (error, LISSE_ERROR_IO, wr->display, "%s", g_strerror (e));
    }
  if (!ok)
    g_unlink (tmp);
  set_pending_tmp (NULL);
  g_free (tmp);
  return ok;
}

void
lisse_image_writer_free (LisseImageWriter *wr)
{
  if (!wr)
    return;
  g_clear_object (&wr->buffer);
  g_free (wr->path);
  g_free (wr->display);
  g_free (wr);
}

gboolean
lisse_image_save (const char *path, const LisseTensor *image, const LisseImageInfo *info,
                  int depth, GError **error)
{
  LisseImageInfo shape = *info;
  shape.width = image->w;
  shape.height = image->h;
  shape.channels = image->c;
  shape.has_alpha = image->c == 2 || image->c == 4;
  g_autoptr (LisseImageWriter) w = lisse_image_writer_new (path, &shape, depth, error);
  if (!w)
    return FALSE;
  return lisse_image_write_rect (0, 0, image, w, error)
         && lisse_image_writer_commit (w, error);
}
