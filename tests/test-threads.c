/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Results do not depend on the engine's thread count: a chain of the ops
 * whose fast paths are parallel (sgemm convolutions, transposed convolution,
 * deformable sampling, norms, pooling, resize) run at 1, 2 and 3 threads
 * must agree to float rounding.  Also checks the setting itself: the API,
 * the LISSE_THREADS variable and the default. */
#include "ops-basic.h"
#include "ops-conv.h"
#include "threads.h"

#include <math.h>

static LisseTensor *
random_tensor (GRand *rng, int n, int c, int h, int w, float scale)
{
  LisseTensor *t = lisse_tensor_new (n, c, h, w);
  for (size_t i = 0; i < lisse_tensor_numel (t); i++)
    t->data[i] = scale * (float) g_rand_double_range (rng, -1.0, 1.0);
  return t;
}

/* A small network-like chain; every op's output feeds the next so that a
 * thread-dependent difference anywhere reaches the result. */
static LisseTensor *
run_chain (int threads)
{
  lisse_threads_set (threads);
  g_autoptr (GRand) rng = g_rand_new_with_seed (1234);
  GError *error = NULL;

  g_autoptr (LisseTensor) x = random_tensor (rng, 1, 3, 61, 47, 1.f);
  g_autoptr (LisseTensor) w0 = random_tensor (rng, 24, 3, 3, 3, 0.3f);
  g_autoptr (LisseTensor) b0 = random_tensor (rng, 24, 1, 1, 1, 0.1f);
  g_autoptr (LisseTensor) w1 = random_tensor (rng, 24, 24, 3, 3, 0.1f);
  g_autoptr (LisseTensor) wt = random_tensor (rng, 24, 24, 4, 4, 0.1f);
  g_autoptr (LisseTensor) woff = random_tensor (rng, 18, 24, 3, 3, 0.05f);
  g_autoptr (LisseTensor) wk = random_tensor (rng, 9, 24, 3, 3, 0.05f);

  LisseConv2dGeom same = lisse_conv2d_geom (1, 1, 1, 1);
  LisseConv2dGeom down = lisse_conv2d_geom (2, 1, 1, 1);
  LisseConv2dGeom dil = lisse_conv2d_geom (1, 4, 4, 1);
  LisseConvTranspose2dGeom up = lisse_conv_transpose2d_geom (2, 1, 0, 1, 1);

  g_autoptr (LisseTensor) a = lisse_conv2d (x, w0, b0, &same, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) b = lisse_conv2d (a, w1, NULL, &down, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) c = lisse_conv2d (b, w1, NULL, &dil, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) d = lisse_instance_norm (c, NULL, NULL, 1e-5f, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) e = lisse_conv_transpose2d (d, wt, NULL, &up, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) offsets = lisse_conv2d (e, woff, NULL, &same, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) weights = lisse_conv2d (e, wk, NULL, &same, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) f = lisse_deform_weighted_average (e, offsets, weights, 3, 3, 1, 1, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) g = lisse_layer_norm_channels (f, NULL, NULL, 1e-5f, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) h = lisse_avg_pool2d (g, 3, 2, 1, FALSE, &error);
  g_assert_no_error (error);
  LisseTensor *out = lisse_resize_bilinear (h, 61, 47, FALSE, &error);
  g_assert_no_error (error);
  return out;
}

static void
test_chain_independent_of_threads (void)
{
  int saved = lisse_threads_get ();
  g_autoptr (LisseTensor) one = run_chain (1);
  for (int threads = 2; threads <= 3; threads++)
    {
      g_autoptr (LisseTensor) many = run_chain (threads);
      float diff = lisse_tensor_max_abs_diff (one, many);
      g_test_message ("threads 1 vs %d: max |diff| = %g", threads, diff);
      g_assert_cmpfloat (diff, <=, 1e-5f);
    }
  lisse_threads_set (saved);
}

static void
test_setting (void)
{
  int saved = lisse_threads_get ();
  g_assert_cmpint (saved, >=, 1);
  lisse_threads_set (3);
  g_assert_cmpint (lisse_threads_get (), ==, 3);
  lisse_threads_set (0);                 /* clamped, never zero threads */
  g_assert_cmpint (lisse_threads_get (), ==, 1);
  lisse_threads_set (saved);
}

/* The default comes from LISSE_THREADS, checked in a child process so the
 * variable is read fresh. */
static void
test_env_default (void)
{
  if (g_test_subprocess ())
    {
      g_assert_cmpint (lisse_threads_get (), ==, 2);
      return;
    }
  g_setenv ("LISSE_THREADS", "2", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/threads/setting", test_setting);
  g_test_add_func ("/threads/env-default", test_env_default);
  g_test_add_func ("/threads/chain-independent-of-thread-count", test_chain_independent_of_threads);
  return g_test_run ();
}
