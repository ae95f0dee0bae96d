/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A small test driver for the classical filters, for scripts that compare
 * them with other implementations (tests/compare-opencv.py) and time them
 * (tools/bench/classic-vs-opencv.py) without the full command line.
 *
 *   classic-driver [--set key=value]... [--guide G.npy] [--n-color N]
 *                  [--threads N] [--repeat K] METHOD IN.npy OUT.npy
 *   classic-driver --list
 *
 * Images are NumPy .npy files of little-endian float32, C order, shaped
 * (C, H, W) or (H, W): np.save / np.load read and write them directly.
 * --n-color defaults to C, or C−1 for 2 and 4 channels (grey+alpha, RGBA).
 * --repeat K runs the filter K times and prints, on stdout,
 *   time_ms median=M min=N runs=K cpu_ms median=C
 * wall-clock and process CPU time around the filter call alone (no file
 * I/O); CPU time is the steadier measure on a busy machine.
 *
 * METHOD is a filter name (lisse_filter_find) or, for tests,
 * joint-bilateral:exact / :fast / :lattice, which run the joint bilateral
 * filter by that path (joint-bilateral.h) with the joint-bilateral
 * parameters. */
#include "filter.h"
#include "joint-bilateral.h"
#include "lisse-error.h"
#include "threads.h"

#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

static LisseTensor *
npy_read (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autofree char *hdr = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, error))
    return NULL;
  if (len < 10 || memcmp (data, "\x93NUMPY", 6) != 0)
    goto bad;
  int major = (guint8) data[6];
  gsize hlen, off;
  if (major == 1)
    {
      hlen = (guint8) data[8] | ((gsize) (guint8) data[9] << 8);
      off = 10;
    }
  else if (major == 2 || major == 3)
    {
      if (len < 12)
        goto bad;
      hlen = (guint8) data[8] | ((gsize) (guint8) data[9] << 8)
             | ((gsize) (guint8) data[10] << 16) | ((gsize) (guint8) data[11] << 24);
      off = 12;
    }
  else
    goto bad;
  if (off + hlen > len)
    goto bad;
  hdr = g_strndup (data + off, hlen);
  if (!strstr (hdr, "'<f4'") || strstr (hdr, "'fortran_order': True"))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_BAD_IMAGE,
                   "%s: only little-endian float32 in C order is read", path);
      return NULL;
    }
  const char *sh = strstr (hdr, "'shape':");
  if (!sh || !(sh = strchr (sh, '(')))
    goto bad;
  long dims[3];
  int nd = 0;
  const char *s = sh + 1;
  while (nd < 3)
    {
      while (*s == ' ')
        s++;
      if (*s == ')')
        break;
      char *end;
      dims[nd++] = strtol (s, &end, 10);
      if (end == s)
        goto bad;
      s = end;
      while (*s == ' ' || *s == ',')
        s++;
    }
  int c, h, w;
  if (nd == 2)
    c = 1, h = (int) dims[0], w = (int) dims[1];
  else if (nd == 3)
    c = (int) dims[0], h = (int) dims[1], w = (int) dims[2];
  else
    goto bad;
  LisseTensor *t = lisse_tensor_try_new (1, c, h, w, error);
  if (!t)
    return NULL;
  size_t bytes = lisse_tensor_numel (t) * sizeof (float);
  if (off + hlen + bytes > len)
    {
      lisse_tensor_free (t);
      goto bad;
    }
  memcpy (t->data, data + off + hlen, bytes);
  return t;

bad:
  g_set_error (error, LISSE_ERROR, LISSE_ERROR_BAD_IMAGE, "%s: not a .npy file I can read", path);
  return NULL;
}

static gboolean
npy_write (const char *path, const LisseTensor *t, GError **error)
{
  g_autofree char *dict = g_strdup_printf ("{'descr': '<f4', 'fortran_order': False, "
                                           "'shape': (%d, %d, %d), }", t->c, t->h, t->w);
  size_t base = 10 + strlen (dict) + 1;          /* + '\n' */
  size_t pad = (64 - base % 64) % 64;
  size_t hlen = strlen (dict) + pad + 1;
  GString *s = g_string_new_len ("\x93NUMPY\x01\x00", 8);
  g_string_append_c (s, (char) (hlen & 0xff));
  g_string_append_c (s, (char) (hlen >> 8));
  g_string_append (s, dict);
  for (size_t i = 0; i < pad; i++)
    g_string_append_c (s, ' ');
  g_string_append_c (s, '\n');
  g_string_append_len (s, (const char *) t->data, lisse_tensor_numel (t) * sizeof (float));
  gboolean ok = g_file_set_contents (path, s->str, s->len, error);
  g_string_free (s, TRUE);
  return ok;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* joint-bilateral:PATH — the planar entry point with a chosen path. */
static LisseTensor *
run_jbf_path (LisseJbfPath path, const LisseTensor *in, int n_color, const LisseTensor *guide,
              const LisseParams *params, GError **error)
{
  LisseTensor *out = lisse_tensor_copy (in);
  const float *src[4], *g[4];
  float *dst[4];
  int n_g = guide ? guide->c : n_color;
  for (int c = 0; c < n_color; c++)
    {
      src[c] = lisse_tensor_channel (in, 0, c);
      dst[c] = lisse_tensor_channel (out, 0, c);
    }
  for (int c = 0; c < n_g; c++)
    g[c] = lisse_tensor_channel (guide ? guide : in, 0, c);
  if (!lisse_joint_bilateral_planes (src, n_color, g, n_g, dst, in->w, in->h,
                                     lisse_params_get (params, "sigma-s"),
                                     lisse_params_get (params, "sigma-r"),
                                     path, NULL, error))
    {
      lisse_tensor_free (out);
      return NULL;
    }
  return out;
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) sets = g_ptr_array_new ();
  const char *guide_path = NULL;
  int n_color = 0, threads = 0, repeat = 1;
  gboolean list = FALSE;
  GOptionEntry entries[] = {
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL, "Parameter", "KEY=VALUE" },
    { "guide", 0, 0, G_OPTION_ARG_FILENAME, &guide_path, "Guide image (.npy)", "FILE" },
    { "n-color", 0, 0, G_OPTION_ARG_INT, &n_color, "Colour channels (rest: alpha)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads", "N" },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Runs to time", "K" },
    { "list", 0, 0, G_OPTION_ARG_NONE, &list, "List filters and parameters", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  char **set_values = NULL;
  entries[0].arg_data = &set_values;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("METHOD IN.npy OUT.npy");
  g_option_context_add_main_entries (ctx, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "classic-driver: %s\n", error->message);
      return 2;
    }
  if (list)
    {
      for (const LisseFilterInfo *const *f = lisse_filters (); *f; f++)
        {
          printf ("%s\t%s (%s)\n", (*f)->name, (*f)->title, (*f)->reference);
          for (int i = 0; i < (*f)->n_params; i++)
            {
              const LisseParamSpec *p = &(*f)->params[i];
              printf ("  %s\t[%g, %g] default %g%s\n", p->name, p->min, p->max, p->def,
                      p->integer ? " (integer)" : "");
            }
        }
      return 0;
    }
  if (argc != 4)
    {
      fprintf (stderr, "usage: classic-driver [options] METHOD IN.npy OUT.npy (--help)\n");
      return 2;
    }
  if (threads > 0)
    lisse_threads_set (threads);

  const char *method = argv[1];
  LisseJbfPath jbf_path = LISSE_JBF_AUTO;
  gboolean jbf_direct = FALSE;
  g_autofree char *name = g_strdup (method);
  char *colon = strchr (name, ':');
  if (colon)
    {
      *colon = '\0';
      const char *v = colon + 1;
      jbf_direct = TRUE;
      if (strcmp (name, "joint-bilateral") != 0)
        jbf_direct = FALSE;
      else if (strcmp (v, "exact") == 0)
        jbf_path = LISSE_JBF_EXACT;
      else if (strcmp (v, "fast") == 0)
        jbf_path = LISSE_JBF_FAST;
      else if (strcmp (v, "lattice") == 0)
        jbf_path = LISSE_JBF_LATTICE;
      else if (strcmp (v, "auto") == 0)
        jbf_path = LISSE_JBF_AUTO;
      else
        jbf_direct = FALSE;
      if (!jbf_direct)
        {
          fprintf (stderr, "classic-driver: unknown method '%s'\n", method);
          return 2;
        }
    }
  const LisseFilterInfo *info = lisse_filter_find (name);
  if (!info)
    {
      fprintf (stderr, "classic-driver: unknown method '%s'\n", method);
      return 2;
    }
  LisseParams params;
  lisse_params_init (&params, info->params, info->n_params);
  for (char **s = set_values; s && *s; s++)
    if (!lisse_params_parse (&params, *s, &error))
      {
        fprintf (stderr, "classic-driver: %s\n", error->message);
        return 2;
      }
  g_strfreev (set_values);

  g_autoptr (LisseTensor) in = npy_read (argv[2], &error);
  if (!in)
    {
      fprintf (stderr, "classic-driver: %s\n", error->message);
      return 1;
    }
  g_autoptr (LisseTensor) guide = NULL;
  if (guide_path && !(guide = npy_read (guide_path, &error)))
    {
      fprintf (stderr, "classic-driver: %s\n", error->message);
      return 1;
    }
  if (n_color <= 0)
    n_color = (in->c == 2 || in->c == 4) ? in->c - 1 : in->c;

  double *times = g_new (double, MAX (repeat, 1));
  double *cpu = g_new (double, MAX (repeat, 1));
  LisseTensor *out = NULL;
  for (int r = 0; r < MAX (repeat, 1); r++)
    {
      lisse_tensor_free (out);
      struct timespec c0, c1;
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c0);
      gint64 t0 = g_get_monotonic_time ();
      out = jbf_direct ? run_jbf_path (jbf_path, in, n_color, guide, &params, &error)
                       : lisse_filter_run (info, in, n_color, guide, &params, NULL, &error);
      times[r] = (g_get_monotonic_time () - t0) / 1000.0;
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c1);
      cpu[r] = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
      if (!out)
        {
          fprintf (stderr, "classic-driver: %s\n", error->message);
          return 1;
        }
    }
  if (repeat > 1)
    {
      qsort (times, repeat, sizeof (double), cmp_double);
      qsort (cpu, repeat, sizeof (double), cmp_double);
      double med = repeat % 2 ? times[repeat / 2]
                              : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
      double cmed = repeat % 2 ? cpu[repeat / 2]
                               : 0.5 * (cpu[repeat / 2 - 1] + cpu[repeat / 2]);
      printf ("time_ms median=%.3f min=%.3f runs=%d cpu_ms median=%.3f\n",
              med, times[0], repeat, cmed);
    }
  g_free (times);
  g_free (cpu);
  if (!npy_write (argv[3], out, &error))
    {
      fprintf (stderr, "classic-driver: %s\n", error->message);
      return 1;
    }
  lisse_tensor_free (out);
  return 0;
}
