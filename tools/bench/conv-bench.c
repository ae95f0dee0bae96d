/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Times the engine's 3×3 "same" convolution (the op that dominates every
 * network) by each algorithm lisse_conv2d() has for it, im2col + sgemm and
 * Winograd F(4×4, 3×3) (and, as "winograd-bf16", Winograd with its
 * products in bf16 on AMX), at each thread count from 1 to --threads (default:
 * the number of cores): median of 7 runs.
 *   tools/dev exec build/tools/bench/conv-bench [C] [H] [W] [DILATION] [MAX_THREADS] [ALGO]
 * (ALGO: im2col, winograd or winograd-bf16 for one of them only, e.g. under
 * perf).
 * Prints the time, the GFLOP/s of the direct convolution's arithmetic
 * (2·C²·9·H·W, so that the algorithms compare), the speed-up over one
 * thread, whether every thread count gives the same bits, and the largest
 * difference between each Winograd and im2col.  Beside the wall time it prints the
 * process's CPU time per run (all threads together), which other processes
 * on a busy machine disturb far less. */
#include "ops-conv.h"
#include "threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

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
  int dil = argc > 4 ? atoi (argv[4]) : 1;
  int max_threads = argc > 5 ? atoi (argv[5]) : (int) g_get_num_processors ();
  const char *only = argc > 6 ? argv[6] : NULL;
  const int runs = 7;
  GRand *rng = g_rand_new_with_seed (7);
  LisseTensor *x = lisse_tensor_new (1, c, h, w);
  LisseTensor *wt = lisse_tensor_new (c, c, 3, 3);
  for (size_t i = 0; i < lisse_tensor_numel (x); i++)
    x->data[i] = (float) g_rand_double_range (rng, -1, 1);
  for (size_t i = 0; i < lisse_tensor_numel (wt); i++)
    wt->data[i] = (float) g_rand_double_range (rng, -0.05, 0.05);
  LisseConv2dGeom geom = lisse_conv2d_geom (1, dil, dil, 1);
  double flops = 2.0 * c * c * 9 * h * w;
  /* winograd-bf16: its products in bf16 on AMX (gemm-bf16.c; where the
   * CPU has no AMX, the same as winograd). */
  static const struct { LisseConvAlgorithm algo; gboolean bf16; const char *name; } algos[] = {
    { LISSE_CONV_IM2COL, FALSE, "im2col" }, { LISSE_CONV_AUTO, FALSE, "winograd" },
    { LISSE_CONV_AUTO, TRUE, "winograd-bf16" },
  };
  enum { N_ALGOS = G_N_ELEMENTS (algos) };
  LisseTensor *result[N_ALGOS] = { NULL };
  printf ("conv2d 3x3 %d->%d on %dx%d, dilation %d, median of %d runs\n", c, c, h, w, dil, runs);
  for (int a = 0; a < N_ALGOS; a++)
    {
      if (only && strcmp (only, algos[a].name))
        continue;
      lisse_ops_set_conv_algorithm (algos[a].algo);
      geom.bf16 = algos[a].bf16;
      double base = 0;
      for (int threads = 1; threads <= max_threads; threads++)
        {
          lisse_threads_set (threads);
          double t[runs], cpu[runs];
          LisseTensor *y = NULL;
          for (int r = 0; r < runs; r++)
            {
              lisse_tensor_free (y);
              gint64 t0 = g_get_monotonic_time ();
              double c0 = cpu_seconds ();
              y = lisse_conv2d (x, wt, NULL, &geom, NULL);
              cpu[r] = cpu_seconds () - c0;
              t[r] = (g_get_monotonic_time () - t0) / 1e6;
            }
          qsort (t, runs, sizeof t[0], cmp_double);
          qsort (cpu, runs, sizeof cpu[0], cmp_double);
          double med = t[runs / 2];
          if (threads == 1)
            base = med;
          gboolean same = !result[a]
                          || memcmp (result[a]->data, y->data,
                                     lisse_tensor_numel (y) * sizeof (float)) == 0;
          printf ("%-8s threads %d: %8.1f ms (CPU %8.1f ms)  %6.1f GFLOP/s  speed-up %.2f  %s\n",
                  algos[a].name, threads, med * 1e3, cpu[runs / 2] * 1e3, flops / med / 1e9,
                  base / med,
                  same ? "same bits as 1 thread" : "DIFFERENT BITS");
          if (!result[a])
            result[a] = y;
          else
            lisse_tensor_free (y);
        }
    }
  for (int a = 1; a < N_ALGOS; a++)
    {
      if (!result[0] || !result[a])
        continue;
      double diff = 0, peak = 0;
      for (size_t i = 0; i < lisse_tensor_numel (result[0]); i++)
        {
          diff = fmax (diff, fabs (result[0]->data[i] - result[a]->data[i]));
          peak = fmax (peak, fabs (result[0]->data[i]));
        }
      printf ("max |%s - im2col| = %.3g (outputs up to %.3g)\n", algos[a].name, diff, peak);
    }
  return 0;
}
