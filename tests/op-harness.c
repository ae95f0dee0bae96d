/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The reference-comparison harness: runs every OpCase OP_TRIALS times and
 * reports one TAP line per op (meson reads TAP). */
#include "op-harness.h"
#include "threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct OpCheck
{
  GRand *rng;
  int    trial;
  int    n_compared;
  int    n_failed;
  double worst_ratio;   /* max err / allowed over the trial's comparisons */
  GString *failures;
  const char *skip;     /* op_check_skip's reason, or NULL */
};

void
op_check_skip (OpCheck *check, const char *reason)
{
  check->skip = reason;
}

GRand *
op_check_rng (OpCheck *check)
{
  return check->rng;
}

int
op_check_trial (OpCheck *check)
{
  return check->trial;
}

int
op_rand_int (OpCheck *check, int lo, int hi)
{
  return (int) g_rand_int_range (check->rng, lo, hi + 1);
}

LisseTensor *
op_rand_tensor (OpCheck *check, int n, int c, int h, int w, float lo, float hi)
{
  LisseTensor *t = lisse_tensor_new (n, c, h, w);
  size_t numel = lisse_tensor_numel (t);
  for (size_t i = 0; i < numel; i++)
    t->data[i] = (float) g_rand_double_range (check->rng, lo, hi);
  return t;
}

void
op_check_fail (OpCheck *check, const char *what, const char *message)
{
  check->n_failed++;
  g_string_append_printf (check->failures, "#   trial %d: %s: %s\n", check->trial, what, message);
}

void
op_check_compare (OpCheck *check, const char *what,
                  const LisseTensor *fast, const LisseTensor *ref,
                  double abs_tol, double rel_tol)
{
  check->n_compared++;
  if (!fast || !ref)
    {
      op_check_fail (check, what, !fast ? "fast op returned NULL" : "reference returned NULL");
      return;
    }
  if (!lisse_tensor_same_shape (fast, ref))
    {
      g_autofree char *msg = g_strdup_printf ("shape %d×%d×%d×%d, reference %d×%d×%d×%d",
                                              fast->n, fast->c, fast->h, fast->w,
                                              ref->n, ref->c, ref->h, ref->w);
      op_check_fail (check, what, msg);
      return;
    }
  double ref_max = 0.0;
  size_t numel = lisse_tensor_numel (ref);
  for (size_t i = 0; i < numel; i++)
    ref_max = fmax (ref_max, fabs (ref->data[i]));
  double allowed = abs_tol + rel_tol * ref_max;
  double err = lisse_tensor_max_abs_diff (fast, ref);
  if (allowed > 0)
    check->worst_ratio = fmax (check->worst_ratio, err / allowed);
  if (!(err <= allowed))
    {
      g_autofree char *msg = g_strdup_printf ("max |fast − ref| = %.3g > allowed %.3g", err, allowed);
      op_check_fail (check, what, msg);
    }
}

/* Runs each case of @tables; returns the number of failing ops. */
int
op_harness_run (const OpCase *const *tables, int n_tables, int *n_ops_out)
{
  int n_ops = 0, n_bad = 0;
  for (int t = 0; t < n_tables; t++)
    for (const OpCase *c = tables[t]; c->name; c++)
      n_ops++;
  printf ("1..%d\n", n_ops);
  int index = 0;
  for (int t = 0; t < n_tables; t++)
    for (const OpCase *c = tables[t]; c->name; c++)
      {
        OpCheck check = { 0 };
        check.failures = g_string_new (NULL);
        for (int trial = 0; trial < OP_TRIALS; trial++)
          {
            /* Seed from the op name and trial: a failure reproduces alone. */
            check.rng = g_rand_new_with_seed (g_str_hash (c->name) * 1000003u + (guint32) trial);
            check.trial = trial;
            c->run (&check);
            g_rand_free (check.rng);
          }
        index++;
        if (check.skip && check.n_compared == 0 && check.n_failed == 0)
          {
            printf ("ok %d - %s # SKIP %s\n", index, c->name, check.skip);
            g_string_free (check.failures, TRUE);
            continue;
          }
        gboolean ok = check.n_failed == 0 && check.n_compared > 0;
        printf ("%s %d - %s (%d comparisons, worst error at %.2f of its bound)\n",
                ok ? "ok" : "not ok", index, c->name, check.n_compared, check.worst_ratio);
        if (check.n_compared == 0)
          printf ("#   the case compared nothing\n");
        fputs (check.failures->str, stdout);
        g_string_free (check.failures, TRUE);
        if (!ok)
          n_bad++;
      }
  fflush (stdout);
  *n_ops_out = n_ops;
  return n_bad;
}
