/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Op tests for gemm-bf16.h (the Winograd convolution's bf16 products on
 * AMX) and the bf16 Winograd path, each against a reference.
 *
 * Tolerances (pass when max |fast − ref| ≤ abs + rel · max |ref|):
 *   gemm_bf16 (AMX):             abs 2e-5, rel 1e-5 (the conv ops' bound:
 *                                float rounding of a sum of k ≤ 160 terms
 *                                of order-1 values) against the double sum
 *                                of the operands rounded to bf16 — products
 *                                of bf16 values are exact in float, so only
 *                                the accumulation rounds
 *   bf16_pack_pairs:             exact (round to nearest, ties to even)
 *   conv2d Winograd in bf16:     against Winograd in float on the same
 *                                input: RMS of the difference ≤ 5 % of the
 *                                RMS of the output, and the largest ≤ 15 %
 *                                of the largest output.  bf16 keeps 8 bits
 *                                of each transformed value (relative error
 *                                ≤ 2⁻⁹), and the transforms scale the terms
 *                                by up to 5·5 (Bᵀ) and 8·8 (Aᵀ) before they
 *                                cancel, so a random 3×3 layer's output
 *                                moves by 2.1–3.2 % RMS (measured on these
 *                                trials; at most 9 % of the largest output
 *                                at a point); a wrong tap, pair or dropped
 *                                channel moves it by 1/√Cin ≥ 11 % RMS.
 *                                What bounds a network's error is measured
 *                                end to end (tools/bench/bf16-gate: fan18
 *                                within 0.74/255, CSGIS-Net and fang19 not
 *                                within 1/255, so they stay in float).
 *                                1 thread against 3: the same bits.
 * The bf16 cases run only where the CPU has AMX (else they say so and check
 * nothing: the path is not taken there). */
#include "op-harness.h"
#include "gemm-bf16.h"
#include "ops-conv.h"
#include "tensor.h"
#include "threads.h"

#include <math.h>
#include <string.h>

#define TOL_GEMM_ABS 2e-5
#define TOL_GEMM_REL 1e-5
#define BF16_RMS_BOUND 0.05
#define BF16_MAX_BOUND 0.15

static float
bf16_round (float f)
{
  guint32 pair;
  lisse_bf16_pack_pairs (&f, NULL, 1, &pair);
  guint32 bits = pair << 16;
  float r;
  memcpy (&r, &bits, sizeof r);
  return r;
}

/* C = A·B in double of A and B rounded to bf16, A [m × k] (row stride
 * lda), B [k × n] (ldb). */
static LisseTensor *
gemm_ref (int m, int n, int k, const float *a, int lda, const float *b, int ldb)
{
  LisseTensor *c = lisse_tensor_new (1, 1, m, n);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++)
      {
        double s = 0;
        for (int p = 0; p < k; p++)
          {
            s += (double) bf16_round (a[(size_t) i * lda + p])
                 * bf16_round (b[(size_t) p * ldb + j]);
          }
        c->data[(size_t) i * n + j] = (float) s;
      }
  return c;
}

static gboolean
amx_or_say_so (OpCheck *check)
{
  if (lisse_gemm_bf16_supported ())
    return TRUE;
  op_check_skip (check, "this CPU has no AMX (amx_bf16): the bf16 path is not taken here");
  return FALSE;
}

static void
case_gemm_bf16 (OpCheck *check)
{
  if (!amx_or_say_so (check))
    return;
  const int m = 16 * op_rand_int (check, 1, 5), n = 16 * op_rand_int (check, 1, 6);
  const int kp = 16 * op_rand_int (check, 1, 5), k = 2 * kp;
  /* A and B in float, then as pairs along k */
  LisseTensor *a = op_rand_tensor (check, 1, 1, m, k, -1.f, 1.f);
  LisseTensor *b = op_rand_tensor (check, 1, 1, k, n, -1.f, 1.f);
  for (size_t i = 0; i < lisse_tensor_numel (b); i++)
    b->data[i] /= sqrtf ((float) k);
  guint32 *ap = g_new (guint32, (size_t) m * kp), *bp = g_new (guint32, (size_t) kp * n);
  for (int i = 0; i < m; i++)
    for (int p = 0; p < kp; p++)
      lisse_bf16_pack_pairs (a->data + (size_t) i * k + 2 * p, a->data + (size_t) i * k + 2 * p + 1,
                             1, ap + (size_t) i * kp + p);
  for (int p = 0; p < kp; p++)
    lisse_bf16_pack_pairs (b->data + (size_t) 2 * p * n, b->data + (size_t) (2 * p + 1) * n, n,
                           bp + (size_t) p * n);
  LisseTensor *fast = lisse_tensor_new (1, 1, m, n);
  lisse_gemm_bf16 (m, n, kp, ap, kp, bp, n, fast->data, n);
  LisseTensor *ref = gemm_ref (m, n, k, a->data, k, b->data, n);
  char *what = g_strdup_printf ("gemm_bf16 (AMX) %d×%d·%d×%d", m, k, k, n);
  op_check_compare (check, what, fast, ref, TOL_GEMM_ABS, TOL_GEMM_REL);
  g_free (what);
  g_free (ap);
  g_free (bp);
  lisse_tensor_free (a);
  lisse_tensor_free (b);
  lisse_tensor_free (fast);
  lisse_tensor_free (ref);
}

/* Rounding to nearest, ties to even, on values whose bf16 neighbours are
 * known; the pair's halves in their places. */
static void
case_bf16_pack_pairs (OpCheck *check)
{
  static const struct { guint32 in, out; } cases[] = {
    { 0x3f800000u, 0x3f80u },   /* 1 */
    { 0x3f808000u, 0x3f80u },   /* tie, even below */
    { 0x3f818000u, 0x3f82u },   /* tie, odd below: up */
    { 0x3f808001u, 0x3f81u },   /* just above the tie */
    { 0x3f807fffu, 0x3f80u },   /* just below */
    { 0xbf80c000u, 0xbf81u },   /* negative, above the tie */
    { 0x00000000u, 0x0000u },
    { 0x7f7fffffu, 0x7f80u },   /* the largest float rounds to infinity */
  };
  const int i = op_check_trial (check) % G_N_ELEMENTS (cases);
  const int j = (i + 3) % G_N_ELEMENTS (cases);
  float even, odd;
  memcpy (&even, &cases[i].in, sizeof even);
  memcpy (&odd, &cases[j].in, sizeof odd);
  guint32 pairs[2];
  lisse_bf16_pack_pairs (&even, &odd, 1, &pairs[0]);
  lisse_bf16_pack_pairs (&even, NULL, 1, &pairs[1]);
  /* compared as values: the pairs' bits, exactly */
  LisseTensor *got = lisse_tensor_new (1, 1, 1, 2), *want = lisse_tensor_new (1, 1, 1, 2);
  got->data[0] = (float) pairs[0];
  got->data[1] = (float) pairs[1];
  want->data[0] = (float) (cases[i].out | cases[j].out << 16);
  want->data[1] = (float) cases[i].out;
  char *what = g_strdup_printf ("bf16_pack_pairs (%08x, %08x), then (%08x, NULL)", cases[i].in,
                                cases[j].in, cases[i].in);
  if (pairs[0] != (cases[i].out | cases[j].out << 16) || pairs[1] != cases[i].out)
    op_check_fail (check, what, "wrong bits");
  op_check_compare (check, what, got, want, 0.0, 0.0);
  g_free (what);
  lisse_tensor_free (got);
  lisse_tensor_free (want);
}

static double
rms (const LisseTensor *t, const LisseTensor *minus)
{
  double s = 0;
  for (size_t i = 0; i < lisse_tensor_numel (t); i++)
    {
      const double d = t->data[i] - (minus ? minus->data[i] : 0.f);
      s += d * d;
    }
  return sqrt (s / MAX (lisse_tensor_numel (t), 1));
}

/* Winograd with bf16 products against Winograd in float (see the bound
 * above), on the channel counts that take the bf16 path (Cin ≥ 16; Cout
 * any, padded to whole tiles) and dilations as fan18's; 1 vs 3 threads. */
static void
case_conv2d_winograd_bf16 (OpCheck *check)
{
  if (!amx_or_say_so (check))
    return;
  static const int dils[] = { 1, 1, 2, 4, 8, 16 };
  const int cin = op_rand_int (check, 16, 80), cout = op_rand_int (check, 1, 80);
  const int h = op_rand_int (check, 1, 70), w = op_rand_int (check, 1, 70);
  const int d = dils[op_rand_int (check, 0, G_N_ELEMENTS (dils) - 1)];
  LisseTensor *x = op_rand_tensor (check, 1, cin, h, w, -1.f, 1.f);
  const float s = 1.f / sqrtf (cin * 9.f);
  LisseTensor *wt = op_rand_tensor (check, cout, cin, 3, 3, -s, s);
  LisseTensor *b = op_rand_int (check, 0, 1) ? op_rand_tensor (check, 1, cout, 1, 1, -1.f, 1.f)
                                             : NULL;
  LisseConv2dGeom g = lisse_conv2d_geom (1, d, d, 1);
  const int saved = lisse_threads_get ();
  lisse_threads_set (1);
  LisseTensor *f32 = lisse_conv2d_winograd (x, wt, b, &g, NULL);
  g.bf16 = TRUE;
  LisseTensor *one = lisse_conv2d_winograd (x, wt, b, &g, NULL);
  lisse_threads_set (3);
  LisseTensor *three = lisse_conv2d_winograd (x, wt, b, &g, NULL);
  lisse_threads_set (saved);
  char *what = g_strdup_printf ("conv2d (Winograd, bf16) %d→%d, %d×%d, dilation %d%s", cin, cout,
                                h, w, d, b ? ", bias" : "");
  if (!f32 || !one || !three)
    op_check_fail (check, what, "op refused valid input");
  else
    {
      const double err = rms (one, f32), size = rms (f32, NULL);
      if (err > BF16_RMS_BOUND * size)
        {
          char *msg = g_strdup_printf ("RMS difference %.3g of RMS %.3g (bound %.0f %%)", err,
                                       size, BF16_RMS_BOUND * 100);
          op_check_fail (check, what, msg);
          g_free (msg);
        }
      op_check_compare (check, what, one, f32, 0.0, BF16_MAX_BOUND);
      char *threads = g_strconcat (what, ", 1 thread against 3", NULL);
      op_check_compare (check, threads, three, one, 0.0, 0.0);
      g_free (threads);
    }
  g_free (what);
  lisse_tensor_free (f32);
  lisse_tensor_free (one);
  lisse_tensor_free (three);
  lisse_tensor_free (x);
  lisse_tensor_free (wt);
  lisse_tensor_free (b);
}

const OpCase op_cases_gemm[] = {
  { "gemm_bf16", case_gemm_bf16 },
  { "bf16_pack_pairs", case_bf16_pack_pairs },
  { "conv2d_winograd_bf16", case_conv2d_winograd_bf16 },
  { NULL, NULL },
};
