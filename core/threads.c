/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "threads.h"

#include <cblas.h>
#include <stdlib.h>

/* OpenBLAS exports this; its cblas.h declares it, other BLASes do not. */
extern void openblas_set_num_threads (int num_threads);

static int lisse_n_threads = 0;   /* 0 = not decided yet */

static int
default_threads (void)
{
  const char *env = g_getenv (LISSE_THREADS_ENV);
  if (env && *env)
    {
      char *end = NULL;
      long v = strtol (env, &end, 10);
      if (end && *end == '\0' && v >= 1)
        return (int) MIN (v, 256);
      g_warning ("ignoring %s=%s: not a positive integer", LISSE_THREADS_ENV, env);
    }
  return MAX (1, (int) g_get_num_processors ());
}

void
lisse_threads_set (int n)
{
  n = CLAMP (n, 1, 256);
  g_atomic_int_set (&lisse_n_threads, n);
  /* OpenBLAS runs single-threaded inside the engine's OpenMP panels (see
   * lisse_sgemm): one pool, no workers spinning against another's. */
  openblas_set_num_threads (1);
}

int
lisse_threads_get (void)
{
  int n = g_atomic_int_get (&lisse_n_threads);
  if (n == 0)
    {
      n = default_threads ();
      lisse_threads_set (n);
    }
  return n;
}
