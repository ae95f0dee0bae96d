/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Pencil Sketch's tone stage (core/effects/pencil-tone.c, after Lu et al.
 * 2012 §3.2–3.3): the target distribution, histogram matching, the
 * procedural texture and the β fit, each against what it must satisfy.
 */
#include "pencil-tone.h"
#include "threads.h"

#include <glib.h>
#include <math.h>

static double
target_mean (void)
{
  double pdf[256], m = 0.0;
  lisse_pencil_tone_target (pdf);
  for (int v = 0; v < 256; v++)
    m += pdf[v] * (v + 0.5) / 256.0;
  return m;
}

static void
test_target (void)
{
  double pdf[256], sum = 0.0;
  lisse_pencil_tone_target (pdf);
  int peak = 0;
  for (int v = 0; v < 256; v++)
    {
      g_assert_cmpfloat (pdf[v], >=, 0.0);
      sum += pdf[v];
      if (pdf[v] > pdf[peak])
        peak = v;
    }
  g_assert_cmpfloat (fabs (sum - 1.0), <, 1e-12);
  g_assert_cmpint (peak, ==, 255);   /* paper white dominates a drawing */
  /* The three layers' masses: bright ω1 = 52, mid ω2 = 37 (uniform on
   * [105, 225]), dark ω3·√σd ≈ 36.5 (the paper's normaliser 1/√(2πσd)
   * leaves the Gaussian a mass of √σd). */
  const double total = 52.0 + 37.0 + 11.0 * sqrt (11.0);
  double bright = 0.0, dark = 0.0;
  for (int v = 0; v < 256; v++)
    {
      bright += (v >= 226) ? pdf[v] : 0.0;
      dark += (v < 105) ? pdf[v] : 0.0;
    }
  g_assert_cmpfloat (fabs (bright - 52.0 / total), <, 0.02);
  /* 91 % of the dark Gaussian (μd 90, σd 11) lies below 105 */
  g_assert_cmpfloat (fabs (dark - 0.913 * 11.0 * sqrt (11.0) / total), <, 0.01);
}

/* Matching gives any input the target's distribution, keeps the order of
 * values, and is the same for any thread count. */
static void
test_tone_map (void)
{
  const int w = 200, h = 150;
  const size_t n = (size_t) w * h;
  float *y = g_new (float, n), *j = g_new (float, n), *j1 = g_new (float, n);
  GRand *rand = g_rand_new_with_seed (3);
  for (size_t i = 0; i < n; i++)   /* a dark, skewed input */
    y[i] = (float) pow (g_rand_double (rand), 3.0);
  g_rand_free (rand);

  g_assert_true (lisse_pencil_tone_map (y, w, h, j, NULL));
  double mean = 0.0, hist[256] = { 0 }, pdf[256];
  for (size_t i = 0; i < n; i++)
    {
      mean += j[i];
      hist[MIN ((int) (j[i] * 256.0f), 255)] += 1.0 / n;
    }
  mean /= n;
  g_assert_cmpfloat (fabs (mean - target_mean ()), <, 0.002);
  /* Kolmogorov–Smirnov distance to the target: exact up to ties */
  lisse_pencil_tone_target (pdf);
  double fj = 0.0, ft = 0.0, ks = 0.0;
  for (int k = 0; k < 256; k++)
    {
      fj += hist[k];
      ft += pdf[k];
      ks = MAX (ks, fabs (fj - ft));
    }
  g_assert_cmpfloat (ks, <, 0.005);
  for (size_t i = 1; i < n; i++)
    if (y[i] < y[i - 1])
      g_assert_cmpfloat (j[i], <=, j[i - 1]);
    else if (y[i] > y[i - 1])
      g_assert_cmpfloat (j[i], >=, j[i - 1]);

  int saved = lisse_threads_get ();
  lisse_threads_set (1);
  g_assert_true (lisse_pencil_tone_map (y, w, h, j1, NULL));
  lisse_threads_set (saved);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpfloat (j[i], ==, j1[i]);
  g_free (y); g_free (j); g_free (j1);
}

static void
test_texture (void)
{
  const int w = 160, h = 120;
  const size_t n = (size_t) w * h;
  float *t = g_new (float, n), *t1 = g_new (float, n);
  for (int s = 0; s < 3; s++)
    {
      const double scale = s == 0 ? 1.0 : s == 1 ? 0.5 : 0.125;
      lisse_pencil_texture (w, h, scale, t);
      double mean = 0.0, var = 0.0;
      for (size_t i = 0; i < n; i++)
        {
          g_assert_cmpfloat (t[i], >=, 0.5f);
          g_assert_cmpfloat (t[i], <=, 0.97f);
          mean += t[i];
        }
      mean /= n;
      for (size_t i = 0; i < n; i++)
        var += (t[i] - mean) * (t[i] - mean);
      /* mean 0.8 and contrast 0.08 at every scale (clipping trims a little) */
      g_assert_cmpfloat (fabs (mean - 0.8), <, 0.01);
      g_assert_cmpfloat (fabs (sqrt (var / n) - 0.08), <, 0.01);
    }
  /* Strokes run along 45°: neighbours along the stroke correlate, across it not. */
  lisse_pencil_texture (w, h, 1.0, t);
  double along = 0.0, across = 0.0;
  for (int y = 1; y < h - 1; y++)
    for (int x = 1; x < w - 1; x++)
      {
        double c = t[y * w + x] - 0.8;
        along += c * (t[(y + 1) * w + x + 1] - 0.8);
        across += c * (t[(y + 1) * w + x - 1] - 0.8);
      }
  g_assert_cmpfloat (along, >, 5.0 * fabs (across));

  int saved = lisse_threads_get ();
  lisse_threads_set (1);
  lisse_pencil_texture (w, h, 1.0, t1);
  lisse_threads_set (saved);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpfloat (t[i], ==, t1[i]);
  g_free (t); g_free (t1);
}

/* On a constant tone J, with θ large against (ln H)², β is nearly the
 * constant least-squares fit β̄ = ln J · m1 / m2 (m1, m2 the mean of ln H
 * and of (ln H)²), so the mean of ln T is ln J · m1² / m2: the texture
 * carries J's darkness up to the factor m1²/m2 ≤ 1 that Lu et al.'s
 * formulation gives a textured fit. */
static void
test_render (void)
{
  const int w = 96, h = 80;
  const size_t n = (size_t) w * h;
  float *tex = g_new (float, n), *j = g_new (float, n), *tone = g_new (float, n);
  float *tone1 = g_new (float, n);
  lisse_pencil_texture (w, h, 1.0, tex);
  double m1 = 0.0, m2 = 0.0;
  for (size_t i = 0; i < n; i++)
    {
      m1 += log (tex[i]) / n;
      m2 += log (tex[i]) * log (tex[i]) / n;
    }
  const float levels[] = { 0.2f, 0.5f, 0.9f };
  for (guint l = 0; l < G_N_ELEMENTS (levels); l++)
    {
      for (size_t i = 0; i < n; i++)
        j[i] = levels[l];
      GError *error = NULL;
      g_assert_true (lisse_pencil_tone_render (tex, j, w, h, tone, &error));
      g_assert_no_error (error);
      double mlog = 0.0;
      for (size_t i = 0; i < n; i++)
        {
          g_assert_cmpfloat (tone[i], >, 0.0f);
          g_assert_cmpfloat (tone[i], <=, 1.0f);
          mlog += log (tone[i]);
        }
      mlog /= n;
      const double predicted = log (levels[l]) * m1 * m1 / m2;
      g_assert_cmpfloat (fabs (mlog - predicted), <, 0.05 * fabs (predicted));
    }
  /* Left half dark, right half light: the tone follows, away from the seam. */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      j[y * w + x] = x < w / 2 ? 0.3f : 0.95f;
  g_assert_true (lisse_pencil_tone_render (tex, j, w, h, tone, NULL));
  double left = 0.0, right = 0.0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < 20; x++)
      {
        left += tone[y * w + x];
        right += tone[y * w + w - 1 - x];
      }
  g_assert_cmpfloat (left / (20 * h), <, 0.45);
  g_assert_cmpfloat (right / (20 * h), >, 0.85);

  int saved = lisse_threads_get ();
  lisse_threads_set (1);
  g_assert_true (lisse_pencil_tone_render (tex, j, w, h, tone1, NULL));
  lisse_threads_set (saved);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpfloat (tone[i], ==, tone1[i]);
  g_free (tex); g_free (j); g_free (tone); g_free (tone1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  lisse_threads_set (2);
  g_test_add_func ("/pencil-tone/target", test_target);
  g_test_add_func ("/pencil-tone/tone-map", test_tone_map);
  g_test_add_func ("/pencil-tone/texture", test_texture);
  g_test_add_func ("/pencil-tone/render", test_render);
  return g_test_run ();
}
