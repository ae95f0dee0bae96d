/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Helper of tools/bench/fan18-vs-torch (and csgis-vs-torch: it runs any
 * model file): times the engine's forward pass of a network on an image
 * held in memory, so that neither process start, model loading nor image
 * files are in the time.
 *
 *   fan18-forward MODEL H W IN.f32 TILE RUNS OUT.f32|- [KEY=VALUE]…
 *
 * IN.f32: 3×H×W raw native float32 (planar R', G', B'); TILE as `lisse run
 * --tile` (0: automatic; ≥ max(H, W): whole image); RUNS timed calls of
 * lisse_net_run (after one untimed warm-up call), each printed as
 * "run SECONDS"; OUT.f32 receives the last output (3×H×W) unless "-".
 * Threads: $LISSE_THREADS, else all cores.  Exit status 0, or 1 with one
 * line on stderr.
 */
#include "lisse-error.h"
#include "nets/net.h"
#include "ops-conv.h"
#include "params.h"
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
fail (GError *error)
{
  fprintf (stderr, "fan18-forward: %s\n", error ? error->message : "failed");
  g_clear_error (&error);
  return 1;
}

static LisseTensor *
read_raw (const char *path, int h, int w, GError **error)
{
  gchar *bytes = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &bytes, &len, error))
    return NULL;
  LisseTensor *t = lisse_tensor_new (1, 3, h, w);
  if (len != lisse_tensor_numel (t) * sizeof (float))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_IO, "%s: %" G_GSIZE_FORMAT
                   " bytes, expected 3×%d×%d floats", path, len, h, w);
      lisse_tensor_free (t);
      g_free (bytes);
      return NULL;
    }
  memcpy (t->data, bytes, len);
  g_free (bytes);
  return t;
}

int
main (int argc, char **argv)
{
  if (argc < 8)
    {
      fprintf (stderr, "usage: %s MODEL H W IN.f32 TILE RUNS OUT.f32|- [KEY=VALUE]…\n",
               argv[0]);
      return 2;
    }
  int h = atoi (argv[2]), w = atoi (argv[3]), tile = atoi (argv[5]), runs = atoi (argv[6]);
  if (h < 1 || w < 1 || h > 1 << 15 || w > 1 << 15 || tile < 0 || runs < 1 || runs > 1000)
    {
      fprintf (stderr, "fan18-forward: bad size %s×%s, tile %s or runs %s\n",
               argv[2], argv[3], argv[5], argv[6]);
      return 2;
    }

  GError *error = NULL;
  g_autoptr (LisseNet) net = lisse_net_open (argv[1], &error);
  if (!net)
    return fail (error);
  LisseParams params;
  lisse_net_params_init (net, &params);
  for (int i = 8; i < argc; i++)
    if (!lisse_params_parse (&params, argv[i], &error))
      return fail (error);

  g_autoptr (LisseTensor) in = read_raw (argv[4], h, w, &error);
  if (!in)
    return fail (error);

  /* BENCH_CONV=im2col: the convolutions without Winograd, to compare. */
  if (g_strcmp0 (g_getenv ("BENCH_CONV"), "im2col") == 0)
    lisse_ops_set_conv_algorithm (LISSE_CONV_IM2COL);
  printf ("threads %d\n", lisse_threads_get ());
  LisseTensor *out = NULL;
  for (int r = -1; r < runs; r++)  /* r = −1: warm-up (page faults, thread pool start) */
    {
      lisse_tensor_free (out);
      struct timespec c0, c1;
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c0);
      gint64 t0 = g_get_monotonic_time ();
      out = lisse_net_run (net, in, &params, tile, NULL, &error);
      gint64 t1 = g_get_monotonic_time ();
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c1);
      if (!out)
        return fail (error);
      if (r >= 0)
        printf ("run %.6f cpu %.6f\n", (t1 - t0) / 1e6,
                (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9);
      fflush (stdout);
    }
  g_autoptr (LisseTensor) last = out;
  if (strcmp (argv[7], "-") != 0
      && !g_file_set_contents (argv[7], (const char *) last->data,
                               lisse_tensor_numel (last) * sizeof (float), &error))
    return fail (error);
  return 0;
}
