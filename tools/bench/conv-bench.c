/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Times the engine's 3×3 convolution (the op that dominates every network)
 * at each thread count from 1 to the number of cores: median of 7 runs.
 *   tools/dev exec build/tools/bench/conv-bench [C] [H] [W]
 * Prints GFLOP/s, the speed-up over one thread, and checks that every
 * thread count gives the same bits. */
#include "ops-conv.h"
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  int c = argc > 1 ? atoi (argv[1]) : 64;
  int h = argc > 2 ? atoi (argv[2]) : 256;
  int w = argc > 3 ? atoi (argv[3]) : 256;
  const int runs = 7;
  GRand *rng = g_rand_new_with_seed (7);
  LisseTensor *x = lisse_tensor_new (1, c, h, w);
  LisseTensor *wt = lisse_tensor_new (c, c, 3, 3);
  for (size_t i = 0; i < lisse_tensor_numel (x); i++)
    x->data[i] = (float) g_rand_double_range (rng, -1, 1);
  for (size_t i = 0; i < lisse_tensor_numel (wt); i++)
    wt->data[i] = (float) g_rand_double_range (rng, -0.05, 0.05);
  LisseConv2dGeom geom = lisse_conv2d_geom (1, 1, 1, 1);
  double flops = 2.0 * c * c * 9 * h * w;
  int max_threads = (int) g_get_num_processors ();
  double base = 0;
  LisseTensor *first = NULL;
  printf ("conv2d 3x3 %d->%d on %dx%d, median of %d runs\n", c, c, h, w, runs);
  for (int threads = 1; threads <= max_threads; threads++)
    {
      lisse_threads_set (threads);
      double t[runs];
      LisseTensor *y = NULL;
      for (int r = 0; r < runs; r++)
        {
          lisse_tensor_free (y);
          gint64 t0 = g_get_monotonic_time ();
          y = lisse_conv2d (x, wt, NULL, &geom, NULL);
          t[r] = (g_get_monotonic_time () - t0) / 1e6;
        }
      qsort (t, runs, sizeof t[0], cmp_double);
      double med = t[runs / 2];
      if (threads == 1)
        base = med;
      gboolean same = !first || memcmp (first->data, y->data, lisse_tensor_numel (y) * sizeof (float)) == 0;
      printf ("threads %d: %8.1f ms  %6.1f GFLOP/s  speed-up %.2f  %s\n", threads, med * 1e3,
              flops / med / 1e9, base / med, same ? "same bits as 1 thread" : "DIFFERENT BITS");
      if (!first)
        first = y;
      else
        lisse_tensor_free (y);
    }
  return 0;
}
