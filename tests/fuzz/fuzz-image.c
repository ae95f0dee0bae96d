/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * libFuzzer target for the image reader the command line uses
 * (core/cli/image-io.c and the decoders of image-read.h): any input must be
 * either refused with one line of LISSE_ERROR_BAD_IMAGE naming the input,
 * or opened as an image whose size, channels and depth make sense and whose
 * pixels can all be read — no crash, no exit, no sanitizer report, no
 * leak, no GLib warning (the target makes them fatal).
 * Build and run: see README.md here.  fuzz-main.c runs the same function
 * over a corpus without libFuzzer. */
#include "image-io.h"
#include "lisse-error.h"

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* LeakSanitizer's switches, where it is linked in (weak: the corpus replay
 * may be built without it). */
void __lsan_disable (void) __attribute__ ((weak));
void __lsan_enable (void) __attribute__ ((weak));

/* The reader's limit lowered to one megapixel: a few kilobytes of PNG
 * or JPEG can declare and legitimately fill far more, and the fuzzer has
 * to stay inside its 2 GB and its speed.  The refusal of larger headers is
 * the same code either way. */
#define FUZZ_MAX_PIXELS ((guint64) 1 << 20)

static void
init_once (void)
{
  static gboolean done = FALSE;
  if (done)
    return;
  done = TRUE;
  /* See fuzz-safetensors.c: GSlice would hide overflows and leaks. */
  setenv ("G_SLICE", "always-malloc", 0);
  /* GEGL's tile cache stays in memory: never a swap file on disk. */
  setenv ("GEGL_SWAP", "RAM", 0);
  /* GEGL and babl allocate for good when they start (their modules,
   * extensions and tables) and keep no pointer to some of it: not a leak
   * of the reader's. */
  if (__lsan_disable)
    __lsan_disable ();
  lisse_image_io_init ("fuzz-image");
  if (__lsan_enable)
    __lsan_enable ();
  lisse_image_io_set_max_pixels (FUZZ_MAX_PIXELS);
  /* From here on, a g_critical/g_warning means GEGL or GLib were handed
   * something wrong: make it a crash the fuzzer reports. */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

static void
fuzz_abort (const char *what, const GError *error)
{
  fprintf (stderr, "fuzz-image: %s: %s\n", what, error ? error->message : "(no error)");
  abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  init_once ();

  GError *error = NULL;
  LisseImageReader *reader = lisse_image_reader_open_bytes (data, size, "input", &error);
  if (!reader)
    {
      /* The command line prints this message as its one line. */
      if (!g_error_matches (error, LISSE_ERROR, LISSE_ERROR_BAD_IMAGE)
          || !g_str_has_prefix (error->message, "input: ")
          || strlen (error->message) <= strlen ("input: ")
          || strchr (error->message, '\n') || strchr (error->message, '\r')
          || !g_utf8_validate (error->message, -1, NULL))
        fuzz_abort ("refusal is not one line of LISSE_ERROR_BAD_IMAGE naming the input", error);
      g_error_free (error);
      return 0;
    }

  const LisseImageInfo *info = lisse_image_reader_get_info (reader);
  if (info->width < 1 || info->height < 1
      || (guint64) info->width * info->height > FUZZ_MAX_PIXELS
      || info->channels < 1 || info->channels > 4
      || info->has_alpha != (info->channels == 2 || info->channels == 4)
      || (info->bit_depth != 8 && info->bit_depth != 16 && info->bit_depth != 32))
    fuzz_abort ("opened an image with impossible info", NULL);

  /* Every pixel, as the command line reads it. */
  LisseTensor *image = lisse_image_reader_read_all (reader, &error);
  if (!image)
    fuzz_abort ("read_all failed on an opened image", error);
  if (image->n != 1 || image->c != info->channels || image->h != info->height
      || image->w != info->width)
    fuzz_abort ("the tensor's shape differs from the info", NULL);
  volatile double sink = 0;
  for (size_t i = 0; i < lisse_tensor_numel (image); i++)
    sink += image->data[i];
  (void) sink;
  lisse_tensor_free (image);

  /* And one tile at the far corner, as a tiled run reads it. */
  LisseTensor *tile = lisse_tensor_new (1, info->channels, 1, 1);
  if (!lisse_image_read_rect (info->width - 1, info->height - 1, tile, reader, &error))
    fuzz_abort ("read_rect failed inside the image", error);
  lisse_tensor_free (tile);

  lisse_image_reader_free (reader);
  return 0;
}
