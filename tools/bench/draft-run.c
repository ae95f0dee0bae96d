/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Helper of tools/bench/draft-preview: times an effect's draft
 * (lisse_effect_run_draft(), core/effects/draft.c) against its full run on
 * one image held in memory, and writes both results for the driver to
 * compare.
 *
 *   draft-run EFFECT CHOICE|- IMAGE BUDGET RUNS OUTDIR [KEY=VALUE|FIT]…
 *
 * IMAGE: a PNG, JPEG or TIFF (joint-filter gets it as its own guide too);
 * BUDGET the draft's pixel budget (0: LISSE_DRAFT_PIXELS); RUNS timed draft
 * runs after one untimed one (which loads the network, as a dialog's first
 * preview does), each printed as "draft SECONDS"; then one full run,
 * "full SECONDS".  OUTDIR/draft.f32 and OUTDIR/full.f32 get the results
 * (1×C×H×W raw native floats, "size C H W" printed), and each FIT —
 * "R,EPS" (the guided fit's radius and ε) or "bilinear" — one more draft
 * of the whole effect shrunk (also for effects that draft themselves, to
 * compare with their own drafts) into OUTDIR/fit-K.f32 (K from 0), to
 * choose the fit with.  Effect
 * parameters are the defaults, changed by KEY=VALUE arguments.  Threads: $LISSE_THREADS, else all cores.
 * Exit status 0, or 1 with one line on stderr.
 */
#include "effect-private.h"
#include "image-io.h"
#include "lisse-error.h"
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail (GError *error)
{
  fprintf (stderr, "draft-run: %s\n", error ? error->message : "failed");
  g_clear_error (&error);
  return 1;
}

static gboolean
save_raw (const char *dir, const char *name, const LisseTensor *t, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  return g_file_set_contents (path, (const char *) t->data,
                              lisse_tensor_numel (t) * sizeof (float), error);
}

int
main (int argc, char **argv)
{
  if (argc < 7)
    {
      fprintf (stderr, "usage: %s EFFECT CHOICE|- IMAGE BUDGET RUNS OUTDIR [KEY=VALUE|R,EPS|bilinear]…\n",
               argv[0]);
      return 2;
    }
  const LisseEffectInfo *info = lisse_effect_find (argv[1]);
  const char *choice = strcmp (argv[2], "-") == 0 ? NULL : argv[2];
  long budget = atol (argv[4]);
  int runs = atoi (argv[5]);
  const char *outdir = argv[6];
  if (!info || budget < 0 || runs < 1 || runs > 100)
    {
      fprintf (stderr, "draft-run: unknown effect %s, or bad budget %s or runs %s\n", argv[1],
               argv[4], argv[5]);
      return 2;
    }
  if (budget == 0)
    budget = LISSE_DRAFT_PIXELS;

  lisse_image_io_init ("draft-run");
  GError *error = NULL;
  g_autoptr (LisseTensor) image = lisse_image_load (argv[3], NULL, &error);
  if (!image)
    return fail (error);
  const LisseTensor *aux = info->aux == LISSE_EFFECT_AUX_GUIDE ? image : NULL;
  LisseParams params;
  lisse_params_init (&params, info->params, info->n_params);
  for (int k = 7; k < argc; k++)
    if (strchr (argv[k], '=') && !lisse_params_parse (&params, argv[k], &error))
      return fail (error);
  printf ("threads %d\nsize %d %d %d\nfactor %d\n", lisse_threads_get (), image->c, image->h,
          image->w, lisse_effect_draft_factor (image->w, image->h, budget));

  LisseTensor *draft = NULL;
  for (int r = -1; r < runs; r++)
    {
      lisse_tensor_free (draft);
      gint64 t0 = g_get_monotonic_time ();
      draft = lisse_effect_run_draft (info, image, aux, &params, choice, 1.0, budget, NULL,
                                      &error);
      gint64 t1 = g_get_monotonic_time ();
      if (!draft)
        return fail (error);
      if (r >= 0)
        printf ("draft %.6f\n", (t1 - t0) / 1e6);
      fflush (stdout);
    }
  g_autoptr (LisseTensor) last_draft = draft;

  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (LisseTensor) full = lisse_effect_run (info, image, aux, &params, choice, 1.0, NULL,
                                                   &error);
  gint64 t1 = g_get_monotonic_time ();
  if (!full)
    return fail (error);
  printf ("full %.6f\n", (t1 - t0) / 1e6);
  if (!save_raw (outdir, "draft.f32", last_draft, &error)
      || !save_raw (outdir, "full.f32", full, &error))
    return fail (error);

  /* The fits run the whole effect shrunk, past the argument checks that
   * would name the default choice. */
  const char *whole_choice = choice || !info->choice.name
                             ? choice : info->choice.values[info->choice.def].nick;
  for (int k = 7, n_fit = 0; k < argc; k++)
    {
      if (strchr (argv[k], '='))
        continue;
      int radius = -1;
      double eps = 0.0;
      if (strcmp (argv[k], "bilinear") != 0 && sscanf (argv[k], "%d,%lf", &radius, &eps) != 2)
        {
          fprintf (stderr, "draft-run: bad fit '%s' (R,EPS or bilinear)\n", argv[k]);
          return 2;
        }
      g_autoptr (LisseTensor) fit = lisse_effect_draft_whole (info, image, aux, &params,
                                                              whole_choice, 1.0, budget, radius,
                                                              eps, NULL, &error);
      if (!fit)
        return fail (error);
      g_autofree char *name = g_strdup_printf ("fit-%d.f32", n_fit++);
      if (!save_raw (outdir, name, fit, &error))
        return fail (error);
    }
  lisse_image_io_exit ();
  return 0;
}
