/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Pencil Sketch (Fan et al. 2018, §7.1, after Lu, Xu, Jia 2012 "Combining
 * sketch and tone for pencil drawing production"): the pencil strokes of
 * Lu et al. drawn from the edges of the learned smoothing's output.
 *
 * On the smoothed luma Y (Lu et al. §3.1):
 *   G = |∇Y| (central differences, edges replicated);
 *   for 8 directions θi = iπ/8, Li a line segment of length ℓ through the
 *   origin (ℓ = stroke length × scale, sampled at unit steps with bilinear
 *   weights, normalised to sum 1), Gi = Li ∗ G;
 *   Ci = G where Gi is the largest of the eight, else 0 (each gradient
 *   pixel votes for the direction of the line it lies on);
 *   S' = Σi Li ∗ Ci: every edge pixel drawn as a stroke along its line, so
 *   strokes run a little past corners and ends, as a hand does.
 * Lines P = exp(−k·γ·S'), k the line strength, γ = 6: a step edge of
 * contrast 0.3 draws a mid-gray line (no per-image normalisation, so a
 * preview matches the full result).
 *
 * Tone (Lu et al. §3.2–3.3, pencil-tone.c): Y histogram-matched to a pencil
 * drawing's tone distribution gives J; a procedural pencil texture H laid
 * over it as T = H^β, β fitted so that T follows J.  The drawing is
 * R = P · T^s, s the shading (0: lines only).
 * Graphite: R'=G'=B'=R; coloured pencil (Lu et al. §4): R replaces the
 * smoothed colour's luma, c' = c + (R − Y). */
#include "effect-private.h"
#include "i18n.h"
#include "pencil-tone.h"
#include "lisse-error.h"
#include "effects-all.h"
#include "guided-upsample.h"

#include "ops-basic.h"
#include "threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_DIRECTIONS 8
#define PENCIL_GAMMA 6.0

typedef struct
{
  int   dx, dy;
  float weight;
} Tap;

/* A line segment as a sparse convolution kernel: integer offsets with
 * weights summing to 1. */
typedef struct
{
  Tap *taps;
  int  n;
} LineKernel;

static void
add_tap (GArray *taps, int dx, int dy, float weight)
{
  if (weight <= 0.0f)
    return;
  for (guint i = 0; i < taps->len; i++)
    {
      Tap *t = &g_array_index (taps, Tap, i);
      if (t->dx == dx && t->dy == dy)
        {
          t->weight += weight;
          return;
        }
    }
  Tap t = { dx, dy, weight };
  g_array_append_val (taps, t);
}

/* Samples at unit steps t ∈ [−ℓ/2, ℓ/2] along (cos θ, sin θ), each splatted
 * bilinearly onto its four neighbouring pixels. */
static void
line_kernel (LineKernel *k, double theta, double length)
{
  GArray *taps = g_array_new (FALSE, FALSE, sizeof (Tap));
  const int n = MAX (1, (int) floor (length));
  const double c = cos (theta), s = sin (theta);
  double total = 0.0;
  for (int j = 0; j < n; j++)
    {
      const double t = j - 0.5 * (n - 1);
      const double px = t * c, py = t * s;
      const int x0 = (int) floor (px), y0 = (int) floor (py);
      const double fx = px - x0, fy = py - y0;
      add_tap (taps, x0, y0, (float) ((1 - fx) * (1 - fy)));
      add_tap (taps, x0 + 1, y0, (float) (fx * (1 - fy)));
      add_tap (taps, x0, y0 + 1, (float) ((1 - fx) * fy));
      add_tap (taps, x0 + 1, y0 + 1, (float) (fx * fy));
      total += 1.0;
    }
  for (guint i = 0; i < taps->len; i++)
    g_array_index (taps, Tap, i).weight /= (float) total;
  k->n = (int) taps->len;
  k->taps = (Tap *) g_array_free (taps, FALSE);
}

/* out = k ∗ in, coordinates clamped at the borders.  The plane is padded
 * once (edges replicated by @reach pixels) so the inner loop, one tap over
 * a whole row, has no bounds checks and vectorises. */
/* The largest |dx| or |dy| of any tap: how far convolve() reads outside. */
static int
kernel_reach (const LineKernel *k)
{
  int reach = 0;
  for (int i = 0; i < k->n; i++)
    reach = MAX (reach, MAX (abs (k->taps[i].dx), abs (k->taps[i].dy)));
  return reach;
}

/* @pad: scratch of (w + 2·reach)·(h + 2·reach) floats, reach ≥ kernel_reach (k),
 * allocated once by the caller for all directions. */
static void
convolve (const LineKernel *k, const float *in, float *out, int w, int h, int nt,
          float *pad, int reach)
{
  const int pw = w + 2 * reach, ph = h + 2 * reach;
#pragma omp parallel for num_threads (nt) schedule (static)
  for (int y = 0; y < ph; y++)
    {
      const float *src = in + (size_t) CLAMP (y - reach, 0, h - 1) * w;
      float *dst = pad + (size_t) y * pw;
      for (int x = 0; x < pw; x++)
        dst[x] = src[CLAMP (x - reach, 0, w - 1)];
    }
#pragma omp parallel for num_threads (nt) schedule (static)
  for (int y = 0; y < h; y++)
    {
      float *dst = out + (size_t) y * w;
      for (int x = 0; x < w; x++)
        dst[x] = 0.0f;
      for (int i = 0; i < k->n; i++)
        {
          const float wt = k->taps[i].weight;
          const float *src = pad + (size_t) (y + reach + k->taps[i].dy) * pw + reach + k->taps[i].dx;
          for (int x = 0; x < w; x++)
            dst[x] += wt * src[x];
        }
    }
}

static const LisseParamSpec pencil_params[] = {
  { "lambda-f", "λf", N_("Flattening strength of the smoothing: larger values leave fewer lines"),
    0.1, 10.0, 2.0, FALSE },
  { "stroke-length", N_("Stroke length"), N_("Length of the pencil strokes in pixels"),
    2.0, 40.0, 10.0, FALSE },
  { "line-strength", N_("Line strength"), N_("How dark the lines are"), 0.0, 3.0, 1.0, FALSE },
  { "shading", N_("Shading"), N_("Pencil shading of the tones, with its paper-like texture "
    "(0: lines only)"), 0.0, 1.0, 1.0, FALSE },
};

/* A draft's tone layer: the tone map and the texture's exponent β solved
 * on the luma and texture shrunk f× (the conjugate gradients are most of
 * the effect's own time), β upsampled, T = H^β on the full-size texture.
 * β varies slowly (Lu et al.'s θ‖∇β‖²), so little is lost. */
static gboolean
draft_tone (float *y, float *tex, int w, int h, int f, float *tone, GError **error)
{
  g_autoptr (LisseTensor) y_view = lisse_tensor_new_view (y, 1, 1, h, w);
  g_autoptr (LisseTensor) tex_view = lisse_tensor_new_view (tex, 1, 1, h, w);
  g_autoptr (LisseTensor) y_small = lisse_box_downscale (y_view, f, error);
  g_autoptr (LisseTensor) tex_small = y_small ? lisse_box_downscale (tex_view, f, error) : NULL;
  if (!tex_small)
    return FALSE;
  const int lw = y_small->w, lh = y_small->h;
  g_autoptr (LisseTensor) beta_small = lisse_tensor_try_new (1, 1, lh, lw, error);
  g_autoptr (LisseTensor) j_small = beta_small ? lisse_tensor_try_new (1, 1, lh, lw, error) : NULL;
  if (!j_small
      || !lisse_pencil_tone_map (y_small->data, lw, lh, j_small->data, error)
      || !lisse_pencil_tone_beta (tex_small->data, j_small->data, lw, lh, beta_small->data,
                                  error))
    return FALSE;
  g_autoptr (LisseTensor) beta = lisse_resize_bilinear (beta_small, h, w, FALSE, error);
  if (!beta)
    return FALSE;
  lisse_pencil_tone_apply (tex, beta->data, w, h, tone);
  return TRUE;
}

/* The effect, its smoothing (and tone) drafted at @draft_pixels (0: in
 * full). */
static LisseTensor *
pencil_render (const LisseParams *params, const char *choice, const LisseTensor *image,
               double scale, long draft_pixels, const LisseProgress *progress, GError **error)
{
  const double length = MAX (1.0, lisse_params_get (params, "stroke-length") * scale);
  const double k = lisse_params_get (params, "line-strength");
  const double shading = lisse_params_get (params, "shading");
  LisseTensor *out = lisse_effect_smooth_draft_with ("fan18-smooth", image,
                                                     lisse_params_get (params, "lambda-f"), NAN,
                                                     draft_pixels, progress, error);
  if (!out)
    return NULL;
  lisse_effect_clamp (out);

  const int w = image->w, h = image->h, nc = lisse_effect_n_color (image);
  const size_t plane = lisse_tensor_plane (image);
  const int nt = lisse_threads_get ();
  LineKernel kernels[N_DIRECTIONS];
  int reach = 0;
  for (int d = 0; d < N_DIRECTIONS; d++)
    {
      line_kernel (&kernels[d], G_PI * d / N_DIRECTIONS, length);
      reach = MAX (reach, kernel_reach (&kernels[d]));
    }
  /* Scratch planes with g_try_new: this runs inside GIMP's own process
   * (the GEGL op), where running out of memory must be an error, not an
   * abort. */
  float *y = g_try_new (float, plane);
  float *grad = g_try_new (float, plane);
  float *resp = g_try_new (float, plane);
  guint8 *best = g_try_new (guint8, plane);
  float *best_resp = g_try_new (float, plane);
  float *votes = g_try_new (float, plane);
  float *pad = g_try_new (float, (size_t) (w + 2 * reach) * (h + 2 * reach));
  if (!y || !grad || !resp || !best || !best_resp || !votes || !pad)
    {
      for (int d = 0; d < N_DIRECTIONS; d++)
        g_free (kernels[d].taps);
      g_free (y); g_free (grad); g_free (resp); g_free (best); g_free (best_resp);
      g_free (votes); g_free (pad);
      lisse_tensor_free (out);
      lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY,
                  "Pencil Sketch: not enough memory for a %d×%d image", w, h);
      return NULL;
    }
  lisse_effect_luma (out, y);
#pragma omp parallel for num_threads (nt) schedule (static)
  for (int r = 0; r < h; r++)
    for (int x = 0; x < w; x++)
      {
        const float dx = 0.5f * (y[(size_t) r * w + MIN (x + 1, w - 1)] - y[(size_t) r * w + MAX (x - 1, 0)]);
        const float dy = 0.5f * (y[(size_t) MIN (r + 1, h - 1) * w + x] - y[(size_t) MAX (r - 1, 0) * w + x]);
        grad[(size_t) r * w + x] = sqrtf (dx * dx + dy * dy);
      }

  /* Classification: the direction whose line response is largest.  Ties
   * go to the lowest index, the same whichever thread looks. */
  for (int d = 0; d < N_DIRECTIONS; d++)
    {
      convolve (&kernels[d], grad, resp, w, h, nt, pad, reach);
      for (size_t i = 0; i < plane; i++)
        if (d == 0 || resp[i] > best_resp[i])
          {
            best_resp[i] = resp[i];
            best[i] = (guint8) d;
          }
    }
  float *sketch = best_resp;   /* reused: the sum of strokes */
  memset (sketch, 0, plane * sizeof (float));
  for (int d = 0; d < N_DIRECTIONS; d++)
    {
      for (size_t i = 0; i < plane; i++)
        votes[i] = best[i] == d ? grad[i] : 0.0f;
      convolve (&kernels[d], votes, resp, w, h, nt, pad, reach);
      for (size_t i = 0; i < plane; i++)
        sketch[i] += resp[i];
    }

  /* The tone layer T (grad, votes and resp are free again). */
  float *tone = grad;
  gboolean ok = TRUE;
  if (shading > 0.0)
    {
      lisse_pencil_texture (w, h, scale, votes);
      const int f = lisse_effect_draft_factor (w, h, draft_pixels);
      ok = f > 1 ? draft_tone (y, votes, w, h, f, tone, error)
                 : lisse_pencil_tone_map (y, w, h, resp, error)
                   && lisse_pencil_tone_render (votes, resp, w, h, tone, error);
    }

  const gboolean colour = g_str_equal (choice, "colour");
  for (size_t i = 0; ok && i < plane; i++)
    {
      float drawing = expf ((float) (-k * PENCIL_GAMMA) * sketch[i]);
      if (shading > 0.0)
        drawing *= powf (tone[i], (float) shading);
      for (int c = 0; c < nc; c++)
        {
          float *p = lisse_tensor_channel (out, 0, c) + i;
          *p = colour ? *p + (drawing - y[i]) : drawing;
        }
    }
  for (int d = 0; d < N_DIRECTIONS; d++)
    g_free (kernels[d].taps);
  g_free (pad);
  g_free (votes);
  g_free (sketch);
  g_free (best);
  g_free (resp);
  g_free (grad);
  g_free (y);
  if (!ok)
    {
      lisse_tensor_free (out);
      return NULL;
    }
  lisse_effect_clamp (out);
  return out;
}

static LisseTensor *
pencil_run (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
            const LisseParams *params, const char *choice, double scale,
            const LisseProgress *progress, GError **error)
{
  return pencil_render (params, choice, image, scale, 0, progress, error);
}

/* Strokes and the pencil texture are drawn pixel by pixel: at full size on
 * the drafted smoothing, not shrunk with it (draft.c). */
static LisseTensor *
pencil_draft (const LisseEffectInfo *info, const LisseTensor *image, const LisseTensor *aux,
              const LisseParams *params, const char *choice, double scale, long max_pixels,
              const LisseProgress *progress, GError **error)
{
  return pencil_render (params, choice, image, scale, max_pixels, progress, error);
}

const LisseEffectInfo lisse_effect_pencil_sketch = {
  .name = "pencil-sketch",
  .title = N_("Pencil Sketch"),
  .blurb = N_("Pencil drawing of the image's main edges, in graphite or coloured pencil"),
  .reference = "Fan et al. 2018, §7.1; Lu, Xu, Jia 2012",
  .params = pencil_params,
  .n_params = G_N_ELEMENTS (pencil_params),
  .choice = {
    .name = "style",
    .label = N_("Style"),
    .blurb = N_("Graphite (gray) or coloured pencil (the drawing as the brightness of the smoothed colours)"),
    .values = {
      { "gray", N_("Graphite") },
      { "colour", N_("Coloured pencil") },
    },
    .def = 0,
  },
  .aux = LISSE_EFFECT_AUX_NONE,
  .aux_label = NULL,
  .aux_required = FALSE,
  .run = pencil_run,
  .draft = pencil_draft,
  /* Peak memory, input and result included, in float planes (tools/bench/memory-cost, a
   * quarter added): as Smooth: the network's peak is the run's. */
  .memory = { 400.0, 10.0, 3.0 },
};
