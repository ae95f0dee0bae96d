/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * "plain-cnn": a generic test architecture, not a network from any paper.
 * It exists so that the model loading, tiling and command-line paths can be
 * exercised (and checked against a NumPy reference) with small random
 * weights before, and independently of, the papers' networks.
 *
 * Model file:
 *   metadata "architecture" = "plain-cnn"
 *   metadata "layers"       = L, 1 … PLAIN_MAX_LAYERS
 *   metadata "dilations"    = "d0,d1,…" (optional; L values, each
 *                             1 … PLAIN_MAX_DILATION; default all 1)
 *   tensors "convK.weight" [Cout, Cin, 3, 3] and "convK.bias" [Cout],
 *   K = 0 … L−1, channels 3 → F → … → F → 3 (F from conv0.weight; L = 1 is
 *   a single 3 → 3 convolution).
 * Forward: x → conv0 → ReLU → conv1 → ReLU → … → conv(L−1), out = x + that:
 * zero padding, "same" size (padding = dilation), stride 1.
 * Receptive radius = Σ dilations.
 */
#include "net.h"
#include "nets-all.h"
#include "lisse-error.h"
#include "model.h"
#include "ops-basic.h"
#include "ops-conv.h"

#include <stdlib.h>
#include <string.h>

#define PLAIN_MAX_LAYERS   256
#define PLAIN_MAX_DILATION 4096
#define PLAIN_MAX_WIDTH    1024

typedef struct
{
  LisseNet      base;
  int           layers;
  int          *dilations;
  LisseTensor **weights;   /* may view the model file: read-only */
  LisseTensor **biases;
} PlainCnn;

static void
plain_free (LisseNet *net)
{
  PlainCnn *p = (PlainCnn *) net;
  lisse_net_free_layers (p->weights, p->biases, p->layers);
  g_free (p->dilations);
  g_free (p);
}

/* "1,2,4": exactly @n whole numbers in range, nothing else (no spaces, no
 * signs, no empty fields). */
static gboolean
parse_dilations (const char *text, int n, int *out, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  if ((int) g_strv_length (parts) != n)
    return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "plain-cnn: metadata 'dilations' has %u values for %d layers",
                      g_strv_length (parts), n);
  for (int k = 0; k < n; k++)
    {
      const char *s = parts[k];
      size_t len = strlen (s);
      if (len == 0 || len > 9 || strspn (s, "0123456789") != len)
        return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "plain-cnn: metadata 'dilations': '%.20s' is not a "
                          "whole number", s);
      long v = strtol (s, NULL, 10);
      if (v < 1 || v > PLAIN_MAX_DILATION)
        return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "plain-cnn: metadata 'dilations': %ld is out of range "
                          "[1, %d]", v, PLAIN_MAX_DILATION);
      out[k] = (int) v;
    }
  return TRUE;
}

static LisseNet *
plain_load (LisseSafetensors *st, GError **error)
{
  int layers;
  if (!lisse_model_get_metadata_int (st, "layers", &layers, error))
    return NULL;
  if (layers < 1 || layers > PLAIN_MAX_LAYERS)
    {
      lisse_fail (error, LISSE_ERROR_BAD_MODEL, "plain-cnn: metadata 'layers' = %d is out of range [1, %d]",
                 layers, PLAIN_MAX_LAYERS);
      return NULL;
    }

  PlainCnn *p = g_new0 (PlainCnn, 1);
  p->layers = layers;
  p->dilations = g_new (int, layers);
  const char *dil = lisse_safetensors_get_metadata (st, "dilations");
  if (dil)
    {
      if (!parse_dilations (dil, layers, p->dilations, error))
        goto fail;
    }
  else
    for (int k = 0; k < layers; k++)
      p->dilations[k] = 1;

  /* The width F is whatever conv0 produces; when conv0.weight is missing or
   * malformed the check below names the problem, so any guess does here. */
  int width = 3;
  if (layers > 1)
    {
      const LisseSafetensorsEntry *e = lisse_safetensors_lookup (st, "conv0.weight");
      width = e && e->rank == 4 ? e->shape[0] : -1;
      if (width > PLAIN_MAX_WIDTH)
        {
          lisse_fail (error, LISSE_ERROR_BAD_MODEL, "plain-cnn: width %d is above the supported %d",
                     width, PLAIN_MAX_WIDTH);
          goto fail;
        }
    }

  {
    g_autofree LisseTensorSpec *specs = g_new0 (LisseTensorSpec, 2 * layers);
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    for (int k = 0; k < layers; k++)
      {
        int cin = k == 0 ? 3 : width;
        int cout = k == layers - 1 ? 3 : width;
        char *w = g_strdup_printf ("conv%d.weight", k);
        char *b = g_strdup_printf ("conv%d.bias", k);
        g_ptr_array_add (names, w);
        g_ptr_array_add (names, b);
        specs[2 * k] = (LisseTensorSpec) { w, 4, { cout, cin, 3, 3 } };
        specs[2 * k + 1] = (LisseTensorSpec) { b, 1, { cout, 0, 0, 0 } };
      }
    if (!lisse_model_check_tensors (st, specs, 2 * layers, error))
      goto fail;

    p->weights = g_new0 (LisseTensor *, layers);
    p->biases = g_new0 (LisseTensor *, layers);
    for (int k = 0; k < layers; k++)
      {
        p->weights[k] = lisse_safetensors_get_tensor (st, specs[2 * k].name, error);
        if (!p->weights[k])
          goto fail;
        p->biases[k] = lisse_safetensors_get_tensor (st, specs[2 * k + 1].name, error);
        if (!p->biases[k])
          goto fail;
      }
  }

  int radius = 0;
  for (int k = 0; k < layers; k++)
    radius += p->dilations[k];   /* ≤ 256 · 4096: no overflow */
  p->base.receptive_radius = radius;
  return &p->base;

fail:
  plain_free (&p->base);
  return NULL;
}

static LisseTensor *
plain_forward (const LisseNet *net, const LisseTensor *rgb, const LisseParams *params,
               const LisseTensor *param_map, const LisseProgress *progress,
               GError **error)
{
  const PlainCnn *p = (const PlainCnn *) net;
  LisseTensor *x = NULL;
  for (int k = 0; k < p->layers; k++)
    {
      LisseConv2dGeom geom = lisse_conv2d_geom (1, p->dilations[k], p->dilations[k], 1);
      geom.bf16 = net->bf16;
      LisseTensor *y = lisse_conv2d (k == 0 ? rgb : x, p->weights[k], p->biases[k],
                                     &geom, error);
      lisse_tensor_free (x);
      x = y;
      if (!x)
        return NULL;
      if (k + 1 < p->layers)
        lisse_relu_inplace (x);
      if (!lisse_progress_report (progress, (double) (k + 1) / p->layers, error))
        {
          lisse_tensor_free (x);
          return NULL;
        }
    }
  if (!lisse_add_inplace (x, rgb, error))
    {
      lisse_tensor_free (x);
      return NULL;
    }
  return x;
}

const LisseNetInfo lisse_net_plain_cnn = {
  .architecture = "plain-cnn",
  .title = "Plain residual CNN (generic test architecture)",
  .reference = "not from a paper: 3×3 convolutions with ReLU and a residual "
               "connection, for testing the engine with arbitrary weights",
  .params = NULL,
  .n_params = 0,
  .n_map_channels = 0,
  .receptive_radius = LISSE_NET_RADIUS_FROM_MODEL,
  .multiple = 1,
  .load = plain_load,
  .free = plain_free,
  .forward = plain_forward,
};
