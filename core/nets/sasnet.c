/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * "sasnet": the scale-aware invertible smoothing network of Li, Qin, Xu,
 * Ji, "Deep Scale-Aware Image Smoothing" (SASNet, ICASSP 2022, §2, Fig. 1),
 * as the PyTorch twin training/lisse_train/sasnet_model.py defines it.
 *
 * Model file (training/lisse_train/sasnet_export.py writes it):
 *   metadata "architecture" = "sasnet"; "width" F (1 … SASNET_MAX_WIDTH),
 *     "n_blocks" L (1 … SASNET_MAX_BLOCKS), "ca_window" k (odd, 1 …
 *     SASNET_MAX_WINDOW), "ca_hidden" h (1 … SASNET_MAX_WIDTH), "clamp"
 *     (0 < clamp ≤ SASNET_MAX_CLAMP): required;
 *   optional metadata, checked when present: "receptive_radius" (must equal
 *     the radius computed below), "noise" = "zero" (the detail latent this
 *     file was made to run with), "colour_encoding" = "srgb-nonlinear-0-1";
 *   tensors, for l < L and j = 1, 2, 3, prefix P = "b{l}.g{j}", with
 *   (Cin, Cout) = (9, 3) for g1 and (3, 9) for g2 and g3, each conv with
 *   ".weight" and ".bias":
 *     P.conv_in   [F, Cin, 3, 3]
 *     P.conv_1    [F, F, 3, 3]
 *     P.conv_2    [F, F, 3, 3]
 *     P.conv_out  [Cout, F, 3, 3]
 *     P.ca.fc1    [h, F, 1, 1]
 *     P.ca.fc2    [F, h, 1, 1]
 *     P.sa        [1, 2, 7, 7]   (input 0 the channel mean, 1 the max)
 *   and nothing else.
 *
 * Forward (exactly the twin's; every 3×3 convolution pads with zeros):
 *   the size rule: where H or W is odd, one row at the bottom / column at
 *   the right is added by repeating the last one; the output is cropped
 *   back (the tiling argument is fan18.c's: crops start at even
 *   coordinates, so the rule fires only where the image itself ends);
 *   [a1, a2] = Haar(x) with IRN's scaling (haar.c): a1 the 2×2 means
 *   (3 channels), a2 the detail bands (9), at half resolution;
 *   for l = 0 … L−1:  a1 += g1(a2);  a2 = a2 · e^{s(g2(a1))} + g3(a1)
 *   then the detail latent is replaced by zero and the blocks are undone:
 *   a2 = 0;
 *   for l = L−1 … 0:  a2 = (a2 − g3(a1)) · e^{−s(g2(a1))};  a1 −= g1(a2)
 *   y = Haar⁻¹([a1, a2]);
 *   s(u) = clamp · (2σ(u) − 1);
 *   g(u) = conv_out(h + SA(CA(conv_2(ReLU(conv_1 h))))),  h = ReLU(conv_in u)
 *   CA(r) = r · σ(fc2(ReLU(fc1(avgpool_k r))) + fc2(ReLU(fc1(maxpool_k r))))
 *     with k×k windows at stride 1, the image border not counted;
 *   SA(r) = r · σ(sa([mean_c r, max_c r])), 7×7 (attention.c).
 * No parameters: strength is the effect's business (remove-texture.c).
 *
 * Receptive radius (sasnet_model.receptive_field_radius): one g reaches
 * r_g = 3 + k/2 + 3 + 1 half-resolution pixels; every coupling applies two
 * g in sequence, forward and inverse, so R = 2 · (4 · L · r_g) + 1 at full
 * resolution.  Alignment 2 (the Haar pair).
 *
 * Memory: a1 (3 channels) and a2 (9) at a quarter of the pixels, plus one
 * g at a time: its input, h, r and the attention's pooled maps, about
 * 4 F + 2 h floats per half-resolution pixel.
 */
#include "net.h"
#include "nets-all.h"
#include "lisse-error.h"
#include "model.h"
#include "ops-basic.h"
#include "ops-conv.h"

#include <math.h>
#include <string.h>

#define SASNET_MAX_WIDTH  1024
#define SASNET_MAX_BLOCKS 64     /* the paper's L is 16 */
#define SASNET_MAX_WINDOW 63
#define SASNET_MAX_CLAMP  10.0
#define SASNET_SA_KERNEL  7
/* Tiles: the halo is wide (353 px for L = 4, k = 9) and the features are at
 * half resolution, so larger cores than the default pay off. */
#define SASNET_TILE       1024

enum { CONV_IN, CONV_1, CONV_2, CONV_OUT, FC1, FC2, SA, N_PARTS };
static const char *const part_names[N_PARTS] = {
  "conv_in", "conv_1", "conv_2", "conv_out", "ca.fc1", "ca.fc2", "sa"
};

typedef struct
{
  LisseTensor *w[N_PARTS];
  LisseTensor *b[N_PARTS];
  int          cin, cout;
} CouplingFn;

typedef struct
{
  LisseNet  base;
  int       width, n_blocks, ca_window, ca_hidden;
  float     clamp;
  CouplingFn    *g;            /* 3 · n_blocks: b{l}.g1, .g2, .g3 */
  double    g_macs[3];    /* multiply-adds per half-resolution pixel of g1, g2, g3 */
} Sasnet;

static int
g_radius (int ca_window)
{
  return 3 + ca_window / 2 + SASNET_SA_KERNEL / 2 + 1;
}

static int
sasnet_radius (int n_blocks, int ca_window)
{
  return 2 * (4 * n_blocks * g_radius (ca_window)) + 1;
}

static void
part_shape (const Sasnet *p, int j, int part, int dims[4])
{
  const int f = p->width, h = p->ca_hidden;
  const int cin = j == 0 ? 9 : 3, cout = j == 0 ? 3 : 9;
  const int shapes[N_PARTS][4] = {
    [CONV_IN] = { f, cin, 3, 3 },   [CONV_1] = { f, f, 3, 3 },
    [CONV_2] = { f, f, 3, 3 },      [CONV_OUT] = { cout, f, 3, 3 },
    [FC1] = { h, f, 1, 1 },         [FC2] = { f, h, 1, 1 },
    [SA] = { 1, 2, SASNET_SA_KERNEL, SASNET_SA_KERNEL },
  };
  memcpy (dims, shapes[part], sizeof shapes[part]);
}

static void
sasnet_free (LisseNet *net)
{
  Sasnet *p = (Sasnet *) net;
  if (p->g)
    for (int i = 0; i < 3 * p->n_blocks; i++)
      for (int k = 0; k < N_PARTS; k++)
        {
          lisse_tensor_free (p->g[i].w[k]);
          lisse_tensor_free (p->g[i].b[k]);
        }
  g_free (p->g);
  g_free (p);
}

static LisseNet *
sasnet_load (LisseSafetensors *st, GError **error)
{
  int width, n_blocks, ca_window, ca_hidden;
  double clamp;
  if (!lisse_model_get_metadata_int_in (st, "sasnet", "width", 1, SASNET_MAX_WIDTH, &width, error)
      || !lisse_model_get_metadata_int_in (st, "sasnet", "n_blocks", 1, SASNET_MAX_BLOCKS, &n_blocks, error)
      || !lisse_model_get_metadata_int_in (st, "sasnet", "ca_window", 1, SASNET_MAX_WINDOW, &ca_window, error)
      || !lisse_model_get_metadata_int_in (st, "sasnet", "ca_hidden", 1, SASNET_MAX_WIDTH, &ca_hidden, error)
      || !lisse_model_check_metadata_value (st, "sasnet", "noise", "zero", error)
      || !lisse_model_check_metadata_value (st, "sasnet", "colour_encoding", "srgb-nonlinear-0-1", error))
    return NULL;
  if (ca_window % 2 == 0)
    {
      lisse_fail (error, LISSE_ERROR_BAD_MODEL, "sasnet: metadata 'ca_window' = %d must be odd",
                  ca_window);
      return NULL;
    }
  {
    GError *local = NULL;
    if (!lisse_model_get_metadata_double (st, "clamp", &clamp, &local))
      {
        lisse_fail (error, LISSE_ERROR_BAD_MODEL, "sasnet: %s", local->message);
        g_error_free (local);
        return NULL;
      }
  }
  if (!(clamp > 0.0 && clamp <= SASNET_MAX_CLAMP))
    {
      lisse_fail (error, LISSE_ERROR_BAD_MODEL, "sasnet: metadata 'clamp' = %g is out of "
                  "range (0, %g]", clamp, SASNET_MAX_CLAMP);
      return NULL;
    }
  const int radius = sasnet_radius (n_blocks, ca_window);
  if (lisse_safetensors_get_metadata (st, "receptive_radius"))
    {
      int declared;
      GError *local = NULL;
      if (!lisse_model_get_metadata_int (st, "receptive_radius", &declared, &local))
        {
          lisse_fail (error, LISSE_ERROR_BAD_MODEL, "sasnet: %s", local->message);
          g_error_free (local);
          return NULL;
        }
      if (declared != radius)
        {
          lisse_fail (error, LISSE_ERROR_BAD_MODEL, "sasnet: metadata 'receptive_radius' = %d, "
                      "but n_blocks %d and ca_window %d give %d", declared, n_blocks,
                      ca_window, radius);
          return NULL;
        }
    }

  Sasnet *p = g_new0 (Sasnet, 1);
  p->width = width;
  p->n_blocks = n_blocks;
  p->ca_window = ca_window;
  p->ca_hidden = ca_hidden;
  p->clamp = (float) clamp;

  {
    const int n_g = 3 * n_blocks, n = 2 * N_PARTS * n_g;
    g_autofree LisseTensorSpec *specs = g_new0 (LisseTensorSpec, n);
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    for (int i = 0; i < n_g; i++)
      for (int k = 0; k < N_PARTS; k++)
        {
          LisseTensorSpec *s = &specs[2 * (N_PARTS * i + k)];
          char *w = g_strdup_printf ("b%d.g%d.%s.weight", i / 3, i % 3 + 1, part_names[k]);
          char *b = g_strdup_printf ("b%d.g%d.%s.bias", i / 3, i % 3 + 1, part_names[k]);
          g_ptr_array_add (names, w);
          g_ptr_array_add (names, b);
          s[0] = (LisseTensorSpec) { w, 4, { 0 } };
          part_shape (p, i % 3, k, s[0].dims);
          s[1] = (LisseTensorSpec) { b, 1, { s[0].dims[0], 0, 0, 0 } };
        }
    if (!lisse_model_check_tensors (st, specs, n, error))
      goto fail;
    p->g = g_new0 (CouplingFn, 3 * (guint) n_blocks);
    for (int i = 0; i < n_g; i++)
      {
        p->g[i].cin = i % 3 == 0 ? 9 : 3;
        p->g[i].cout = i % 3 == 0 ? 3 : 9;
        for (int k = 0; k < N_PARTS; k++)
          {
            const LisseTensorSpec *s = &specs[2 * (N_PARTS * i + k)];
            if (!(p->g[i].w[k] = lisse_safetensors_get_tensor (st, s[0].name, error))
                || !(p->g[i].b[k] = lisse_safetensors_get_tensor (st, s[1].name, error)))
              goto fail;
          }
      }
  }
  for (int j = 0; j < 3; j++)
    {
      double m = 0;
      for (int k = 0; k < N_PARTS; k++)
        {
          int d[4];
          part_shape (p, j, k, d);
          m += (double) d[0] * d[1] * d[2] * d[3];
        }
      p->g_macs[j] = m;
    }

  p->base.receptive_radius = radius;
  return &p->base;

fail:
  sasnet_free (&p->base);
  return NULL;
}

/* ---- forward ------------------------------------------------------------ */

typedef struct
{
  const Sasnet        *p;
  const LisseProgress *progress;
  double               done, total;
} Runner;

static LisseTensor *
conv (const Sasnet *p, const CouplingFn *g, int part, const LisseTensor *x, gboolean relu,
      GError **error)
{
  const int k = g->w[part]->h;
  LisseConv2dGeom geom = lisse_conv2d_geom (1, k / 2, 1, 1);
  geom.bf16 = p->base.bf16;
  return (relu ? lisse_conv2d_relu : lisse_conv2d) (x, g->w[part], g->b[part], &geom, error);
}

/* The channel attention's bottleneck on one pooled map. */
static LisseTensor *
ca_mlp (const Sasnet *p, const CouplingFn *g, LisseTensor *pooled, GError **error)
{
  LisseTensor *t = pooled ? conv (p, g, FC1, pooled, TRUE, error) : NULL;
  lisse_tensor_free (pooled);
  LisseTensor *u = t ? conv (p, g, FC2, t, FALSE, error) : NULL;
  lisse_tensor_free (t);
  return u;
}

/* CA then SA on @r (consumed); returns the attended features. */
static LisseTensor *
attend (const Sasnet *p, const CouplingFn *g, LisseTensor *r, GError **error)
{
  const int k = p->ca_window;
  LisseTensor *att = ca_mlp (p, g, lisse_avg_pool2d (r, k, 1, k / 2, FALSE, error), error);
  LisseTensor *mx = att ? ca_mlp (p, g, lisse_max_pool2d (r, k, 1, k / 2, error), error) : NULL;
  gboolean ok = mx && lisse_add_inplace (att, mx, error);
  lisse_tensor_free (mx);
  if (ok)
    {
      lisse_sigmoid_inplace (att);
      ok = lisse_mul_inplace (r, att, error);
    }
  lisse_tensor_free (att);
  LisseTensor *out = ok ? lisse_cbam_spatial_attention (r, g->w[SA]->data, g->b[SA]->data,
                                                         SASNET_SA_KERNEL, error) : NULL;
  lisse_tensor_free (r);
  return out;
}

/* g number @j (0, 1, 2 for g1, g2, g3) of block @l on @u. */
static LisseTensor *
run_g (Runner *run, int l, int j, const LisseTensor *u, GError **error)
{
  const Sasnet *p = run->p;
  const CouplingFn *g = &p->g[3 * l + j];
  LisseTensor *h = conv (p, g, CONV_IN, u, TRUE, error);
  LisseTensor *r = h ? conv (p, g, CONV_1, h, TRUE, error) : NULL;
  LisseTensor *r2 = r ? conv (p, g, CONV_2, r, FALSE, error) : NULL;
  lisse_tensor_free (r);
  r2 = r2 ? attend (p, g, r2, error) : NULL;
  LisseTensor *out = NULL;
  if (r2 && lisse_add_inplace (h, r2, error))
    out = conv (p, g, CONV_OUT, h, FALSE, error);
  lisse_tensor_free (r2);
  lisse_tensor_free (h);
  if (!out)
    return NULL;
  run->done += p->g_macs[j] * u->h * u->w;
  if (!lisse_progress_report (run->progress, run->done / run->total, error))
    g_clear_pointer (&out, lisse_tensor_free);
  return out;
}

/* e^{sign · s(g2(a1))}, s(u) = clamp · (2σ(u) − 1). */
static LisseTensor *
run_scale (Runner *run, int l, const LisseTensor *a1, float sign, GError **error)
{
  LisseTensor *t = run_g (run, l, 1, a1, error);
  if (!t)
    return NULL;
  lisse_sigmoid_inplace (t);
  const float c = sign * run->p->clamp;
  const size_t n = lisse_tensor_numel (t);
  for (size_t i = 0; i < n; i++)
    t->data[i] = c * (2.0f * t->data[i] - 1.0f);
  lisse_exp_inplace (t);
  return t;
}

/* a ← a + sign · g_j(u). */
static gboolean
add_g (Runner *run, int l, int j, LisseTensor *a, const LisseTensor *u, float sign,
       GError **error)
{
  LisseTensor *t = run_g (run, l, j, u, error);
  if (!t)
    return FALSE;
  if (sign < 0)
    {
      const size_t n = lisse_tensor_numel (t);
      for (size_t i = 0; i < n; i++)
        t->data[i] = -t->data[i];
    }
  gboolean ok = lisse_add_inplace (a, t, error);
  lisse_tensor_free (t);
  return ok;
}

/* The size rule: @x with its last row / column repeated where H / W is
 * odd (a copy either way). */
static LisseTensor *
pad_to_even (const LisseTensor *x, GError **error)
{
  const int h = x->h, w = x->w, hp = h + h % 2, wp = w + w % 2;
  LisseTensor *out = lisse_tensor_try_new_uninit (1, x->c, hp, wp, error);
  if (!out)
    return NULL;
  for (int c = 0; c < x->c; c++)
    for (int y = 0; y < hp; y++)
      {
        const float *s = lisse_tensor_channel (x, 0, c) + (size_t) MIN (y, h - 1) * w;
        float *d = lisse_tensor_channel (out, 0, c) + (size_t) y * wp;
        memcpy (d, s, (size_t) w * sizeof (float));
        if (wp > w)
          d[w] = d[w - 1];
      }
  return out;
}

static LisseTensor *
sasnet_forward (const LisseNet *net, const LisseTensor *rgb, const LisseParams *params,
                const LisseTensor *param_map, const LisseProgress *progress, GError **error)
{
  (void) params; (void) param_map;
  const Sasnet *p = (const Sasnet *) net;
  LisseTensor *x = pad_to_even (rgb, error);
  if (!x)
    return NULL;
  Runner run = { p, progress, 0, 0 };
  run.total = 2.0 * p->n_blocks * (p->g_macs[0] + p->g_macs[1] + p->g_macs[2])
              * (x->h / 2) * (x->w / 2);

  LisseTensor *a = lisse_haar_forward (x, LISSE_HAAR_IRN, error);
  lisse_tensor_free (x);
  LisseTensor *a1 = a ? lisse_channel_slice (a, 0, 3, error) : NULL;
  LisseTensor *a2 = a1 ? lisse_channel_slice (a, 3, 9, error) : NULL;
  LisseTensor *s = NULL, *y = NULL, *out = NULL;
  lisse_tensor_free (a);
  if (!a2)
    goto done;

  /* f: the coarse structure a1 and the detail latent a2. */
  for (int l = 0; l < p->n_blocks; l++)
    {
      if (!add_g (&run, l, 0, a1, a2, 1.0f, error)
          || !(s = run_scale (&run, l, a1, 1.0f, error))
          || !lisse_mul_inplace (a2, s, error)
          || !add_g (&run, l, 2, a2, a1, 1.0f, error))
        goto done;
      g_clear_pointer (&s, lisse_tensor_free);
    }

  /* f⁻¹ with the latent replaced by zero. */
  lisse_tensor_fill (a2, 0.0f);
  for (int l = p->n_blocks - 1; l >= 0; l--)
    {
      if (!add_g (&run, l, 2, a2, a1, -1.0f, error)
          || !(s = run_scale (&run, l, a1, -1.0f, error))
          || !lisse_mul_inplace (a2, s, error)
          || !add_g (&run, l, 0, a1, a2, -1.0f, error))
        goto done;
      g_clear_pointer (&s, lisse_tensor_free);
    }

  {
    const LisseTensor *parts[2] = { a1, a2 };
    LisseTensor *cat = lisse_concat_channels (parts, 2, error);
    y = cat ? lisse_haar_inverse (cat, LISSE_HAAR_IRN, error) : NULL;
    lisse_tensor_free (cat);
  }
  if (!y)
    goto done;
  if (y->h == rgb->h && y->w == rgb->w)
    {
      out = y;
      y = NULL;
    }
  else if ((out = lisse_tensor_try_new_uninit (1, 3, rgb->h, rgb->w, error)))
    lisse_tensor_copy_rect (y, 0, 0, out, 0, 0, rgb->w, rgb->h);

done:
  lisse_tensor_free (s);
  lisse_tensor_free (a1);
  lisse_tensor_free (a2);
  lisse_tensor_free (y);
  return out;
}

const LisseNetInfo lisse_net_sasnet = {
  .architecture = "sasnet",
  .title = "SASNet scale-aware invertible smoothing network",
  .reference = "Li, Qin, Xu, Ji: Deep Scale-Aware Image Smoothing, ICASSP 2022",
  .params = NULL,
  .n_params = 0,
  .n_map_channels = 0,
  .receptive_radius = LISSE_NET_RADIUS_FROM_MODEL,
  .multiple = 2,
  .default_tile = SASNET_TILE,
  .load = sasnet_load,
  .free = sasnet_free,
  .forward = sasnet_forward,
};
