/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The peak memory of one effect or filter run, without any front end: the
 * measurement behind the LisseMemoryCost each method declares
 * (memory-budget.h, docs/reliability.md).
 *
 *   memory-cost effect NAME[:CHOICE] W H C
 *   memory-cost filter NAME W H C
 *
 * Makes a W×H image of C channels (shapes, a ramp, noise; a guide of three
 * channels or a mask for the effects that take one), runs the method once
 * and prints
 *   peak_mib=P base_mib=B run_mib=P-B
 * where B is the resident size with the image (and its mask or guide)
 * allocated and touched and P the process's peak resident size after the
 * run (getrusage): run_mib is what the method itself allocated on top of
 * its input, its result included; an effect's line adds declared_mib, what
 * it declares for this size, input included (lisse_effect_memory_bytes()),
 * to compare with peak_mib less the process's start-up.  Models come from LISSE_MODEL_PATH;
 * LISSE_THREADS=1 keeps per-thread buffers out of the number. */
#include "classic/filter.h"
#include "effects/effect.h"
#include "lisse-error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double
peak_mib (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

static LisseTensor *
make_image (int w, int h, int c, unsigned seed)
{
  LisseTensor *t = lisse_tensor_new (1, c, h, w);
  for (int ci = 0; ci < c; ci++)
    {
      float *p = lisse_tensor_channel (t, 0, ci);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            seed = seed * 1103515245u + 12345u;
            float noise = ((seed >> 16) & 1023) / 1023.0f - 0.5f;
            float v = (x > w / 3 ? 0.7f : 0.2f) + 0.2f * ((x / 37 + y / 29) % 2)
                      + 0.05f * noise + 0.1f * ci / c;
            p[(size_t) y * w + x] = ci == 3 ? (float) x / w : v;
          }
    }
  return t;
}

int
main (int argc, char **argv)
{
  if (argc != 6 || (strcmp (argv[1], "effect") != 0 && strcmp (argv[1], "filter") != 0))
    {
      fprintf (stderr, "usage: memory-cost effect NAME[:CHOICE] W H C | filter NAME W H C\n");
      return 2;
    }
  const int w = atoi (argv[3]), h = atoi (argv[4]), c = atoi (argv[5]);
  if (w < 1 || h < 1 || c < 1 || c > 4)
    {
      fprintf (stderr, "memory-cost: bad size %s×%s×%s\n", argv[3], argv[4], argv[5]);
      return 2;
    }
  g_autofree char *name = g_strdup (argv[2]);
  char *choice = strchr (name, ':');
  if (choice)
    *choice++ = '\0';

  GError *error = NULL;
  g_autoptr (LisseTensor) image = make_image (w, h, c, 1);
  g_autoptr (LisseTensor) aux = NULL;
  g_autoptr (LisseTensor) result = NULL;
  double base, declared = -1;
  if (strcmp (argv[1], "effect") == 0)
    {
      const LisseEffectInfo *info = lisse_effect_find (name);
      if (!info)
        {
          fprintf (stderr, "memory-cost: no effect '%s'\n", name);
          return 2;
        }
      if (info->aux == LISSE_EFFECT_AUX_GUIDE)
        aux = make_image (w, h, 3, 2);
      else if (info->aux == LISSE_EFFECT_AUX_MASK)
        aux = make_image (w, h, 1, 3);
      LisseParams params;
      lisse_params_init (&params, info->params, info->n_params);
      declared = lisse_effect_memory_bytes (info, choice, w, h, c + (aux ? aux->c : 0))
                 / (1024.0 * 1024.0);
      base = peak_mib ();
      result = lisse_effect_run (info, image, aux, &params, choice, 1.0, NULL, &error);
    }
  else
    {
      const LisseFilterInfo *info = lisse_filter_find (name);
      if (!info)
        {
          fprintf (stderr, "memory-cost: no filter '%s'\n", name);
          return 2;
        }
      LisseParams params;
      lisse_params_init (&params, info->params, info->n_params);
      base = peak_mib ();
      result = lisse_filter_run (info, image, c == 2 || c == 4 ? c - 1 : c, NULL, &params,
                                 NULL, &error);
    }
  if (!result)
    {
      fprintf (stderr, "memory-cost: %s\n", error->message);
      g_error_free (error);
      return 1;
    }
  double peak = peak_mib ();
  printf ("peak_mib=%.1f base_mib=%.1f run_mib=%.1f", peak, base, peak - base);
  if (declared >= 0)
    printf (" declared_mib=%.1f", declared);
  printf ("\n");
  lisse_effect_cache_clear ();
  return 0;
}
