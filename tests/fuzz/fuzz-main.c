/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Runs a libFuzzer target over files without libFuzzer, so that CI can
 * replay the seed corpus (and any crash a fuzzer found) under ASan/UBSan
 * with a plain compiler:
 *   fuzz-safetensors-replay FILE|DIR...
 * Directories are walked recursively; files are read whole and handed over
 * in a buffer of exactly their size, so an overread trips ASan as it would
 * under libFuzzer.  Exit status 0 when every input ran. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
run_file (const char *path)
{
  char *contents = NULL;
  gsize length = 0;
  GError *error = NULL;
  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      fprintf (stderr, "fuzz-main: %s\n", error->message);
      g_error_free (error);
      return 1;
    }
  /* g_file_get_contents() adds a NUL after the data; drop it. */
  uint8_t *exact = malloc (length ? length : 1);
  if (!exact)
    {
      fprintf (stderr, "fuzz-main: out of memory reading %s\n", path);
      g_free (contents);
      return 1;
    }
  if (length)
    memcpy (exact, contents, length);
  g_free (contents);
  LLVMFuzzerTestOneInput (exact, length);
  free (exact);
  return 0;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static int
run_path (const char *path, guint *count)
{
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      (*count)++;
      return run_file (path);
    }
  GError *error = NULL;
  GDir *dir = g_dir_open (path, 0, &error);
  if (!dir)
    {
      fprintf (stderr, "fuzz-main: %s\n", error->message);
      g_error_free (error);
      return 1;
    }
  /* Sorted, so that a run is reproducible. */
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)))
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);
  int failures = 0;
  for (guint i = 0; i < names->len; i++)
    {
      char *child = g_build_filename (path, names->pdata[i], NULL);
      failures += run_path (child, count);
      g_free (child);
    }
  g_ptr_array_unref (names);
  return failures;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE|DIR...\n", argv[0]);
      return 2;
    }
  guint count = 0;
  int failures = 0;
  for (int i = 1; i < argc; i++)
    failures += run_path (argv[i], &count);
  printf ("fuzz-main: ran %u input%s%s\n", count, count == 1 ? "" : "s",
          failures ? ", some could not be read" : "");
  return failures ? 1 : 0;
}
