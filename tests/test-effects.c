/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Tests of the effects (core/effects/): the registry, the argument checks
 * of lisse_effect_run, alpha and gray handling, the identities each effect
 * promises (magnify-detail at gain 1 and 0, content-aware with uniform
 * masks, joint-filter with the image as its own guide), what texture
 * removal and saliency must do on synthetic images, thread-count
 * independence, and the network cache (reload on change, errors).
 *
 * The networks are tiny random-weight fan18, csgis, mgpnet and fang19 models this
 * test writes itself (width 4), so it checks the effects' arithmetic without
 * depending on trained weights; LISSE_MODEL_PATH is pointed at them. */
#include "effect.h"
#include "effect-private.h"
#include "effects-all.h"
#include "filter.h"
#include "lisse-error.h"
#include "net.h"
#include "saliency.h"
#include "threads.h"

#include <glib/gstdio.h>
#include <utime.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#define W 48
#define H 40

static char *model_dir;

/* ---------------------------------------------------------------------- */
/* Tiny fan18, csgis, mgpnet and fang19 model files                        */

typedef struct
{
  const char *name;
  int         rank;
  int         shape[4];
} TensorDecl;

/* fan18's layers (core/nets/fan18.c) at width f: NAME.weight, NAME.bias. */
static GArray *
fan18_decls (int f)
{
  static const int dil[10] = { 2, 2, 4, 4, 8, 8, 16, 16, 1, 1 };
  GArray *a = g_array_new (FALSE, FALSE, sizeof (TensorDecl));
  TensorDecl d;
#define ADD(nm, r, s0, s1, s2, s3) \
  (d = (TensorDecl) { g_intern_string (nm), r, { s0, s1, s2, s3 } }, g_array_append_val (a, d))
  ADD ("conv0.weight", 4, f, 5, 3, 3);
  ADD ("conv0.bias", 1, f, 0, 0, 0);
  ADD ("conv1.weight", 4, f, f, 3, 3);
  ADD ("conv1.bias", 1, f, 0, 0, 0);
  ADD ("down.weight", 4, f, f, 3, 3);
  ADD ("down.bias", 1, f, 0, 0, 0);
  for (int i = 0; i < 10; i++)
    for (int b = 0; b < 2; b++)
      {
        char name[32];
        g_snprintf (name, sizeof name, "res%d.conv_%c.weight", i, b ? 'b' : 'a');
        ADD (name, 4, f, f, 3, 3);
        g_snprintf (name, sizeof name, "res%d.conv_%c.bias", i, b ? 'b' : 'a');
        ADD (name, 1, f, 0, 0, 0);
      }
  (void) dil;
  ADD ("up.weight", 4, f, f, 4, 4);
  ADD ("up.bias", 1, f, 0, 0, 0);
  ADD ("conv_out1.weight", 4, f, f, 3, 3);
  ADD ("conv_out1.bias", 1, f, 0, 0, 0);
  ADD ("conv_out2.weight", 4, 3, f, 1, 1);
  ADD ("conv_out2.bias", 1, 3, 0, 0, 0);
#undef ADD
  return a;
}

/* csgis's layers (core/nets/csgis.c) at width f with one descriptor, no
 * smooth and one refinement block: every kind of layer, the radius 20. */
#define CSGIS_TEST_METADATA "\"width\":\"4\",\"n_desc\":\"1\",\"n_smooth\":\"0\"," \
                            "\"n_refine\":\"1\",\"receptive_radius\":\"20\""
static GArray *
csgis_decls (int f)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (TensorDecl));
  static const struct { const char *name; int cout, cin, k; } layers[] = {
    { "head", 4, 3, 3 }, { "desc0.c0", 4, 4, 3 }, { "desc0.c1", 4, 4, 3 },
    { "desc0.c2", 4, 4, 3 }, { "edge.c0", 4, 4, 3 }, { "edge.c1", 4, 4, 3 },
    { "edge.out", 1, 4, 1 }, { "smooth.in", 4, 5, 3 }, { "smooth.mid", 4, 4, 3 },
    { "smooth.out", 3, 4, 3 }, { "refine.in", 4, 8, 3 }, { "refine0.c0", 4, 4, 3 },
    { "refine0.c1", 4, 4, 3 }, { "refine0.c2", 4, 4, 3 }, { "refine.out", 3, 4, 3 },
  };
  g_assert_cmpint (f, ==, 4);   /* the table's widths */
  for (guint i = 0; i < G_N_ELEMENTS (layers); i++)
    {
      char name[32];
      g_snprintf (name, sizeof name, "%s.weight", layers[i].name);
      TensorDecl d = { g_intern_string (name), 4,
                       { layers[i].cout, layers[i].cin, layers[i].k, layers[i].k } };
      g_array_append_val (a, d);
      g_snprintf (name, sizeof name, "%s.bias", layers[i].name);
      d = (TensorDecl) { g_intern_string (name), 1, { layers[i].cout, 0, 0, 0 } };
      g_array_append_val (a, d);
    }
  return a;
}

/* fang19's layers (core/nets/fang19.c) at width 4, one residual block
 * (dilation 1), two averaging layers with offsets bounded by 2 px, λ_ref
 * 0.01 and the λ range 0.002–0.05 of the shipped RTV model. */
#define FANG19_TEST_METADATA "\"width\":\"4\",\"n_layers\":\"2\",\"dilations\":\"[1]\"," \
  "\"offset_bound\":\"2.0\",\"lambda_ref\":\"0.01\",\"params\":\"[{\\\"name\\\":" \
  "\\\"lambda\\\",\\\"min\\\":0.002,\\\"max\\\":0.05,\\\"default\\\":0.01}]\""
/* The same network as a WLS model: λ_ref 1, λ 0.2–5. */
#define FANG19_WLS_TEST_METADATA "\"width\":\"4\",\"n_layers\":\"2\",\"dilations\":\"[1]\"," \
  "\"offset_bound\":\"2.0\",\"lambda_ref\":\"1\",\"filter\":\"wls\",\"params\":\"[{\\\"name\\\":" \
  "\\\"lambda\\\",\\\"min\\\":0.2,\\\"max\\\":5,\\\"default\\\":1}]\""
static GArray *
fang19_decls (void)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (TensorDecl));
  static const struct { const char *name; int cout, cin; } layers[] = {
    { "c0", 4, 3 }, { "c1", 4, 4 }, { "c2", 4, 4 }, { "res0.a", 4, 4 }, { "res0.b", 4, 4 },
    { "c3", 4, 4 }, { "c4", 4, 4 }, { "c5", 5 + 18 * 2, 4 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (layers); i++)
    {
      const int co = layers[i].cout, ci = layers[i].cin;
      const struct { const char *suffix; int rank, s0, s1; } parts[] = {
        { "weight", 4, co, ci }, { "bias", 1, co, 0 }, { "a_weight", 4, 2 * co, ci },
        { "a_bias", 2, 2, co },
      };
      for (guint k = 0; k < G_N_ELEMENTS (parts); k++)
        {
          char name[32];
          g_snprintf (name, sizeof name, "%s.%s", layers[i].name, parts[k].suffix);
          TensorDecl d = { g_intern_string (name), parts[k].rank,
                           { parts[k].s0, parts[k].s1, 3, 3 } };
          g_array_append_val (a, d);
        }
    }
  return a;
}

/* mgpnet's layers (core/nets/mgpnet.c's model file contract) at widths
 * 4/4/4, in_feat 2, windows and grid 2, one [GPB, RCAB] pair a stage,
 * padding to a multiple of 8: every kind of layer, the smallest sizes. */
#define MGPNET_TEST_METADATA "\"width1\":\"4\",\"width2\":\"4\",\"width3\":\"4\"," \
  "\"in_feat\":\"2\",\"block1\":\"2\",\"block2\":\"2\",\"block3\":\"2\",\"grid\":\"2\"," \
  "\"n_pairs\":\"1\",\"multiple\":\"8\""
static void
decl_add (GArray *a, int rank, int s0, int s1, int s2, int s3, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *name = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  TensorDecl d = { g_intern_string (name), rank, { s0, s1, s2, s3 } };
  g_array_append_val (a, d);
}

static void
conv_decls (GArray *a, const char *name, int cout, int cin, int k)
{
  decl_add (a, 4, cout, cin, k, k, "%s.weight", name);
  decl_add (a, 1, cout, 0, 0, 0, "%s.bias", name);
}

static void
layernorm_decls (GArray *a, const char *name, int c)
{
  decl_add (a, 1, c, 0, 0, 0, "%s.weight", name);
  decl_add (a, 1, c, 0, 0, 0, "%s.bias", name);
}

static void
gmlp_decls (GArray *a, const char *q, int c, int s)
{
  g_autofree char *norm = g_strdup_printf ("%s.norm", q);
  g_autofree char *fc_in = g_strdup_printf ("%s.fc_in", q);
  g_autofree char *gate = g_strdup_printf ("%s.gate_norm", q);
  g_autofree char *fc_out = g_strdup_printf ("%s.fc_out", q);
  layernorm_decls (a, norm, c);
  conv_decls (a, fc_in, 2 * c, c, 1);
  layernorm_decls (a, gate, c);
  decl_add (a, 2, s * s, s * s, 0, 0, "%s.spatial.weight", q);
  decl_add (a, 1, s * s, 0, 0, 0, "%s.spatial.bias", q);
  conv_decls (a, fc_out, c, c, 1);
}

/* Stage P (Cin, C, b) with one [GPB, RCAB] pair, grid 2. */
static void
mgpnet_stage_decls (GArray *a, const char *p, int cin, int c, int b)
{
  char name[64];
  g_snprintf (name, sizeof name, "%s.proj", p);
  conv_decls (a, name, c, cin, 1);
  g_snprintf (name, sizeof name, "%s.layers.0.norm", p);
  layernorm_decls (a, name, c);
  g_snprintf (name, sizeof name, "%s.layers.0.fc_in", p);
  conv_decls (a, name, 2 * c, c, 1);
  g_snprintf (name, sizeof name, "%s.layers.0.grid_branch", p);
  gmlp_decls (a, name, c, 2);
  g_snprintf (name, sizeof name, "%s.layers.0.block_branch", p);
  gmlp_decls (a, name, c, b);
  g_snprintf (name, sizeof name, "%s.layers.0.fc_out", p);
  conv_decls (a, name, c, 2 * c, 1);
  g_snprintf (name, sizeof name, "%s.layers.1.norm", p);
  layernorm_decls (a, name, c);
  g_snprintf (name, sizeof name, "%s.layers.1.conv1", p);
  conv_decls (a, name, c, c, 3);
  g_snprintf (name, sizeof name, "%s.layers.1.conv2", p);
  conv_decls (a, name, c, c, 3);
  g_snprintf (name, sizeof name, "%s.layers.1.fc1", p);
  conv_decls (a, name, MAX (1, c / 4), c, 1);
  g_snprintf (name, sizeof name, "%s.layers.1.fc2", p);
  conv_decls (a, name, c, MAX (1, c / 4), 1);
}

static GArray *
mgpnet_decls (void)
{
  const int c = 4, f = 2, b = 2;
  GArray *a = g_array_new (FALSE, FALSE, sizeof (TensorDecl));
  mgpnet_stage_decls (a, "eb1", 3, c, b);
  conv_decls (a, "in2", f, 3, 3);
  conv_decls (a, "down1", c, c, 2);
  mgpnet_stage_decls (a, "eb2", f + c, c, b);
  conv_decls (a, "in3", f, 3, 3);
  conv_decls (a, "down2", c, c, 2);
  mgpnet_stage_decls (a, "eb3", f + c, c, b);
  conv_decls (a, "fuse1_a", c, 3 * c, 1);
  conv_decls (a, "fuse1_b", c, c, 3);
  conv_decls (a, "fuse2_a", c, 3 * c, 1);
  conv_decls (a, "fuse2_b", c, c, 3);
  mgpnet_stage_decls (a, "db3", c, c, b);
  conv_decls (a, "up3", c, c, 2);   /* [Cin, Cout, k, k], bias [Cout]: all 4 here */
  mgpnet_stage_decls (a, "db2", 2 * c, c, b);
  conv_decls (a, "up2", c, c, 2);
  mgpnet_stage_decls (a, "db1", 2 * c, c, b);
  conv_decls (a, "out1", 3, c, 3);
  conv_decls (a, "out2", 3, c, 3);
  conv_decls (a, "out3", 3, c, 3);
  return a;
}

static size_t
decl_numel (const TensorDecl *d)
{
  size_t n = 1;
  for (int i = 0; i < d->rank; i++)
    n *= (size_t) d->shape[i];
  return n;
}

/* Writes a safetensors file of @decls with random weights (uniform, scaled
 * by 1/√fan-in so activations stay of order one; the output layers
 * smaller so the result stays near the input) and the metadata
 * "architecture" = @architecture plus @metadata (JSON members, or NULL). */
static void
write_model (const char *path, guint32 seed, const char *architecture, const char *metadata,
             GArray *decls)
{
  GString *header = g_string_new ("{\"__metadata__\":{\"architecture\":\"");
  g_string_append_printf (header, "%s\"%s%s}", architecture, metadata ? "," : "",
                          metadata ? metadata : "");
  size_t offset = 0;
  for (guint i = 0; i < decls->len; i++)
    {
      const TensorDecl *d = &g_array_index (decls, TensorDecl, i);
      const size_t bytes = decl_numel (d) * sizeof (float);
      g_string_append_printf (header, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", d->name);
      for (int k = 0; k < d->rank; k++)
        g_string_append_printf (header, "%s%d", k ? "," : "", d->shape[k]);
      g_string_append_printf (header, "],\"data_offsets\":[%" G_GSIZE_FORMAT ",%" G_GSIZE_FORMAT "]}",
                              offset, offset + bytes);
      offset += bytes;
    }
  g_string_append_c (header, '}');
  while (header->len % 8)
    g_string_append_c (header, ' ');

  GByteArray *file = g_byte_array_new ();
  guint64 hlen = GUINT64_TO_LE ((guint64) header->len);
  g_byte_array_append (file, (const guint8 *) &hlen, 8);
  g_byte_array_append (file, (const guint8 *) header->str, header->len);
  GRand *rng = g_rand_new_with_seed (seed);
  for (guint i = 0; i < decls->len; i++)
    {
      const TensorDecl *d = &g_array_index (decls, TensorDecl, i);
      const size_t n = decl_numel (d);
      const gboolean is_bias = d->rank <= 2;   /* fang19's a_bias is [2, Cout] */
      const int fan_in = is_bias ? 1 : d->shape[1] * d->shape[2] * d->shape[3];
      double scale = is_bias ? 0.05 : 1.0 / sqrt ((double) fan_in);
      if (g_str_has_prefix (d->name, "conv_out2") || g_str_has_suffix (d->name, ".out.weight"))
        scale *= 0.5;
      for (size_t k = 0; k < n; k++)
        {
          float v = (float) (scale * g_rand_double_range (rng, -1.0, 1.0));
          /* conv0's weights on the two λ features (input channels 3, 4)
           * made large, so that λ visibly changes the output. */
          if (g_str_equal (d->name, "conv0.weight") && (k / 9) % 5 >= 3)
            v *= 4.0f;
          g_byte_array_append (file, (const guint8 *) &v, sizeof v);
        }
    }
  g_rand_free (rng);
  GError *error = NULL;
  g_assert_true (g_file_set_contents (path, (const char *) file->data, file->len, &error));
  g_assert_no_error (error);
  g_byte_array_unref (file);
  g_string_free (header, TRUE);
}

/* A width-4 fan18 file.  @architecture lets a test write a file the
 * effects must refuse; @drop_last leaves out the last tensor. */
static void
write_fan18 (const char *path, guint32 seed, const char *architecture, gboolean drop_last)
{
  g_autoptr (GArray) decls = fan18_decls (4);
  if (drop_last)
    g_array_set_size (decls, decls->len - 1);
  write_model (path, seed, architecture, NULL, decls);
}

/* The csgis-texture Remove Texture's csgis method runs. */
static void
write_csgis (const char *path, guint32 seed)
{
  g_autoptr (GArray) decls = csgis_decls (4);
  write_model (path, seed, "csgis", CSGIS_TEST_METADATA, decls);
}

/* The mgpnet-texture Remove Texture's mgpnet method runs. */
static void
write_mgpnet (const char *path, guint32 seed)
{
  g_autoptr (GArray) decls = mgpnet_decls ();
  write_model (path, seed, "mgpnet", MGPNET_TEST_METADATA, decls);
}

/* The fang19-rtv of Fast Filter and Joint Filter's learned method, or
 * (@wls) Fast Filter's fang19-wls. */
static void
write_fang19 (const char *path, guint32 seed, gboolean wls)
{
  g_autoptr (GArray) decls = fang19_decls ();
  write_model (path, seed, "fang19", wls ? FANG19_WLS_TEST_METADATA : FANG19_TEST_METADATA, decls);
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                  */

/* Flat and graded regions with edges, fine texture; alpha (if any) an
 * irregular ramp with exact 0 and 1 in it. */
static LisseTensor *
test_image (int c, int h, int w, guint32 seed)
{
  LisseTensor *t = lisse_tensor_new (1, c, h, w);
  GRand *rng = g_rand_new_with_seed (seed);
  const gboolean alpha = c == 2 || c == 4;
  for (int ci = 0; ci < c; ci++)
    {
      float *p = lisse_tensor_channel (t, 0, ci);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            double v;
            if (alpha && ci == c - 1)
              v = ((x * 7 + y * 3) % 11) / 10.0 + (x == 0 ? 0.0 : 1e-7 * y);
            else
              {
                v = 0.2 + 0.3 * x / (w - 1.0);
                if (x > w / 2 && y < h / 2)
                  v = 0.8 - 0.15 * ci;
                v += 0.05 * sin (x * 1.7 + ci) * sin (y * 1.1);
                v += g_rand_double_range (rng, -0.02, 0.02);
              }
            p[(size_t) y * w + x] = (float) CLAMP (v, 0.0, 1.0);
          }
    }
  g_rand_free (rng);
  return t;
}

static LisseTensor *
constant_mask (int h, int w, float v)
{
  LisseTensor *m = lisse_tensor_new (1, 1, h, w);
  lisse_tensor_fill (m, v);
  return m;
}

/* The aux an effect needs for a plain run: a guide for joint-filter (a
 * variant of the image), none otherwise (content-aware: automatic mask). */
static LisseTensor *
default_aux (const LisseEffectInfo *e, const LisseTensor *image)
{
  if (e->aux == LISSE_EFFECT_AUX_GUIDE)
    return test_image (3, image->h, image->w, 99);
  return NULL;
}

/* Runs @e with its defaults changed by "name=value" @sets; asserts success. */
static LisseTensor *
run_effect (const LisseEffectInfo *e, const LisseTensor *image, const LisseTensor *aux,
            const char *choice, double scale, const char *const *sets)
{
  LisseParams params;
  lisse_params_init (&params, e->params, e->n_params);
  for (int i = 0; sets && sets[i]; i++)
    {
      GError *error = NULL;
      g_assert_true (lisse_params_parse (&params, sets[i], &error));
      g_assert_no_error (error);
    }
  GError *error = NULL;
  LisseTensor *out = lisse_effect_run (e, image, aux, &params, choice, scale, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_true (lisse_tensor_same_shape (out, image));
  return out;
}

/* The error of a run that must fail; asserts it fails with one line. */
static GError *
run_error (const LisseEffectInfo *e, const LisseTensor *image, const LisseTensor *aux,
           const char *choice, double scale)
{
  LisseParams params;
  lisse_params_init (&params, e->params, e->n_params);
  GError *error = NULL;
  LisseTensor *out = lisse_effect_run (e, image, aux, &params, choice, scale, NULL, &error);
  g_assert_null (out);
  g_assert_nonnull (error);
  g_assert_null (strchr (error->message, '\n'));
  return error;
}

static void
assert_colour_in_unit_range (const LisseTensor *t)
{
  const int nc = (t->c == 2 || t->c == 4) ? t->c - 1 : t->c;
  for (int c = 0; c < nc; c++)
    {
      const float *p = lisse_tensor_channel (t, 0, c);
      for (size_t i = 0; i < lisse_tensor_plane (t); i++)
        g_assert_true (p[i] >= 0.0f && p[i] <= 1.0f);
    }
}

/* The fan18 network named @model run directly (net.h) at λf, clamped: the
 * reference for the effects built on it. */
static LisseTensor *
net_reference (const char *model, const LisseTensor *image, double lambda_f)
{
  GError *error = NULL;
  g_autoptr (LisseNet) net = lisse_net_open (model, &error);
  g_assert_no_error (error);
  LisseParams params;
  lisse_net_params_init (net, &params);
  g_assert_true (lisse_params_set (&params, "lambda-f", lambda_f, &error));
  LisseTensor *out = lisse_net_run (net, image, &params, 0, NULL, &error);
  g_assert_no_error (error);
  for (int c = 0; c < 3 && c < out->c; c++)
    {
      float *p = lisse_tensor_channel (out, 0, c);
      for (size_t i = 0; i < lisse_tensor_plane (out); i++)
        p[i] = CLAMP (p[i], 0.0f, 1.0f);
    }
  return out;
}

static double
variance (const float *p, int w, int x0, int x1, int y0, int y1)
{
  double s = 0, s2 = 0;
  int n = 0;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      {
        double v = p[(size_t) y * w + x];
        s += v;
        s2 += v * v;
        n++;
      }
  s /= n;
  return s2 / n - s * s;
}

static double
mean_of (const float *p, int w, int x0, int x1, int y0, int y1)
{
  double s = 0;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      s += p[(size_t) y * w + x];
  return s / ((x1 - x0) * (y1 - y0));
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                    */

static void
test_registry (void)
{
  static const char *const names[] = { "smooth", "magnify-detail", "remove-texture",
                                       "content-aware", "joint-filter", "abstraction",
                                       "pencil-sketch", "fast-filter" };
  const LisseEffectInfo *const *all = lisse_effects ();
  int n = 0;
  for (; all[n]; n++)
    {
      const LisseEffectInfo *e = all[n];
      g_assert_cmpint (n, <, (int) G_N_ELEMENTS (names));
      g_assert_cmpstr (e->name, ==, names[n]);
      g_assert_true (lisse_effect_find (e->name) == e);
      g_assert_true (e->title && *e->title && e->blurb && *e->blurb);
      g_assert_true (e->reference && *e->reference);
      g_assert_nonnull (e->run);
      g_assert_cmpint (e->n_params, >=, 1);
      g_assert_cmpint (e->n_params, <=, LISSE_MAX_PARAMS);
      for (int i = 0; i < e->n_params; i++)
        {
          const LisseParamSpec *s = &e->params[i];
          g_assert_true (s->name && *s->name && s->label && *s->label && s->blurb && *s->blurb);
          g_assert_cmpfloat (s->min, <, s->max);
          g_assert_cmpfloat (s->def, >=, s->min);
          g_assert_cmpfloat (s->def, <=, s->max);
          if (s->integer)
            g_assert_cmpfloat (s->def, ==, floor (s->def));
          for (int j = 0; j < i; j++)
            g_assert_cmpstr (e->params[j].name, !=, s->name);
        }
      /* Every effect has a choice (model, method, mode or style). */
      g_assert_nonnull (e->choice.name);
      g_assert_true (e->choice.label && e->choice.blurb);
      int nv = 0;
      while (nv < LISSE_EFFECT_MAX_CHOICES && e->choice.values[nv].nick)
        {
          g_assert_nonnull (e->choice.values[nv].label);
          g_assert_cmpint (lisse_effect_choice_index (e, e->choice.values[nv].nick), ==, nv);
          nv++;
        }
      g_assert_cmpint (nv, >=, 1);
      g_assert_cmpint (e->choice.def, >=, 0);
      g_assert_cmpint (e->choice.def, <, nv);
      g_assert_cmpint (lisse_effect_choice_index (e, "no-such-choice"), ==, -1);
      g_assert_true ((e->aux == LISSE_EFFECT_AUX_NONE) == (e->aux_label == NULL));
      if (e->aux == LISSE_EFFECT_AUX_NONE)
        g_assert_false (e->aux_required);
    }
  g_assert_cmpint (n, ==, G_N_ELEMENTS (names));
  g_assert_null (lisse_effect_find ("no-such-effect"));
  g_assert_true (lisse_effect_find ("content-aware")->aux == LISSE_EFFECT_AUX_MASK);
  g_assert_false (lisse_effect_find ("content-aware")->aux_required);
  g_assert_true (lisse_effect_find ("joint-filter")->aux == LISSE_EFFECT_AUX_GUIDE);
  g_assert_true (lisse_effect_find ("joint-filter")->aux_required);
  /* The classical methods the effects name exist as filters (csgis and
   * mgpnet, Remove Texture's learned methods, and Joint Filter's learned-*
   * are networks). */
  const LisseEffectInfo *const classic[] = { &lisse_effect_remove_texture, &lisse_effect_joint_filter };
  for (guint k = 0; k < G_N_ELEMENTS (classic); k++)
    for (int i = 0; classic[k]->choice.values[i].nick; i++)
      if (!g_str_equal (classic[k]->choice.values[i].nick, "csgis")
          && !g_str_equal (classic[k]->choice.values[i].nick, "mgpnet")
          && !g_str_has_prefix (classic[k]->choice.values[i].nick, "learned-"))
        g_assert_nonnull (lisse_filter_find (classic[k]->choice.values[i].nick));
  g_assert_cmpint (lisse_effect_choice_index (&lisse_effect_remove_texture, "csgis"), >=, 0);
  g_assert_cmpstr (lisse_effect_remove_texture.choice.values[lisse_effect_remove_texture.choice.def].nick,
                   ==, "rtv");
}

/* Every effect on RGBA, gray and gray+alpha: alpha bit for bit, colour in
 * [0,1], shapes kept. */
static void
test_alpha_and_gray (void)
{
  for (const LisseEffectInfo *const *e = lisse_effects (); *e; e++)
    for (int c = 1; c <= 4; c++)
      {
        g_autoptr (LisseTensor) image = test_image (c, H, W, 7 + c);
        g_autoptr (LisseTensor) aux = default_aux (*e, image);
        g_autoptr (LisseTensor) out = run_effect (*e, image, aux, NULL, 1.0, NULL);
        assert_colour_in_unit_range (out);
        if (c == 2 || c == 4)
          g_assert_cmpmem (lisse_tensor_channel (out, 0, c - 1), W * H * sizeof (float),
                           lisse_tensor_channel (image, 0, c - 1), W * H * sizeof (float));
      }
}

static void
test_smooth_is_the_network (void)
{
  g_autoptr (LisseTensor) image = test_image (3, H, W, 1);
  const char *sets[] = { "lambda-f=3", NULL };
  g_autoptr (LisseTensor) out = run_effect (&lisse_effect_smooth, image, NULL, NULL, 1.0, sets);
  g_autoptr (LisseTensor) ref = net_reference ("fan18-smooth", image, 3.0);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (out, ref), ==, 0.0f);
  /* λf reaches the network: another value gives another result. */
  g_autoptr (LisseTensor) other = run_effect (&lisse_effect_smooth, image, NULL, NULL, 1.0, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (out, other), >, 1e-4f);
  /* Scale < 1 runs the network on the given image as it is. */
  g_autoptr (LisseTensor) half = run_effect (&lisse_effect_smooth, image, NULL, NULL, 0.5, sets);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (half, ref), ==, 0.0f);
}

static void
test_magnify_identities (void)
{
  g_autoptr (LisseTensor) image = test_image (4, H, W, 2);
  const char *gain1[] = { "gain=1", "lambda-f=2", NULL };
  const char *gain0[] = { "gain=0", "lambda-f=2", NULL };
  g_autoptr (LisseTensor) same = run_effect (&lisse_effect_magnify_detail, image, NULL, NULL, 1.0, gain1);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (same, image), <=, 1e-6f);
  g_autoptr (LisseTensor) base = run_effect (&lisse_effect_magnify_detail, image, NULL, NULL, 1.0, gain0);
  g_autoptr (LisseTensor) ref = net_reference ("fan18-detail", image, 2.0);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (base, ref), <=, 1e-6f);
  /* The base differs from the image, so gain > 1 changes it further. */
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (base, image), >, 1e-3f);
  g_autoptr (LisseTensor) more = run_effect (&lisse_effect_magnify_detail, image, NULL, NULL, 1.0, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (more, image), >, 1e-3f);
}

static void
test_content_aware_uniform_masks (void)
{
  g_autoptr (LisseTensor) image = test_image (3, H, W, 3);
  const char *sets[] = { "lambda-background=5", "lambda-foreground=0.2", NULL };
  const char *smooth_bg[] = { "lambda-f=5", NULL };
  const char *smooth_fg[] = { "lambda-f=0.2", NULL };
  g_autoptr (LisseTensor) zeros = constant_mask (H, W, 0.0f);
  g_autoptr (LisseTensor) ones = constant_mask (H, W, 1.0f);
  g_autoptr (LisseTensor) half = constant_mask (H, W, 0.5f);

  g_autoptr (LisseTensor) all_bg = run_effect (&lisse_effect_content_aware, image, zeros, "background", 1.0, sets);
  g_autoptr (LisseTensor) ref_bg = run_effect (&lisse_effect_smooth, image, NULL, NULL, 1.0, smooth_bg);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (all_bg, ref_bg), <=, 1e-6f);
  g_autoptr (LisseTensor) all_fg = run_effect (&lisse_effect_content_aware, image, ones, "background", 1.0, sets);
  g_autoptr (LisseTensor) ref_fg = run_effect (&lisse_effect_smooth, image, NULL, NULL, 1.0, smooth_fg);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (all_fg, ref_fg), <=, 1e-6f);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (ref_bg, ref_fg), >, 1e-4f);
  /* A soft mask lands in between (λ blended in log space). */
  g_autoptr (LisseTensor) mid = run_effect (&lisse_effect_content_aware, image, half, "background", 1.0, sets);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (mid, ref_bg), >, 1e-6f);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (mid, ref_fg), >, 1e-6f);

  /* Foreground mode: m = 0 leaves the image alone; m = 1 is detail
   * magnification over the smoothing at λbg. */
  const char *fg_sets[] = { "lambda-background=5", "gain=2", NULL };
  g_autoptr (LisseTensor) untouched = run_effect (&lisse_effect_content_aware, image, zeros, "foreground", 1.0, fg_sets);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (untouched, image), ==, 0.0f);
  g_autoptr (LisseTensor) enhanced = run_effect (&lisse_effect_content_aware, image, ones, "foreground", 1.0, fg_sets);
  g_autoptr (LisseTensor) s = net_reference ("fan18-smooth", image, 5.0);
  for (int c = 0; c < 3; c++)
    for (size_t i = 0; i < (size_t) W * H; i += 37)
      {
        /* S unclamped in the effect, clamped here: compare where it is inside. */
        float in = lisse_tensor_channel (image, 0, c)[i], sv = lisse_tensor_channel (s, 0, c)[i];
        if (sv <= 0.0f || sv >= 1.0f)
          continue;
        float want = CLAMP (in + 2.0f * (in - sv), 0.0f, 1.0f);
        g_assert_cmpfloat (fabsf (lisse_tensor_channel (enhanced, 0, c)[i] - want), <=, 1e-5f);
      }
  /* Without a mask: the automatic saliency mask, and a result. */
  g_autoptr (LisseTensor) automatic = run_effect (&lisse_effect_content_aware, image, NULL, NULL, 1.0, NULL);
  assert_colour_in_unit_range (automatic);
}

static void
test_saliency (void)
{
  const int w = 64, h = 48;
  g_autoptr (LisseTensor) image = lisse_tensor_new (1, 3, h, w);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        {
          const gboolean inside = x >= 24 && x < 40 && y >= 16 && y < 32;
          lisse_tensor_channel (image, 0, c)[y * w + x] = inside ? (c == 0 ? 0.9f : 0.1f) : 0.5f;
        }
  GError *error = NULL;
  g_autoptr (LisseTensor) s = lisse_saliency_frequency_tuned (image, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->c, ==, 1);
  g_assert_cmpint (s->h, ==, h);
  g_assert_cmpint (s->w, ==, w);
  const float *p = lisse_tensor_channel (s, 0, 0);
  float max = 0, in_min = 1, out_max = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        float v = p[y * w + x];
        g_assert_true (v >= 0.0f && v <= 1.0f);
        max = MAX (max, v);
        if (x >= 26 && x < 38 && y >= 18 && y < 30)
          in_min = MIN (in_min, v);
        if (x < 21 || x >= 43 || y < 13 || y >= 35)
          out_max = MAX (out_max, v);
      }
  g_assert_cmpfloat (max, ==, 1.0f);
  g_assert_cmpfloat (in_min, >, 0.9f);
  g_assert_cmpfloat (out_max, <, 0.3f);
  g_assert_cmpfloat (mean_of (p, w, 24, 40, 16, 32), >, 4 * mean_of (p, w, 0, 16, 0, 48));

  /* The automatic mask keeps the square and drops the background. */
  g_autoptr (LisseTensor) m = lisse_saliency_auto_mask (image, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (lisse_tensor_channel (m, 0, 0)[24 * w + 32], ==, 1.0f);
  g_assert_cmpfloat (lisse_tensor_channel (m, 0, 0)[5 * w + 5], ==, 0.0f);

  /* A uniform image: no salient pixel, no NaN. */
  lisse_tensor_fill (image, 0.3f);
  g_autoptr (LisseTensor) flat = lisse_saliency_frequency_tuned (image, &error);
  g_assert_no_error (error);
  for (int i = 0; i < w * h; i++)
    g_assert_cmpfloat (lisse_tensor_channel (flat, 0, 0)[i], ==, 0.0f);
  /* Gray input. */
  g_autoptr (LisseTensor) gray = test_image (2, 20, 30, 5);
  g_autoptr (LisseTensor) gs = lisse_saliency_frequency_tuned (gray, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gs->c, ==, 1);
}

/* Stripes on a flat field with one big step: texture removal must flatten
 * the stripes and keep the step. */
static void
test_remove_texture (void)
{
  const int w = 64, h = 32;
  g_autoptr (LisseTensor) image = lisse_tensor_new (1, 1, h, w);
  float *p = lisse_tensor_channel (image, 0, 0);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      p[y * w + x] = (x < 32 ? 0.2f : 0.8f) + ((x / 2) % 2 ? 0.06f : -0.06f);
  const double var_left = variance (p, w, 4, 26, 4, 28), var_right = variance (p, w, 38, 60, 4, 28);
  for (int k = 0; lisse_effect_remove_texture.choice.values[k].nick; k++)
    {
      const char *method = lisse_effect_remove_texture.choice.values[k].nick;
      if (g_str_equal (method, "csgis") || g_str_equal (method, "mgpnet"))
        continue;   /* random weights here: what they remove needs a trained model */
      g_autoptr (LisseTensor) out = run_effect (&lisse_effect_remove_texture, image, NULL, method, 1.0, NULL);
      const float *o = lisse_tensor_channel (out, 0, 0);
      const double vl = variance (o, w, 4, 26, 4, 28), vr = variance (o, w, 38, 60, 4, 28);
      g_test_message ("%s: texture variance %.2e → %.2e (left), %.2e → %.2e (right)",
                      method, var_left, vl, var_right, vr);
      g_assert_cmpfloat (vl, <, var_left / 10);
      g_assert_cmpfloat (vr, <, var_right / 10);
      /* The step: both sides keep their levels up to a few pixels from it. */
      const double left = mean_of (o, w, 20, 28, 4, 28), right = mean_of (o, w, 36, 44, 4, 28);
      g_assert_cmpfloat (right - left, >, 0.5);
      g_assert_cmpfloat (fabs (left - 0.2), <, 0.05);
      g_assert_cmpfloat (fabs (right - 0.8), <, 0.05);
    }
}

/* The eight flips and rotations as ensemble.c's table names them, by
 * their own index arithmetic: the pixel (x, y) of transform @k of a w × h
 * image @t. */
static float
naive_transformed (const LisseTensor *t, int c, int k, int x, int y)
{
  const int w = t->w, h = t->h;
  int sx, sy;
  switch (k)
    {
    case 0: sx = x;         sy = y;         break;   /* identity */
    case 1: sx = w - 1 - x; sy = y;         break;   /* mirror x */
    case 2: sx = x;         sy = h - 1 - y; break;   /* mirror y */
    case 3: sx = w - 1 - x; sy = h - 1 - y; break;   /* 180° */
    case 4: sx = y;         sy = x;         break;   /* transpose */
    case 5: sx = y;         sy = h - 1 - x; break;   /* 90° clockwise */
    case 6: sx = w - 1 - y; sy = x;         break;   /* 90° anticlockwise */
    default: sx = w - 1 - y; sy = h - 1 - x; break;  /* anti-transpose */
    }
  return lisse_tensor_at (t, 0, c, sy, sx);
}

/* Self-ensemble (ensemble.c): each transform is the one its table names
 * and its inverse undoes it; the ensemble of n is the mean of the n
 * transformed runs brought back, n = 1 the plain run; Remove Texture's
 * ensemble parameter averages the network and leaves the classical
 * filters alone. */
static void
test_ensemble (void)
{
  GError *error = NULL;
  g_autoptr (LisseTensor) image = test_image (4, 13, 21, 60);   /* odd, not square, alpha */
  for (int k = 0; k < LISSE_ENSEMBLE_MAX; k++)
    {
      g_autoptr (LisseTensor) t = lisse_effect_ensemble_transform (image, k, FALSE, &error);
      g_assert_no_error (error);
      g_assert_cmpint (t->w, ==, k & 4 ? image->h : image->w);
      g_assert_cmpint (t->h, ==, k & 4 ? image->w : image->h);
      for (int c = 0; c < image->c; c++)
        for (int y = 0; y < t->h; y++)
          for (int x = 0; x < t->w; x++)
            g_assert_cmpfloat (lisse_tensor_at (t, 0, c, y, x), ==,
                               naive_transformed (image, c, k, x, y));
      g_autoptr (LisseTensor) back = lisse_effect_ensemble_transform (t, k, TRUE, &error);
      g_assert_no_error (error);
      g_assert_true (lisse_tensor_same_shape (back, image));
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (back, image), ==, 0.0f);
    }

  LisseNet *net = lisse_effect_net_acquire_arch ("csgis-texture", "csgis", &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) plain = lisse_net_run (net, image, NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (LisseTensor) one = lisse_effect_net_run_ensemble (net, image, 1, NULL, &error);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (one, plain), ==, 0.0f);
  for (int n = 2; n <= LISSE_ENSEMBLE_MAX; n *= 2)
    {
      g_autoptr (LisseTensor) ens = lisse_effect_net_run_ensemble (net, image, n, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (lisse_tensor_same_shape (ens, image));
      /* The reference: the mean over the first n transforms, each run through
       * net.h and read back at the transformed position of every pixel. */
      g_autoptr (LisseTensor) mean = lisse_tensor_new (1, 3, image->h, image->w);
      for (int k = 0; k < n; k++)
        {
          g_autoptr (LisseTensor) t = lisse_tensor_new (1, image->c, k & 4 ? image->w : image->h,
                                                        k & 4 ? image->h : image->w);
          for (int c = 0; c < image->c; c++)
            for (int y = 0; y < t->h; y++)
              for (int x = 0; x < t->w; x++)
                lisse_tensor_channel (t, 0, c)[y * t->w + x] = naive_transformed (image, c, k, x, y);
          g_autoptr (LisseTensor) r = lisse_net_run (net, t, NULL, 0, NULL, &error);
          g_assert_no_error (error);
          /* r's pixel (x, y) is the image's pixel the transform put there. */
          g_autoptr (LisseTensor) index = lisse_tensor_new (1, 1, image->h, image->w);
          for (int i = 0; i < image->h * image->w; i++)
            index->data[i] = (float) i;
          for (int c = 0; c < 3; c++)
            for (int y = 0; y < r->h; y++)
              for (int x = 0; x < r->w; x++)
                {
                  const int src = (int) naive_transformed (index, 0, k, x, y);
                  lisse_tensor_channel (mean, 0, c)[src] += lisse_tensor_at (r, 0, c, y, x) / n;
                }
        }
      float worst = 0.0f;
      for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < lisse_tensor_plane (image); i++)
          worst = MAX (worst, fabsf (lisse_tensor_channel (ens, 0, c)[i]
                                     - lisse_tensor_channel (mean, 0, c)[i]));
      g_test_message ("ensemble of %d: largest difference to the reference mean %.2e", n, worst);
      g_assert_cmpfloat (worst, <=, 1e-6f);
      /* Alpha is the image's, bit for bit; and the average is not the plain run. */
      g_assert_cmpmem (lisse_tensor_channel (ens, 0, 3), lisse_tensor_plane (image) * sizeof (float),
                       lisse_tensor_channel (image, 0, 3), lisse_tensor_plane (image) * sizeof (float));
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (ens, plain), >, 1e-4f);
      /* Remove Texture with the parameter: the clamped ensemble. */
      g_autofree char *set = g_strdup_printf ("ensemble=%d", n);
      const char *sets[] = { set, NULL };
      g_autoptr (LisseTensor) eff = run_effect (&lisse_effect_remove_texture, image, NULL, "csgis",
                                                1.0, sets);
      lisse_effect_clamp (ens);
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (eff, ens), ==, 0.0f);
    }
  lisse_effect_net_release (net);

  /* The classical methods do not use it. */
  const char *eight[] = { "ensemble=8", NULL };
  g_autoptr (LisseTensor) rtv1 = run_effect (&lisse_effect_remove_texture, image, NULL, "rtv", 1.0, NULL);
  g_autoptr (LisseTensor) rtv8 = run_effect (&lisse_effect_remove_texture, image, NULL, "rtv", 1.0, eight);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (rtv1, rtv8), ==, 0.0f);
}

/* fang19-rtv (or @model) run directly (net.h) at λ with @guide (NULL:
 * self-guided), clamped: what Fast Filter and Joint Filter's learned method
 * must give. */
static LisseTensor *
fang19_model_direct (const char *model, const LisseTensor *image, double lambda,
                     const LisseTensor *guide)
{
  GError *error = NULL;
  LisseNet *net = lisse_effect_net_acquire_arch (model, "fang19", &error);
  g_assert_no_error (error);
  LisseParams params;
  lisse_net_params_init (net, &params);
  g_assert_true (lisse_params_set (&params, "lambda", lambda, NULL));
  LisseTensor *out = lisse_net_run_map (net, image, &params, guide, 0, NULL, &error);
  g_assert_no_error (error);
  lisse_effect_net_release (net);
  lisse_effect_clamp (out);
  return out;
}

static LisseTensor *
fang19_direct (const LisseTensor *image, double lambda, const LisseTensor *guide)
{
  return fang19_model_direct ("fang19-rtv", image, lambda, guide);
}

/* Fast Filter is the fang19 network at λ = strength · λ_ref within the
 * model's range; Joint Filter's learned-rtv is the same network with its
 * kernels computed from the guide, λ = λ_ref · (r/4)². */
static void
test_fast_filter (void)
{
  g_autoptr (LisseTensor) image = test_image (3, H, W, 21);
  g_autoptr (LisseTensor) other = test_image (3, H, W, 22);
  const char *s2[] = { "strength=2", NULL }, *s5[] = { "strength=5", NULL };
  g_autoptr (LisseTensor) ff1 = run_effect (&lisse_effect_fast_filter, image, NULL, NULL, 1.0, NULL);
  g_autoptr (LisseTensor) ff2 = run_effect (&lisse_effect_fast_filter, image, NULL, "rtv", 1.0, s2);
  g_autoptr (LisseTensor) ff5 = run_effect (&lisse_effect_fast_filter, image, NULL, "rtv", 0.5, s5);
  g_autoptr (LisseTensor) ref1 = fang19_direct (image, 0.01, NULL);
  g_autoptr (LisseTensor) ref2 = fang19_direct (image, 0.02, NULL);
  g_autoptr (LisseTensor) ref5 = fang19_direct (image, 0.05, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (ff1, ref1), ==, 0.0f);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (ff2, ref2), ==, 0.0f);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (ff5, ref5), ==, 0.0f);   /* no spatial parameter */
  g_test_message ("fast-filter strength 1 vs 2: %g", lisse_tensor_max_abs_diff (ff1, ff2));
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (ff1, ff2), >, 1e-4f);   /* λ reaches the network */
  /* WLS: fang19-wls at λ = strength · 1 */
  g_autoptr (LisseTensor) fw2 = run_effect (&lisse_effect_fast_filter, image, NULL, "wls", 1.0, s2);
  g_autoptr (LisseTensor) refw2 = fang19_model_direct ("fang19-wls", image, 2.0, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (fw2, refw2), ==, 0.0f);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (fw2, ff2), >, 1e-4f);   /* another model */

  /* λ beyond the model's range goes to its nearest end. */
  GError *error = NULL;
  LisseNet *net = lisse_effect_net_acquire_arch ("fang19-rtv", "fang19", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (lisse_effect_fang19_lambda (net, 1.0), ==, 0.01);
  g_assert_cmpfloat (lisse_effect_fang19_lambda (net, 0.01), ==, 0.002);
  g_assert_cmpfloat (lisse_effect_fang19_lambda (net, 100.0), ==, 0.05);
  lisse_effect_net_release (net);

  /* Joint Filter, learned: self-guided at r = 8 is Fast Filter at strength 4. */
  const char *r8[] = { "radius=8", NULL };
  g_autoptr (LisseTensor) self = run_effect (&lisse_effect_joint_filter, image, image,
                                             "learned-rtv", 1.0, r8);
  g_autoptr (LisseTensor) ref4 = fang19_direct (image, 0.04, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (self, ref4), ==, 0.0f);
  /* Under another guide: the network's kernels from that guide. */
  g_autoptr (LisseTensor) guided = run_effect (&lisse_effect_joint_filter, image, other,
                                               "learned-rtv", 1.0, r8);
  g_autoptr (LisseTensor) ref_g = fang19_direct (image, 0.04, other);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (guided, ref_g), ==, 0.0f);
  g_test_message ("learned joint filter, own vs other guide: %g",
                  lisse_tensor_max_abs_diff (guided, self));
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (guided, self), >, 1e-4f);
  /* A gray guide is its gray repeated to R'G'B'; an RGBA guide's alpha plays no part. */
  g_autoptr (LisseTensor) gray = test_image (1, H, W, 23);
  g_autoptr (LisseTensor) gray3 = lisse_tensor_new (1, 3, H, W);
  g_autoptr (LisseTensor) rgba = lisse_tensor_new (1, 4, H, W);
  for (int c = 0; c < 4; c++)
    memcpy (lisse_tensor_channel (c < 3 ? gray3 : rgba, 0, c < 3 ? c : 3),
            lisse_tensor_channel (gray, 0, 0), lisse_tensor_plane (gray) * sizeof (float));
  memcpy (rgba->data, gray3->data, lisse_tensor_numel (gray3) * sizeof (float));
  g_autoptr (LisseTensor) by_gray = run_effect (&lisse_effect_joint_filter, image, gray,
                                                "learned-rtv", 1.0, NULL);
  g_autoptr (LisseTensor) by_gray3 = run_effect (&lisse_effect_joint_filter, image, gray3,
                                                 "learned-rtv", 1.0, NULL);
  g_autoptr (LisseTensor) by_rgba = run_effect (&lisse_effect_joint_filter, image, rgba,
                                                "learned-rtv", 1.0, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (by_gray, by_gray3), ==, 0.0f);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (by_rgba, by_gray3), ==, 0.0f);
}

/* An RGB(A) image of luma @y (1×1×H×W) with chroma U = @u, V = @v
 * (colorize.c's definitions) where @where(x) holds, gray elsewhere. */
static LisseTensor *
chroma_image (const LisseTensor *y, int channels, float u, float v, gboolean (*where) (int x))
{
  LisseTensor *t = lisse_tensor_new (1, channels, y->h, y->w);
  for (int yy = 0; yy < y->h; yy++)
    for (int x = 0; x < y->w; x++)
      {
        const size_t i = (size_t) yy * y->w + x;
        const float l = lisse_tensor_channel (y, 0, 0)[i];
        const float r = l + (where (x) ? v : 0.0f), b = l + (where (x) ? u : 0.0f);
        lisse_tensor_channel (t, 0, 0)[i] = r;
        lisse_tensor_channel (t, 0, 1)[i] = (l - 0.2126f * r - 0.0722f * b) / 0.7152f;
        lisse_tensor_channel (t, 0, 2)[i] = b;
        if (channels == 4)
          lisse_tensor_channel (t, 0, 3)[i] = (float) x / y->w;
      }
  return t;
}

static gboolean everywhere (int x) { (void) x; return TRUE; }
static gboolean left_strip (int x) { return x < 4; }
static gboolean nowhere (int x) { (void) x; return FALSE; }

/* Joint Filter's learned colourisation (colorize.c): strokes kept, luma
 * from the guide, one colour spread everywhere exactly (normalised
 * convolution of a constant), two colours mixed, no strokes: gray. */
static void
test_colorize (void)
{
  g_autoptr (LisseTensor) y = test_image (1, H, W, 31);
  for (size_t i = 0; i < lisse_tensor_numel (y); i++)   /* room for the chroma */
    y->data[i] = 0.3f + 0.4f * y->data[i];
  const float u = -0.06f, v = 0.08f;
  g_autoptr (LisseTensor) full = chroma_image (y, 4, u, v, everywhere);
  g_autoptr (LisseTensor) strip = chroma_image (y, 4, u, v, left_strip);
  g_autoptr (LisseTensor) gray = chroma_image (y, 4, u, v, nowhere);
  g_autoptr (LisseTensor) out_full = run_effect (&lisse_effect_joint_filter, full, y,
                                                 "learned-colorize", 1.0, NULL);
  g_autoptr (LisseTensor) out_strip = run_effect (&lisse_effect_joint_filter, strip, y,
                                                  "learned-colorize", 1.0, NULL);
  g_autoptr (LisseTensor) out_gray = run_effect (&lisse_effect_joint_filter, gray, y,
                                                 "learned-colorize", 1.0, NULL);
  g_test_message ("colourise: all strokes %g, one strip spread %g, no strokes %g",
                  lisse_tensor_max_abs_diff (out_full, full), lisse_tensor_max_abs_diff (out_strip, full),
                  lisse_tensor_max_abs_diff (out_gray, gray));
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (out_full, full), <=, 1e-5f);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (out_strip, full), <=, 1e-5f);   /* alpha too */
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (out_gray, gray), <=, 1e-5f);
  /* Two colours, left and right: every pixel's chroma between theirs. */
  g_autoptr (LisseTensor) two = chroma_image (y, 3, u, v, left_strip);
  for (int yy = 0; yy < H; yy++)
    for (int x = W - 4; x < W; x++)
      {
        const size_t i = (size_t) yy * W + x;
        const float l = y->data[i], r = l - v, b = l - u;
        lisse_tensor_channel (two, 0, 0)[i] = r;
        lisse_tensor_channel (two, 0, 1)[i] = (l - 0.2126f * r - 0.0722f * b) / 0.7152f;
        lisse_tensor_channel (two, 0, 2)[i] = b;
      }
  g_autoptr (LisseTensor) out_two = run_effect (&lisse_effect_joint_filter, two, y,
                                                "learned-colorize", 1.0, NULL);
  for (size_t i = 0; i < (size_t) H * W; i++)
    {
      const float r = lisse_tensor_channel (out_two, 0, 0)[i], b = lisse_tensor_channel (out_two, 0, 2)[i];
      const float l = 0.2126f * r + 0.7152f * lisse_tensor_channel (out_two, 0, 1)[i] + 0.0722f * b;
      g_assert_cmpfloat (fabsf (l - y->data[i]), <=, 1e-5f);
      g_assert_cmpfloat (fabsf (r - l), <=, v + 1e-5f);
      g_assert_cmpfloat (fabsf (b - l), <=, -u + 1e-5f);
    }
  /* A gray image cannot hold colour: it gets the guide's luma. */
  g_autoptr (LisseTensor) g1 = test_image (1, H, W, 32);
  g_autoptr (LisseTensor) out_g1 = run_effect (&lisse_effect_joint_filter, g1, y,
                                               "learned-colorize", 1.0, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (out_g1, y), <=, 1e-6f);
}

static void
test_joint_filter_self_guide (void)
{
  g_autoptr (LisseTensor) image = test_image (3, H, W, 4);
  static const struct { const char *method; const char *filter_sets[3]; } cases[] = {
    { "guided", { "radius=4", "epsilon=0.01", NULL } },
    { "joint-bilateral", { "sigma-s=4", "sigma-r=0.1", NULL } },
    { "wls", { "lambda=1", NULL } },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (LisseTensor) out = run_effect (&lisse_effect_joint_filter, image, image,
                                                cases[k].method, 1.0, NULL);
      const LisseFilterInfo *f = lisse_filter_find (cases[k].method);
      LisseParams fp;
      lisse_params_init (&fp, f->params, f->n_params);
      for (int i = 0; cases[k].filter_sets[i]; i++)
        g_assert_true (lisse_params_parse (&fp, cases[k].filter_sets[i], NULL));
      GError *error = NULL;
      g_autoptr (LisseTensor) ref = lisse_filter_run (f, image, 3, NULL, &fp, NULL, &error);
      g_assert_no_error (error);
      for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < (size_t) W * H; i++)
          {
            float *r = lisse_tensor_channel (ref, 0, c) + i;
            *r = CLAMP (*r, 0.0f, 1.0f);
          }
      g_test_message ("joint-filter %s vs self-guided: %g", cases[k].method,
                      lisse_tensor_max_abs_diff (out, ref));
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (out, ref), <=, 1e-5f);
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (out, image), >, 1e-3f);
    }
  /* An RGBA guide: its alpha plays no part. */
  g_autoptr (LisseTensor) guide4 = lisse_tensor_new (1, 4, H, W);
  memcpy (guide4->data, image->data, lisse_tensor_numel (image) * sizeof (float));
  lisse_tensor_fill (&(LisseTensor) { 1, 1, H, W, lisse_tensor_channel (guide4, 0, 3), FALSE }, 0.25f);
  g_autoptr (LisseTensor) a = run_effect (&lisse_effect_joint_filter, image, image, NULL, 1.0, NULL);
  g_autoptr (LisseTensor) b = run_effect (&lisse_effect_joint_filter, image, guide4, NULL, 1.0, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (a, b), ==, 0.0f);
  /* A preview scale shrinks the radius: a different, valid result. */
  const char *big[] = { "radius=8", NULL };
  g_autoptr (LisseTensor) full = run_effect (&lisse_effect_joint_filter, image, image, NULL, 1.0, big);
  g_autoptr (LisseTensor) quarter = run_effect (&lisse_effect_joint_filter, image, image, NULL, 0.25, big);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (full, quarter), >, 1e-3f);
}

static void
test_abstraction_and_pencil (void)
{
  g_autoptr (LisseTensor) image = test_image (3, H, W, 6);
  const char *q[] = { "levels=4", "edge-strength=1", NULL };
  g_autoptr (LisseTensor) abs = run_effect (&lisse_effect_abstraction, image, NULL, NULL, 1.0, q);
  assert_colour_in_unit_range (abs);
  const char *plain[] = { "edge-strength=0", "lambda-f=2", NULL };
  g_autoptr (LisseTensor) no_edges = run_effect (&lisse_effect_abstraction, image, NULL, NULL, 1.0, plain);
  g_autoptr (LisseTensor) smooth = net_reference ("fan18-smooth", image, 2.0);
  /* No edges, no levels: the smoothing itself. */
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (no_edges, smooth), <=, 1e-6f);
  /* Edges only darken. */
  const char *edges[] = { "edge-strength=1", "lambda-f=2", NULL };
  g_autoptr (LisseTensor) dark = run_effect (&lisse_effect_abstraction, image, NULL, NULL, 1.0, edges);
  gboolean some_darker = FALSE;
  for (size_t i = 0; i < lisse_tensor_numel (dark); i++)
    {
      g_assert_cmpfloat (dark->data[i], <=, smooth->data[i] + 1e-6f);
      some_darker |= dark->data[i] < smooth->data[i] - 0.05f;
    }
  g_assert_true (some_darker);

  g_autoptr (LisseTensor) gray = run_effect (&lisse_effect_pencil_sketch, image, NULL, "gray", 1.0, NULL);
  assert_colour_in_unit_range (gray);
  g_assert_cmpmem (lisse_tensor_channel (gray, 0, 0), W * H * sizeof (float),
                   lisse_tensor_channel (gray, 0, 1), W * H * sizeof (float));
  g_assert_cmpmem (lisse_tensor_channel (gray, 0, 0), W * H * sizeof (float),
                   lisse_tensor_channel (gray, 0, 2), W * H * sizeof (float));
  /* White paper with darker lines somewhere. */
  float lo = 1, hi = 0;
  for (int i = 0; i < W * H; i++)
    {
      lo = MIN (lo, gray->data[i]);
      hi = MAX (hi, gray->data[i]);
    }
  g_assert_cmpfloat (hi, >, 0.9f);
  g_assert_cmpfloat (lo, <, 0.8f);
  /* Coloured pencil: the graphite drawing in place of the smoothed
   * colour's luma, c + (R − Y). */
  const char *lf2[] = { "lambda-f=2", NULL };
  g_autoptr (LisseTensor) drawing = run_effect (&lisse_effect_pencil_sketch, image, NULL, "gray", 1.0, lf2);
  g_autoptr (LisseTensor) colour = run_effect (&lisse_effect_pencil_sketch, image, NULL, "colour", 1.0, lf2);
  for (int i = 0; i < W * H; i++)
    {
      float sc[3];
      for (int c = 0; c < 3; c++)
        sc[c] = CLAMP (lisse_tensor_channel (smooth, 0, c)[i], 0.0f, 1.0f);
      const float y = 0.2126f * sc[0] + 0.7152f * sc[1] + 0.0722f * sc[2];
      for (int c = 0; c < 3; c++)
        g_assert_cmpfloat (fabsf (lisse_tensor_channel (colour, 0, c)[i]
                                  - CLAMP (sc[c] + drawing->data[i] - y, 0.0f, 1.0f)), <=, 1e-5f);
    }
  /* Shading only darkens (T = H^β ≤ 1), and visibly somewhere. */
  const char *lines_only[] = { "lambda-f=2", "shading=0", NULL };
  g_autoptr (LisseTensor) lines = run_effect (&lisse_effect_pencil_sketch, image, NULL, "gray", 1.0, lines_only);
  gboolean shaded = FALSE;
  for (int i = 0; i < W * H; i++)
    {
      g_assert_cmpfloat (drawing->data[i], <=, lines->data[i] + 1e-6f);
      shaded |= drawing->data[i] < lines->data[i] - 0.1f;
    }
  g_assert_true (shaded);
  /* Line strength 0 and no shading: blank paper. */
  const char *none[] = { "line-strength=0", "shading=0", NULL };
  g_autoptr (LisseTensor) blank = run_effect (&lisse_effect_pencil_sketch, image, NULL, NULL, 1.0, none);
  for (size_t i = 0; i < lisse_tensor_numel (blank); i++)
    g_assert_cmpfloat (blank->data[i], ==, 1.0f);
}

static LisseTensor *
run_draft (const LisseEffectInfo *e, const LisseTensor *image, const LisseTensor *aux,
           const char *const *sets, long max_pixels)
{
  LisseParams params;
  lisse_params_init (&params, e->params, e->n_params);
  for (int i = 0; sets && sets[i]; i++)
    g_assert_true (lisse_params_parse (&params, sets[i], NULL));
  GError *error = NULL;
  LisseTensor *out = lisse_effect_run_draft (e, image, aux, &params, NULL, 1.0, max_pixels, NULL,
                                             &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_true (lisse_tensor_same_shape (out, image));
  return out;
}

static double
psnr_colour (const LisseTensor *a, const LisseTensor *b)
{
  const int nc = (a->c == 2 || a->c == 4) ? a->c - 1 : a->c;
  double se = 0.0;
  for (int c = 0; c < nc; c++)
    for (size_t i = 0; i < lisse_tensor_plane (a); i++)
      {
        double d = lisse_tensor_channel (a, 0, c)[i] - lisse_tensor_channel (b, 0, c)[i];
        se += d * d;
      }
  double mse = se / (nc * lisse_tensor_plane (a));
  return mse > 0 ? 10.0 * log10 (1.0 / mse) : INFINITY;
}

/* Drafts (draft.c): the factor, exactness within the budget, alpha and
 * range at any size, and the guided upsampling's detail. */
static void
test_draft (void)
{
  g_assert_cmpint (lisse_effect_draft_factor (W, H, W * H), ==, 1);
  g_assert_cmpint (lisse_effect_draft_factor (W, H, 0), ==, 1);
  g_assert_cmpint (lisse_effect_draft_factor (W, H, W * H / 4), ==, 2);
  g_assert_cmpint (lisse_effect_draft_factor (W, H, W * H / 4 - 1), ==, 3);
  g_assert_cmpint (lisse_effect_draft_factor (1000, 1000, 32768), ==, 6);   /* 167² ≤ 32768 */
  g_assert_cmpint (lisse_effect_draft_factor (1003, 1000, 27889), ==, 7);   /* 168·167 > 27889 */

  for (const LisseEffectInfo *const *e = lisse_effects (); *e; e++)
    {
      g_autoptr (LisseTensor) image = test_image (4, H, W, 21);
      g_autoptr (LisseTensor) aux = default_aux (*e, image);
      /* Within the budget: the full run itself. */
      g_autoptr (LisseTensor) full = run_effect (*e, image, aux, NULL, 1.0, NULL);
      g_autoptr (LisseTensor) same = run_draft (*e, image, aux, NULL, W * H);
      g_assert_cmpmem (full->data, lisse_tensor_numel (full) * sizeof (float), same->data,
                       lisse_tensor_numel (same) * sizeof (float));
      /* Shrunk 3×: alpha untouched, colour in range, near the full run. */
      g_autoptr (LisseTensor) draft = run_draft (*e, image, aux, NULL, W * H / 9);
      assert_colour_in_unit_range (draft);
      g_assert_cmpmem (lisse_tensor_channel (draft, 0, 3), W * H * sizeof (float),
                       lisse_tensor_channel (image, 0, 3), W * H * sizeof (float));
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (draft, full), >, 0.0f);
    }

  /* Magnify Detail at gain 1 is the identity: its draft must give back
   * the image's own detail, which bilinear upsampling of the small run
   * cannot (this image's texture has a period of 4 to 6 pixels). */
  g_autoptr (LisseTensor) image = test_image (3, 4 * H, 4 * W, 22);
  const char *identity[] = { "gain=1", NULL };
  g_autoptr (LisseTensor) draft = run_draft (&lisse_effect_magnify_detail, image, NULL, identity,
                                             W * H);
  LisseParams gain1;
  lisse_params_init (&gain1, lisse_effect_magnify_detail.params,
                     lisse_effect_magnify_detail.n_params);
  g_assert_true (lisse_params_parse (&gain1, "gain=1", NULL));
  g_autoptr (LisseTensor) bilinear
    = lisse_effect_draft_whole (&lisse_effect_magnify_detail, image, NULL, &gain1, "fan18-detail",
                                1.0, W * H, -1, 0.0, NULL, NULL);
  g_assert_nonnull (bilinear);
  g_test_message ("identity draft at factor 4: %.2f dB, bilinear %.2f dB",
                  psnr_colour (draft, image), psnr_colour (bilinear, image));
  g_assert_cmpfloat (psnr_colour (draft, image), >=, 36.0);
  g_assert_cmpfloat (psnr_colour (draft, image), >=, psnr_colour (bilinear, image) + 6.0);

  /* Arguments are checked as for a full run. */
  g_autoptr (LisseTensor) small = test_image (3, H / 2, W, 8);
  LisseParams params;
  lisse_params_init (&params, lisse_effect_joint_filter.params, lisse_effect_joint_filter.n_params);
  GError *error = NULL;
  g_assert_null (lisse_effect_run_draft (&lisse_effect_joint_filter, image, small, &params, NULL,
                                         1.0, 64, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

static void
test_argument_errors (void)
{
  g_autoptr (LisseTensor) image = test_image (3, H, W, 8);
  g_autoptr (LisseTensor) small = test_image (3, H / 2, W, 8);
  GError *error;

  error = run_error (&lisse_effect_joint_filter, image, NULL, NULL, 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "guide"));
  g_clear_error (&error);

  error = run_error (&lisse_effect_remove_texture, image, NULL, "bilateral", 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_assert_nonnull (strstr (error->message, "'bilateral'"));
  g_assert_nonnull (strstr (error->message, "rolling-guidance"));
  g_clear_error (&error);

  error = run_error (&lisse_effect_smooth, image, NULL, "fan18-detail", 1.0);  /* not listed */
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_clear_error (&error);

  error = run_error (&lisse_effect_joint_filter, image, small, NULL, 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  error = run_error (&lisse_effect_smooth, image, image, NULL, 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  error = run_error (&lisse_effect_content_aware, image, image, NULL, 1.0);  /* 3-channel mask */
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  const double bad_scales[] = { 0.0, -1.0, 1.5, NAN };
  for (guint i = 0; i < G_N_ELEMENTS (bad_scales); i++)
    {
      error = run_error (&lisse_effect_remove_texture, image, NULL, NULL, bad_scales[i]);
      g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }

  /* Parameters made for another effect, or out of range. */
  LisseParams params;
  lisse_params_init (&params, lisse_effect_smooth.params, lisse_effect_smooth.n_params);
  error = NULL;
  g_assert_null (lisse_effect_run (&lisse_effect_magnify_detail, image, NULL, &params, NULL, 1.0, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  params.values[0] = 1000.0;
  g_assert_null (lisse_effect_run (&lisse_effect_smooth, image, NULL, &params, NULL, 1.0, NULL, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* A 5-channel image. */
  g_autoptr (LisseTensor) five = lisse_tensor_new (1, 5, 4, 4);
  error = run_error (&lisse_effect_remove_texture, five, NULL, NULL, 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_IMAGE);
  g_clear_error (&error);
}

static gboolean
cancel_now (double fraction, gpointer data)
{
  (void) fraction; (void) data;
  return FALSE;
}

static gboolean
record_progress (double fraction, gpointer data)
{
  double *last = data;
  g_assert_cmpfloat (fraction, >=, *last - 1e-12);
  g_assert_cmpfloat (fraction, <=, 1.0);
  *last = fraction;
  return TRUE;
}

static void
test_progress_and_cancel (void)
{
  g_autoptr (LisseTensor) image = test_image (3, H, W, 9);
  for (const LisseEffectInfo *const *e = lisse_effects (); *e; e++)
    {
      g_autoptr (LisseTensor) aux = default_aux (*e, image);
      LisseParams params;
      lisse_params_init (&params, (*e)->params, (*e)->n_params);
      LisseProgress cancel = { cancel_now, NULL, 0.0, 1.0 };
      GError *error = NULL;
      g_assert_null (lisse_effect_run (*e, image, aux, &params, NULL, 1.0, &cancel, &error));
      g_assert_error (error, LISSE_ERROR, LISSE_ERROR_CANCELLED);
      g_clear_error (&error);
      double last = 0.0;
      LisseProgress rec = { record_progress, &last, 0.0, 1.0 };
      g_autoptr (LisseTensor) out = lisse_effect_run (*e, image, aux, &params, NULL, 1.0, &rec, &error);
      g_assert_no_error (error);
      g_assert_nonnull (out);
      g_assert_cmpfloat (last, >=, 0.99);   /* progress was reported, up to the end */
    }
}

/* A global network's tiling (net.h): whole up to its whole-image size,
 * which its model's widths set; above it the largest core tile whose crop,
 * with the context on both sides, stays within that size; a tile size
 * asked for is used as it is. */
static void
test_global_tiles (void)
{
  GError *error = NULL;
  g_autoptr (LisseNet) net = lisse_net_open ("mgpnet-texture", &error);
  g_assert_no_error (error);
  g_assert_cmpint (net->receptive_radius, ==, LISSE_NET_GLOBAL);
  /* 2 GiB / (40 bytes a pixel × C1 = 4): mgpnet.c's MGPNET_BYTES_PER_PIXEL_PER_C1 */
  const long max = lisse_net_whole_max_pixels (net);
  g_assert_cmpint (max, ==, (long) ((G_GINT64_CONSTANT (2) << 30) / (40.0 * 4)));
  g_assert_cmpint (lisse_net_tile_size (net, 0, 3000, 3000), ==, 0);
  g_assert_cmpint (lisse_net_tile_size (net, 0, 100000, 10), ==, 0);   /* 1 MP */
  const int tile = lisse_net_tile_size (net, 0, 4000, 4000);
  const int crop = tile + 2 * LISSE_NET_GLOBAL_CONTEXT;
  g_assert_cmpint (tile, >, 0);
  g_assert_cmpfloat ((double) crop * crop, <=, (double) max);
  g_assert_cmpfloat ((double) (crop + 1) * (crop + 1), >, (double) max);
  g_assert_cmpint (lisse_net_tile_size (net, 300, 4000, 4000), ==, 300);
  g_assert_cmpint (lisse_net_tile_size (net, 300, 200, 300), ==, 0);
}

/* Remove Texture's memory per method: the classical filters' .memory, a
 * learned method its own, MGPNet's whole-image run on top growing with the
 * image up to its whole-image size and flat above it (tiles); a budget
 * between two methods' costs refuses one and lets the other run; a method
 * whose model is missing costs what its own declaration says. */
static void
test_choice_memory (void)
{
  const LisseEffectInfo *rt = lisse_effect_find ("remove-texture");
  g_assert_nonnull (rt->memory_for);
  g_assert_cmpuint (lisse_effect_memory_bytes (rt, "rtv", 640, 480, 4), ==,
                    lisse_memory_cost_bytes (&rt->memory, 640, 480, 4));
  g_assert_cmpuint (lisse_effect_memory_bytes (rt, NULL, 640, 480, 4), ==,
                    lisse_effect_memory_bytes (rt, "rtv", 640, 480, 4));

  GError *error = NULL;
  g_autoptr (LisseNet) net = lisse_net_open ("mgpnet-texture", &error);
  g_assert_no_error (error);
  const long max = lisse_net_whole_max_pixels (net);   /* 13.4 MP at C1 = 4 */
  const guint64 whole = G_GINT64_CONSTANT (2) << 30;
  g_assert_cmpuint (lisse_net_global_run_bytes (net, 0, 0), ==, 0);
  g_assert_cmpfloat (fabs ((double) lisse_net_global_run_bytes (net, 1000, 1000)
                           - whole * 1e6 / max), <=, 1.0);
  g_assert_cmpuint (lisse_net_global_run_bytes (net, 10000, 10000), ==, whole);
  g_autoptr (LisseNet) local = lisse_net_open ("csgis-texture", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lisse_net_global_run_bytes (local, 10000, 10000), ==, 0);

  /* MGPNet grows with the image, then stays within its whole-image term. */
  const guint64 m1 = lisse_effect_memory_bytes (rt, "mgpnet", 1000, 1000, 4);
  const guint64 m2 = lisse_effect_memory_bytes (rt, "mgpnet", 2000, 2000, 4);
  const guint64 m8 = lisse_effect_memory_bytes (rt, "mgpnet", 8000, 8000, 4);
  g_assert_cmpuint (m2, >, m1);
  g_assert_cmpuint (m8, >, whole);
  const guint64 c8 = lisse_effect_memory_bytes (rt, "csgis", 8000, 8000, 4);
  g_assert_cmpuint (m8 - whole, <, c8);   /* beyond the network: no more than CSGIS-Net */

  /* A budget that fits CSGIS-Net at 2000² RGBA but not MGPNet (its 610 MiB term). */
  const guint64 csgis = lisse_effect_memory_bytes (rt, "csgis", 2000, 2000, 4);
  g_assert_cmpuint (csgis, <, m2);
  g_autofree char *budget = g_strdup_printf ("%" G_GUINT64_FORMAT, (csgis + m2) / 2);
  g_setenv ("LISSE_MEMORY_BUDGET", budget, TRUE);
  g_assert_true (lisse_effect_check_memory (rt, "csgis", 2000, 2000, 4, 0, &error));
  g_assert_no_error (error);
  g_assert_false (lisse_effect_check_memory (rt, "mgpnet", 2000, 2000, 4, 0, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY);
  g_assert_nonnull (strstr (error->message, "remove-texture"));
  g_clear_error (&error);
  g_unsetenv ("LISSE_MEMORY_BUDGET");

  /* Without its model MGPNet counts only its own planes; the run reports the model. */
  g_autofree char *saved = g_strdup (g_getenv ("LISSE_MODEL_PATH"));
  g_setenv ("LISSE_MODEL_PATH", "/nonexistent-lisse-models", TRUE);
  lisse_effect_cache_clear ();
  g_assert_cmpuint (lisse_effect_memory_bytes (rt, "mgpnet", 1000, 1000, 4), <, m1);
  g_setenv ("LISSE_MODEL_PATH", saved, TRUE);
  lisse_effect_cache_clear ();
}

/* Every effect and choice at 1 and 2 threads: bit for bit the same. */
static void
test_threads (void)
{
  g_autoptr (LisseTensor) image = test_image (4, H, W, 10);
  for (const LisseEffectInfo *const *e = lisse_effects (); *e; e++)
    for (int k = 0; (*e)->choice.values[k].nick; k++)
      {
        g_autoptr (LisseTensor) aux = default_aux (*e, image);
        const char *nick = (*e)->choice.values[k].nick;
        lisse_threads_set (1);
        g_autoptr (LisseTensor) one = run_effect (*e, image, aux, nick, 1.0, NULL);
        lisse_threads_set (2);
        g_autoptr (LisseTensor) two = run_effect (*e, image, aux, nick, 1.0, NULL);
        g_assert_cmpmem (one->data, lisse_tensor_numel (one) * sizeof (float),
                         two->data, lisse_tensor_numel (two) * sizeof (float));
      }
}

/* The cache: a model file replaced on disk is reloaded; missing and broken
 * models give one-line errors that name them. */
static void
test_model_cache (void)
{
  g_autoptr (LisseTensor) image = test_image (3, H, W, 11);
  g_autofree char *dir = g_build_filename (model_dir, "cache", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_autofree char *path = g_build_filename (dir, "fan18-smooth.safetensors", NULL);
  g_autofree char *saved = g_strdup (g_getenv ("LISSE_MODEL_PATH"));
  g_setenv ("LISSE_MODEL_PATH", dir, TRUE);

  /* Missing. */
  GError *error = run_error (&lisse_effect_smooth, image, NULL, NULL, 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_assert_nonnull (strstr (error->message, "fan18-smooth"));
  g_clear_error (&error);

  write_fan18 (path, 100, "fan18", FALSE);
  g_autoptr (LisseTensor) first = run_effect (&lisse_effect_smooth, image, NULL, NULL, 1.0, NULL);
  g_autoptr (LisseTensor) again = run_effect (&lisse_effect_smooth, image, NULL, NULL, 1.0, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (first, again), ==, 0.0f);
  /* Rewritten with other weights (and a later modification time). */
  write_fan18 (path, 200, "fan18", FALSE);
  /* File times can be coarser than the time between two writes: set one
   * that surely differs. */
  struct utimbuf times = { .actime = 1000000000, .modtime = 1000000000 };
  g_assert_cmpint (g_utime (path, &times), ==, 0);
  g_autoptr (LisseTensor) second = run_effect (&lisse_effect_smooth, image, NULL, NULL, 1.0, NULL);
  g_assert_cmpfloat (lisse_tensor_max_abs_diff (first, second), >, 1e-5f);

  /* Broken: a tensor missing, or another architecture. */
  write_fan18 (path, 300, "fan18", TRUE);
  error = run_error (&lisse_effect_smooth, image, NULL, NULL, 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_clear_error (&error);
  write_fan18 (path, 300, "no-such-net", FALSE);
  error = run_error (&lisse_effect_abstraction, image, NULL, NULL, 1.0);
  g_assert_nonnull (strstr (error->message, "no-such-net"));
  g_clear_error (&error);

  /* Remove Texture's csgis: its model missing, or of another architecture;
   * and a csgis file where a fan18 one is wanted (one cache, two checks). */
  error = run_error (&lisse_effect_remove_texture, image, NULL, "csgis", 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_assert_nonnull (strstr (error->message, "csgis-texture"));
  g_clear_error (&error);
  g_autofree char *csgis_path = g_build_filename (dir, "csgis-texture.safetensors", NULL);
  write_fan18 (csgis_path, 400, "fan18", FALSE);
  error = run_error (&lisse_effect_remove_texture, image, NULL, "csgis", 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_nonnull (strstr (error->message, "'fan18'"));
  g_clear_error (&error);
  /* Fast Filter and Joint Filter's learned method: fang19-rtv missing, or
   * of another architecture; the image is never returned half-done. */
  error = run_error (&lisse_effect_fast_filter, image, NULL, NULL, 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_assert_nonnull (strstr (error->message, "fang19-rtv"));
  g_clear_error (&error);
  error = run_error (&lisse_effect_fast_filter, image, NULL, "wls", 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_assert_nonnull (strstr (error->message, "fang19-wls"));
  g_clear_error (&error);
  g_autoptr (LisseTensor) gray_image = test_image (1, H, W, 12);   /* no strokes at all */
  error = run_error (&lisse_effect_joint_filter, gray_image, image, "learned-colorize", 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_assert_nonnull (strstr (error->message, "fang19-rtv"));
  g_clear_error (&error);
  g_autofree char *fang19_path = g_build_filename (dir, "fang19-rtv.safetensors", NULL);
  write_csgis (fang19_path, 450);
  error = run_error (&lisse_effect_joint_filter, image, image, "learned-rtv", 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_nonnull (strstr (error->message, "'csgis'"));
  g_assert_nonnull (strstr (error->message, "fang19"));
  g_clear_error (&error);
  g_unlink (fang19_path);
  write_csgis (path, 500);
  error = run_error (&lisse_effect_smooth, image, NULL, NULL, 1.0);
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_nonnull (strstr (error->message, "lambda-f"));
  g_clear_error (&error);

  lisse_effect_cache_clear ();
  g_unlink (csgis_path);
  g_unlink (path);
  g_rmdir (dir);
  g_setenv ("LISSE_MODEL_PATH", saved, TRUE);
}

/* A run holding a network while another thread clears the cache and loads
 * a new one: nothing is freed under it. */
typedef struct
{
  const LisseTensor *image;
  LisseTensor       *out;
} ThreadRun;

static gpointer
thread_run (gpointer data)
{
  ThreadRun *r = data;
  LisseParams params;
  lisse_params_init (&params, lisse_effect_smooth.params, lisse_effect_smooth.n_params);
  r->out = lisse_effect_run (&lisse_effect_smooth, r->image, NULL, &params, NULL, 1.0, NULL, NULL);
  return NULL;
}

static void
test_cache_concurrent (void)
{
  g_autoptr (LisseTensor) image = test_image (3, H, W, 12);
  g_autoptr (LisseTensor) ref = run_effect (&lisse_effect_smooth, image, NULL, NULL, 1.0, NULL);
  ThreadRun runs[4];
  GThread *threads[4];
  for (int i = 0; i < 4; i++)
    {
      runs[i] = (ThreadRun) { image, NULL };
      threads[i] = g_thread_new ("effect", thread_run, &runs[i]);
      if (i == 1)
        lisse_effect_cache_clear ();
    }
  for (int i = 0; i < 4; i++)
    {
      g_thread_join (threads[i]);
      g_assert_nonnull (runs[i].out);
      g_assert_cmpfloat (lisse_tensor_max_abs_diff (runs[i].out, ref), ==, 0.0f);
      lisse_tensor_free (runs[i].out);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  /* The test's own tiny models, in a directory that is removed at the end. */
  GError *error = NULL;
  model_dir = g_dir_make_tmp ("lisse-test-effects-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *smooth_path = g_build_filename (model_dir, "fan18-smooth.safetensors", NULL);
  g_autofree char *detail_path = g_build_filename (model_dir, "fan18-detail.safetensors", NULL);
  g_autofree char *csgis_path = g_build_filename (model_dir, "csgis-texture.safetensors", NULL);
  g_autofree char *fang19_path = g_build_filename (model_dir, "fang19-rtv.safetensors", NULL);
  write_fan18 (smooth_path, 1, "fan18", FALSE);
  write_fan18 (detail_path, 2, "fan18", FALSE);
  write_csgis (csgis_path, 3);
  g_autofree char *mgpnet_path = g_build_filename (model_dir, "mgpnet-texture.safetensors", NULL);
  write_mgpnet (mgpnet_path, 6);
  g_autofree char *wls_path = g_build_filename (model_dir, "fang19-wls.safetensors", NULL);
  write_fang19 (fang19_path, 4, FALSE);
  write_fang19 (wls_path, 5, TRUE);
  g_setenv ("LISSE_MODEL_PATH", model_dir, TRUE);

  g_test_add_func ("/effects/registry", test_registry);
  g_test_add_func ("/effects/alpha-and-gray", test_alpha_and_gray);
  g_test_add_func ("/effects/smooth", test_smooth_is_the_network);
  g_test_add_func ("/effects/magnify-detail/identities", test_magnify_identities);
  g_test_add_func ("/effects/content-aware/uniform-masks", test_content_aware_uniform_masks);
  g_test_add_func ("/effects/saliency", test_saliency);
  g_test_add_func ("/effects/remove-texture/stripes", test_remove_texture);
  g_test_add_func ("/effects/remove-texture/ensemble", test_ensemble);
  g_test_add_func ("/effects/joint-filter/self-guide", test_joint_filter_self_guide);
  g_test_add_func ("/effects/fast-filter-and-learned-joint", test_fast_filter);
  g_test_add_func ("/effects/joint-filter/colorize", test_colorize);
  g_test_add_func ("/effects/abstraction-and-pencil", test_abstraction_and_pencil);
  g_test_add_func ("/effects/draft", test_draft);
  g_test_add_func ("/effects/global-network-tiles", test_global_tiles);
  g_test_add_func ("/effects/choice-memory", test_choice_memory);
  g_test_add_func ("/effects/argument-errors", test_argument_errors);
  g_test_add_func ("/effects/progress-and-cancel", test_progress_and_cancel);
  g_test_add_func ("/effects/threads", test_threads);
  g_test_add_func ("/effects/model-cache", test_model_cache);
  g_test_add_func ("/effects/model-cache/concurrent", test_cache_concurrent);
  int status = g_test_run ();

  lisse_effect_cache_clear ();
  g_unlink (smooth_path);
  g_unlink (detail_path);
  g_unlink (csgis_path);
  g_unlink (fang19_path);
  g_unlink (wls_path);
  g_rmdir (model_dir);
  g_free (model_dir);
  return status;
}
