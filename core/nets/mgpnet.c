/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * "mgpnet": the multi-scale global perception network of He, Quan, Xu, Xu,
 * "Image Smoothing via Multiscale Global Perception" (MGPNet, §II, Fig. 2),
 * as the PyTorch twin training/lisse_train/mgpnet_model.py defines it.
 *
 * Model file (training/lisse_train/mgpnet_export.py writes it):
 *   metadata "architecture" = "mgpnet"; "width1", "width2", "width3"
 *     (C1, C2, C3) and "in_feat" F (1 … MGPNET_MAX_WIDTH each), "block1",
 *     "block2", "block3" (b1, b2, b3) and "grid" d (1 … MGPNET_MAX_GROUP),
 *     "n_pairs" (1 … MGPNET_MAX_PAIRS), "multiple" M (1 … MGPNET_MAX_MULTIPLE,
 *     divisible by 2^(t−1)·b_t and by 2^(t−1)·d for t = 1, 2, 3): required;
 *   optional metadata, checked when present: "colour_encoding" =
 *     "srgb-nonlinear-0-1";
 *   tensors, each conv "NAME.weight" [Cout, Cin, k, k] and "NAME.bias"
 *   [Cout], each LayerNorm "NAME.weight" and "NAME.bias" [C], in the order
 *   of mgpnet_model.tensor_shapes():
 *     stage eb1 (Cin 3, C1, b1)
 *     in2 [F, 3, 3, 3], down1 [C1, C1, 2, 2]
 *     stage eb2 (F + C1, C2, b2)
 *     in3 [F, 3, 3, 3], down2 [C2, C2, 2, 2]
 *     stage eb3 (F + C2, C3, b3)
 *     fuse1_a [C1, C1+C2+C3, 1, 1], fuse1_b [C1, C1, 3, 3]
 *     fuse2_a [C2, C1+C2+C3, 1, 1], fuse2_b [C2, C2, 3, 3]
 *     stage db3 (C3, C3, b3)
 *     up3.weight [C3, C2, 2, 2] (ConvTranspose2d: [Cin, Cout, k, k]), up3.bias [C2]
 *     stage db2 (2 C2, C2, b2)
 *     up2.weight [C2, C1, 2, 2], up2.bias [C1]
 *     stage db1 (2 C1, C1, b1)
 *     out1 [3, C1, 3, 3], out2 [3, C2, 3, 3], out3 [3, C3, 3, 3]
 *   where stage P (Cin, C, b) is P.proj [C, Cin, 1, 1] and, for i < n_pairs,
 *   G = P.layers.{2i} (a GPB) and R = P.layers.{2i+1} (an RCAB):
 *     G.norm (LN, C), G.fc_in [2C, C, 1, 1],
 *     G.grid_branch (gMLP, C, d), G.block_branch (gMLP, C, b),
 *     G.fc_out [C, 2C, 1, 1],
 *     R.norm (LN, C), R.conv1, R.conv2 [C, C, 3, 3],
 *     R.fc1 [C/4, C, 1, 1], R.fc2 [C, C/4, 1, 1]   (C/4 at least 1)
 *   and gMLP Q (C, s): Q.norm (LN, C), Q.fc_in [2C, C, 1, 1],
 *     Q.gate_norm (LN, C), Q.spatial.weight [s², s²] (nn.Linear: [out, in]),
 *     Q.spatial.bias [s²], Q.fc_out [C, C, 1, 1];
 *   and nothing else.  out2 and out3 give the training loss's half- and
 *   quarter-size outputs: checked, never run.
 *
 * Forward (exactly the twin's; 3×3 convolutions pad 1 with zeros, 1×1 and
 * the 2×2 stride-2 ones do not pad):
 *   the size rule: x is padded at the bottom / right to the next multiple
 *   of M by reflection (index i ↦ i mod 2(n − 1), mirrored past n − 1;
 *   n = 1 ↦ 0, so images smaller than the padding repeat it), the result
 *   cropped back;
 *   y1 = x, y2 = avgpool2(y1), y3 = avgpool2(y2)
 *   e1 = EB1(y1)
 *   e2 = EB2(cat(in2(y2), down1(e1)))
 *   e3 = EB3(cat(in3(y3), down2(e2)))
 *   m_t = fuse_t_b(fuse_t_a(cat(resize_t(e1), resize_t(e2), resize_t(e3))))
 *     for t = 1, 2, resize_t: 2×2 / 4×4 average pooling down, bilinear
 *     (align_corners false) ×2 / ×4 up;
 *   d3 = DB3(e3);  d2 = DB2(cat(m2, up3(d3)));  d1 = DB1(cat(m1, up2(d2)))
 *   result y1 + out1(d1)  (out2, out3 and the two coarse results are
 *   training-only);
 *   stage(u) = h + pairs(h), h = proj(u), pairs: [GPB, RCAB] × n_pairs;
 *   GPB(x) = x + fc_out(cat(gMLP_grid(a), gMLP_block(b))),
 *     [a, b] = GELU(fc_in(LN(x))) split in two halves of C;
 *   gMLP(v) = v + fc_out(p · (spatial(LN'(q)) + 1)),
 *     [p, q] = GELU(fc_in(LN(v))) split likewise; spatial is the dense
 *     layer over the s² positions of each s×s block window (the block
 *     branch, s = b_t) or each group of the d×d grid (the grid branch, whose
 *     groups span the whole image): lisse_group_mix (group-mix.c);
 *   RCAB(x) = x + CA(conv2(LReLU₀.₂(conv1(LN(x))))),
 *     CA(r) = r · σ(fc2(ReLU(fc1(mean_hw r))));
 *   LN: the per-pixel LayerNorm over channels, eps 1e-6; GELU the erf one.
 * Two rewritings of the twin's fuse_t_a, equal in exact arithmetic and
 * within float rounding of it: the 1×1 convolution over the concatenation
 * is the sum of its three column blocks applied to the parts, and each
 * block is applied at the lower of its part's and the target's resolution
 * (it commutes with the average pooling and the bilinear upsampling, both
 * linear; the bias is added once, at the target's own level).  The
 * (C1 + C2 + C3)-channel full-size concatenation is never made.
 * No parameters: strength is the effect's business (remove-texture.c).
 *
 * Receptive field: global (the grid branch and the attention means see the
 * whole padded image), so the network never tiles (net.h); alignment 1,
 * the padding being its own.
 *
 * Memory (floats per full-size pixel; C1 at full size, C2 at a quarter of
 * the pixels, C3 at a sixteenth): the padded input (3) lives throughout,
 * m1 (C1) from the fusion until DB1's input is made.  The peak is in a
 * full-size gMLP: the stage's h, the GPB's input, fc_in's output (2 C1,
 * whose halves the two gMLPs update in place) and three C1 planes of the
 * gMLP's own (LN output, p and q; then p, LN'(q) and its projection): about
 * 3 + 7 C1, plus the convolutions' bounded scratch and a few hundred KiB a
 * thread for group_mix.  Measured through `lisse run` at widths 16/32/64
 * (docs/performance.md, "MGPNet's memory"): about 540 MiB a megapixel,
 * 135 floats a pixel with the allocator's slack.
 */
#include "net.h"
#include "nets-all.h"
#include "lisse-error.h"
#include "model.h"
#include "ops-basic.h"
#include "ops-conv.h"

#include <limits.h>
#include <stdarg.h>
#include <string.h>

#define MGPNET_MAX_WIDTH    1024
#define MGPNET_MAX_GROUP    64      /* block and grid sizes; the paper's are 8, 8, 16 and 16 */
#define MGPNET_MAX_PAIRS    16
#define MGPNET_MAX_MULTIPLE 4096
#define MGPNET_LN_EPS       1e-6f
#define MGPNET_LRELU_SLOPE  0.2f

/* Indices into Mgpnet.t of a layer's weight and bias (LayerNorm: γ, β). */
/* Peak memory of a whole-image run (input and result included), in bytes
 * a pixel for each channel of C1: every level's activations grow with the
 * widths, which the configs scale together.  tools/bench/network-12mp
 * measured 540 MiB a megapixel at C1 = 16 (35.4 bytes a pixel for each
 * channel); 40 leaves room for the padding to a multiple of 64 (up to 7 %
 * more pixels near 1800²), so the whole-image size
 * (LisseNet.whole_max_pixels: 3.36 MP at C1 = 16) and the tiles above it
 * stay within LISSE_NET_WHOLE_BYTES (docs/performance.md). */
#define MGPNET_BYTES_PER_PIXEL_PER_C1 40.0

typedef struct
{
  int w, b;
} Ref;

typedef struct
{
  Ref            norm, fc_in, gate_norm, spatial, fc_out;
  LisseGroupKind kind;
  int            size;
} Gmlp;

typedef struct
{
  Ref  norm, fc_in, fc_out;
  Gmlp grid, block;
} Gpb;

typedef struct
{
  Ref norm, conv1, conv2, fc1, fc2;
} Rcab;

typedef struct
{
  Ref  proj;
  Gpb  gpb[MGPNET_MAX_PAIRS];
  Rcab rcab[MGPNET_MAX_PAIRS];
} Stage;

typedef struct
{
  LisseNet      base;
  int           width[3], in_feat, block[3], grid, n_pairs, multiple;
  Stage         eb[3], db[3];
  Ref           in_conv[3];     /* [1] in2, [2] in3 */
  Ref           down[2];        /* down1, down2 */
  Ref           fuse_a[2], fuse_b[2];
  Ref           up[2];          /* [0] up2 (C2 → C1), [1] up3 (C3 → C2) */
  Ref           out[3];         /* out1; out2, out3 checked only */
  /* Column block k of fuse{l+1}_a.weight: [C_{l+1}, C_{k+1}, 1, 1], owned. */
  LisseTensor  *fuse_w[2][3];
  int           n_tensors;
  LisseTensor **t;              /* in tensor_shapes() order; may view the file */
} Mgpnet;

/* ---- the tensor list ---------------------------------------------------- */

typedef struct
{
  GArray    *specs;   /* LisseTensorSpec, in order */
  GPtrArray *names;   /* owns the names the specs point to */
} SpecList;

static int
spec_add (SpecList *l, int rank, int d0, int d1, int d2, int d3, const char *fmt, ...) G_GNUC_PRINTF (7, 8);

static int
spec_add (SpecList *l, int rank, int d0, int d1, int d2, int d3, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *name = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (l->names, name);
  LisseTensorSpec s = { name, rank, { d0, d1, d2, d3 } };
  g_array_append_val (l->specs, s);
  return (int) l->specs->len - 1;
}

static Ref
spec_conv (SpecList *l, const char *name, int cout, int cin, int k)
{
  return (Ref) { spec_add (l, 4, cout, cin, k, k, "%s.weight", name),
                 spec_add (l, 1, cout, 0, 0, 0, "%s.bias", name) };
}

static Ref
spec_norm (SpecList *l, const char *name, int c)
{
  return (Ref) { spec_add (l, 1, c, 0, 0, 0, "%s.weight", name),
                 spec_add (l, 1, c, 0, 0, 0, "%s.bias", name) };
}

static void
spec_gmlp (SpecList *l, Gmlp *g, const char *prefix, const char *branch, int c,
           LisseGroupKind kind, int size)
{
  g_autofree char *q = g_strdup_printf ("%s.%s", prefix, branch);
  g_autofree char *norm = g_strdup_printf ("%s.norm", q);
  g_autofree char *fc_in = g_strdup_printf ("%s.fc_in", q);
  g_autofree char *gate = g_strdup_printf ("%s.gate_norm", q);
  g_autofree char *fc_out = g_strdup_printf ("%s.fc_out", q);
  const int n = size * size;
  g->kind = kind;
  g->size = size;
  g->norm = spec_norm (l, norm, c);
  g->fc_in = spec_conv (l, fc_in, 2 * c, c, 1);
  g->gate_norm = spec_norm (l, gate, c);
  g->spatial = (Ref) { spec_add (l, 2, n, n, 0, 0, "%s.spatial.weight", q),
                       spec_add (l, 1, n, 0, 0, 0, "%s.spatial.bias", q) };
  g->fc_out = spec_conv (l, fc_out, c, c, 1);
}

static void
spec_stage (SpecList *l, const Mgpnet *p, Stage *s, const char *prefix, int cin, int c,
            int block)
{
  g_autofree char *proj = g_strdup_printf ("%s.proj", prefix);
  s->proj = spec_conv (l, proj, c, cin, 1);
  const int r = MAX (1, c / 4);
  for (int i = 0; i < p->n_pairs; i++)
    {
      g_autofree char *g = g_strdup_printf ("%s.layers.%d", prefix, 2 * i);
      g_autofree char *gn = g_strdup_printf ("%s.norm", g);
      g_autofree char *gi = g_strdup_printf ("%s.fc_in", g);
      g_autofree char *go = g_strdup_printf ("%s.fc_out", g);
      Gpb *b = &s->gpb[i];
      b->norm = spec_norm (l, gn, c);
      b->fc_in = spec_conv (l, gi, 2 * c, c, 1);
      spec_gmlp (l, &b->grid, g, "grid_branch", c, LISSE_GROUP_GRID, p->grid);
      spec_gmlp (l, &b->block, g, "block_branch", c, LISSE_GROUP_BLOCK, block);
      b->fc_out = spec_conv (l, go, c, 2 * c, 1);

      g_autofree char *rp = g_strdup_printf ("%s.layers.%d", prefix, 2 * i + 1);
      g_autofree char *rn = g_strdup_printf ("%s.norm", rp);
      g_autofree char *r1 = g_strdup_printf ("%s.conv1", rp);
      g_autofree char *r2 = g_strdup_printf ("%s.conv2", rp);
      g_autofree char *f1 = g_strdup_printf ("%s.fc1", rp);
      g_autofree char *f2 = g_strdup_printf ("%s.fc2", rp);
      Rcab *a = &s->rcab[i];
      a->norm = spec_norm (l, rn, c);
      a->conv1 = spec_conv (l, r1, c, c, 3);
      a->conv2 = spec_conv (l, r2, c, c, 3);
      a->fc1 = spec_conv (l, f1, r, c, 1);
      a->fc2 = spec_conv (l, f2, c, r, 1);
    }
}

/* Every tensor, in mgpnet_model.tensor_shapes() order. */
static void
layout (Mgpnet *p, SpecList *l)
{
  const int c1 = p->width[0], c2 = p->width[1], c3 = p->width[2], f = p->in_feat;
  const int sum = c1 + c2 + c3;
  spec_stage (l, p, &p->eb[0], "eb1", 3, c1, p->block[0]);
  p->in_conv[1] = spec_conv (l, "in2", f, 3, 3);
  p->down[0] = spec_conv (l, "down1", c1, c1, 2);
  spec_stage (l, p, &p->eb[1], "eb2", f + c1, c2, p->block[1]);
  p->in_conv[2] = spec_conv (l, "in3", f, 3, 3);
  p->down[1] = spec_conv (l, "down2", c2, c2, 2);
  spec_stage (l, p, &p->eb[2], "eb3", f + c2, c3, p->block[2]);
  p->fuse_a[0] = spec_conv (l, "fuse1_a", c1, sum, 1);
  p->fuse_b[0] = spec_conv (l, "fuse1_b", c1, c1, 3);
  p->fuse_a[1] = spec_conv (l, "fuse2_a", c2, sum, 1);
  p->fuse_b[1] = spec_conv (l, "fuse2_b", c2, c2, 3);
  spec_stage (l, p, &p->db[2], "db3", c3, c3, p->block[2]);
  p->up[1] = (Ref) { spec_add (l, 4, c3, c2, 2, 2, "up3.weight"),
                     spec_add (l, 1, c2, 0, 0, 0, "up3.bias") };
  spec_stage (l, p, &p->db[1], "db2", 2 * c2, c2, p->block[1]);
  p->up[0] = (Ref) { spec_add (l, 4, c2, c1, 2, 2, "up2.weight"),
                     spec_add (l, 1, c1, 0, 0, 0, "up2.bias") };
  spec_stage (l, p, &p->db[0], "db1", 2 * c1, c1, p->block[0]);
  p->out[0] = spec_conv (l, "out1", 3, c1, 3);
  p->out[1] = spec_conv (l, "out2", 3, c2, 3);
  p->out[2] = spec_conv (l, "out3", 3, c3, 3);
}

/* Column block [start, start + count) of a 1×1 convolution's weight. */
static LisseTensor *
weight_columns (const LisseTensor *w, int start, int count, GError **error)
{
  LisseTensor *out = lisse_tensor_try_new_uninit (w->n, count, 1, 1, error);
  if (!out)
    return NULL;
  for (int o = 0; o < w->n; o++)
    memcpy (out->data + (size_t) o * count, w->data + (size_t) o * w->c + start,
            (size_t) count * sizeof (float));
  return out;
}

static void
mgpnet_free (LisseNet *net)
{
  Mgpnet *p = (Mgpnet *) net;
  if (p->t)
    for (int i = 0; i < p->n_tensors; i++)
      lisse_tensor_free (p->t[i]);
  g_free (p->t);
  for (int l = 0; l < 2; l++)
    for (int k = 0; k < 3; k++)
      lisse_tensor_free (p->fuse_w[l][k]);
  g_free (p);
}

static LisseNet *
mgpnet_load (LisseSafetensors *st, GError **error)
{
  int width[3], in_feat, block[3], grid, n_pairs, multiple;
  static const char *const width_keys[3] = { "width1", "width2", "width3" };
  static const char *const block_keys[3] = { "block1", "block2", "block3" };
  for (int t = 0; t < 3; t++)
    if (!lisse_model_get_metadata_int_in (st, "mgpnet", width_keys[t], 1, MGPNET_MAX_WIDTH,
                                          &width[t], error))
      return NULL;
  if (!lisse_model_get_metadata_int_in (st, "mgpnet", "in_feat", 1, MGPNET_MAX_WIDTH, &in_feat, error))
    return NULL;
  for (int t = 0; t < 3; t++)
    if (!lisse_model_get_metadata_int_in (st, "mgpnet", block_keys[t], 1, MGPNET_MAX_GROUP,
                                          &block[t], error))
      return NULL;
  if (!lisse_model_get_metadata_int_in (st, "mgpnet", "grid", 1, MGPNET_MAX_GROUP, &grid, error)
      || !lisse_model_get_metadata_int_in (st, "mgpnet", "n_pairs", 1, MGPNET_MAX_PAIRS, &n_pairs, error)
      || !lisse_model_get_metadata_int_in (st, "mgpnet", "multiple", 1, MGPNET_MAX_MULTIPLE, &multiple, error)
      || !lisse_model_check_metadata_value (st, "mgpnet", "colour_encoding", "srgb-nonlinear-0-1", error))
    return NULL;
  /* Every level's block windows and grid cells must tile the padded image
   * at that level's size, 1/2^(t−1) of the full one. */
  for (int t = 0; t < 3; t++)
    {
      const int sizes[2] = { block[t], grid };
      for (int k = 0; k < 2; k++)
        if (multiple % ((1 << t) * sizes[k]))
          {
            lisse_fail (error, LISSE_ERROR_BAD_MODEL, "mgpnet: metadata 'multiple' = %d is not "
                        "divisible by 2^%d × %s %d, as level %d needs", multiple, t,
                        k ? "grid" : block_keys[t], sizes[k], t + 1);
            return NULL;
          }
    }

  Mgpnet *p = g_new0 (Mgpnet, 1);
  memcpy (p->width, width, sizeof width);
  memcpy (p->block, block, sizeof block);
  p->in_feat = in_feat;
  p->grid = grid;
  p->n_pairs = n_pairs;
  p->multiple = multiple;
  p->base.whole_max_pixels = (long) (LISSE_NET_WHOLE_BYTES
                                     / (MGPNET_BYTES_PER_PIXEL_PER_C1 * width[0]));

  {
    SpecList l = { g_array_new (FALSE, FALSE, sizeof (LisseTensorSpec)),
                   g_ptr_array_new_with_free_func (g_free) };
    layout (p, &l);
    const LisseTensorSpec *specs = (const LisseTensorSpec *) (void *) l.specs->data;
    gboolean ok = lisse_model_check_tensors (st, specs, (int) l.specs->len, error);
    if (ok)
      {
        p->n_tensors = (int) l.specs->len;
        p->t = g_new0 (LisseTensor *, p->n_tensors);
        for (int i = 0; ok && i < p->n_tensors; i++)
          ok = (p->t[i] = lisse_safetensors_get_tensor (st, specs[i].name, error)) != NULL;
      }
    g_array_unref (l.specs);
    g_ptr_array_unref (l.names);
    if (!ok)
      goto fail;
  }
  for (int l = 0; l < 2; l++)
    for (int k = 0, start = 0; k < 3; start += width[k], k++)
      if (!(p->fuse_w[l][k] = weight_columns (p->t[p->fuse_a[l].w], start, width[k], error)))
        goto fail;

  return &p->base;

fail:
  mgpnet_free (&p->base);
  return NULL;
}

/* ---- forward ------------------------------------------------------------ */

typedef struct
{
  const Mgpnet        *p;
  const LisseProgress *progress;
  double               done, total;
} Runner;

#define W(p, ref) ((p)->t[(ref).w])
#define B(p, ref) ((p)->t[(ref).b])

/* Multiply-adds of one stage (cin → c, block windows of b) at @px pixels:
 * what the convolutions, transposed convolutions and group mixes below
 * report. */
static double
stage_macs (const Mgpnet *p, int cin, int c, int b, double px)
{
  const double cc = (double) c * c, r = MAX (1, c / 4);
  const double spatial = (double) p->grid * p->grid + (double) b * b;
  const double pair = px * (2 * cc + 2 * (2 * cc + cc) + c * spatial + 2 * cc  /* GPB */
                            + 2 * 9 * cc)                                      /* RCAB */
                      + 2 * c * r;                              /* RCAB's attention MLP */
  return px * cin * c + p->n_pairs * pair;
}

static double
total_macs (const Mgpnet *p, int h, int w)
{
  const int *c = p->width, f = p->in_feat;
  const double px[3] = { (double) h * w, (double) h * w / 4, (double) h * w / 16 };
  double m = stage_macs (p, 3, c[0], p->block[0], px[0]);
  for (int t = 1; t < 3; t++)
    m += px[t] * (9.0 * 3 * f + 4.0 * c[t - 1] * c[t - 1])
         + stage_macs (p, f + c[t - 1], c[t], p->block[t], px[t]);
  for (int l = 0; l < 2; l++)
    {
      for (int k = 0; k < 3; k++)
        m += px[MAX (l, k)] * c[l] * c[k];
      m += px[l] * 9.0 * c[l] * c[l];
    }
  m += stage_macs (p, c[2], c[2], p->block[2], px[2]);
  for (int t = 1; t >= 0; t--)
    m += px[t + 1] * 4.0 * c[t + 1] * c[t] + stage_macs (p, 2 * c[t], c[t], p->block[t], px[t]);
  return m + px[0] * 9.0 * c[0] * 3;
}

static gboolean
step (Runner *run, double macs, GError **error)
{
  run->done += macs;
  return lisse_progress_report (run->progress, MIN (1.0, run->done / run->total), error);
}

/* Rows [start, start + count) of a weight or bias (its first dimension),
 * sharing its memory. */
static LisseTensor
rows_view (const LisseTensor *t, int start, int count)
{
  return (LisseTensor) { count, t->c, t->h, t->w,
                         t->data + (size_t) start * t->c * t->h * t->w, FALSE };
}

/* Channels [start, start + count) of @t (N = 1), sharing its memory. */
static LisseTensor
channels_view (const LisseTensor *t, int start, int count)
{
  return (LisseTensor) { 1, count, t->h, t->w, lisse_tensor_channel (t, 0, start), FALSE };
}

static LisseTensor *
conv_w (Runner *run, const LisseTensor *w, const LisseTensor *b, int stride, int pad,
        const LisseTensor *x, GError **error)
{
  LisseConv2dGeom geom = lisse_conv2d_geom (stride, pad, 1, 1);
  geom.bf16 = run->p->base.bf16;
  LisseTensor *y = lisse_conv2d (x, w, b, &geom, error);
  if (y && !step (run, (double) y->h * y->w * w->n * w->c * w->h * w->w, error))
    g_clear_pointer (&y, lisse_tensor_free);
  return y;
}

/* Layer @l on @x: k×k convolution (k from the weight), stride @stride,
 * padding k / 2 for odd k, none for even. */
static LisseTensor *
conv (Runner *run, Ref l, int stride, const LisseTensor *x, GError **error)
{
  const LisseTensor *w = W (run->p, l);
  return conv_w (run, w, B (run->p, l), stride, w->h % 2 ? w->h / 2 : 0, x, error);
}

static LisseTensor *
norm (const Mgpnet *p, Ref l, const LisseTensor *x, GError **error)
{
  return lisse_layer_norm_channels (x, W (p, l)->data, B (p, l)->data, MGPNET_LN_EPS, error);
}

/* v ← gMLP(v), in place (v: a view of the GPB's fc_in output). */
static gboolean
run_gmlp (Runner *run, const Gmlp *g, LisseTensor *v, GError **error)
{
  const Mgpnet *p = run->p;
  const int c = v->c;
  /* fc_in as two convolutions, one a half: p and q are separate tensors,
   * and q goes as soon as its LayerNorm is taken. */
  const LisseTensor wp = rows_view (W (p, g->fc_in), 0, c), wq = rows_view (W (p, g->fc_in), c, c);
  const LisseTensor bp = rows_view (B (p, g->fc_in), 0, c), bq = rows_view (B (p, g->fc_in), c, c);
  LisseTensor *t = norm (p, g->norm, v, error);
  LisseTensor *q = t ? conv_w (run, &wq, &bq, 1, 0, t, error) : NULL;
  LisseTensor *gp = q ? conv_w (run, &wp, &bp, 1, 0, t, error) : NULL;
  LisseTensor *gate = NULL, *mixed = NULL, *o = NULL;
  gboolean ok = FALSE;
  lisse_tensor_free (t);
  if (!gp)
    goto done;
  lisse_gelu_inplace (q);
  lisse_gelu_inplace (gp);
  gate = norm (p, g->gate_norm, q, error);
  g_clear_pointer (&q, lisse_tensor_free);
  mixed = gate ? lisse_group_mix (gate, g->kind, g->size, W (p, g->spatial),
                                  B (p, g->spatial), error) : NULL;
  g_clear_pointer (&gate, lisse_tensor_free);
  if (!mixed || !step (run, (double) lisse_tensor_numel (mixed) * g->size * g->size, error))
    goto done;
  {
    /* p · (spatial + 1) */
    const size_t n = lisse_tensor_numel (gp);
    float *a = gp->data;
    const float *m = mixed->data;
    for (size_t i = 0; i < n; i++)
      a[i] *= m[i] + 1.0f;
  }
  g_clear_pointer (&mixed, lisse_tensor_free);
  o = conv (run, g->fc_out, 1, gp, error);
  ok = o && lisse_add_inplace (v, o, error);

done:
  lisse_tensor_free (q);
  lisse_tensor_free (gp);
  lisse_tensor_free (gate);
  lisse_tensor_free (mixed);
  lisse_tensor_free (o);
  return ok;
}

/* GPB(x), a new tensor. */
static LisseTensor *
run_gpb (Runner *run, const Gpb *g, const LisseTensor *x, GError **error)
{
  const int c = x->c;
  LisseTensor *t = norm (run->p, g->norm, x, error);
  LisseTensor *y = t ? conv (run, g->fc_in, 1, t, error) : NULL;
  LisseTensor *out = NULL;
  lisse_tensor_free (t);
  if (y)
    {
      lisse_gelu_inplace (y);
      /* The branches run in place on y's halves, which leaves y holding
       * cat(grid branch, block branch). */
      LisseTensor a = channels_view (y, 0, c), b = channels_view (y, c, c);
      if (run_gmlp (run, &g->grid, &a, error) && run_gmlp (run, &g->block, &b, error))
        out = conv (run, g->fc_out, 1, y, error);
      lisse_tensor_free (y);
    }
  if (out && !lisse_add_inplace (out, x, error))
    g_clear_pointer (&out, lisse_tensor_free);
  return out;
}

/* RCAB(x), a new tensor. */
static LisseTensor *
run_rcab (Runner *run, const Rcab *r, const LisseTensor *x, GError **error)
{
  LisseTensor *t = norm (run->p, r->norm, x, error);
  LisseTensor *r1 = t ? conv (run, r->conv1, 1, t, error) : NULL;
  lisse_tensor_free (t);
  if (!r1)
    return NULL;
  lisse_leaky_relu_inplace (r1, MGPNET_LRELU_SLOPE);
  LisseTensor *r2 = conv (run, r->conv2, 1, r1, error);
  lisse_tensor_free (r1);
  if (!r2)
    return NULL;
  LisseTensor *mean = lisse_global_avg_pool (r2, error);
  LisseTensor *a = mean ? conv (run, r->fc1, 1, mean, error) : NULL;
  lisse_tensor_free (mean);
  if (a)
    lisse_relu_inplace (a);
  LisseTensor *att = a ? conv (run, r->fc2, 1, a, error) : NULL;
  lisse_tensor_free (a);
  gboolean ok = att != NULL;
  if (ok)
    {
      lisse_sigmoid_inplace (att);
      ok = lisse_mul_inplace (r2, att, error) && lisse_add_inplace (r2, x, error);
    }
  lisse_tensor_free (att);
  if (!ok)
    g_clear_pointer (&r2, lisse_tensor_free);
  return r2;
}

/* stage(in) = h + pairs(h), h = proj(in); @in is freed when @consume, as
 * soon as h is made, whatever happens. */
static LisseTensor *
run_stage (Runner *run, const Stage *s, LisseTensor *in, gboolean consume, GError **error)
{
  LisseTensor *h = conv (run, s->proj, 1, in, error);
  if (consume)
    lisse_tensor_free (in);
  if (!h)
    return NULL;
  LisseTensor *z = NULL;   /* the last layer's output; h before the first */
  for (int i = 0; i < run->p->n_pairs; i++)
    {
      LisseTensor *a = run_gpb (run, &s->gpb[i], z ? z : h, error);
      lisse_tensor_free (z);
      z = a ? run_rcab (run, &s->rcab[i], a, error) : NULL;
      lisse_tensor_free (a);
      if (!z)
        break;
    }
  if (z && !lisse_add_inplace (z, h, error))
    g_clear_pointer (&z, lisse_tensor_free);
  lisse_tensor_free (h);
  return z;
}

/* e_{t+1} = EB_{t+1}(cat(in_{t+1}(y), down_t(e))), t = 1, 2. */
static LisseTensor *
run_encoder (Runner *run, int t, const LisseTensor *y, const LisseTensor *e, GError **error)
{
  const Mgpnet *p = run->p;
  LisseTensor *a = conv (run, p->in_conv[t], 1, y, error);
  LisseTensor *b = a ? conv (run, p->down[t - 1], 2, e, error) : NULL;
  LisseTensor *cat = b ? lisse_concat_channels ((const LisseTensor *const[]) { a, b }, 2, error)
                       : NULL;
  lisse_tensor_free (a);
  lisse_tensor_free (b);
  return cat ? run_stage (run, &p->eb[t], cat, TRUE, error) : NULL;
}

/* m_{l+1}: fuse_b(fuse_a(cat(resize(e1), resize(e2), resize(e3)))) with
 * fuse_a's column blocks applied part by part at the lower resolution (top
 * of the file). */
static LisseTensor *
run_fuse (Runner *run, int l, LisseTensor *const e[3], GError **error)
{
  const Mgpnet *p = run->p;
  LisseTensor *acc = NULL;
  for (int k = 0; k < 3; k++)
    {
      const LisseTensor *w = p->fuse_w[l][k];
      LisseTensor *part = NULL;
      if (k < l)
        {
          const int f = 1 << (l - k);
          LisseTensor *pooled = lisse_avg_pool2d (e[k], f, f, 0, TRUE, error);
          part = pooled ? conv_w (run, w, NULL, 1, 0, pooled, error) : NULL;
          lisse_tensor_free (pooled);
        }
      else if (k == l)
        part = conv_w (run, w, B (p, p->fuse_a[l]), 1, 0, e[k], error);
      else
        {
          LisseTensor *low = conv_w (run, w, NULL, 1, 0, e[k], error);
          part = low ? lisse_resize_bilinear (low, e[l]->h, e[l]->w, FALSE, error) : NULL;
          lisse_tensor_free (low);
        }
      gboolean ok = part && (!acc || lisse_add_inplace (acc, part, error));
      if (ok && !acc)
        acc = g_steal_pointer (&part);
      lisse_tensor_free (part);
      if (!ok)
        {
          lisse_tensor_free (acc);
          return NULL;
        }
    }
  LisseTensor *m = conv (run, p->fuse_b[l], 1, acc, error);
  lisse_tensor_free (acc);
  return m;
}

/* d_t = DB_t(cat(m_t, up_{t+1}(d))), t = 1, 2 (@t 0-based: 0, 1); @m and
 * @d are freed as soon as the concatenation is made, whatever happens. */
static LisseTensor *
run_decoder (Runner *run, int t, LisseTensor *m, LisseTensor *d, GError **error)
{
  const Mgpnet *p = run->p;
  const LisseTensor *w = W (p, p->up[t]);
  const LisseConvTranspose2dGeom geom = lisse_conv_transpose2d_geom (2, 0, 0, 1, 1);
  LisseTensor *u = lisse_conv_transpose2d (d, w, B (p, p->up[t]), &geom, error);
  if (u && !step (run, (double) d->h * d->w * w->n * w->c * w->h * w->w, error))
    g_clear_pointer (&u, lisse_tensor_free);
  lisse_tensor_free (d);
  LisseTensor *cat = u ? lisse_concat_channels ((const LisseTensor *const[]) { m, u }, 2, error)
                       : NULL;
  lisse_tensor_free (m);
  lisse_tensor_free (u);
  return cat ? run_stage (run, &p->db[t], cat, TRUE, error) : NULL;
}

/* Source index of position @i ≥ 0 on a reflect-padded axis of @n samples:
 * 0 1 … n−1 n−2 … 1 0 1 …, period 2(n − 1); n = 1 gives 0. */
static int
reflect_index (int i, int n)
{
  if (n == 1)
    return 0;
  const int period = 2 * (n - 1);
  i %= period;
  return i < n ? i : period - i;
}

/* The size rule: @x padded at the bottom / right to multiples of @multiple
 * by reflection. */
static LisseTensor *
pad_reflect (const LisseTensor *x, int multiple, GError **error)
{
  const gint64 hp = ((gint64) x->h + multiple - 1) / multiple * multiple;
  const gint64 wp = ((gint64) x->w + multiple - 1) / multiple * multiple;
  if (hp > INT_MAX || wp > INT_MAX)
    {
      lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "mgpnet: a %d×%d image is too large", x->w, x->h);
      return NULL;
    }
  LisseTensor *out = lisse_tensor_try_new_uninit (1, x->c, (int) hp, (int) wp, error);
  if (!out)
    return NULL;
  int *ix = g_new (int, wp);
  for (int i = 0; i < wp; i++)
    ix[i] = reflect_index (i, x->w);
  for (int c = 0; c < x->c; c++)
    for (int y = 0; y < hp; y++)
      {
        const float *s = lisse_tensor_channel (x, 0, c) + (size_t) reflect_index (y, x->h) * x->w;
        float *d = lisse_tensor_channel (out, 0, c) + (size_t) y * wp;
        for (int i = 0; i < wp; i++)
          d[i] = s[ix[i]];
      }
  g_free (ix);
  return out;
}

static LisseTensor *
mgpnet_forward (const LisseNet *net, const LisseTensor *rgb, const LisseParams *params,
                const LisseTensor *param_map, const LisseProgress *progress, GError **error)
{
  (void) params; (void) param_map;
  const Mgpnet *p = (const Mgpnet *) net;
  LisseTensor *padded = NULL;
  if (rgb->h % p->multiple || rgb->w % p->multiple)
    if (!(padded = pad_reflect (rgb, p->multiple, error)))
      return NULL;
  const LisseTensor *x = padded ? padded : rgb;
  Runner run = { p, progress, 0, total_macs (p, x->h, x->w) };
  LisseTensor *y2 = NULL, *y3 = NULL, *e[3] = { NULL, NULL, NULL }, *m[2] = { NULL, NULL };
  LisseTensor *d = NULL, *o = NULL, *out = NULL;

  /* Encoder. */
  if (!(y2 = lisse_avg_pool2d (x, 2, 2, 0, TRUE, error))
      || !(y3 = lisse_avg_pool2d (y2, 2, 2, 0, TRUE, error))
      || !(e[0] = run_stage (&run, &p->eb[0], (LisseTensor *) x, FALSE, error))
      || !(e[1] = run_encoder (&run, 1, y2, e[0], error)))
    goto done;
  g_clear_pointer (&y2, lisse_tensor_free);
  if (!(e[2] = run_encoder (&run, 2, y3, e[1], error)))
    goto done;
  g_clear_pointer (&y3, lisse_tensor_free);

  /* Multi-scale fusion: the last use of e1 and e2. */
  if (!(m[1] = run_fuse (&run, 1, e, error))
      || !(m[0] = run_fuse (&run, 0, e, error)))
    goto done;
  g_clear_pointer (&e[0], lisse_tensor_free);
  g_clear_pointer (&e[1], lisse_tensor_free);

  /* Decoder. */
  d = run_stage (&run, &p->db[2], e[2], TRUE, error);
  e[2] = NULL;
  for (int t = 1; d && t >= 0; t--)
    {
      d = run_decoder (&run, t, m[t], d, error);
      m[t] = NULL;
    }
  if (!d)
    goto done;
  o = conv (&run, p->out[0], 1, d, error);
  g_clear_pointer (&d, lisse_tensor_free);
  if (!o || !lisse_add_inplace (o, x, error))
    goto done;

  if (o->h == rgb->h && o->w == rgb->w)
    out = g_steal_pointer (&o);
  else if ((out = lisse_tensor_try_new_uninit (1, 3, rgb->h, rgb->w, error)))
    lisse_tensor_copy_rect (o, 0, 0, out, 0, 0, rgb->w, rgb->h);

done:
  lisse_tensor_free (padded);
  lisse_tensor_free (y2);
  lisse_tensor_free (y3);
  for (int k = 0; k < 3; k++)
    lisse_tensor_free (e[k]);
  for (int k = 0; k < 2; k++)
    lisse_tensor_free (m[k]);
  lisse_tensor_free (d);
  lisse_tensor_free (o);
  return out;
}

const LisseNetInfo lisse_net_mgpnet = {
  .architecture = "mgpnet",
  .title = "MGPNet multi-scale global perception smoothing network",
  .reference = "He, Quan, Xu, Xu: Image Smoothing via Multiscale Global Perception",
  .params = NULL,
  .n_params = 0,
  .n_map_channels = 0,
  .receptive_radius = LISSE_NET_GLOBAL,
  .multiple = 1,
  .load = mgpnet_load,
  .free = mgpnet_free,
  .forward = mgpnet_forward,
};
