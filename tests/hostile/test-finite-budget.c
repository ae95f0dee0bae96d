/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The two engine rules behind the hostile-image suite, on their own:
 *  - finite.h: each kind of value the rule replaces, the result, alpha left
 *    as it is, no copy of an image that needs none;
 *  - memory-budget.h: LISSE_MEMORY_BUDGET's forms, the default of half the
 *    physical memory, the one-line refusal, costs that cannot wrap around
 *    for the largest sides, and every effect and filter of the registries
 *    declaring its cost (the default is a fallback, not a measurement). */
#include "classic/filter.h"
#include "effects/effect.h"
#include "finite.h"
#include "lisse-error.h"
#include "memory-budget.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

static void
test_values (void)
{
  g_assert_cmpfloat (lisse_finite_value (NAN), ==, 0.0f);
  g_assert_cmpfloat (lisse_finite_value (INFINITY), ==, 1.0f);
  g_assert_cmpfloat (lisse_finite_value (-INFINITY), ==, 0.0f);
  g_assert_cmpfloat (lisse_finite_value (3e38f), ==, LISSE_PIXEL_LIMIT);
  g_assert_cmpfloat (lisse_finite_value (-3e38f), ==, -LISSE_PIXEL_LIMIT);
  g_assert_cmpfloat (lisse_finite_value (65504.0f), ==, 65504.0f);
  g_assert_cmpfloat (lisse_finite_value (2.5f), ==, 2.5f);       /* HDR kept */
  g_assert_cmpfloat (lisse_finite_value (-0.25f), ==, -0.25f);
}

static void
test_tensor (void)
{
  g_autoptr (LisseTensor) t = lisse_tensor_new (1, 4, 2, 3);
  for (size_t i = 0; i < lisse_tensor_numel (t); i++)
    t->data[i] = 0.5f;
  LisseTensor *copy = NULL;
  GError *error = NULL;
  /* An image the rule leaves alone is not copied. */
  g_assert_true (lisse_finite_tensor (t, 3, &copy, &error) == t);
  g_assert_null (copy);

  lisse_tensor_channel (t, 0, 0)[1] = NAN;
  lisse_tensor_channel (t, 0, 2)[4] = INFINITY;
  lisse_tensor_channel (t, 0, 3)[5] = NAN;        /* alpha */
  g_assert_false (lisse_finite_check (t, 3));
  const LisseTensor *f = lisse_finite_tensor (t, 3, &copy, &error);
  g_assert_no_error (error);
  g_assert_nonnull (copy);
  g_assert_true (f == copy);
  g_assert_cmpfloat (lisse_tensor_channel (f, 0, 0)[1], ==, 0.0f);
  g_assert_cmpfloat (lisse_tensor_channel (f, 0, 2)[4], ==, 1.0f);
  g_assert_true (isnan (lisse_tensor_channel (f, 0, 3)[5]));   /* alpha as it was */
  g_assert_true (isnan (lisse_tensor_channel (t, 0, 0)[1]));   /* the input untouched */
  g_assert_cmpfloat (lisse_tensor_channel (f, 0, 1)[0], ==, 0.5f);
  lisse_tensor_free (copy);
}

static void
test_budget_env (void)
{
  g_setenv ("LISSE_MEMORY_BUDGET", "4G", TRUE);
  g_assert_cmpuint (lisse_memory_budget (), ==, (guint64) 4 << 30);
  g_setenv ("LISSE_MEMORY_BUDGET", "512M", TRUE);
  g_assert_cmpuint (lisse_memory_budget (), ==, (guint64) 512 << 20);
  g_setenv ("LISSE_MEMORY_BUDGET", "1.5K", TRUE);
  g_assert_cmpuint (lisse_memory_budget (), ==, 1536);
  g_setenv ("LISSE_MEMORY_BUDGET", "1048576", TRUE);
  g_assert_cmpuint (lisse_memory_budget (), ==, 1048576);
  g_unsetenv ("LISSE_MEMORY_BUDGET");
  guint64 half = (guint64) sysconf (_SC_PHYS_PAGES) * (guint64) sysconf (_SC_PAGESIZE) / 2;
  g_assert_cmpuint (lisse_memory_budget (), ==, half);
}

static void
test_budget_check (void)
{
  g_setenv ("LISSE_MEMORY_BUDGET", "16M", TRUE);
  GError *error = NULL;
  g_assert_true (lisse_memory_check ((guint64) 16 << 20, "x", 1, 1, &error));
  g_assert_false (lisse_memory_check (((guint64) 16 << 20) + 1, "smooth", 30000, 30000, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY);
  g_assert_nonnull (strstr (error->message, "smooth: a 30000×30000 image needs about"));
  g_assert_nonnull (strstr (error->message, "memory budget of 16 MiB"));
  g_assert_null (strchr (error->message, '\n'));
  g_clear_error (&error);
  g_unsetenv ("LISSE_MEMORY_BUDGET");

  /* The largest sides GIMP allows must not wrap around to a small number. */
  const LisseMemoryCost cost = { 8, 40, 3 };
  g_assert_cmpuint (lisse_memory_cost_bytes (&cost, 524288, 524288, 4), ==,
                    (guint64) 8 * 1048576 + (guint64) 4 * 524288 * 524288 * 52);
  g_assert_cmpuint (lisse_memory_cost_bytes (&cost, 1, 1, 1), ==, 8 * 1048576 + 4 * 43);
}

static gboolean
declared (const LisseMemoryCost *c)
{
  return c->fixed_mib > 0 && (c->planes > 0 || c->planes_per_channel > 0);
}

static void
test_registries_declare (void)
{
  for (const LisseEffectInfo *const *e = lisse_effects (); *e; e++)
    if (!declared (&(*e)->memory))
      g_test_fail_printf ("effect %s declares no memory cost (tools/bench/memory-cost)",
                          (*e)->name);
  for (const LisseFilterInfo *const *f = lisse_filters (); *f; f++)
    if (!declared (&(*f)->memory))
      g_test_fail_printf ("filter %s declares no memory cost (tools/bench/memory-cost)",
                          (*f)->name);

  /* And the engine's entry points refuse beyond the budget themselves. */
  g_setenv ("LISSE_MEMORY_BUDGET", "1K", TRUE);
  g_autoptr (LisseTensor) image = lisse_tensor_new (1, 1, 64, 64);
  GError *error = NULL;
  const LisseFilterInfo *guided = lisse_filter_find ("guided");
  LisseParams params;
  lisse_params_init (&params, guided->params, guided->n_params);
  g_assert_null (lisse_filter_run (guided, image, 1, NULL, &params, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY);
  g_clear_error (&error);
  const LisseEffectInfo *jf = lisse_effect_find ("joint-filter");
  lisse_params_init (&params, jf->params, jf->n_params);
  g_assert_null (lisse_effect_run (jf, image, image, &params, NULL, 1.0, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY);
  g_clear_error (&error);
  g_unsetenv ("LISSE_MEMORY_BUDGET");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/finite/values", test_values);
  g_test_add_func ("/finite/tensor", test_tensor);
  g_test_add_func ("/budget/environment", test_budget_env);
  g_test_add_func ("/budget/check", test_budget_check);
  g_test_add_func ("/budget/registries", test_registries_declare);
  return g_test_run ();
}
