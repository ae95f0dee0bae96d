/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Interleaved pixels <-> planar tensors (lisse_tensor_set/get_pixels), the
 * conversion every front end (CLI, GEGL ops, plug-in) makes: checked against
 * the index formula written out, on sub-rectangles and with fewer pixel
 * channels than tensor channels.
 */
#include "tensor.h"

#include <glib.h>

static void
test_set_get_rect (void)
{
  GRand *rand = g_rand_new_with_seed (7);
  for (int trial = 0; trial < 50; trial++)
    {
      int c = g_rand_int_range (rand, 1, 6), nc = g_rand_int_range (rand, 1, c + 1);
      int th = g_rand_int_range (rand, 1, 40), tw = g_rand_int_range (rand, 1, 40);
      int h = g_rand_int_range (rand, 0, th + 1), w = g_rand_int_range (rand, 0, tw + 1);
      int y = g_rand_int_range (rand, 0, th - h + 1), x = g_rand_int_range (rand, 0, tw - w + 1);
      g_autoptr (LisseTensor) t = lisse_tensor_new (1, c, th, tw);
      lisse_tensor_fill (t, -1.0f);
      float *pixels = g_new (float, (size_t) MAX (w * h * nc, 1));
      for (int i = 0; i < w * h * nc; i++)
        pixels[i] = (float) g_rand_double (rand);

      lisse_tensor_set_pixels (t, x, y, w, h, nc, pixels);
      for (int ci = 0; ci < c; ci++)
        for (int yy = 0; yy < th; yy++)
          for (int xx = 0; xx < tw; xx++)
            {
              gboolean inside = ci < nc && yy >= y && yy < y + h && xx >= x && xx < x + w;
              float want = inside ? pixels[((yy - y) * w + (xx - x)) * nc + ci] : -1.0f;
              g_assert_cmpfloat (lisse_tensor_at (t, 0, ci, yy, xx), ==, want);
            }

      float *back = g_new0 (float, (size_t) MAX (w * h * nc, 1));
      lisse_tensor_get_pixels (t, x, y, w, h, nc, back);
      for (int i = 0; i < w * h * nc; i++)
        g_assert_cmpfloat (back[i], ==, pixels[i]);
      g_free (back);
      g_free (pixels);
    }
  g_rand_free (rand);
}

static void
test_new_from_pixels (void)
{
  const float px[] = { 1, 2, 3, 4, 5, 6,   7, 8, 9, 10, 11, 12 };  /* 2×2, 3 channels */
  g_autoptr (GError) error = NULL;
  g_autoptr (LisseTensor) t = lisse_tensor_new_from_pixels (px, 3, 2, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (t->c, ==, 3);
  const float planes[] = { 1, 4, 7, 10,   2, 5, 8, 11,   3, 6, 9, 12 };
  for (int i = 0; i < 12; i++)
    g_assert_cmpfloat (t->data[i], ==, planes[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tensor/pixels/set-get-rect", test_set_get_rect);
  g_test_add_func ("/tensor/pixels/new-from-pixels", test_new_from_pixels);
  return g_test_run ();
}
