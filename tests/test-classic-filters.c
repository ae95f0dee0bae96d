/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Tests of the classical filters L0, guided, joint bilateral and rolling
 * guidance, and of the box / Gaussian helpers they share: parameter checks,
 * alpha pass-through, tiny and odd sizes, thread-count independence, and
 * each fast method against a plain implementation written here. */
#include "filter.h"
#include "filters-all.h"
#include "box.h"
#include "joint-bilateral.h"
#include "lisse-error.h"
#include "threads.h"

#include <math.h>
#include <string.h>

static const LisseFilterInfo *const mine[] = {
  &lisse_filter_l0,
  &lisse_filter_guided,
  &lisse_filter_joint_bilateral,
  &lisse_filter_rolling_guidance,
};

/* ---------------------------------------------------------------------- */
/* Helpers                                                                  */

/* A deterministic photo-like test image: flat and graded regions with sharp
 * edges between them, fine texture, mild noise; values in [0,1]. */
static LisseTensor *
test_image (int c, int h, int w, guint32 seed)
{
  LisseTensor *t = lisse_tensor_new (1, c, h, w);
  GRand *rng = g_rand_new_with_seed (seed);
  double cx = w * 0.4, cy = h * 0.55, rad = MIN (w, h) * 0.3;
  for (int ci = 0; ci < c; ci++)
    {
      float *p = lisse_tensor_channel (t, 0, ci);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            double v = 0.2 + 0.3 * x / MAX (1, w - 1);             /* gradient */
            if (x > w * 0.6 && y < h * 0.5)
              v = 0.75 - 0.1 * ci;                                  /* square */
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < rad * rad)
              v = 0.1 + 0.3 * ci;                                   /* disc */
            v += 0.04 * sin (x * 1.3 + ci) * sin (y * 0.9);         /* texture */
            v += g_rand_double_range (rng, -0.02, 0.02);            /* noise */
            p[(size_t) y * w + x] = (float) CLAMP (v, 0.0, 1.0);
          }
    }
  g_rand_free (rng);
  return t;
}

static LisseTensor *
run_filter (const LisseFilterInfo *info, const LisseTensor *in, int n_color,
            const LisseTensor *guide, const char *const *sets)
{
  LisseParams params;
  GError *error = NULL;
  lisse_params_init (&params, info->params, info->n_params);
  for (const char *const *s = sets; s && *s; s++)
    {
      gboolean ok = lisse_params_parse (&params, *s, &error);
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  LisseTensor *out = lisse_filter_run (info, in, n_color, guide, &params, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_true (lisse_tensor_same_shape (in, out));
  return out;
}

/* Settings that keep each filter quick on small test images. */
static const char *const *
quick_sets (const LisseFilterInfo *info)
{
  static const char *const l0[] = { "lambda=0.02", "kappa=2", NULL };
  static const char *const gf[] = { "radius=3", "epsilon=0.01", NULL };
  static const char *const jb[] = { "sigma-s=3", "sigma-r=0.1", NULL };
  static const char *const rg[] = { "sigma-s=2", "sigma-r=0.1", "iterations=3", NULL };
  if (info == &lisse_filter_l0)
    return l0;
  if (info == &lisse_filter_guided)
    return gf;
  if (info == &lisse_filter_joint_bilateral)
    return jb;
  return rg;
}

static double
psnr (const float *a, const float *b, size_t n)
{
  double se = 0.0;
  for (size_t i = 0; i < n; i++)
    se += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
  return se == 0.0 ? INFINITY : 10.0 * log10 (n / se);
}

static void
assert_finite (const LisseTensor *t)
{
  for (size_t i = 0; i < lisse_tensor_numel (t); i++)
    g_assert_true (isfinite (t->data[i]));
}

/* ---------------------------------------------------------------------- */
/* Parameters and errors                                                    */

static void
test_param_validation (void)
{
  struct { const LisseFilterInfo *f; const char *bad; int code; } cases[] = {
    { &lisse_filter_l0, "lambda=0", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_l0, "lambda=-1", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_l0, "kappa=1", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_l0, "beta-max=1e9", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_l0, "lambda=abc", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_l0, "mu=1", LISSE_ERROR_UNKNOWN_NAME },
    { &lisse_filter_guided, "radius=0", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_guided, "radius=2.5", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_guided, "epsilon=0", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_guided, "epsilon=nan", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_joint_bilateral, "sigma-s=0", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_joint_bilateral, "sigma-r=-0.1", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_joint_bilateral, "sigma-s=inf", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_rolling_guidance, "iterations=0", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_rolling_guidance, "iterations=1.5", LISSE_ERROR_INVALID_ARGUMENT },
    { &lisse_filter_rolling_guidance, "sigma-r=0", LISSE_ERROR_INVALID_ARGUMENT },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      LisseParams params;
      GError *error = NULL;
      lisse_params_init (&params, cases[i].f->params, cases[i].f->n_params);
      g_assert_false (lisse_params_parse (&params, cases[i].bad, &error));
      g_assert_error (error, LISSE_ERROR, cases[i].code);
      g_assert_nonnull (strstr (error->message, "'"));   /* names the parameter */
      g_clear_error (&error);
    }

  /* Clamped setting: a finite value goes to the nearest end of the range,
   * integers are rounded; unknown names and NaN stay errors. */
  {
    LisseParams params;
    GError *error = NULL;
    const LisseFilterInfo *g = &lisse_filter_guided;
    lisse_params_init (&params, g->params, g->n_params);
    const LisseParamSpec *radius = lisse_params_find (&params, "radius");
    g_assert_true (lisse_params_set_clamped (&params, "radius", -5.0, &error));
    g_assert_cmpfloat (lisse_params_get (&params, "radius"), ==, ceil (radius->min));
    g_assert_true (lisse_params_set_clamped (&params, "radius", 1e9, &error));
    g_assert_cmpfloat (lisse_params_get (&params, "radius"), ==, floor (radius->max));
    g_assert_true (lisse_params_set_clamped (&params, "radius", 2.6, &error));
    g_assert_cmpfloat (lisse_params_get (&params, "radius"), ==, 3.0);
    g_assert_false (lisse_params_set_clamped (&params, "epsilon", NAN, &error));
    g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_false (lisse_params_set_clamped (&params, "mu", 1.0, &error));
    g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
    g_clear_error (&error);
  }

  /* Every declared default is valid and in range. */
  for (guint i = 0; i < G_N_ELEMENTS (mine); i++)
    for (int k = 0; k < mine[i]->n_params; k++)
      {
        const LisseParamSpec *p = &mine[i]->params[k];
        g_assert_cmpfloat (p->min, <=, p->def);
        g_assert_cmpfloat (p->def, <=, p->max);
        g_assert_true (!p->integer || p->def == floor (p->def));
      }

  /* Values each in range but inconsistent together: L0 needs β_max > 2λ. */
  g_autoptr (LisseTensor) img = test_image (3, 8, 8, 1);
  LisseParams params;
  GError *error = NULL;
  lisse_params_init (&params, lisse_filter_l0.params, lisse_filter_l0.n_params);
  g_assert_true (lisse_params_parse (&params, "lambda=10", NULL));
  g_assert_true (lisse_params_parse (&params, "beta-max=15", NULL));
  g_assert_null (lisse_filter_run (&lisse_filter_l0, img, 3, NULL, &params, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "beta-max"));
  g_clear_error (&error);

  /* Guides: refused where the method takes none, checked for size. */
  g_autoptr (LisseTensor) guide = test_image (1, 8, 8, 2);
  g_autoptr (LisseTensor) small = test_image (1, 7, 8, 2);
  lisse_params_init (&params, lisse_filter_l0.params, lisse_filter_l0.n_params);
  g_assert_null (lisse_filter_run (&lisse_filter_l0, img, 3, guide, &params, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  lisse_params_init (&params, lisse_filter_rolling_guidance.params,
                     lisse_filter_rolling_guidance.n_params);
  g_assert_null (lisse_filter_run (&lisse_filter_rolling_guidance, img, 3, guide, &params,
                                   NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  lisse_params_init (&params, lisse_filter_guided.params, lisse_filter_guided.n_params);
  g_assert_null (lisse_filter_run (&lisse_filter_guided, img, 3, small, &params, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_IMAGE);
  g_clear_error (&error);
  /* Parameters declared for another filter. */
  g_assert_null (lisse_filter_run (&lisse_filter_joint_bilateral, img, 3, NULL, &params,
                                   NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

static gboolean
cancel_at (double fraction, gpointer user_data)
{
  return fraction < *(double *) user_data;
}

static void
test_cancel (void)
{
  /* Tall enough for the joint bilateral's exact path to report part-way
   * (it reports every 64 rows). */
  g_autoptr (LisseTensor) img = test_image (3, 200, 50, 3);
  for (guint i = 0; i < G_N_ELEMENTS (mine); i++)
    {
      double stop = 0.5;
      LisseProgress progress = { cancel_at, &stop, 0.0, 1.0 };
      LisseParams params;
      GError *error = NULL;
      lisse_params_init (&params, mine[i]->params, mine[i]->n_params);
      for (const char *const *s = quick_sets (mine[i]); *s; s++)
        g_assert_true (lisse_params_parse (&params, *s, NULL));
      LisseTensor *out = lisse_filter_run (mine[i], img, 3, NULL, &params, &progress, &error);
      g_assert_null (out);
      g_assert_error (error, LISSE_ERROR, LISSE_ERROR_CANCELLED);
      g_clear_error (&error);
    }
}

/* ---------------------------------------------------------------------- */
/* Shapes, alpha, constants, threads                                        */

static void
test_alpha_untouched (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (mine); i++)
    for (int c = 2; c <= 4; c += 2)
      {
        g_autoptr (LisseTensor) img = test_image (c, 33, 41, 4);
        /* An alpha channel with structure of its own. */
        float *a = lisse_tensor_channel (img, 0, c - 1);
        for (int k = 0; k < 33 * 41; k++)
          a[k] = (float) ((k * 7919) % 256) / 255.f;
        g_autoptr (LisseTensor) out = run_filter (mine[i], img, c - 1, NULL, quick_sets (mine[i]));
        g_assert_cmpmem (lisse_tensor_channel (out, 0, c - 1), 33 * 41 * sizeof (float),
                         a, 33 * 41 * sizeof (float));
        /* ... and the colour channels did change. */
        g_assert_cmpfloat (psnr (lisse_tensor_channel (out, 0, 0),
                                 lisse_tensor_channel (img, 0, 0), 33 * 41), <, 60.0);
      }
}

static void
test_small_sizes (void)
{
  const int sizes[][2] = { { 1, 1 }, { 1, 7 }, { 7, 1 }, { 2, 3 }, { 13, 17 }, { 5, 64 } };
  for (guint i = 0; i < G_N_ELEMENTS (mine); i++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (int c = 1; c <= 4; c++)
        {
          int h = sizes[s][0], w = sizes[s][1];
          g_autoptr (LisseTensor) img = test_image (c, h, w, 5 + s);
          int n_color = c == 4 ? 3 : c;
          g_autoptr (LisseTensor) out = run_filter (mine[i], img, n_color, NULL,
                                                    quick_sets (mine[i]));
          assert_finite (out);
          if (h == 1 && w == 1)
            for (int ci = 0; ci < c; ci++)
              g_assert_cmpfloat_with_epsilon (out->data[ci], img->data[ci], 1e-6);
        }
  /* The joint bilateral's fast paths on tiny images too. */
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int ng = 1; ng <= 3; ng += 2)
      {
        int h = sizes[s][0], w = sizes[s][1];
        g_autoptr (LisseTensor) img = test_image (ng, h, w, 7);
        g_autoptr (LisseTensor) out = lisse_tensor_copy (img);
        const float *src[3], *g[3];
        float *dst[3];
        for (int c = 0; c < ng; c++)
          {
            src[c] = g[c] = lisse_tensor_channel (img, 0, c);
            dst[c] = lisse_tensor_channel (out, 0, c);
          }
        g_assert_true (lisse_joint_bilateral_planes (src, ng, g, ng, dst, w, h, 8.0, 0.1,
                                                     LISSE_JBF_FAST, NULL, NULL));
        assert_finite (out);
      }
}

static void
test_constant (void)
{
  const float v = 0.37f;
  for (guint i = 0; i < G_N_ELEMENTS (mine); i++)
    for (int c = 1; c <= 4; c++)
      {
        g_autoptr (LisseTensor) img = lisse_tensor_new (1, c, 29, 31);
        lisse_tensor_fill (img, v);
        int n_color = c == 4 || c == 2 ? c - 1 : c;
        g_autoptr (LisseTensor) out = run_filter (mine[i], img, n_color, NULL,
                                                  quick_sets (mine[i]));
        for (size_t k = 0; k < lisse_tensor_numel (out); k++)
          g_assert_cmpfloat_with_epsilon (out->data[k], v, 1e-5);
      }
  /* Constant images through a guide, and every JBF path at once. */
  g_autoptr (LisseTensor) img = lisse_tensor_new (1, 3, 64, 70);
  lisse_tensor_fill (img, v);
  g_autoptr (LisseTensor) guide = test_image (3, 64, 70, 8);
  g_autoptr (LisseTensor) g1 = test_image (1, 64, 70, 9);
  const LisseFilterInfo *guided[] = { &lisse_filter_guided, &lisse_filter_joint_bilateral };
  for (guint i = 0; i < G_N_ELEMENTS (guided); i++)
    for (int k = 0; k < 2; k++)
      {
        g_autoptr (LisseTensor) out = run_filter (guided[i], img, 3, k ? guide : g1,
                                                  quick_sets (guided[i]));
        for (size_t j = 0; j < lisse_tensor_numel (out); j++)
          g_assert_cmpfloat_with_epsilon (out->data[j], v, 1e-5);
      }
  const LisseJbfPath paths[] = { LISSE_JBF_EXACT, LISSE_JBF_FAST, LISSE_JBF_LATTICE };
  for (guint p = 0; p < G_N_ELEMENTS (paths); p++)
    {
      g_autoptr (LisseTensor) out = lisse_tensor_copy (img);
      const float *src[1] = { img->data }, *g[1] = { g1->data };
      float *dst[1] = { out->data };
      g_assert_true (lisse_joint_bilateral_planes (src, 1, g, 1, dst, 70, 64, 6.0, 0.1,
                                                   paths[p], NULL, NULL));
      for (int j = 0; j < 64 * 70; j++)
        g_assert_cmpfloat_with_epsilon (out->data[j], v, 1e-5);
    }
}

static void
test_threads (void)
{
  /* Large enough for several tiles of the grid and lattice. */
  g_autoptr (LisseTensor) img = test_image (3, 230, 530, 10);
  g_autoptr (LisseTensor) g1 = test_image (1, 230, 530, 11);
  int saved = lisse_threads_get ();
  struct { const LisseFilterInfo *f; const char *const sets[4]; const LisseTensor *guide; } runs[] = {
    { &lisse_filter_l0, { "lambda=0.01", NULL }, NULL },
    { &lisse_filter_guided, { "radius=5", "epsilon=0.005", NULL }, NULL },
    { &lisse_filter_guided, { "radius=5", "epsilon=0.005", NULL }, g1 },
    { &lisse_filter_joint_bilateral, { "sigma-s=2", NULL }, NULL },        /* exact */
    { &lisse_filter_joint_bilateral, { "sigma-s=6", NULL }, g1 },          /* grid */
    { &lisse_filter_joint_bilateral, { "sigma-s=6", NULL }, NULL },        /* lattice */
    { &lisse_filter_rolling_guidance, { "sigma-s=3", "iterations=3", NULL }, NULL },
    { &lisse_filter_rolling_guidance, { "sigma-s=6", "iterations=3", NULL }, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      lisse_threads_set (1);
      g_autoptr (LisseTensor) a = run_filter (runs[i].f, img, 3, runs[i].guide, runs[i].sets);
      lisse_threads_set (2);
      g_autoptr (LisseTensor) b = run_filter (runs[i].f, img, 3, runs[i].guide, runs[i].sets);
      lisse_threads_set (5);
      g_autoptr (LisseTensor) c = run_filter (runs[i].f, img, 3, runs[i].guide, runs[i].sets);
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (a, b), <=, 1e-6);
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (a, c), <=, 1e-6);
    }
  lisse_threads_set (saved);
}

/* ---------------------------------------------------------------------- */
/* Box and Gaussian helpers against direct sums                             */

static double
ext_value (const float *line, ptrdiff_t stride, int n, ptrdiff_t i, LisseBorder border,
           gboolean *inside)
{
  *inside = i >= 0 && i < n;
  if (*inside)
    return line[i * stride];
  if (border == LISSE_BORDER_MIRROR)
    {
      ptrdiff_t p = 2 * (ptrdiff_t) n, t = ((i % p) + p) % p;
      return line[(t < n ? t : p - 1 - t) * stride];
    }
  return line[(i < 0 ? 0 : n - 1) * stride];
}

/* Separable window sum with weights k[|t|], t in [−R, R], done plainly. */
static void
direct_separable (const float *src, float *dst, int w, int h, const double *k, int R,
                  LisseBorder border)
{
  double *tmp = g_new (double, (size_t) w * h);
  float *row = g_new (float, MAX (w, h));
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double s = 0, ws = 0;
        for (int t = -R; t <= R; t++)
          {
            gboolean in;
            double v = ext_value (src + (size_t) y * w, 1, w, x + t, border, &in);
            if (border == LISSE_BORDER_NORMALIZE && !in)
              continue;
            s += k[abs (t)] * v;
            ws += k[abs (t)];
          }
        tmp[(size_t) y * w + x] = s / ws;
      }
  for (int x = 0; x < w; x++)
    for (int y = 0; y < h; y++)
      {
        double s = 0, ws = 0;
        for (int t = -R; t <= R; t++)
          {
            gboolean in = y + t >= 0 && y + t < h;
            double v;
            if (in)
              v = tmp[(size_t) (y + t) * w + x];
            else if (border == LISSE_BORDER_NORMALIZE)
              continue;
            else if (border == LISSE_BORDER_MIRROR)
              {
                ptrdiff_t p = 2 * (ptrdiff_t) h, q = (((y + t) % p) + p) % p;
                v = tmp[(size_t) (q < h ? q : p - 1 - q) * w + x];
              }
            else
              v = tmp[(size_t) (y + t < 0 ? 0 : h - 1) * w + x];
            s += k[abs (t)] * v;
            ws += k[abs (t)];
          }
        dst[(size_t) y * w + x] = (float) (s / ws);
      }
  g_free (row);
  g_free (tmp);
}

static void
test_box_and_gaussian (void)
{
  const int shapes[][3] = { { 1, 1, 0 }, { 1, 1, 3 }, { 9, 1, 2 }, { 1, 9, 4 }, { 17, 13, 3 },
                            { 17, 13, 20 }, { 40, 7, 9 }, { 64, 50, 31 } };
  const LisseBorder borders[] = { LISSE_BORDER_CLAMP, LISSE_BORDER_MIRROR, LISSE_BORDER_NORMALIZE };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint b = 0; b < G_N_ELEMENTS (borders); b++)
      {
        int w = shapes[s][0], h = shapes[s][1], r = shapes[s][2];
        g_autoptr (LisseTensor) img = test_image (1, h, w, 20 + s);
        float *fast = g_new (float, (size_t) w * h), *ref = g_new (float, (size_t) w * h);
        double *ones = g_new (double, r + 1);
        for (int t = 0; t <= r; t++)
          ones[t] = 1.0;
        lisse_box_mean (img->data, fast, w, h, r, borders[b]);
        direct_separable (img->data, ref, w, h, ones, r, borders[b]);
        for (int k = 0; k < w * h; k++)
          g_assert_cmpfloat_with_epsilon (fast[k], ref[k], 2e-6);
        /* In place. */
        g_autoptr (LisseTensor) copy = lisse_tensor_copy (img);
        lisse_box_mean (copy->data, copy->data, w, h, r, borders[b]);
        g_assert_cmpmem (copy->data, w * h * sizeof (float), fast, w * h * sizeof (float));

        double sigma = 0.4 + r * 0.5;
        int R = lisse_gaussian_radius (sigma);
        double *k = g_new (double, R + 1);
        for (int t = 0; t <= R; t++)
          k[t] = exp (-0.5 * t * t / (sigma * sigma));
        lisse_gaussian_blur (img->data, fast, w, h, sigma, borders[b]);
        direct_separable (img->data, ref, w, h, k, R, borders[b]);
        for (int j = 0; j < w * h; j++)
          g_assert_cmpfloat_with_epsilon (fast[j], ref[j], 2e-6);
        g_free (k);
        g_free (ones);
        g_free (fast);
        g_free (ref);
      }
}

/* ---------------------------------------------------------------------- */
/* Guided filter against window sums                                        */

/* He et al.'s guided filter computed the slow way: every window's
 * statistics summed over its (2r+1)² mirrored pixels, the linear model
 * solved per window (Cramer / Gauss), the models averaged per pixel. */
static void
guided_brute (const LisseTensor *I, const float *p, float *q, int r, double eps)
{
  const int w = I->w, h = I->h, ng = I->c;
  double *A = g_new0 (double, (size_t) w * h * ng), *B = g_new0 (double, (size_t) w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double n = 0, mI[4] = { 0 }, mp = 0, mII[4][4] = { { 0 } }, mIp[4] = { 0 };
        for (int dy = -r; dy <= r; dy++)
          for (int dx = -r; dx <= r; dx++)
            {
              /* Mirror both coordinates. */
              ptrdiff_t py = 2 * (ptrdiff_t) h, px = 2 * (ptrdiff_t) w;
              ptrdiff_t yy = ((((ptrdiff_t) y + dy) % py) + py) % py;
              ptrdiff_t xx = ((((ptrdiff_t) x + dx) % px) + px) % px;
              yy = yy < h ? yy : py - 1 - yy;
              xx = xx < w ? xx : px - 1 - xx;
              size_t k = (size_t) yy * w + xx;
              double pv = p[k];
              double iv[4];
              for (int c = 0; c < ng; c++)
                iv[c] = lisse_tensor_channel (I, 0, c)[k];
              n++;
              mp += pv;
              for (int c = 0; c < ng; c++)
                {
                  mI[c] += iv[c];
                  mIp[c] += iv[c] * pv;
                  for (int e = 0; e < ng; e++)
                    mII[c][e] += iv[c] * iv[e];
                }
            }
        mp /= n;
        double M[4][5];
        for (int c = 0; c < ng; c++)
          mI[c] /= n;
        for (int c = 0; c < ng; c++)
          {
            for (int e = 0; e < ng; e++)
              M[c][e] = mII[c][e] / n - mI[c] * mI[e] + (c == e ? eps : 0);
            M[c][ng] = mIp[c] / n - mI[c] * mp;
          }
        /* Gaussian elimination with partial pivoting. */
        for (int c = 0; c < ng; c++)
          {
            int piv = c;
            for (int e = c + 1; e < ng; e++)
              if (fabs (M[e][c]) > fabs (M[piv][c]))
                piv = e;
            for (int f = 0; f <= ng; f++)
              {
                double t = M[c][f];
                M[c][f] = M[piv][f];
                M[piv][f] = t;
              }
            for (int e = 0; e < ng; e++)
              if (e != c)
                {
                  double m = M[e][c] / M[c][c];
                  for (int f = c; f <= ng; f++)
                    M[e][f] -= m * M[c][f];
                }
          }
        double b = mp;
        for (int c = 0; c < ng; c++)
          {
            double a = M[c][ng] / M[c][c];
            A[((size_t) y * w + x) * ng + c] = a;
            b -= a * mI[c];
          }
        B[(size_t) y * w + x] = b;
      }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double n = 0, ma[4] = { 0 }, mb = 0;
        for (int dy = -r; dy <= r; dy++)
          for (int dx = -r; dx <= r; dx++)
            {
              ptrdiff_t py = 2 * (ptrdiff_t) h, px = 2 * (ptrdiff_t) w;
              ptrdiff_t yy = ((((ptrdiff_t) y + dy) % py) + py) % py;
              ptrdiff_t xx = ((((ptrdiff_t) x + dx) % px) + px) % px;
              yy = yy < h ? yy : py - 1 - yy;
              xx = xx < w ? xx : px - 1 - xx;
              size_t k = (size_t) yy * w + xx;
              n++;
              mb += B[k];
              for (int c = 0; c < ng; c++)
                ma[c] += A[k * ng + c];
            }
        size_t k = (size_t) y * w + x;
        double v = mb / n;
        for (int c = 0; c < ng; c++)
          v += ma[c] / n * lisse_tensor_channel (I, 0, c)[k];
        q[k] = (float) v;
      }
  g_free (A);
  g_free (B);
}

static void
test_guided_brute (void)
{
  const struct { int w, h, r, ng; double eps; } cases[] = {
    { 37, 29, 3, 1, 0.01 }, { 37, 29, 3, 3, 0.01 }, { 23, 31, 2, 3, 1e-4 },
    { 20, 16, 2, 2, 0.02 }, { 19, 21, 4, 4, 0.005 },
    { 11, 9, 15, 1, 0.01 }, { 11, 9, 15, 3, 0.01 },   /* window larger than the image */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      int w = cases[i].w, h = cases[i].h;
      g_autoptr (LisseTensor) img = test_image (3, h, w, 30 + i);
      g_autoptr (LisseTensor) guide = test_image (cases[i].ng, h, w, 40 + i);
      g_autofree char *rs = g_strdup_printf ("radius=%d", cases[i].r);
      g_autofree char *es = g_strdup_printf ("epsilon=%g", cases[i].eps);
      const char *const sets[] = { rs, es, NULL };
      g_autoptr (LisseTensor) out = run_filter (&lisse_filter_guided, img, 3, guide, sets);
      float *ref = g_new (float, (size_t) w * h);
      for (int c = 0; c < 3; c++)
        {
          guided_brute (guide, lisse_tensor_channel (img, 0, c), ref, cases[i].r, cases[i].eps);
          const float *o = lisse_tensor_channel (out, 0, c);
          for (int k = 0; k < w * h; k++)
            g_assert_cmpfloat_with_epsilon (o[k], ref[k], 2e-4);
        }
      g_free (ref);
    }
  /* Self-guided = guided by the image's own colour channels. */
  g_autoptr (LisseTensor) img = test_image (3, 30, 40, 50);
  const char *const sets[] = { "radius=3", "epsilon=0.02", NULL };
  g_autoptr (LisseTensor) a = run_filter (&lisse_filter_guided, img, 3, NULL, sets);
  g_autoptr (LisseTensor) b = run_filter (&lisse_filter_guided, img, 3, img, sets);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (a, b), ==, 0.0);
}

/* ---------------------------------------------------------------------- */
/* Joint bilateral: fast paths against the brute force                      */

static void
jbf_planes (const LisseTensor *img, const LisseTensor *guide, LisseTensor *out,
            double ss, double sr, LisseJbfPath path)
{
  const float *src[4], *g[4];
  float *dst[4];
  for (int c = 0; c < img->c; c++)
    {
      src[c] = lisse_tensor_channel (img, 0, c);
      dst[c] = lisse_tensor_channel (out, 0, c);
    }
  for (int c = 0; c < guide->c; c++)
    g[c] = lisse_tensor_channel (guide, 0, c);
  GError *error = NULL;
  g_assert_true (lisse_joint_bilateral_planes (src, img->c, g, guide->c, dst, img->w, img->h,
                                               ss, sr, path, NULL, &error));
  g_assert_no_error (error);
}

/* The brute force written here, independently of jbf_exact: a double sum
 * over the disc of radius ceil(3σs), libm's exp. */
static void
jbf_reference (const LisseTensor *img, const LisseTensor *guide, LisseTensor *out,
               double ss, double sr)
{
  const int w = img->w, h = img->h, R = (int) ceil (3 * ss);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double acc[4] = { 0 }, ws = 0;
        for (int dy = -R; dy <= R; dy++)
          for (int dx = -R; dx <= R; dx++)
            {
              int yy = y + dy, xx = x + dx;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w || dx * dx + dy * dy > R * R)
                continue;
              double d2 = 0;
              for (int c = 0; c < guide->c; c++)
                {
                  double t = lisse_tensor_at (guide, 0, c, yy, xx) - lisse_tensor_at (guide, 0, c, y, x);
                  d2 += t * t;
                }
              double wt = exp (-(dx * dx + dy * dy) / (2 * ss * ss) - d2 / (2 * sr * sr));
              ws += wt;
              for (int c = 0; c < img->c; c++)
                acc[c] += wt * lisse_tensor_at (img, 0, c, yy, xx);
            }
        for (int c = 0; c < img->c; c++)
          lisse_tensor_channel (out, 0, c)[(size_t) y * w + x] = (float) (acc[c] / ws);
      }
}

/* PSNR bounds, measured with margin:
 *  - exact path vs the double-precision reference: float sums of a few
 *    hundred terms and the polynomial exp (relative error < 4e-6): > 90 dB
 *    measured; bound 80 dB.
 *  - grid vs exact: the grid's only approximations are the trilinear splat
 *    and slice (whose blur the grid's own Gaussian compensates in variance
 *    but not in shape) and sampling the Gaussian every σ/1.5.  Measured
 *    55–66 dB on photos (skimage astronaut, σs 2–16, σr 0.05–0.2), 8-bit
 *    quantisation being 59 dB; bound 45 dB, i.e. an RMS error of 0.56 %.
 *  - lattice vs exact: the permutohedral kernel is only roughly Gaussian
 *    and depends on where a pixel falls in its simplex.  Measured 47–54 dB
 *    on photos; bound 40 dB (RMS error 1 %), the level at which the
 *    difference becomes visible on smooth gradients. */
static void
test_jbf_accuracy (void)
{
  const struct { int ng; double ss, sr; LisseJbfPath path; double bound; } cases[] = {
    { 1, 2.0, 0.1, LISSE_JBF_EXACT, 80 },
    { 3, 2.0, 0.1, LISSE_JBF_EXACT, 80 },
    { 1, 4.0, 0.1, LISSE_JBF_FAST, 45 },       /* grid */
    { 1, 6.0, 0.05, LISSE_JBF_FAST, 45 },
    { 1, 3.0, 0.2, LISSE_JBF_FAST, 45 },
    { 1, 4.0, 0.1, LISSE_JBF_LATTICE, 40 },
    { 3, 4.0, 0.1, LISSE_JBF_FAST, 40 },       /* lattice, d = 5 */
    { 3, 6.0, 0.2, LISSE_JBF_FAST, 40 },
    { 2, 5.0, 0.1, LISSE_JBF_FAST, 40 },       /* lattice, d = 4 */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const int w = 120, h = 90;
      g_autoptr (LisseTensor) img = test_image (3, h, w, 60 + i);
      g_autoptr (LisseTensor) guide = test_image (cases[i].ng, h, w, 60 + i);
      g_autoptr (LisseTensor) fast = lisse_tensor_copy (img);
      g_autoptr (LisseTensor) ref = lisse_tensor_copy (img);
      jbf_planes (img, guide, fast, cases[i].ss, cases[i].sr, cases[i].path);
      jbf_reference (img, guide, ref, cases[i].ss, cases[i].sr);
      double p = psnr (fast->data, ref->data, lisse_tensor_numel (img));
      if (g_test_verbose ())
        g_test_message ("jbf case %u (guide %d, σs %g, σr %g, path %d): %.1f dB",
                        i, cases[i].ng, cases[i].ss, cases[i].sr, cases[i].path, p);
      g_assert_cmpfloat (p, >=, cases[i].bound);
    }
}

/* The lattice's scale is calibrated so its spatial kernel has variance σs²:
 * with a constant guide the filter is a plain blur; the second moment of
 * its response to isolated impulses, averaged over positions in the
 * lattice, must be σs² within 10 % in deviation (the exact sum, truncated
 * at 3σs, gives 0.97 σs). */
static void
test_jbf_kernel_scale (void)
{
  const int w = 200, h = 200;
  const double ss = 4.0;
  const LisseJbfPath paths[] = { LISSE_JBF_FAST, LISSE_JBF_LATTICE };
  for (guint p = 0; p < G_N_ELEMENTS (paths); p++)
    for (int ng = 1; ng <= 3; ng += 2)
      {
        g_autoptr (LisseTensor) img = lisse_tensor_new (1, 1, h, w);
        g_autoptr (LisseTensor) guide = lisse_tensor_new (1, ng, h, w);
        g_autoptr (LisseTensor) out = lisse_tensor_new (1, 1, h, w);
        lisse_tensor_fill (guide, 0.5f);
        int n = 0;
        for (int y = 30; y < h - 30; y += 35)
          for (int x = 30; x < w - 30; x += 35)
            img->data[(size_t) (y + n % 5) * w + x + (n * 3) % 7] = 1.f, n++;
        jbf_planes (img, guide, out, ss, 0.1, paths[p]);
        double var = 0;
        n = 0;
        for (int y = 30; y < h - 30; y += 35)
          for (int x = 30; x < w - 30; x += 35, n++)
            {
              int cy = y + n % 5, cx = x + (n * 3) % 7;
              double m = 0, v = 0;
              for (int dy = -16; dy <= 16; dy++)
                for (int dx = -16; dx <= 16; dx++)
                  {
                    double o = out->data[(size_t) (cy + dy) * w + cx + dx];
                    m += o;
                    v += o * (dx * dx + dy * dy) / 2.0;
                  }
              var += v / m;
            }
        double sd = sqrt (var / n);
        g_assert_cmpfloat (fabs (sd / ss - 1.0), <, 0.1);
      }
}

/* A float guide may hold NaN, infinities or values far outside [0,1]
 * (HDR): every path must still give finite output, the grid handing a guide
 * spanning 10⁵ σr to the lattice instead of allocating its cells. */
static void
test_jbf_odd_guides (void)
{
  const int w = 90, h = 70;
  g_autoptr (LisseTensor) img = test_image (3, h, w, 110);
  for (int ng = 1; ng <= 3; ng += 2)
    {
      g_autoptr (LisseTensor) guide = test_image (ng, h, w, 111);
      for (size_t k = 0; k < lisse_tensor_numel (guide); k++)
        guide->data[k] *= 1000.f;
      guide->data[5] = NAN;
      guide->data[7 * w + 3] = -NAN;
      guide->data[20 * w + 40] = INFINITY;
      guide->data[30 * w + 41] = -INFINITY;
      const double sigmas[] = { 2.0, 8.0 };
      for (guint i = 0; i < G_N_ELEMENTS (sigmas); i++)
        {
          g_autoptr (LisseTensor) out = lisse_tensor_copy (img);
          jbf_planes (img, guide, out, sigmas[i], 0.01, LISSE_JBF_AUTO);
          assert_finite (out);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Rolling guidance: its steps                                              */

static void
test_rolling_guidance_steps (void)
{
  const int w = 90, h = 70;
  g_autoptr (LisseTensor) img = test_image (3, h, w, 70);
  for (int k = 0; k < 2; k++)
    {
      double ss = k ? 6.0 : 2.0;   /* exact / lattice steps */
      g_autofree char *s1 = g_strdup_printf ("sigma-s=%g", ss);
      /* One iteration is the Gaussian blur. */
      const char *const one[] = { s1, "sigma-r=0.1", "iterations=1", NULL };
      g_autoptr (LisseTensor) g = run_filter (&lisse_filter_rolling_guidance, img, 3, NULL, one);
      g_autoptr (LisseTensor) ref = lisse_tensor_copy (img);
      for (int c = 0; c < 3; c++)
        lisse_gaussian_blur (lisse_tensor_channel (img, 0, c), lisse_tensor_channel (ref, 0, c),
                             w, h, ss, LISSE_BORDER_NORMALIZE);
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (g, ref), ==, 0.0);
      /* Three: two joint bilateral steps of the input guided by the last. */
      const char *const three[] = { s1, "sigma-r=0.1", "iterations=3", NULL };
      g_autoptr (LisseTensor) r3 = run_filter (&lisse_filter_rolling_guidance, img, 3, NULL, three);
      for (int t = 0; t < 2; t++)
        {
          g_autoptr (LisseTensor) next = lisse_tensor_copy (img);
          jbf_planes (img, ref, next, ss, 0.1, LISSE_JBF_AUTO);
          memcpy (ref->data, next->data, lisse_tensor_numel (next) * sizeof (float));
        }
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (r3, ref), ==, 0.0);
      /* Small structures go: the texture's energy drops, the disc's edge stays. */
      double tex_in = 0, tex_out = 0;
      for (int x = 2; x < 25; x++)
        {
          size_t k = (size_t) 10 * w + x;
          tex_in += fabs (img->data[k + 1] - img->data[k]);
          tex_out += fabs (r3->data[k + 1] - r3->data[k]);
        }
      g_assert_cmpfloat (tex_out, <, 0.5 * tex_in);
    }
}

/* ---------------------------------------------------------------------- */
/* L0: fewer gradients, lower objective                                     */

/* Pixels whose gradient (forward differences, none across the edge)
 * is non-zero in any channel, and Σ (S − I)².  "Non-zero" means the summed
 * |∂x| + |∂y| over channels exceeds one 8-bit level: the half-quadratic
 * solver stops at finite β, so its flat regions keep a residual slope of
 * about (region size)·(I − S)/β, 1e-4..1e-3, invisible after quantisation. */
static void
l0_stats (const LisseTensor *S, const LisseTensor *I, int n_color, double t,
          double *count, double *fidelity)
{
  const int w = S->w, h = S->h;
  *count = 0;
  *fidelity = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double g = 0;
        for (int c = 0; c < n_color; c++)
          {
            const float *s = lisse_tensor_channel (S, 0, c), *i0 = lisse_tensor_channel (I, 0, c);
            size_t k = (size_t) y * w + x;
            if (x + 1 < w)
              g += fabs (s[k + 1] - s[k]);
            if (y + 1 < h)
              g += fabs (s[k + w] - s[k]);
            *fidelity += ((double) s[k] - i0[k]) * ((double) s[k] - i0[k]);
          }
        *count += g > t;
      }
}

static void
test_l0_objective (void)
{
  const double lambdas[] = { 0.005, 0.02, 0.1 };
  for (int c = 1; c <= 3; c += 2)
    for (guint i = 0; i < G_N_ELEMENTS (lambdas); i++)
      {
        g_autoptr (LisseTensor) img = test_image (c, 64, 80, 80 + i);
        g_autofree char *ls = g_strdup_printf ("lambda=%g", lambdas[i]);
        const char *const sets[] = { ls, NULL };
        g_autoptr (LisseTensor) out = run_filter (&lisse_filter_l0, img, c, NULL, sets);
        double n_in, n_out, f_in, f_out;
        l0_stats (img, img, c, 1.0 / 255, &n_in, &f_in);
        l0_stats (out, img, c, 1.0 / 255, &n_out, &f_out);
        double e_in = lambdas[i] * n_in, e_out = f_out + lambdas[i] * n_out;
        if (g_test_verbose ())
          g_test_message ("L0 c=%d λ=%g: gradients %g -> %g, objective %g -> %g",
                          c, lambdas[i], n_in, n_out, e_in, e_out);
        g_assert_cmpfloat (n_out, <, 0.5 * n_in);
        g_assert_cmpfloat (e_out, <, e_in);
        /* Flat where it flattened: the mean is kept (the DCT's DC term). */
        double m_in = 0, m_out = 0;
        for (size_t k = 0; k < lisse_tensor_numel (img); k++)
          m_in += img->data[k], m_out += out->data[k];
        g_assert_cmpfloat (fabs (m_in - m_out) / lisse_tensor_numel (img), <, 1e-5);
      }
  /* A larger λ leaves fewer gradients. */
  g_autoptr (LisseTensor) img = test_image (3, 64, 80, 90);
  const char *const lo[] = { "lambda=0.005", NULL }, *const hi[] = { "lambda=0.05", NULL };
  g_autoptr (LisseTensor) a = run_filter (&lisse_filter_l0, img, 3, NULL, lo);
  g_autoptr (LisseTensor) b = run_filter (&lisse_filter_l0, img, 3, NULL, hi);
  double na, nb, fa, fb;
  l0_stats (a, img, 3, 1.0 / 255, &na, &fa);
  l0_stats (b, img, 3, 1.0 / 255, &nb, &fb);
  g_assert_cmpfloat (nb, <, na);
  g_assert_cmpfloat (fb, >, fa);
}

/* L0 the slow way, in double: the same half-quadratic iteration with
 * Neumann boundaries (forward differences, none leaving the image), the S
 * step solved by conjugate gradients on (1 + β∇ᵀ∇) S = I + β∇ᵀ(h, v)
 * instead of the DCT. */
static void
l0_apply_normal (const double *s, double *out, int w, int h, double beta)
{
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t k = (size_t) y * w + x;
        double lap = 0;
        if (x > 0)
          lap += s[k] - s[k - 1];
        if (x + 1 < w)
          lap += s[k] - s[k + 1];
        if (y > 0)
          lap += s[k] - s[k - w];
        if (y + 1 < h)
          lap += s[k] - s[k + w];
        out[k] = s[k] + beta * lap;
      }
}

static void
l0_reference (const LisseTensor *I, LisseTensor *S, double lambda, double kappa, double beta_max)
{
  const int w = I->w, h = I->h, C = I->c;
  const size_t N = (size_t) w * h;
  double *s = g_new (double, N * C), *hx = g_new (double, N * C), *vy = g_new (double, N * C);
  double *rhs = g_new (double, N), *r = g_new (double, N), *p = g_new (double, N), *ap = g_new (double, N);
  for (size_t k = 0; k < N * C; k++)
    s[k] = I->data[k];
  for (double beta = 2 * lambda; beta < beta_max; beta *= kappa)
    {
      for (size_t k = 0; k < N; k++)
        {
          int x = (int) (k % w), y = (int) (k / w);
          double m = 0;
          for (int c = 0; c < C; c++)
            {
              const double *sc = s + c * N;
              hx[c * N + k] = x + 1 < w ? sc[k + 1] - sc[k] : 0;
              vy[c * N + k] = y + 1 < h ? sc[k + w] - sc[k] : 0;
              m += hx[c * N + k] * hx[c * N + k] + vy[c * N + k] * vy[c * N + k];
            }
          if (!(m > lambda / beta))
            for (int c = 0; c < C; c++)
              hx[c * N + k] = vy[c * N + k] = 0;
        }
      for (int c = 0; c < C; c++)
        {
          const double *hc = hx + c * N, *vc = vy + c * N;
          double *sc = s + c * N;
          for (size_t k = 0; k < N; k++)
            {
              int x = (int) (k % w), y = (int) (k / w);
              double d = -hc[k] - vc[k];
              if (x > 0)
                d += hc[k - 1];
              if (y > 0)
                d += vc[k - w];
              rhs[k] = I->data[c * N + k] + beta * d;
            }
          /* CG from the current S. */
          l0_apply_normal (sc, ap, w, h, beta);
          double rr = 0;
          for (size_t k = 0; k < N; k++)
            {
              r[k] = rhs[k] - ap[k];
              p[k] = r[k];
              rr += r[k] * r[k];
            }
          double rhs2 = 0;
          for (size_t k = 0; k < N; k++)
            rhs2 += rhs[k] * rhs[k];
          for (int it = 0; it < 20000 && rr > 1e-26 * rhs2; it++)
            {
              l0_apply_normal (p, ap, w, h, beta);
              double pap = 0;
              for (size_t k = 0; k < N; k++)
                pap += p[k] * ap[k];
              double alpha = rr / pap, rr2 = 0;
              for (size_t k = 0; k < N; k++)
                {
                  sc[k] += alpha * p[k];
                  r[k] -= alpha * ap[k];
                  rr2 += r[k] * r[k];
                }
              for (size_t k = 0; k < N; k++)
                p[k] = r[k] + rr2 / rr * p[k];
              rr = rr2;
            }
        }
    }
  for (size_t k = 0; k < N * C; k++)
    S->data[k] = (float) s[k];
  g_free (s);
  g_free (hx);
  g_free (vy);
  g_free (rhs);
  g_free (r);
  g_free (p);
  g_free (ap);
}

static void
test_l0_reference (void)
{
  const struct { int c, w, h; double lambda, kappa; } cases[] = {
    { 1, 24, 17, 0.02, 2.0 }, { 3, 21, 18, 0.01, 2.0 }, { 3, 16, 23, 0.05, 1.5 },
    { 1, 1, 30, 0.02, 2.0 }, { 2, 19, 1, 0.02, 2.0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (LisseTensor) img = test_image (cases[i].c, cases[i].h, cases[i].w, 100 + i);
      g_autofree char *ls = g_strdup_printf ("lambda=%g", cases[i].lambda);
      g_autofree char *ks = g_strdup_printf ("kappa=%g", cases[i].kappa);
      const char *const sets[] = { ls, ks, NULL };
      g_autoptr (LisseTensor) out = run_filter (&lisse_filter_l0, img, cases[i].c, NULL, sets);
      g_autoptr (LisseTensor) ref = lisse_tensor_copy (img);
      l0_reference (img, ref, cases[i].lambda, cases[i].kappa, 1e5);
      /* Same decisions, float vs double arithmetic: agreement to ~1e-5.
       * (A threshold decided differently would show as a difference of
       * the size of an edge, failing this.) */
      float d = lisse_tensor_max_abs_diff (out, ref);
      if (g_test_verbose ())
        g_test_message ("L0 vs CG reference, case %u: max |diff| %g", i, d);
      g_assert_cmpfloat (d, <, 1e-3);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/classic/params", test_param_validation);
  g_test_add_func ("/classic/cancel", test_cancel);
  g_test_add_func ("/classic/alpha", test_alpha_untouched);
  g_test_add_func ("/classic/small-sizes", test_small_sizes);
  g_test_add_func ("/classic/constant", test_constant);
  g_test_add_func ("/classic/threads", test_threads);
  g_test_add_func ("/classic/box-gaussian", test_box_and_gaussian);
  g_test_add_func ("/classic/guided/brute-force", test_guided_brute);
  g_test_add_func ("/classic/joint-bilateral/accuracy", test_jbf_accuracy);
  g_test_add_func ("/classic/joint-bilateral/kernel-scale", test_jbf_kernel_scale);
  g_test_add_func ("/classic/joint-bilateral/odd-guides", test_jbf_odd_guides);
  g_test_add_func ("/classic/rolling-guidance/steps", test_rolling_guidance_steps);
  g_test_add_func ("/classic/l0/objective", test_l0_objective);
  g_test_add_func ("/classic/l0/reference", test_l0_reference);
  return g_test_run ();
}
