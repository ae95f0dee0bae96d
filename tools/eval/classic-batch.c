/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Batch runner for the classical filters: one process filters many images,
 * so an evaluation over hundreds of images and a parameter grid pays GEGL's
 * start-up (about a second) once instead of once per image.
 *
 *   classic-batch [--threads N] [JOBS]
 *
 * Reads jobs from the file JOBS, or from standard input when it is absent
 * or "-", one per line:
 *
 *   METHOD IN OUT [key=value]… [guide=FILE]
 *
 * METHOD is a filter name as in `lisse filter`; IN and OUT are image files
 * (PNG, JPEG, TIFF, read and written exactly as `lisse filter` does: OUT
 * keeps IN's bit depth, alpha untouched); key=value sets a parameter, and
 * guide=FILE gives a guide image.  Fields are separated by blanks, so paths
 * must not contain any.  Blank lines and lines starting with '#' are
 * skipped.  Each job answers with one line on standard output, flushed at
 * once, so a driver can feed jobs through a pipe and consume the results as
 * they come:
 *
 *   ok OUT MS          MS: milliseconds spent in lisse_filter_run alone
 *   error OUT MESSAGE  the job failed (MESSAGE on one line); the batch goes on
 *
 * The last input read is kept, so jobs that repeat an input do not decode
 * it again.  Exit status: 0 when every job succeeded, 1 otherwise, 2 for a
 * malformed command line.
 *
 * Built with the tools, never run by the tests; see
 * tools/eval/eval-classic-nksmini.py for the driver that uses it.
 */
#include "classic/filter.h"
#include "image-io.h"
#include "lisse-error.h"
#include "params.h"
#include "threads.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints "error OUT MESSAGE" with the message on one line. */
static void
job_error (const char *out, const char *message)
{
  g_autofree char *line = g_strdup (message ? message : "unknown error");
  for (char *p = line; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  printf ("error %s %s\n", out ? out : "-", line);
  fflush (stdout);
}

typedef struct
{
  char          *path;
  LisseTensor   *image;
  LisseImageInfo info;
} Cached;

static void
cached_clear (Cached *c)
{
  g_clear_pointer (&c->path, g_free);
  g_clear_pointer (&c->image, lisse_tensor_free);
}

/* The image at @path, from @cache when it was the last one read. */
static const LisseTensor *
cached_load (Cached *cache, const char *path, GError **error)
{
  if (cache->path && strcmp (cache->path, path) == 0)
    return cache->image;
  cached_clear (cache);
  LisseTensor *image = lisse_image_load (path, &cache->info, error);
  if (!image)
    return NULL;
  cache->image = image;
  cache->path = g_strdup (path);
  return image;
}

/* Runs the job in @f (METHOD IN OUT [key=value]…) and writes its output.
 * Separate from the line handling so that every early return releases what
 * it made (g_autoptr), with no goto jumping over an initialisation. */
static gboolean
do_job (GPtrArray *f, Cached *input_cache, Cached *guide_cache, double *ms, GError **error)
{
  const char *method = g_ptr_array_index (f, 0);
  const char *in = g_ptr_array_index (f, 1);
  const char *out = g_ptr_array_index (f, 2);

  const LisseFilterInfo *info = lisse_filter_find (method);
  if (!info)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME, "unknown filter '%s'", method);
      return FALSE;
    }
  LisseParams params;
  lisse_params_init (&params, info->params, info->n_params);
  const char *guide_path = NULL;
  for (guint i = 3; i < f->len; i++)
    {
      const char *kv = g_ptr_array_index (f, i);
      if (g_str_has_prefix (kv, "guide="))
        guide_path = kv + strlen ("guide=");
      else if (!lisse_params_parse (&params, kv, error))
        return FALSE;
    }
  if (guide_path && info->guide == LISSE_GUIDE_NONE)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s does not take a guide image", info->name);
      return FALSE;
    }
  if (!guide_path && info->guide == LISSE_GUIDE_REQUIRED)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s needs a guide image", info->name);
      return FALSE;
    }

  const LisseTensor *image = cached_load (input_cache, in, error);
  if (!image)
    return FALSE;
  const LisseImageInfo *image_info = &input_cache->info;
  LisseTensor guide_view;
  if (guide_path)
    {
      const LisseTensor *guide = cached_load (guide_cache, guide_path, error);
      if (!guide)
        return FALSE;
      /* As `lisse filter`: the guide's colour channels only. */
      guide_view = *guide;
      guide_view.c = guide->c - (guide_cache->info.has_alpha ? 1 : 0);
      guide_view.owns_data = FALSE;
    }

  int n_color = image_info->channels - (image_info->has_alpha ? 1 : 0);
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (LisseTensor) result = lisse_filter_run (info, image, n_color,
                                                     guide_path ? &guide_view : NULL,
                                                     &params, NULL, error);
  *ms = (g_get_monotonic_time () - t0) / 1000.0;
  return result && lisse_image_save (out, result, image_info, 0, error);
}

/* Runs one job line and prints its answer; FALSE on failure. */
static gboolean
run_line (char *line, Cached *input_cache, Cached *guide_cache)
{
  g_auto (GStrv) fields = g_strsplit_set (g_strstrip (line), " \t", -1);
  /* g_strsplit_set leaves empty fields between repeated blanks. */
  g_autoptr (GPtrArray) f = g_ptr_array_new ();
  for (int i = 0; fields[i]; i++)
    if (*fields[i])
      g_ptr_array_add (f, fields[i]);
  if (f->len < 3)
    {
      job_error (NULL, "a job needs METHOD IN OUT [key=value]…");
      return FALSE;
    }
  const char *out = g_ptr_array_index (f, 2);
  GError *error = NULL;
  double ms = 0.0;
  if (!do_job (f, input_cache, guide_cache, &ms, &error))
    {
      job_error (out, error ? error->message : NULL);
      g_clear_error (&error);
      return FALSE;
    }
  char ms_text[G_ASCII_DTOSTR_BUF_SIZE];   /* a '.' whatever the locale */
  printf ("ok %s %s\n", out, g_ascii_formatd (ms_text, sizeof ms_text, "%.3f", ms));
  fflush (stdout);
  return TRUE;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  int threads = 0;
  GOptionEntry entries[] = {
    { "threads", 'j', 0, G_OPTION_ARG_INT, &threads,
      "Engine threads (default: $LISSE_THREADS, else all cores)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[JOBS]");
  g_option_context_set_summary (ctx, "Run the classical filters on many images in one "
                                "process.\nEach job line: METHOD IN OUT [key=value]… "
                                "[guide=FILE]");
  g_option_context_add_main_entries (ctx, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "classic-batch: %s\n", error->message);
      g_error_free (error);
      return 2;
    }
  if (argc > 2)
    {
      fprintf (stderr, "classic-batch: one job file at most\n");
      return 2;
    }
  if (threads < 0 || threads > 256)
    {
      fprintf (stderr, "classic-batch: --threads must be between 1 and 256\n");
      return 2;
    }
  if (threads > 0)
    lisse_threads_set (threads);

  FILE *jobs = stdin;
  if (argc == 2 && strcmp (argv[1], "-") != 0 && !(jobs = fopen (argv[1], "r")))
    {
      fprintf (stderr, "classic-batch: %s: cannot open\n", argv[1]);
      return 1;
    }

  lisse_image_io_init ("classic-batch");
  Cached input_cache = { 0 }, guide_cache = { 0 };
  gboolean all_ok = TRUE;
  char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, jobs) >= 0)
    {
      const char *p = line;
      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == '\0' || *p == '\n' || *p == '\r' || *p == '#')
        continue;
      if (!run_line (line, &input_cache, &guide_cache))
        all_ok = FALSE;
    }
  free (line);
  cached_clear (&input_cache);
  cached_clear (&guide_cache);
  if (jobs != stdin)
    fclose (jobs);
  lisse_image_io_exit ();
  return all_ok ? 0 : 1;
}
