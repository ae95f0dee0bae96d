/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Helper of tests/test_fan18_parity.py: runs a network through the net API
 * with a per-pixel parameter map, which the `lisse` command line has no
 * option for.
 *
 *   test-fan18-map MODEL H W IN.f32 MAP.f32|- TILE OUT.f32 [KEY=VALUE]…
 *
 * IN.f32: 3×H×W raw native float32 (planar R', G', B'); MAP.f32: the
 * network's n_map_channels×H×W map, or "-" for none; TILE as `lisse run
 * --tile`; OUT.f32 receives 3×H×W.  Threads: $LISSE_THREADS.  Exit status
 * 0, or 1 with one line on stderr.
 */
#include "lisse-error.h"
#include "nets/net.h"
#include "params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail (GError *error)
{
  fprintf (stderr, "test-fan18-map: %s\n", error ? error->message : "failed");
  g_clear_error (&error);
  return 1;
}

static LisseTensor *
read_raw (const char *path, int c, int h, int w, GError **error)
{
  gchar *bytes = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &bytes, &len, error))
    return NULL;
  LisseTensor *t = lisse_tensor_new (1, c, h, w);
  if (len != lisse_tensor_numel (t) * sizeof (float))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_IO, "%s: %" G_GSIZE_FORMAT
                   " bytes, expected %d×%d×%d floats", path, len, c, h, w);
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
      fprintf (stderr, "usage: %s MODEL H W IN.f32 MAP.f32|- TILE OUT.f32 [KEY=VALUE]…\n",
               argv[0]);
      return 2;
    }
  int h = atoi (argv[2]), w = atoi (argv[3]), tile = atoi (argv[6]);
  if (h < 1 || w < 1 || h > 1 << 15 || w > 1 << 15)
    {
      fprintf (stderr, "test-fan18-map: bad size %s×%s\n", argv[2], argv[3]);
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

  g_autoptr (LisseTensor) in = read_raw (argv[4], 3, h, w, &error);
  if (!in)
    return fail (error);
  g_autoptr (LisseTensor) map = NULL;
  if (strcmp (argv[5], "-") != 0
      && !(map = read_raw (argv[5], net->info->n_map_channels, h, w, &error)))
    return fail (error);

  g_autoptr (LisseTensor) out = lisse_net_run_map (net, in, &params, map, tile, NULL,
                                                   &error);
  if (!out)
    return fail (error);
  if (!g_file_set_contents (argv[7], (const char *) out->data,
                            lisse_tensor_numel (out) * sizeof (float), &error))
    return fail (error);
  return 0;
}
