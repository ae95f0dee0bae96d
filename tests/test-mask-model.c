/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The Content-Aware dialog's mask model (ui/mask-model.c) without a
 * display: brush strokes (soft edges, no build-up within a stroke),
 * foreground and background brushes, clear, invert, replace, stroke-level
 * undo and its depth limit, and the bilinear resampling that turns the
 * painted mask into the drawable-sized channel. */
#include "mask-model.h"

#include <glib.h>
#include <math.h>
#include <string.h>

static float
at (const LisseMaskModel *m, int x, int y)
{
  return lisse_mask_model_get_data (m)[(size_t) y * lisse_mask_model_get_width (m) + x];
}

static float *
copy_of (const LisseMaskModel *m)
{
  size_t n = (size_t) lisse_mask_model_get_width (m) * lisse_mask_model_get_height (m);
  return g_memdup2 (lisse_mask_model_get_data (m), n * sizeof (float));
}

static gboolean
equals (const LisseMaskModel *m, const float *values)
{
  size_t n = (size_t) lisse_mask_model_get_width (m) * lisse_mask_model_get_height (m);
  return memcmp (lisse_mask_model_get_data (m), values, n * sizeof (float)) == 0;
}

static void
test_new_is_background (void)
{
  LisseMaskModel *m = lisse_mask_model_new (7, 5);
  g_assert_cmpint (lisse_mask_model_get_width (m), ==, 7);
  g_assert_cmpint (lisse_mask_model_get_height (m), ==, 5);
  g_assert_cmpfloat (lisse_mask_model_get_mean (m), ==, 0.0);
  g_assert_false (lisse_mask_model_can_undo (m));
  g_assert_false (lisse_mask_model_undo (m));
  lisse_mask_model_free (m);
}

static void
test_dab_soft_edges (void)
{
  LisseMaskModel *m = lisse_mask_model_new (41, 41);
  int cx, cy, cw, ch;
  lisse_mask_model_begin_stroke (m, 1.0f, 10.0);
  lisse_mask_model_stroke_to (m, 20.5, 20.5, &cx, &cy, &cw, &ch);
  lisse_mask_model_end_stroke (m);

  g_assert_cmpfloat (at (m, 20, 20), ==, 1.0f);   /* centre */
  g_assert_cmpfloat (at (m, 24, 20), ==, 1.0f);   /* within half the radius */
  g_assert_cmpfloat (at (m, 31, 20), ==, 0.0f);   /* beyond the radius */
  g_assert_cmpfloat (at (m, 0, 0), ==, 0.0f);
  float edge = at (m, 27, 20);                    /* 7 px out: on the soft ramp */
  g_assert_cmpfloat (edge, >, 0.05f);
  g_assert_cmpfloat (edge, <, 0.95f);
  g_assert_cmpfloat (at (m, 26, 20), >, edge);    /* falls off monotonically */
  g_assert_cmpfloat (at (m, 13, 20), ==, edge);   /* round and symmetric */
  g_assert_cmpfloat (at (m, 20, 27), ==, edge);
  /* the changed rectangle covers the dab and stays inside the mask */
  g_assert_cmpint (cx, <=, 11);
  g_assert_cmpint (cy, <=, 11);
  g_assert_cmpint (cx + cw, >=, 30);
  g_assert_cmpint (cx + cw, <=, 41);
  g_assert_cmpint (ch, >, 0);
  lisse_mask_model_free (m);
}

static void
test_stroke_no_buildup (void)
{
  LisseMaskModel *once = lisse_mask_model_new (60, 30);
  LisseMaskModel *back_and_forth = lisse_mask_model_new (60, 30);

  lisse_mask_model_begin_stroke (once, 1.0f, 6.0);
  lisse_mask_model_stroke_to (once, 10, 15, NULL, NULL, NULL, NULL);
  lisse_mask_model_stroke_to (once, 50, 15, NULL, NULL, NULL, NULL);
  lisse_mask_model_end_stroke (once);

  lisse_mask_model_begin_stroke (back_and_forth, 1.0f, 6.0);
  for (int i = 0; i < 5; i++)
    {
      lisse_mask_model_stroke_to (back_and_forth, 10, 15, NULL, NULL, NULL, NULL);
      lisse_mask_model_stroke_to (back_and_forth, 50, 15, NULL, NULL, NULL, NULL);
    }
  g_assert_true (lisse_mask_model_in_stroke (back_and_forth));
  lisse_mask_model_end_stroke (back_and_forth);
  g_assert_false (lisse_mask_model_in_stroke (back_and_forth));

  /* the line is painted without gaps, and the soft border is no harder */
  for (int x = 10; x < 50; x++)
    g_assert_cmpfloat (at (once, x, 14), ==, 1.0f);
  g_assert_cmpfloat (at (once, 30, 19), >, 0.0f);
  g_assert_cmpfloat (at (once, 30, 19), <, 1.0f);
  float *a = copy_of (once);
  g_assert_true (equals (back_and_forth, a));
  g_free (a);
  lisse_mask_model_free (once);
  lisse_mask_model_free (back_and_forth);
}

static void
test_background_brush_and_undo (void)
{
  LisseMaskModel *m = lisse_mask_model_new (32, 32);
  float *empty = copy_of (m);

  lisse_mask_model_begin_stroke (m, 1.0f, 8.0);
  lisse_mask_model_stroke_to (m, 16, 16, NULL, NULL, NULL, NULL);
  lisse_mask_model_end_stroke (m);
  float *after_fg = copy_of (m);
  g_assert_cmpfloat (at (m, 16, 16), ==, 1.0f);

  /* the background brush erases where it passes, not elsewhere */
  lisse_mask_model_begin_stroke (m, 0.0f, 2.0);
  lisse_mask_model_stroke_to (m, 16.5, 16.5, NULL, NULL, NULL, NULL);
  lisse_mask_model_end_stroke (m);
  g_assert_cmpfloat (at (m, 16, 16), ==, 0.0f);
  g_assert_cmpfloat (at (m, 12, 16), ==, 1.0f);
  g_assert_cmpfloat (lisse_mask_model_get_mean (m), >, 0.0);

  /* one undo per stroke, back to the exact earlier states */
  g_assert_true (lisse_mask_model_undo (m));
  g_assert_true (equals (m, after_fg));
  g_assert_true (lisse_mask_model_undo (m));
  g_assert_true (equals (m, empty));
  g_assert_false (lisse_mask_model_can_undo (m));
  g_assert_false (lisse_mask_model_undo (m));
  g_free (empty);
  g_free (after_fg);
  lisse_mask_model_free (m);
}

static void
test_clear_invert_set (void)
{
  LisseMaskModel *m = lisse_mask_model_new (4, 3);
  const float values[12] = { 0, 0.25f, 0.5f, 1, 2.0f, -1.0f, NAN, 0.75f, 0, 0, 1, 1 };
  lisse_mask_model_set_data (m, values);
  g_assert_cmpfloat (at (m, 0, 1), ==, 1.0f);    /* clamped */
  g_assert_cmpfloat (at (m, 1, 1), ==, 0.0f);
  g_assert_cmpfloat (at (m, 2, 1), ==, 0.0f);    /* NaN: background */
  g_assert_cmpfloat (at (m, 1, 0), ==, 0.25f);
  float *set = copy_of (m);

  lisse_mask_model_invert (m);
  g_assert_cmpfloat (at (m, 1, 0), ==, 0.75f);
  g_assert_cmpfloat (at (m, 3, 0), ==, 0.0f);
  g_assert_cmpfloat (at (m, 0, 1), ==, 0.0f);
  lisse_mask_model_invert (m);
  g_assert_true (equals (m, set));

  lisse_mask_model_clear (m);
  g_assert_cmpfloat (lisse_mask_model_get_mean (m), ==, 0.0);
  g_assert_true (lisse_mask_model_undo (m));     /* clear */
  g_assert_true (equals (m, set));
  g_assert_true (lisse_mask_model_undo (m));     /* invert */
  g_assert_true (lisse_mask_model_undo (m));     /* invert */
  g_assert_true (equals (m, set));
  g_assert_true (lisse_mask_model_undo (m));     /* set */
  g_assert_cmpfloat (lisse_mask_model_get_mean (m), ==, 0.0);
  g_assert_false (lisse_mask_model_can_undo (m));
  g_free (set);
  lisse_mask_model_free (m);
}

static void
test_undo_depth (void)
{
  LisseMaskModel *m = lisse_mask_model_new (8, 8);
  for (int i = 0; i < LISSE_MASK_MODEL_UNDO_DEPTH + 8; i++)
    lisse_mask_model_invert (m);
  int undone = 0;
  while (lisse_mask_model_undo (m))
    undone++;
  g_assert_cmpint (undone, ==, LISSE_MASK_MODEL_UNDO_DEPTH);
  /* 40 inverts, 32 undone: 8 inverts remain, an even number */
  g_assert_cmpfloat (lisse_mask_model_get_mean (m), ==, 0.0);

  /* forgetting the history keeps the mask and empties the stack */
  lisse_mask_model_invert (m);
  g_assert_true (lisse_mask_model_can_undo (m));
  lisse_mask_model_forget_undo (m);
  g_assert_false (lisse_mask_model_can_undo (m));
  g_assert_false (lisse_mask_model_undo (m));
  g_assert_cmpfloat (lisse_mask_model_get_mean (m), ==, 1.0);
  lisse_mask_model_free (m);
}

static void
test_resample (void)
{
  /* left half foreground, right half background */
  LisseMaskModel *m = lisse_mask_model_new (8, 4);
  float values[32];
  for (int i = 0; i < 32; i++)
    values[i] = (i % 8) < 4 ? 1.0f : 0.0f;
  lisse_mask_model_set_data (m, values);

  /* at pixel centres the sample is the value itself */
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 8; x++)
      g_assert_cmpfloat (lisse_mask_model_sample (m, x + 0.5, y + 0.5), ==, at (m, x, y));

  /* upscaled ×4: a soft, monotone edge in the middle, flat elsewhere */
  int W = 32, H = 16;
  float *full = g_new (float, W * H);
  lisse_mask_model_resample (m, W, H, 0, 0, W, H, full);
  g_assert_cmpfloat (full[0], ==, 1.0f);
  g_assert_cmpfloat (full[W - 1], ==, 0.0f);
  int soft = 0;
  for (int x = 1; x < W; x++)
    {
      g_assert_cmpfloat (full[5 * W + x], <=, full[5 * W + x - 1]);
      if (full[5 * W + x] > 0.0f && full[5 * W + x] < 1.0f)
        soft++;
    }
  g_assert_cmpint (soft, >=, 3);
  for (int y = 1; y < H; y++)
    g_assert_cmpfloat (full[y * W + 15], ==, full[15]);

  /* a sub-rectangle is the crop of the whole */
  float part[6 * 5];
  lisse_mask_model_resample (m, W, H, 13, 7, 6, 5, part);
  for (int y = 0; y < 5; y++)
    for (int x = 0; x < 6; x++)
      g_assert_cmpfloat (part[y * 6 + x], ==, full[(7 + y) * W + 13 + x]);
  g_free (full);
  lisse_mask_model_free (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mask-model/new-is-background", test_new_is_background);
  g_test_add_func ("/mask-model/dab-soft-edges", test_dab_soft_edges);
  g_test_add_func ("/mask-model/stroke-no-buildup", test_stroke_no_buildup);
  g_test_add_func ("/mask-model/background-brush-and-undo", test_background_brush_and_undo);
  g_test_add_func ("/mask-model/clear-invert-set", test_clear_invert_set);
  g_test_add_func ("/mask-model/undo-depth", test_undo_depth);
  g_test_add_func ("/mask-model/resample", test_resample);
  return g_test_run ();
}
