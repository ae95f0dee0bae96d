/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The painted saliency mask (mask-model.h).  Undo keeps a whole copy of the
 * mask per step: the painter works on a downscaled image (at most about
 * 512×512, 1 MiB a copy), so 32 copies cost less than the code a
 * difference-based history would. */
#include "mask-model.h"

#include <math.h>
#include <string.h>

struct _LisseMaskModel
{
  int     width, height;
  float  *data;
  GQueue *undo;            /* float copies of the mask, newest at the head */
  /* the stroke in progress */
  gboolean in_stroke;
  float    value;
  double   radius;
  float   *stroke_base;    /* the mask when the stroke began */
  float   *stroke_weight;  /* the largest brush weight so far, per pixel */
  gboolean has_last;
  double   last_x, last_y;
};

static size_t
n_pixels (const LisseMaskModel *model)
{
  return (size_t) model->width * model->height;
}

LisseMaskModel *
lisse_mask_model_new (int width, int height)
{
  g_return_val_if_fail (width >= 1 && height >= 1, NULL);
  LisseMaskModel *model = g_new0 (LisseMaskModel, 1);
  model->width = width;
  model->height = height;
  model->data = g_new0 (float, n_pixels (model));
  model->undo = g_queue_new ();
  return model;
}

void
lisse_mask_model_free (LisseMaskModel *model)
{
  if (!model)
    return;
  g_queue_free_full (model->undo, g_free);
  g_free (model->stroke_base);
  g_free (model->stroke_weight);
  g_free (model->data);
  g_free (model);
}

int
lisse_mask_model_get_width (const LisseMaskModel *model)
{
  return model->width;
}

int
lisse_mask_model_get_height (const LisseMaskModel *model)
{
  return model->height;
}

const float *
lisse_mask_model_get_data (const LisseMaskModel *model)
{
  return model->data;
}

double
lisse_mask_model_get_mean (const LisseMaskModel *model)
{
  double sum = 0.0;
  for (size_t i = 0; i < n_pixels (model); i++)
    sum += model->data[i];
  return sum / (double) n_pixels (model);
}

/* Saves the current mask as the state an undo returns to. */
static void
push_undo (LisseMaskModel *model)
{
  g_queue_push_head (model->undo, g_memdup2 (model->data, n_pixels (model) * sizeof (float)));
  while (g_queue_get_length (model->undo) > LISSE_MASK_MODEL_UNDO_DEPTH)
    g_free (g_queue_pop_tail (model->undo));
}

void
lisse_mask_model_begin_stroke (LisseMaskModel *model, float value, double radius)
{
  if (model->in_stroke)
    lisse_mask_model_end_stroke (model);
  push_undo (model);
  model->in_stroke = TRUE;
  model->value = CLAMP (value, 0.0f, 1.0f);
  model->radius = MAX (radius, 0.5);
  model->stroke_base = g_memdup2 (model->data, n_pixels (model) * sizeof (float));
  model->stroke_weight = g_new0 (float, n_pixels (model));
  model->has_last = FALSE;
}

/* Weight of the brush at distance @d from its centre: full strength
 * within half the radius, a smooth (cosine) fall to zero at the radius, so
 * the painted mask has soft edges. */
static float
brush_weight (double d, double radius)
{
  double inner = 0.5 * radius;
  if (d <= inner)
    return 1.0f;
  if (d >= radius)
    return 0.0f;
  double t = (d - inner) / (radius - inner);
  return (float) (0.5 * (1.0 + cos (G_PI * t)));
}

/* One dab at (@cx, @cy); grows the changed rectangle [x0,x1)×[y0,y1). */
static void
dab (LisseMaskModel *model, double cx, double cy, int *x0, int *y0, int *x1, int *y1)
{
  double r = model->radius;
  int ax = MAX (0, (int) floor (cx - r));
  int ay = MAX (0, (int) floor (cy - r));
  int bx = MIN (model->width, (int) ceil (cx + r) + 1);
  int by = MIN (model->height, (int) ceil (cy + r) + 1);
  if (ax >= bx || ay >= by)
    return;
  for (int y = ay; y < by; y++)
    for (int x = ax; x < bx; x++)
      {
        float w = brush_weight (hypot (x + 0.5 - cx, y + 0.5 - cy), r);
        size_t i = (size_t) y * model->width + x;
        if (w <= model->stroke_weight[i])
          continue;
        model->stroke_weight[i] = w;
        float base = model->stroke_base[i];
        model->data[i] = base + (model->value - base) * w;
      }
  *x0 = MIN (*x0, ax);
  *y0 = MIN (*y0, ay);
  *x1 = MAX (*x1, bx);
  *y1 = MAX (*y1, by);
}

void
lisse_mask_model_stroke_to (LisseMaskModel *model, double x, double y,
                            int *changed_x, int *changed_y, int *changed_w, int *changed_h)
{
  int x0 = G_MAXINT, y0 = G_MAXINT, x1 = G_MININT, y1 = G_MININT;

  g_return_if_fail (model->in_stroke);
  if (!model->has_last)
    dab (model, x, y, &x0, &y0, &x1, &y1);
  else
    {
      /* Dabs a quarter radius apart leave no visible gaps. */
      double dx = x - model->last_x, dy = y - model->last_y;
      double spacing = MAX (0.25 * model->radius, 0.5);
      int steps = MAX (1, (int) ceil (hypot (dx, dy) / spacing));
      for (int s = 1; s <= steps; s++)
        dab (model, model->last_x + dx * s / steps, model->last_y + dy * s / steps,
             &x0, &y0, &x1, &y1);
    }
  model->has_last = TRUE;
  model->last_x = x;
  model->last_y = y;

  gboolean empty = x0 >= x1;
  if (changed_x) *changed_x = empty ? 0 : x0;
  if (changed_y) *changed_y = empty ? 0 : y0;
  if (changed_w) *changed_w = empty ? 0 : x1 - x0;
  if (changed_h) *changed_h = empty ? 0 : y1 - y0;
}

void
lisse_mask_model_end_stroke (LisseMaskModel *model)
{
  if (!model->in_stroke)
    return;
  model->in_stroke = FALSE;
  g_clear_pointer (&model->stroke_base, g_free);
  g_clear_pointer (&model->stroke_weight, g_free);
}

gboolean
lisse_mask_model_in_stroke (const LisseMaskModel *model)
{
  return model->in_stroke;
}

void
lisse_mask_model_clear (LisseMaskModel *model)
{
  lisse_mask_model_end_stroke (model);
  push_undo (model);
  memset (model->data, 0, n_pixels (model) * sizeof (float));
}

void
lisse_mask_model_invert (LisseMaskModel *model)
{
  lisse_mask_model_end_stroke (model);
  push_undo (model);
  for (size_t i = 0; i < n_pixels (model); i++)
    model->data[i] = 1.0f - model->data[i];
}

void
lisse_mask_model_set_data (LisseMaskModel *model, const float *values)
{
  lisse_mask_model_end_stroke (model);
  push_undo (model);
  for (size_t i = 0; i < n_pixels (model); i++)
    {
      float v = values[i];
      model->data[i] = isnan (v) ? 0.0f : CLAMP (v, 0.0f, 1.0f);
    }
}

gboolean
lisse_mask_model_undo (LisseMaskModel *model)
{
  lisse_mask_model_end_stroke (model);
  float *previous = g_queue_pop_head (model->undo);
  if (!previous)
    return FALSE;
  g_free (model->data);
  model->data = previous;
  return TRUE;
}

gboolean
lisse_mask_model_can_undo (const LisseMaskModel *model)
{
  return !g_queue_is_empty (model->undo);
}

void
lisse_mask_model_forget_undo (LisseMaskModel *model)
{
  while (!g_queue_is_empty (model->undo))
    g_free (g_queue_pop_head (model->undo));
}

float
lisse_mask_model_sample (const LisseMaskModel *model, double x, double y)
{
  /* Pixel centres sit at +0.5. */
  double fx = CLAMP (x - 0.5, 0.0, model->width - 1.0);
  double fy = CLAMP (y - 0.5, 0.0, model->height - 1.0);
  int ix = MIN ((int) fx, model->width - 1), iy = MIN ((int) fy, model->height - 1);
  int jx = MIN (ix + 1, model->width - 1), jy = MIN (iy + 1, model->height - 1);
  double tx = fx - ix, ty = fy - iy;
  const float *row0 = model->data + (size_t) iy * model->width;
  const float *row1 = model->data + (size_t) jy * model->width;
  double top = row0[ix] + (row0[jx] - row0[ix]) * tx;
  double bottom = row1[ix] + (row1[jx] - row1[ix]) * tx;
  return (float) (top + (bottom - top) * ty);
}

void
lisse_mask_model_resample (const LisseMaskModel *model, int width, int height,
                           int x0, int y0, int w, int h, float *out)
{
  double sx = (double) model->width / width, sy = (double) model->height / height;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      out[(size_t) y * w + x] = lisse_mask_model_sample (model, (x0 + x + 0.5) * sx,
                                                         (y0 + y + 0.5) * sy);
}
