/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * libFuzzer target for the safetensors reader: any input must be either
 * refused with LISSE_ERROR_BAD_MODEL or opened with every tensor and every
 * metadata value readable — no crash, no read outside the input, no leak.
 * Build and run: see README.md here.  fuzz-main.c runs the same function
 * over a corpus without libFuzzer. */
#include "safetensors.h"
#include "model.h"
#include "lisse-error.h"

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
init_once (void)
{
  static gboolean done = FALSE;
  if (done)
    return;
  done = TRUE;
  /* GLib < 2.76 caches small blocks in GSlice magazines, which hides
   * overflows and leaks of json-glib nodes from ASan; this must be set
   * before GLib's first allocation. */
  setenv ("G_SLICE", "always-malloc", 0);
  /* A g_critical/g_warning from GLib or json-glib means we handed them
   * something wrong: make it a crash the fuzzer reports. */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

static void
fuzz_abort (const char *what, const GError *error)
{
  fprintf (stderr, "fuzz-safetensors: %s: %s\n", what, error ? error->message : "(no error)");
  abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  init_once ();

  /* A static GBytes over the fuzzer's own buffer, which libFuzzer sizes
   * exactly: ASan then catches a read even one byte past the input. */
  GBytes *bytes = g_bytes_new_static (data, size);
  GError *error = NULL;
  LisseSafetensors *st = lisse_safetensors_open_bytes (bytes, &error);
  g_bytes_unref (bytes);
  if (!st)
    {
      if (!g_error_matches (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL)
          || !error->message[0] || strchr (error->message, '\n'))
        fuzz_abort ("refusal is not a one-line LISSE_ERROR_BAD_MODEL", error);
      g_error_free (error);
      return 0;
    }

  volatile double sink = 0;
  for (const char * const *key = lisse_safetensors_get_metadata_keys (st); *key; key++)
    {
      const char *value = lisse_safetensors_get_metadata (st, *key);
      if (!value)
        fuzz_abort ("listed metadata key without a value", NULL);
      sink += strlen (value);
      /* The typed getters parse untrusted strings too. */
      int i;
      double d;
      if (lisse_model_get_metadata_int (st, *key, &i, &error))
        sink += i;
      else
        g_clear_error (&error);
      if (lisse_model_get_metadata_double (st, *key, &d, &error))
        sink += d;
      else
        g_clear_error (&error);
    }

  guint n = 0;
  for (const char * const *name = lisse_safetensors_get_names (st); *name; name++, n++)
    {
      const LisseSafetensorsEntry *e = lisse_safetensors_lookup (st, *name);
      if (!e || (uintptr_t) e->data < (uintptr_t) data
          || e->end - e->begin > size
          || (uintptr_t) e->data + (e->end - e->begin) > (uintptr_t) data + size)
        fuzz_abort ("entry outside the input", NULL);
      char *q = lisse_safetensors_quote_name (*name);
      char *s = lisse_safetensors_format_shape (e->shape, e->rank);
      g_free (s);
      g_free (q);

      LisseTensor *t = lisse_safetensors_get_tensor (st, *name, &error);
      if (!t)
        {
          if (!g_error_matches (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL))
            fuzz_abort ("get_tensor failed without LISSE_ERROR_BAD_MODEL", error);
          g_clear_error (&error);
          continue;
        }
      if (lisse_tensor_numel (t) != e->n_elements)
        fuzz_abort ("tensor size differs from the entry's", NULL);
      double sum = 0;
      for (size_t i = 0; i < lisse_tensor_numel (t); i++)
        sum += t->data[i];
      sink += sum;
      lisse_tensor_free (t);
    }
  if (n != lisse_safetensors_get_n_tensors (st))
    fuzz_abort ("name list and tensor count disagree", NULL);

  /* Check against the names the file itself gives: every one must pass. */
  LisseTensorSpec *specs = g_new0 (LisseTensorSpec, MAX (n, 1));
  int n_specs = 0;
  for (const char * const *name = lisse_safetensors_get_names (st); *name; name++)
    {
      const LisseSafetensorsEntry *e = lisse_safetensors_lookup (st, *name);
      if (e->rank > 4)
        continue;
      specs[n_specs].name = *name;
      specs[n_specs].rank = e->rank;
      for (int i = 0; i < 4; i++)
        specs[n_specs].dims[i] = i < e->rank ? e->shape[i] : -1;
      n_specs++;
    }
  gboolean all_listed = n_specs == (int) n;
  if (lisse_model_check_tensors (st, specs, n_specs, &error) != all_listed)
    fuzz_abort ("check_tensors disagrees with the file's own shapes", error);
  g_clear_error (&error);
  g_free (specs);

  (void) sink;
  lisse_safetensors_free (st);
  return 0;
}
