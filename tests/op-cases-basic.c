/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Op tests for ops-basic.h: each optimised op against its reference on
 * random shapes (edge shapes first), round trips of the invertible ops, and
 * fixed inputs whose outputs were worked out by hand from PyTorch's
 * definitions, so that a convention mistaken the same way in the op and its
 * reference still shows.
 *
 * Tolerances are max |fast − ref| <= abs + rel · max |ref| (op-harness.h);
 * each is stated where it is used, with the reason.  "Exact" ops (data
 * movement, max, ReLU) get 0.  For arithmetic, the reference computes in
 * double and rounds once; the optimised op rounds after each float
 * operation, so the bound is a few ulp of the values involved:
 * ulp(1) = 2⁻²³ ≈ 1.19e-7.
 */
#include "op-harness.h"
#include "ops-basic.h"
#include "lisse-error.h"

#include <math.h>
#include <string.h>

#define ULP 1.1920929e-7          /* 2⁻²³, one ulp of 1.0f */

/* ---- Helpers ---------------------------------------------------------- */

typedef struct
{
  int n, c, h, w;
} Shape;

/* Edge shapes for the first trials, random ones after.  C is a multiple of
 * @cm and H, W multiples of @hwm, for ops that need it; @max_c and @max_hw
 * bound the random multiplier. */
static Shape
pick_shape (OpCheck *check, int cm, int hwm, int max_c, int max_hw)
{
  static const Shape edges[] = {
    { 1, 1, 1, 1 },          /* a single value */
    { 1, 1, 1, 0 },          /* one row: W random */
    { 1, 3, 1, 1 },          /* 1×1 image, RGB */
    { 1, 5, 7, 9 },          /* odd sizes */
    { 1, 7, 0, 1 },          /* one column: H random */
    { 2, 13, 5, 3 },         /* batch of two, awkward channel count */
    { 1, 1, 33, 17 },        /* one channel, a larger plane */
  };
  Shape s;
  int t = op_check_trial (check);
  if (t < (int) G_N_ELEMENTS (edges))
    {
      s = edges[t];
      if (s.w == 0)
        s.w = op_rand_int (check, 2, max_hw);
      if (s.h == 0)
        s.h = op_rand_int (check, 2, max_hw);
      s.c = MIN (s.c, max_c);
      s.h = MIN (s.h, max_hw);
      s.w = MIN (s.w, max_hw);
    }
  else
    {
      s.n = op_rand_int (check, 1, 3);
      s.c = op_rand_int (check, 1, max_c);
      s.h = op_rand_int (check, 1, max_hw);
      s.w = op_rand_int (check, 1, max_hw);
    }
  s.c *= cm;
  s.h *= hwm;
  s.w *= hwm;
  return s;
}

static LisseTensor *
rand_shape (OpCheck *check, Shape s, float lo, float hi)
{
  return op_rand_tensor (check, s.n, s.c, s.h, s.w, lo, hi);
}

static float *
rand_floats (OpCheck *check, int count, float lo, float hi)
{
  LisseTensor *t = op_rand_tensor (check, 1, count, 1, 1, lo, hi);
  float *v = g_memdup2 (t->data, (gsize) count * sizeof (float));
  lisse_tensor_free (t);
  return v;
}

/* Compare, report a refused valid input, free everything. */
static void
finish (OpCheck *check, char *what, LisseTensor *fast, LisseTensor *ref,
        GError *error, double abs_tol, double rel_tol)
{
  if (!fast || !ref)
    op_check_fail (check, what, error ? error->message : "op returned NULL");
  else
    op_check_compare (check, what, fast, ref, abs_tol, rel_tol);
  g_clear_error (&error);
  lisse_tensor_free (fast);
  lisse_tensor_free (ref);
  g_free (what);
}

static char *
shape_str (Shape s)
{
  return g_strdup_printf ("%d×%d×%d×%d", s.n, s.c, s.h, s.w);
}

/* ---- Activations ------------------------------------------------------ */

/* The harness bounds the largest error against the largest value, which
 * says little about small outputs when inputs reach ±10.  So the
 * transcendental activations are also checked element by element, in ulp:
 * the tensor compared is |fast − ref| / ulp(max(|ref|, floor)) against 0,
 * with the bound as the absolute tolerance. */
static void
compare_ulps (OpCheck *check, const char *what, const LisseTensor *fast,
              const LisseTensor *ref, float floor_at, double max_ulps)
{
  LisseTensor *err = lisse_tensor_new (ref->n, ref->c, ref->h, ref->w);
  LisseTensor *zero = lisse_tensor_new (ref->n, ref->c, ref->h, ref->w);
  for (size_t i = 0; i < lisse_tensor_numel (ref); i++)
    {
      float r = fmaxf (fabsf (ref->data[i]), floor_at);
      double ulp = (double) nextafterf (r, INFINITY) - r;
      err->data[i] = (float) (fabs ((double) fast->data[i] - ref->data[i]) / ulp);
    }
  finish (check, g_strdup_printf ("%s, error in ulp", what), err, zero, NULL, max_ulps, 0);
}

static void
run_activation (OpCheck *check, LisseActivation act, float lo, float hi,
                double abs_tol, double rel_tol, float ulp_floor, double max_ulps)
{
  Shape s = pick_shape (check, 1, 1, 24, 40);
  float slope = (float) op_rand_int (check, 0, 100) / 100.0f;
  LisseTensor *x = rand_shape (check, s, lo, hi);
  LisseTensor *fast = lisse_tensor_copy (x);
  LisseTensor *ref = x;
  lisse_activation_inplace (fast, act, slope);
  lisse_activation_inplace_ref (ref, act, slope);
  g_autofree char *what = g_strdup_printf ("%d×%d×%d×%d in [%g, %g) slope %g",
                                           s.n, s.c, s.h, s.w, lo, hi, slope);
  if (max_ulps > 0)
    compare_ulps (check, what, fast, ref, ulp_floor, max_ulps);
  finish (check, g_strdup (what), fast, ref, NULL, abs_tol, rel_tol);
}

/* max(x, 0) and x·slope are a single correctly rounded operation in both. */
static void case_relu (OpCheck *c) { run_activation (c, LISSE_ACT_RELU, -4, 4, 0, 0, 0, 0); }
static void case_leaky_relu (OpCheck *c) { run_activation (c, LISSE_ACT_LEAKY_RELU, -4, 4, 0, 0, 0, 0); }
static void case_identity (OpCheck *c) { run_activation (c, LISSE_ACT_NONE, -4, 4, 0, 0, 0, 0); }
/* The vectorised approximations, measured against double libm over every
 * third float: exp within 1.4 ulp of its value, sigmoid 2.5, tanh 1.4;
 * GELU within 1.2 ulp of max(|gelu(x)|, 1) and 6.6 ulp of its own value
 * (the negative lobe, computed as x/2 · erfc, keeps relative accuracy).
 * The bounds below leave half an ulp or more for other compilers' FMA
 * contraction.  The whole-tensor comparison then allows the same in
 * absolute terms: 2 ulp of 1 plus 2 ulp of max |ref| for GELU (its error
 * grows with |x|), 3 ulp of 1 for sigmoid and tanh (|y| <= 1), 2 ulp of
 * max |ref| for exp. */
static void case_gelu (OpCheck *c) { run_activation (c, LISSE_ACT_GELU, -10, 10, 2 * ULP, 2 * ULP, 1e-30f, 8); }
static void case_sigmoid (OpCheck *c) { run_activation (c, LISSE_ACT_SIGMOID, -20, 20, 3 * ULP, 0, 1e-30f, 3.5); }
static void case_tanh (OpCheck *c) { run_activation (c, LISSE_ACT_TANH, -6, 6, 3 * ULP, 0, 1e-30f, 2); }
static void case_exp (OpCheck *c) { run_activation (c, LISSE_ACT_EXP, -10, 10, 0, 2 * ULP, 1e-30f, 2); }

/* bound·tanh(x/bound) for bounds from 1 to 64 and inputs to ±5 bounds,
 * against double tanh: within 4 ulp of the bound, absolutely (the fast
 * form's error near 0 is a few ulp of the bound, not of the value). */
static void
case_bounded_tanh (OpCheck *check)
{
  static const float bounds[] = { 1.f, 3.f, 16.f, 64.f };
  const float b = bounds[op_rand_int (check, 0, G_N_ELEMENTS (bounds) - 1)];
  Shape s = pick_shape (check, 1, 1, 24, 40);
  LisseTensor *fast = rand_shape (check, s, -5 * b, 5 * b);
  LisseTensor *ref = lisse_tensor_copy (fast);
  for (size_t i = 0; i < lisse_tensor_numel (ref); i++)
    ref->data[i] = (float) (b * tanh ((double) ref->data[i] / b));
  lisse_bounded_tanh_inplace (fast, b);
  finish (check, g_strdup_printf ("%d×%d×%d×%d, bound %g", s.n, s.c, s.h, s.w, b), fast, ref,
          NULL, 4 * ULP * b, 0);
}

/* Infinities, NaN and the underflow/overflow ends, which the tensor compare
 * cannot express (inf − inf is NaN). */
static void
case_activation_special (OpCheck *check)
{
  static const struct { LisseActivation act; float in, out; } cases[] = {
    { LISSE_ACT_EXP, -INFINITY, 0.0f },     { LISSE_ACT_EXP, INFINITY, INFINITY },
    { LISSE_ACT_EXP, -200.0f, 0.0f },       { LISSE_ACT_EXP, 100.0f, INFINITY },
    { LISSE_ACT_EXP, 0.0f, 1.0f },          { LISSE_ACT_EXP, -100.0f, 3.7200760e-44f },
    { LISSE_ACT_SIGMOID, -INFINITY, 0.0f }, { LISSE_ACT_SIGMOID, INFINITY, 1.0f },
    { LISSE_ACT_SIGMOID, 0.0f, 0.5f },      { LISSE_ACT_SIGMOID, 200.0f, 1.0f },
    { LISSE_ACT_TANH, -INFINITY, -1.0f },   { LISSE_ACT_TANH, INFINITY, 1.0f },
    { LISSE_ACT_TANH, 0.0f, 0.0f },         { LISSE_ACT_TANH, 1e-30f, 1e-30f },
    { LISSE_ACT_GELU, INFINITY, INFINITY }, { LISSE_ACT_GELU, -30.0f, 0.0f },
    { LISSE_ACT_GELU, 0.0f, 0.0f },         { LISSE_ACT_GELU, 30.0f, 30.0f },
    { LISSE_ACT_RELU, -INFINITY, 0.0f },    { LISSE_ACT_RELU, INFINITY, INFINITY },
  };
  static const LisseActivation with_nan[] = {
    LISSE_ACT_EXP, LISSE_ACT_SIGMOID, LISSE_ACT_TANH, LISSE_ACT_GELU,
  };
  /* One flag per check, 1 = right; compared with all ones so that the
   * harness counts the checks. */
  const int n_checks = G_N_ELEMENTS (cases) + G_N_ELEMENTS (with_nan);
  LisseTensor *right = lisse_tensor_new (1, n_checks, 1, 1);
  LisseTensor *ones = lisse_tensor_new (1, n_checks, 1, 1);
  lisse_tensor_fill (ones, 1.0f);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      float v = cases[i].in;
      lisse_activation_array (&v, 1, cases[i].act, 0.0f);
      /* exp(−100) is subnormal: allow its last bit. */
      right->data[i] = v == cases[i].out || fabsf (v - cases[i].out) <= 2e-45f;
      if (!right->data[i])
        {
          g_autofree char *what = g_strdup_printf ("activation %d of %g",
                                                   cases[i].act, cases[i].in);
          g_autofree char *msg = g_strdup_printf ("gave %g, expected %g",
                                                  v, cases[i].out);
          op_check_fail (check, what, msg);
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (with_nan); i++)
    {
      float v = NAN;
      lisse_activation_array (&v, 1, with_nan[i], 0.0f);
      right->data[G_N_ELEMENTS (cases) + i] = isnan (v);
      if (!isnan (v))
        op_check_fail (check, "NaN input", "an activation did not return NaN");
    }
  finish (check, g_strdup ("special values"), right, ones, NULL, 0, 0);
}

/* ---- Element-wise ----------------------------------------------------- */

/* The second operand's shape: a's, or a's with random dimensions set to 1
 * (channel scaling, pixel scaling, per-channel bias, a scalar). */
static Shape
broadcast_shape (OpCheck *check, Shape a)
{
  Shape b = a;
  int mode = op_check_trial (check) % 6;
  if (mode == 1) b.h = b.w = 1;                        /* [N,C,1,1] */
  if (mode == 2) b.c = 1;                              /* [N,1,H,W] */
  if (mode == 3) b.n = b.h = b.w = 1;                  /* [1,C,1,1] */
  if (mode == 4) b.n = b.c = b.h = b.w = 1;            /* scalar */
  if (mode == 5)
    {
      if (op_rand_int (check, 0, 1)) b.n = 1;
      if (op_rand_int (check, 0, 1)) b.c = 1;
      if (op_rand_int (check, 0, 1)) b.h = 1;
      if (op_rand_int (check, 0, 1)) b.w = 1;
    }
  return b;
}

static void
run_binary (OpCheck *check, int op)
{
  Shape sa = pick_shape (check, 1, 1, 24, 40);
  Shape sb = broadcast_shape (check, sa);
  LisseTensor *a = rand_shape (check, sa, -1, 1);
  LisseTensor *b = rand_shape (check, sb, -1, 1);
  float alpha = (float) op_rand_int (check, -200, 200) / 100.0f;
  float beta = (float) op_rand_int (check, -200, 200) / 100.0f;
  GError *error = NULL;
  LisseTensor *fast, *ref;
  /* Sum and product of two floats are exact in double, so rounding the
   * reference once gives the correctly rounded float result: 0.
   * alpha·a + beta·b rounds three times in float (twice with FMA): at most
   * 1.5 ulp of |alpha·a| + |beta·b| <= 4, so 6 ulp absolute. */
  double abs_tol = 0;
  if (op == 0)
    {
      fast = lisse_add (a, b, &error);
      ref = lisse_add_ref (a, b, NULL);
    }
  else if (op == 1)
    {
      fast = lisse_mul (a, b, &error);
      ref = lisse_mul_ref (a, b, NULL);
    }
  else if (op == 2)
    {
      fast = lisse_scale_add (alpha, a, beta, b, &error);
      ref = lisse_scale_add_ref (alpha, a, beta, b, NULL);
      abs_tol = 6 * ULP;
    }
  else
    {
      /* In place: a ← a + b, then a ← a · b. */
      ref = lisse_add_ref (a, b, NULL);
      LisseTensor *tmp = ref;
      ref = lisse_mul_ref (tmp, b, NULL);
      lisse_tensor_free (tmp);
      fast = lisse_tensor_copy (a);
      if (!lisse_add_inplace (fast, b, &error) || !lisse_mul_inplace (fast, b, &error))
        g_clear_pointer (&fast, lisse_tensor_free);
    }
  g_autofree char *s1 = shape_str (sa), *s2 = shape_str (sb);
  finish (check, g_strdup_printf ("%s op %s alpha %g beta %g", s1, s2, alpha, beta),
          fast, ref, error, abs_tol, 0);
  lisse_tensor_free (a);
  lisse_tensor_free (b);
}

static void case_add (OpCheck *c) { run_binary (c, 0); }
static void case_mul (OpCheck *c) { run_binary (c, 1); }
static void case_scale_add (OpCheck *c) { run_binary (c, 2); }
static void case_add_mul_inplace (OpCheck *c) { run_binary (c, 3); }

/* ---- Normalisation ---------------------------------------------------- */

/* 0: instance, 1: layer (channels), 2: layer (C,H,W), 3: group. */
static void
run_norm (OpCheck *check, int kind)
{
  Shape s = pick_shape (check, 1, 1, 24, 40);
  int t = op_check_trial (check);
  /* Every third trial sits on a large offset: a flat bright region, where
   * a one-pass variance or a float mean would lose the deviations. */
  float offset = t % 3 == 2 ? 1000.0f : 0.0f;
  LisseTensor *x = rand_shape (check, s, offset - 1, offset + 1);
  gboolean affine = t % 2 == 1;
  float *gamma = affine ? rand_floats (check, s.c, -2, 2) : NULL;
  float *beta = affine ? rand_floats (check, s.c, -2, 2) : NULL;
  static const float eps_choices[] = { 1e-5f, 1e-6f, 1e-3f };
  float eps = eps_choices[op_rand_int (check, 0, 2)];
  int groups = 1;
  if (kind == 3)
    {
      /* A random divisor of C. */
      do
        groups = op_rand_int (check, 1, s.c);
      while (s.c % groups != 0);
    }
  GError *error = NULL;
  LisseTensor *fast = NULL, *ref = NULL;
  switch (kind)
    {
    case 0:
      fast = lisse_instance_norm (x, gamma, beta, eps, &error);
      ref = lisse_instance_norm_ref (x, gamma, beta, eps, NULL);
      break;
    case 1:
      fast = lisse_layer_norm_channels (x, gamma, beta, eps, &error);
      ref = lisse_layer_norm_channels_ref (x, gamma, beta, eps, NULL);
      break;
    case 2:
      fast = lisse_layer_norm_chw (x, gamma, beta, eps, &error);
      ref = lisse_layer_norm_chw_ref (x, gamma, beta, eps, NULL);
      break;
    default:
      fast = lisse_group_norm (x, groups, gamma, beta, eps, &error);
      ref = lisse_group_norm_ref (x, groups, gamma, beta, eps, NULL);
      break;
    }
  g_autofree char *ss = shape_str (s);
  /* Statistics are double in both; the optimised op then rounds
   * (x − mean), the scale gamma/σ and the product and sum in float: about
   * 4 ulp of the output's magnitude, whose largest value max |ref| is at
   * least |beta| and the largest normalised deviation. */
  finish (check, g_strdup_printf ("%s groups %d eps %g offset %g affine %d", ss,
                                  groups, eps, offset, affine),
          fast, ref, error, 4 * ULP, 4 * ULP);
  lisse_tensor_free (x);
  g_free (gamma);
  g_free (beta);
}

static void case_instance_norm (OpCheck *c) { run_norm (c, 0); }
static void case_layer_norm_channels (OpCheck *c) { run_norm (c, 1); }
static void case_layer_norm_chw (OpCheck *c) { run_norm (c, 2); }
static void case_group_norm (OpCheck *c) { run_norm (c, 3); }

/* ---- Channels: copies, tolerance 0 ------------------------------------ */

static void
case_concat_channels (OpCheck *check)
{
  Shape s = pick_shape (check, 1, 1, 24, 40);
  int k = op_check_trial (check) == 0 ? 1 : op_rand_int (check, 1, 4);
  LisseTensor *parts[4];
  for (int i = 0; i < k; i++)
    parts[i] = op_rand_tensor (check, s.n, op_rand_int (check, 1, 13), s.h, s.w, -1, 1);
  GError *error = NULL;
  LisseTensor *fast = lisse_concat_channels ((const LisseTensor *const *) parts, k, &error);
  LisseTensor *ref = lisse_concat_channels_ref ((const LisseTensor *const *) parts, k, NULL);
  g_autofree char *ss = shape_str (s);
  finish (check, g_strdup_printf ("%d tensors of %s", k, ss), fast, ref, error, 0, 0);
  for (int i = 0; i < k; i++)
    lisse_tensor_free (parts[i]);
}

static void
case_split_channels (OpCheck *check)
{
  Shape s = pick_shape (check, 1, 1, 24, 40);
  LisseTensor *x = rand_shape (check, s, -1, 1);
  /* A random composition of C. */
  int sizes[24], n_parts = 0, left = s.c;
  while (left > 0)
    {
      sizes[n_parts] = op_rand_int (check, 1, left);
      left -= sizes[n_parts++];
    }
  LisseTensor *fast[24], *ref[24];
  GError *error = NULL;
  gboolean ok = lisse_split_channels (x, sizes, n_parts, fast, &error);
  lisse_split_channels_ref (x, sizes, n_parts, ref, NULL);
  g_autofree char *ss = shape_str (s);
  if (!ok)
    {
      op_check_fail (check, ss, error ? error->message : "split failed");
      g_clear_error (&error);
    }
  for (int i = 0; i < n_parts; i++)
    finish (check, g_strdup_printf ("%s part %d of %d (%d channels)", ss, i,
                                    n_parts, sizes[i]),
            ok ? fast[i] : NULL, ref[i], NULL, 0, 0);
  lisse_tensor_free (x);
}

static void
case_channel_slice (OpCheck *check)
{
  Shape s = pick_shape (check, 1, 1, 24, 40);
  LisseTensor *x = rand_shape (check, s, -1, 1);
  int start = op_rand_int (check, 0, s.c - 1);
  int count = op_rand_int (check, 1, s.c - start);
  GError *error = NULL;
  LisseTensor *fast = lisse_channel_slice (x, start, count, &error);
  LisseTensor *ref = lisse_channel_slice_ref (x, start, count, NULL);
  g_autofree char *ss = shape_str (s);
  finish (check, g_strdup_printf ("%s channels %d+%d", ss, start, count),
          fast, ref, error, 0, 0);
  lisse_tensor_free (x);
}

/* ---- Haar ------------------------------------------------------------- */

/* Four inputs in [−1, 1) summed in float (two roundings, the scale is a
 * power of two) against one rounding of the exact sum: within 1.5 ulp of
 * the largest partial sum, <= 4 · scale <= 2: 3 ulp absolute. */
#define HAAR_ABS (3 * ULP)

static void
run_haar (OpCheck *check, gboolean inverse)
{
  Shape s = inverse ? pick_shape (check, 4, 1, 6, 20) : pick_shape (check, 1, 2, 24, 20);
  LisseHaarScale scale = op_rand_int (check, 0, 1) ? LISSE_HAAR_IRN : LISSE_HAAR_ORTHONORMAL;
  LisseTensor *x = rand_shape (check, s, -1, 1);
  GError *error = NULL;
  LisseTensor *fast, *ref;
  if (inverse)
    {
      fast = lisse_haar_inverse (x, scale, &error);
      ref = lisse_haar_inverse_ref (x, scale, NULL);
    }
  else
    {
      fast = lisse_haar_forward (x, scale, &error);
      ref = lisse_haar_forward_ref (x, scale, NULL);
    }
  g_autofree char *ss = shape_str (s);
  /* The inverse sums four bands of up to 4·scale each, IRN's inverse scale
   * is 1: up to 16 ulp of 1 for IRN. */
  double tol = inverse && scale == LISSE_HAAR_IRN ? 4 * HAAR_ABS : HAAR_ABS;
  finish (check, g_strdup_printf ("%s scale %d", ss, scale), fast, ref, error, tol, 0);
  lisse_tensor_free (x);
}

static void case_haar_forward (OpCheck *c) { run_haar (c, FALSE); }
static void case_haar_inverse (OpCheck *c) { run_haar (c, TRUE); }

/* inverse(forward(x)) = x and forward(inverse(y)) = y up to rounding: two
 * float butterflies each way, 4 ulp of the largest intermediate (4). */
static void
case_haar_roundtrip (OpCheck *check)
{
  Shape s = pick_shape (check, 1, 2, 24, 20);
  LisseHaarScale scale = op_rand_int (check, 0, 1) ? LISSE_HAAR_IRN : LISSE_HAAR_ORTHONORMAL;
  LisseTensor *x = rand_shape (check, s, -1, 1);
  GError *error = NULL;
  LisseTensor *y = lisse_haar_forward (x, scale, &error);
  LisseTensor *back = y ? lisse_haar_inverse (y, scale, &error) : NULL;
  g_autofree char *ss = shape_str (s);
  finish (check, g_strdup_printf ("inverse(forward(%s)) scale %d", ss, scale),
          back, lisse_tensor_copy (x), error, 16 * ULP, 0);
  lisse_tensor_free (y);

  LisseTensor *bands = op_rand_tensor (check, s.n, 4 * s.c, s.h / 2, s.w / 2, -1, 1);
  error = NULL;
  LisseTensor *img = lisse_haar_inverse (bands, scale, &error);
  LisseTensor *again = img ? lisse_haar_forward (img, scale, &error) : NULL;
  finish (check, g_strdup_printf ("forward(inverse(bands of %s)) scale %d", ss, scale),
          again, lisse_tensor_copy (bands), error, 16 * ULP, 0);
  lisse_tensor_free (img);
  lisse_tensor_free (bands);
  lisse_tensor_free (x);
}

static LisseTensor *
tensor_from (int n, int c, int h, int w, const float *values)
{
  LisseTensor *t = lisse_tensor_new (n, c, h, w);
  memcpy (t->data, values, lisse_tensor_numel (t) * sizeof (float));
  return t;
}

/* Two channels of one 2×2 block, by hand: a=1 b=2 c=3 d=5 and ten times
 * that.  Orthonormal bands (·1/2): LL 5.5, a−b+c−d = −3 → −1.5,
 * a+b−c−d = −5 → −2.5, a−b−c+d = 1 → 0.5; IRN (·1/4) halves those.
 * Band-major order: [LL0, LL1, B1_0, B1_1, B2_0, B2_1, B3_0, B3_1]. */
static void
case_haar_known (OpCheck *check)
{
  static const float in[] = { 1, 2, 3, 5, 10, 20, 30, 50 };
  static const float ortho[] = { 5.5f, 55, -1.5f, -15, -2.5f, -25, 0.5f, 5 };
  static const float irn[] = { 2.75f, 27.5f, -0.75f, -7.5f, -1.25f, -12.5f, 0.25f, 2.5f };
  LisseTensor *x = tensor_from (1, 2, 2, 2, in);
  GError *error = NULL;
  finish (check, g_strdup ("haar orthonormal, known values"),
          lisse_haar_forward (x, LISSE_HAAR_ORTHONORMAL, &error),
          tensor_from (1, 8, 1, 1, ortho), error, 0, 0);
  error = NULL;
  finish (check, g_strdup ("haar IRN, known values"),
          lisse_haar_forward (x, LISSE_HAAR_IRN, &error),
          tensor_from (1, 8, 1, 1, irn), error, 0, 0);
  LisseTensor *y = tensor_from (1, 8, 1, 1, irn);
  error = NULL;
  finish (check, g_strdup ("inverse haar IRN, known values"),
          lisse_haar_inverse (y, LISSE_HAAR_IRN, &error),
          lisse_tensor_copy (x), error, 0, 0);
  lisse_tensor_free (y);
  lisse_tensor_free (x);
}

/* ---- Pooling ---------------------------------------------------------- */

static void
run_window_pool (OpCheck *check, gboolean is_max)
{
  static const int kernels[] = { 1, 2, 3, 4, 5, 7 };
  int k = kernels[op_rand_int (check, 0, G_N_ELEMENTS (kernels) - 1)];
  int stride = op_rand_int (check, 1, 3);
  int pad = op_rand_int (check, 0, k / 2);
  gboolean include_pad = op_rand_int (check, 0, 1);
  Shape s = pick_shape (check, 1, 1, 24, 40);
  /* The padded image must hold one window. */
  s.h = MAX (s.h, k - 2 * pad);
  s.w = MAX (s.w, k - 2 * pad);
  LisseTensor *x = rand_shape (check, s, -1, 1);
  GError *error = NULL;
  LisseTensor *fast, *ref;
  if (is_max)
    {
      fast = lisse_max_pool2d (x, k, stride, pad, &error);
      ref = lisse_max_pool2d_ref (x, k, stride, pad, NULL);
    }
  else
    {
      fast = lisse_avg_pool2d (x, k, stride, pad, include_pad, &error);
      ref = lisse_avg_pool2d_ref (x, k, stride, pad, include_pad, NULL);
    }
  g_autofree char *ss = shape_str (s);
  /* Max: exact.  Average: both sum in double (different order, error far
   * below float precision) and round once; they can differ by one rounding
   * of a value <= 1: 1 ulp. */
  finish (check, g_strdup_printf ("%s kernel %d stride %d pad %d include_pad %d",
                                  ss, k, stride, pad, include_pad),
          fast, ref, error, is_max ? 0 : ULP, 0);
  lisse_tensor_free (x);
}

static void case_avg_pool2d (OpCheck *c) { run_window_pool (c, FALSE); }
static void case_max_pool2d (OpCheck *c) { run_window_pool (c, TRUE); }

/* 3×3 image 1..9, 3×3 window, stride 1, padding 1: the corner averages
 * {1,2,4,5} = 3 without the padding, 12/9 with it; the centre is 5. */
static void
case_pool_known (OpCheck *check)
{
  static const float in[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  static const float excl[] = { 3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7 };
  static const float incl[] = { 12 / 9.f, 21 / 9.f, 16 / 9.f, 27 / 9.f, 5,
                                33 / 9.f, 24 / 9.f, 39 / 9.f, 28 / 9.f };
  static const float mx[] = { 5, 6, 6, 8, 9, 9, 8, 9, 9 };
  LisseTensor *x = tensor_from (1, 1, 3, 3, in);
  GError *error = NULL;
  finish (check, g_strdup ("avg pool, padding excluded, known values"),
          lisse_avg_pool2d (x, 3, 1, 1, FALSE, &error), tensor_from (1, 1, 3, 3, excl),
          error, 0, ULP);
  error = NULL;
  finish (check, g_strdup ("avg pool, padding included, known values"),
          lisse_avg_pool2d (x, 3, 1, 1, TRUE, &error), tensor_from (1, 1, 3, 3, incl),
          error, 0, ULP);
  error = NULL;
  finish (check, g_strdup ("max pool, known values"),
          lisse_max_pool2d (x, 3, 1, 1, &error), tensor_from (1, 1, 3, 3, mx),
          error, 0, 0);
  lisse_tensor_free (x);
}

/* 0: global avg, 1: global max, 2: channel mean, 3: channel max. */
static void
run_reduce (OpCheck *check, int kind)
{
  Shape s = pick_shape (check, 1, 1, 24, 40);
  LisseTensor *x = rand_shape (check, s, -1, 1);
  GError *error = NULL;
  LisseTensor *fast, *ref;
  switch (kind)
    {
    case 0:
      fast = lisse_global_avg_pool (x, &error);
      ref = lisse_global_avg_pool_ref (x, NULL);
      break;
    case 1:
      fast = lisse_global_max_pool (x, &error);
      ref = lisse_global_max_pool_ref (x, NULL);
      break;
    case 2:
      fast = lisse_channel_mean (x, &error);
      ref = lisse_channel_mean_ref (x, NULL);
      break;
    default:
      fast = lisse_channel_max (x, &error);
      ref = lisse_channel_max_ref (x, NULL);
      break;
    }
  g_autofree char *ss = shape_str (s);
  /* Maxima exact; means summed in double in both, rounded once: 1 ulp. */
  finish (check, g_strdup (ss), fast, ref, error, kind % 2 ? 0 : ULP, 0);
  lisse_tensor_free (x);
}

static void case_global_avg_pool (OpCheck *c) { run_reduce (c, 0); }
static void case_global_max_pool (OpCheck *c) { run_reduce (c, 1); }
static void case_channel_mean (OpCheck *c) { run_reduce (c, 2); }
static void case_channel_max (OpCheck *c) { run_reduce (c, 3); }

/* ---- Resize ----------------------------------------------------------- */

static void
case_resize_bilinear (OpCheck *check)
{
  Shape s = pick_shape (check, 1, 1, 16, 40);
  int t = op_check_trial (check);
  int oh, ow;
  if (t % 4 == 0)
    {
      oh = s.h;                         /* same size: a copy */
      ow = s.w;
    }
  else if (t % 4 == 1)
    {
      oh = 2 * s.h;                     /* the usual ×2 upsampling */
      ow = 2 * s.w;
    }
  else
    {
      oh = op_rand_int (check, 1, 50);
      ow = op_rand_int (check, 1, 50);
    }
  gboolean align = op_rand_int (check, 0, 1);
  LisseTensor *x = rand_shape (check, s, -1, 1);
  GError *error = NULL;
  LisseTensor *fast = lisse_resize_bilinear (x, oh, ow, align, &error);
  LisseTensor *ref = lisse_resize_bilinear_ref (x, oh, ow, align, NULL);
  g_autofree char *ss = shape_str (s);
  /* A convex blend of four inputs in [−1, 1): float weights (rounded
   * once) and five float operations against one rounding: 6 ulp of 1. */
  finish (check, g_strdup_printf ("%s → %d×%d align_corners %d", ss, oh, ow, align),
          fast, ref, error, 6 * ULP, 0);
  lisse_tensor_free (x);
}

/* PyTorch's documented example (nn.Upsample): [[1,2],[3,4]] to 4×4, and
 * two 1-D cases worked out from the sampling positions. */
static void
case_resize_known (OpCheck *check)
{
  static const float in[] = { 1, 2, 3, 4 };
  static const float up_half[] = {
    1.00f, 1.25f, 1.75f, 2.00f,
    1.50f, 1.75f, 2.25f, 2.50f,
    2.50f, 2.75f, 3.25f, 3.50f,
    3.00f, 3.25f, 3.75f, 4.00f,
  };
  static const float up_corners[] = {
    1.0f,      4 / 3.0f,  5 / 3.0f,  2.0f,
    5 / 3.0f,  2.0f,      7 / 3.0f,  8 / 3.0f,
    7 / 3.0f,  8 / 3.0f,  3.0f,      10 / 3.0f,
    3.0f,      10 / 3.0f, 11 / 3.0f, 4.0f,
  };
  /* 3 → 5, align_corners=False: positions (i + 0.5)·0.6 − 0.5 =
   * −0.2 (clamped to 0), 0.4, 1.0, 1.6, 2.2 (past the last pixel). */
  static const float row3[] = { 0, 10, 20 };
  static const float row5[] = { 0, 4, 10, 16, 20 };
  /* 4 → 2: positions 0.5 and 2.5. */
  static const float row4[] = { 0, 1, 2, 3 };
  static const float row2[] = { 0.5f, 2.5f };
  LisseTensor *x = tensor_from (1, 1, 2, 2, in);
  GError *error = NULL;
  finish (check, g_strdup ("2×2 → 4×4, align_corners=False"),
          lisse_resize_bilinear (x, 4, 4, FALSE, &error),
          tensor_from (1, 1, 4, 4, up_half), error, 0, ULP);
  error = NULL;
  finish (check, g_strdup ("2×2 → 4×4, align_corners=True"),
          lisse_resize_bilinear (x, 4, 4, TRUE, &error),
          tensor_from (1, 1, 4, 4, up_corners), error, 0, 2 * ULP);
  lisse_tensor_free (x);
  x = tensor_from (1, 1, 1, 3, row3);
  error = NULL;
  finish (check, g_strdup ("1×3 → 1×5"), lisse_resize_bilinear (x, 1, 5, FALSE, &error),
          tensor_from (1, 1, 1, 5, row5), error, 0, 2 * ULP);
  lisse_tensor_free (x);
  x = tensor_from (1, 1, 1, 4, row4);
  error = NULL;
  finish (check, g_strdup ("1×4 → 1×2"), lisse_resize_bilinear (x, 1, 2, FALSE, &error),
          tensor_from (1, 1, 1, 2, row2), error, 0, ULP);
  lisse_tensor_free (x);
}

/* ---- Pixel shuffle: permutations, tolerance 0 ------------------------- */

static void
run_shuffle (OpCheck *check, gboolean unshuffle)
{
  int r = op_check_trial (check) == 0 ? 1 : op_rand_int (check, 1, 4);
  Shape s = unshuffle ? pick_shape (check, 1, r, 16, 40 / r)
                      : pick_shape (check, r * r, 1, 6, 20);
  LisseTensor *x = rand_shape (check, s, -1, 1);
  GError *error = NULL;
  LisseTensor *fast = unshuffle ? lisse_pixel_unshuffle (x, r, &error)
                                : lisse_pixel_shuffle (x, r, &error);
  LisseTensor *ref = unshuffle ? lisse_pixel_unshuffle_ref (x, r, NULL)
                               : lisse_pixel_shuffle_ref (x, r, NULL);
  g_autofree char *ss = shape_str (s);
  finish (check, g_strdup_printf ("%s r %d", ss, r), fast, ref, error, 0, 0);
  lisse_tensor_free (x);
}

static void case_pixel_shuffle (OpCheck *c) { run_shuffle (c, FALSE); }
static void case_pixel_unshuffle (OpCheck *c) { run_shuffle (c, TRUE); }

static void
case_pixel_shuffle_roundtrip (OpCheck *check)
{
  int r = op_rand_int (check, 1, 4);
  Shape s = pick_shape (check, r * r, 1, 6, 20);
  LisseTensor *x = rand_shape (check, s, -1, 1);
  GError *error = NULL;
  LisseTensor *y = lisse_pixel_shuffle (x, r, &error);
  LisseTensor *back = y ? lisse_pixel_unshuffle (y, r, &error) : NULL;
  g_autofree char *ss = shape_str (s);
  finish (check, g_strdup_printf ("unshuffle(shuffle(%s)) r %d", ss, r),
          back, lisse_tensor_copy (x), error, 0, 0);
  /* And the other way round, from y (whose size divides by r). */
  error = NULL;
  LisseTensor *z = y ? lisse_pixel_unshuffle (y, r, &error) : NULL;
  LisseTensor *zz = z ? lisse_pixel_shuffle (z, r, &error) : NULL;
  finish (check, g_strdup_printf ("shuffle(unshuffle(y)) r %d", r),
          zz, y ? lisse_tensor_copy (y) : NULL, error, 0, 0);
  lisse_tensor_free (z);
  lisse_tensor_free (y);
  lisse_tensor_free (x);
}

/* in[c·4 + i·2 + j, 0, x] = 100·(c·4 + i·2 + j) + x, r = 2: output row
 * (c, i) interleaves input channels c·4 + i·2 and c·4 + i·2 + 1. */
static void
case_pixel_shuffle_known (OpCheck *check)
{
  float in[16];
  for (int ch = 0; ch < 8; ch++)
    for (int x = 0; x < 2; x++)
      in[ch * 2 + x] = 100.0f * ch + x;
  static const float out[] = {
    0, 100, 1, 101,   200, 300, 201, 301,
    400, 500, 401, 501,   600, 700, 601, 701,
  };
  LisseTensor *x = tensor_from (1, 8, 1, 2, in);
  GError *error = NULL;
  finish (check, g_strdup ("pixel shuffle r 2, known values"),
          lisse_pixel_shuffle (x, 2, &error), tensor_from (1, 2, 2, 4, out), error, 0, 0);
  LisseTensor *y = tensor_from (1, 2, 2, 4, out);
  error = NULL;
  finish (check, g_strdup ("pixel unshuffle r 2, known values"),
          lisse_pixel_unshuffle (y, 2, &error), lisse_tensor_copy (x), error, 0, 0);
  lisse_tensor_free (y);
  lisse_tensor_free (x);
}

/* ---- Attention -------------------------------------------------------- */

/* Both compute the pooled vectors, the MLP and the convolution in double;
 * the optimised op then rounds the logit, takes the vectorised sigmoid
 * (2.5 ulp of 1) and multiplies in float: within about 4 ulp of |x| <= 1. */
#define ATT_ABS (4 * ULP)

static void
run_channel_attention (OpCheck *check, gboolean cbam)
{
  Shape s = pick_shape (check, 1, 1, 24, 32);
  int hidden = op_rand_int (check, 1, MAX (1, s.c / 2));
  gboolean bias = op_check_trial (check) % 2 == 1;
  float *w1 = rand_floats (check, hidden * s.c, -0.5f, 0.5f);
  float *w2 = rand_floats (check, s.c * hidden, -0.5f, 0.5f);
  float *b1 = bias ? rand_floats (check, hidden, -0.5f, 0.5f) : NULL;
  float *b2 = bias ? rand_floats (check, s.c, -0.5f, 0.5f) : NULL;
  LisseChannelMlp mlp = { s.c, hidden, w1, b1, w2, b2 };
  LisseTensor *x = rand_shape (check, s, -1, 1);
  GError *error = NULL;
  LisseTensor *fast = cbam ? lisse_cbam_channel_attention (x, &mlp, &error)
                           : lisse_rcab_channel_attention (x, &mlp, &error);
  LisseTensor *ref = cbam ? lisse_cbam_channel_attention_ref (x, &mlp, NULL)
                          : lisse_rcab_channel_attention_ref (x, &mlp, NULL);
  g_autofree char *ss = shape_str (s);
  finish (check, g_strdup_printf ("%s hidden %d bias %d", ss, hidden, bias),
          fast, ref, error, ATT_ABS, 0);
  lisse_tensor_free (x);
  g_free (w1);
  g_free (w2);
  g_free (b1);
  g_free (b2);
}

static void case_cbam_channel_attention (OpCheck *c) { run_channel_attention (c, TRUE); }
static void case_rcab_channel_attention (OpCheck *c) { run_channel_attention (c, FALSE); }

static void
case_cbam_spatial_attention (OpCheck *check)
{
  static const int sizes[] = { 7, 1, 3, 5, 7, 7 };
  int k = sizes[op_rand_int (check, 0, G_N_ELEMENTS (sizes) - 1)];
  Shape s = pick_shape (check, 1, 1, 24, 40);
  float *weight = rand_floats (check, 2 * k * k, -0.5f, 0.5f);
  float bias = (float) op_rand_int (check, -50, 50) / 100.0f;
  gboolean with_bias = op_check_trial (check) % 2 == 1;
  LisseTensor *x = rand_shape (check, s, -1, 1);
  GError *error = NULL;
  LisseTensor *fast = lisse_cbam_spatial_attention (x, weight, with_bias ? &bias : NULL,
                                                    k, &error);
  LisseTensor *ref = lisse_cbam_spatial_attention_ref (x, weight,
                                                       with_bias ? &bias : NULL, k, NULL);
  g_autofree char *ss = shape_str (s);
  finish (check, g_strdup_printf ("%s kernel %d bias %g", ss, k, with_bias ? bias : 0),
          fast, ref, error, ATT_ABS, 0);
  lisse_tensor_free (x);
  g_free (weight);
}

/* ---- Invalid arguments ------------------------------------------------ */

/* Returns 1 when the op refused properly. */
static float
expect_refused (OpCheck *check, const char *what, LisseTensor *result, GError *error)
{
  float ok = 0.0f;
  if (result)
    op_check_fail (check, what, "accepted invalid arguments");
  else if (!g_error_matches (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT))
    op_check_fail (check, what, "refused without LISSE_ERROR_INVALID_ARGUMENT");
  else
    ok = 1.0f;
  lisse_tensor_free (result);
  g_clear_error (&error);
  return ok;
}

static void
case_basic_invalid_args (OpCheck *check)
{
  LisseTensor *a = op_rand_tensor (check, 1, 3, 5, 7, -1, 1);
  LisseTensor *b = op_rand_tensor (check, 1, 2, 1, 1, -1, 1);
  LisseTensor *c4 = op_rand_tensor (check, 1, 6, 4, 4, -1, 1);
  GError *e = NULL;
  LisseTensor *r;
  /* One flag per refusal, compared with all ones at the end. */
  float flags[32];
  int n_flags = 0;

#define REFUSED(what, call) \
  do { e = NULL; r = (call); flags[n_flags++] = expect_refused (check, what, r, e); } while (0)
  REFUSED ("add: channels 2 onto 3", lisse_add (a, b, &e));
  REFUSED ("mul: channels 2 onto 3", lisse_mul (a, b, &e));
  REFUSED ("scale_add: channels 2 onto 3", lisse_scale_add (1, a, 1, b, &e));
  REFUSED ("haar: odd size", lisse_haar_forward (a, LISSE_HAAR_ORTHONORMAL, &e));
  REFUSED ("inverse haar: 6 channels", lisse_haar_inverse (c4, LISSE_HAAR_IRN, &e));
  REFUSED ("avg pool: padding > kernel/2", lisse_avg_pool2d (a, 3, 1, 2, FALSE, &e));
  REFUSED ("avg pool: stride 0", lisse_avg_pool2d (a, 3, 0, 1, FALSE, &e));
  REFUSED ("max pool: kernel larger than image", lisse_max_pool2d (a, 9, 1, 0, &e));
  REFUSED ("max pool: kernel 0", lisse_max_pool2d (a, 0, 1, 0, &e));
  REFUSED ("pixel shuffle: 3 channels, r 2", lisse_pixel_shuffle (a, 2, &e));
  REFUSED ("pixel shuffle: r 0", lisse_pixel_shuffle (a, 0, &e));
  REFUSED ("pixel unshuffle: 5×7, r 2", lisse_pixel_unshuffle (a, 2, &e));
  REFUSED ("slice: past the end", lisse_channel_slice (a, 2, 2, &e));
  REFUSED ("slice: negative start", lisse_channel_slice (a, -1, 1, &e));
  REFUSED ("group norm: 3 channels in 2 groups", lisse_group_norm (a, 2, NULL, NULL, 1e-5f, &e));
  REFUSED ("instance norm: negative eps", lisse_instance_norm (a, NULL, NULL, -1, &e));
  REFUSED ("resize: width 0", lisse_resize_bilinear (a, 4, 0, FALSE, &e));
  const LisseTensor *pair[2] = { a, c4 };
  REFUSED ("concat: different sizes", lisse_concat_channels (pair, 2, &e));
  REFUSED ("concat: nothing", lisse_concat_channels (pair, 0, &e));
  float w[98] = { 0 };
  LisseChannelMlp mlp = { 4, 2, w, NULL, w, NULL };
  REFUSED ("channel attention: 4-channel weights", lisse_cbam_channel_attention (a, &mlp, &e));
  REFUSED ("RCAB attention: 4-channel weights", lisse_rcab_channel_attention (a, &mlp, &e));
  REFUSED ("spatial attention: even kernel", lisse_cbam_spatial_attention (a, w, NULL, 4, &e));
#undef REFUSED

  LisseTensor *parts[3] = { NULL, NULL, NULL };
  static const int bad_sizes[] = { 1, 1, 2 };
  e = NULL;
  flags[n_flags] = 0.0f;
  if (lisse_split_channels (a, bad_sizes, 3, parts, &e) || parts[0] || parts[1] || parts[2])
    op_check_fail (check, "split: sizes add up to 4 of 3 channels", "accepted");
  else if (!g_error_matches (e, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT))
    op_check_fail (check, "split", "refused without LISSE_ERROR_INVALID_ARGUMENT");
  else
    flags[n_flags] = 1.0f;
  n_flags++;
  g_clear_error (&e);

  LisseTensor *got = tensor_from (1, n_flags, 1, 1, flags);
  LisseTensor *ones = lisse_tensor_new (1, n_flags, 1, 1);
  lisse_tensor_fill (ones, 1.0f);
  finish (check, g_strdup ("invalid arguments refused"), got, ones, NULL, 0, 0);

  lisse_tensor_free (a);
  lisse_tensor_free (b);
  lisse_tensor_free (c4);
}

/* ---- Table ------------------------------------------------------------ */

const OpCase op_cases_basic[] = {
  { "relu",                    case_relu },
  { "leaky_relu",              case_leaky_relu },
  { "activation_none",         case_identity },
  { "gelu",                    case_gelu },
  { "sigmoid",                 case_sigmoid },
  { "tanh",                    case_tanh },
  { "bounded_tanh",            case_bounded_tanh },
  { "exp",                     case_exp },
  { "activation_special",      case_activation_special },
  { "add",                     case_add },
  { "mul",                     case_mul },
  { "scale_add",               case_scale_add },
  { "add_mul_inplace",         case_add_mul_inplace },
  { "instance_norm",           case_instance_norm },
  { "layer_norm_channels",     case_layer_norm_channels },
  { "layer_norm_chw",          case_layer_norm_chw },
  { "group_norm",              case_group_norm },
  { "concat_channels",         case_concat_channels },
  { "split_channels",          case_split_channels },
  { "channel_slice",           case_channel_slice },
  { "haar_forward",            case_haar_forward },
  { "haar_inverse",            case_haar_inverse },
  { "haar_roundtrip",          case_haar_roundtrip },
  { "haar_known",              case_haar_known },
  { "avg_pool2d",              case_avg_pool2d },
  { "max_pool2d",              case_max_pool2d },
  { "pool_known",              case_pool_known },
  { "global_avg_pool",         case_global_avg_pool },
  { "global_max_pool",         case_global_max_pool },
  { "channel_mean",            case_channel_mean },
  { "channel_max",             case_channel_max },
  { "resize_bilinear",         case_resize_bilinear },
  { "resize_known",            case_resize_known },
  { "pixel_shuffle",           case_pixel_shuffle },
  { "pixel_unshuffle",         case_pixel_unshuffle },
  { "pixel_shuffle_roundtrip", case_pixel_shuffle_roundtrip },
  { "pixel_shuffle_known",     case_pixel_shuffle_known },
  { "cbam_channel_attention",  case_cbam_channel_attention },
  { "rcab_channel_attention",  case_rcab_channel_attention },
  { "cbam_spatial_attention",  case_cbam_spatial_attention },
  { "basic_invalid_args",      case_basic_invalid_args },
  { NULL, NULL },
};
