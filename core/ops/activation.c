/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Activations, in place.  The transcendental ones do not call libm: a call
 * per element keeps the loop scalar (expf, erff cannot be vectorised
 * without -ffast-math and libmvec), and GELU over a full-resolution feature
 * map is then slower than the convolution before it.  Instead each is built
 * from a branch-free float exp and polynomials the compiler turns into SIMD
 * code.  The coefficients are Chebyshev fits computed for this file (mpmath
 * chebyfit, 40 digits); their fitting error is far below float rounding.
 */
#include "fast-exp.h"
#include "ops-basic.h"
#include "simd-clones.h"
#include "threads.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Below this many elements the thread start-up costs more than it saves. */
#define PARALLEL_MIN 32768
/* Elements per work item: large enough to amortise scheduling, small enough
 * to balance; fixed, so the split does not depend on the thread count (not
 * that it could matter for an element-wise op). */
#define CHUNK 16384

static inline float
fast_sigmoidf (float x)
{
  return 1.0f / (1.0f + fast_expf (-x));
}

static inline float
fast_tanhf (float x)
{
  float ax = fabsf (x);
  /* Small |x|: odd polynomial, because 1 − 2/(e^2x + 1) would cancel. */
  float u = x * x;
  float q = -5.657135184e-03f;
  q = q * u + 2.058819145e-02f;
  q = q * u - 5.372010766e-02f;
  q = q * u + 1.333111406e-01f;
  q = q * u - 3.333325986e-01f;
  q = q * u + 9.999999960e-01f;
  float small = x * q;
  /* Large |x|: exact identity, no cancellation once tanh >= 0.55. */
  float big = 1.0f - 2.0f / (fast_expf (2.0f * ax) + 1.0f);
  big = copysignf (big, x);
  return select_f (ax < 0.625f, small, big);
}

/* b·tanh(x/b) as b − 2b/(e^(2x/b) + 1): one exp and one division, half of
 * fast_tanhf's work.  Near 0 it cancels to an absolute error of a few ulp
 * of b rather than a relative one, which is what squashing offsets (in
 * pixels, bound b) needs; ±inf give ±b, NaN stays NaN. */
static inline float
fast_bounded_tanhf (float x, float b)
{
  const float u = fast_expf (x * (2.0f / b));
  return b - 2.0f * b / (u + 1.0f);
}

/* GELU(x) = x/2 · (1 + erf(x/√2)).  With z = |x|/√2:
 *  - z < 0.5: erf(z) = z · P(z²);
 *  - z >= 0.5: erfc(z) = exp(−z²) · Q(t), t = 1/(1 + z/2), since
 *    erfc(z)·exp(z²) is smooth and slowly varying in t (fit up to z = 10,
 *    beyond which exp(−z²) underflows).
 * For x < 0 the result is x/2 · erfc(z) directly, so the negative tail keeps
 * its relative accuracy instead of being 1 − erf(z), which cancels. */
static inline float
fast_geluf (float x)
{
  float ax = fabsf (x);
  /* Beyond 16, exp(−x²/2) is 0 in float anyway; the cap bounds l below. */
  ax = select_f (ax < 16.0f, ax, 16.0f);
  float z = ax * 0.7071067812f;
  float u = z * z;
  /* exp(−x²/2) magnifies the rounding error of x² by x²/2 (60 ulp at
   * x = −11), so x²/2 is formed exactly as h + l: a_hi is |x| rounded to
   * 12 significant bits, so its square fits a float, and |x| − a_hi is
   * exact; |l| <= 2⁻¹²·x² <= 0.0625. */
  float a_hi = bits_float ((float_bits (ax) + 0x800u) & 0xfffff000u);
  float h = 0.5f * (a_hi * a_hi);
  float l = 0.5f * ((ax - a_hi) * (ax + a_hi));

  float p = 4.719082567e-03f;
  p = p * u - 2.675773274e-02f;
  p = p * u + 1.128283143e-01f;
  p = p * u - 3.761260901e-01f;
  p = p * u + 1.128379166e+00f;
  float erf_small = z * p;

  float t = 2.0f / (2.0f + z);
  float q = -7.732282768e-02f;
  q = q * t + 3.636000994e-01f;
  q = q * t - 6.336807973e-01f;
  q = q * t + 4.300580953e-01f;
  q = q * t - 1.235281957e-01f;
  q = q * t + 2.418988468e-01f;
  q = q * t + 2.330688521e-01f;
  q = q * t + 2.839369541e-01f;
  q = q * t + 2.819525570e-01f;
  q = q * t + 4.812833826e-06f;
  float erfc_big = fast_expf_split (-h, -l) * q;

  /* 2Φ(x) = 1 + erf(x/√2) */
  float pos = select_f (z < 0.5f, 1.0f + erf_small, 2.0f - erfc_big);
  float neg = select_f (z < 0.5f, 1.0f - erf_small, erfc_big);
  return 0.5f * x * select_f (x >= 0.0f, pos, neg);
}

/* One loop per activation so that each inner loop is a straight SIMD loop
 * with no switch inside, compiled for the wider units too (SIMD_CLONES;
 * with that and the one-pass B·tanh(x/B), fang19's offset squashing went
 * from 6.2 % to 3.3 % of its time at 1 MP, perf, one thread). */
#define DEFINE_ARRAY_LOOP(name, EXPR)                                   \
  SIMD_CLONES static void                                               \
  name##_chunk (float *d, size_t len, float param)                      \
  {                                                                     \
    (void) param;                                                       \
    _Pragma ("omp simd")                                                \
    for (size_t i = 0; i < len; i++)                                    \
      {                                                                 \
        float v = d[i];                                                 \
        d[i] = (EXPR);                                                  \
      }                                                                 \
  }                                                                     \
  static void                                                           \
  name (float *data, size_t count, float param)                         \
  {                                                                     \
    size_t n_chunks = (count + CHUNK - 1) / CHUNK;                      \
    int nt = count < PARALLEL_MIN ? 1 : lisse_threads_get ();           \
    _Pragma ("omp parallel for num_threads(nt) schedule(static)")       \
    for (size_t k = 0; k < n_chunks; k++)                               \
      name##_chunk (data + k * CHUNK, MIN ((size_t) CHUNK, count - k * CHUNK), param); \
  }

DEFINE_ARRAY_LOOP (relu_array, v > 0.0f ? v : 0.0f)
DEFINE_ARRAY_LOOP (leaky_relu_array, select_f (v > 0.0f, v, v * param))
DEFINE_ARRAY_LOOP (gelu_array, fast_geluf (v))
DEFINE_ARRAY_LOOP (sigmoid_array, fast_sigmoidf (v))
DEFINE_ARRAY_LOOP (tanh_array, fast_tanhf (v))
DEFINE_ARRAY_LOOP (bounded_tanh_array, fast_bounded_tanhf (v, param))
DEFINE_ARRAY_LOOP (exp_array, fast_expf (v))

void
lisse_activation_array (float *data, size_t count, LisseActivation act, float param)
{
  switch (act)
    {
    case LISSE_ACT_NONE:       return;
    case LISSE_ACT_RELU:       relu_array (data, count, param); return;
    case LISSE_ACT_LEAKY_RELU: leaky_relu_array (data, count, param); return;
    case LISSE_ACT_GELU:       gelu_array (data, count, param); return;
    case LISSE_ACT_SIGMOID:    sigmoid_array (data, count, param); return;
    case LISSE_ACT_TANH:       tanh_array (data, count, param); return;
    case LISSE_ACT_EXP:        exp_array (data, count, param); return;
    }
  g_critical ("lisse_activation_array: unknown activation %d", (int) act);
}

void
lisse_activation_inplace (LisseTensor *t, LisseActivation act, float param)
{
  lisse_activation_array (t->data, lisse_tensor_numel (t), act, param);
}

void lisse_relu_inplace (LisseTensor *t)
{ lisse_activation_inplace (t, LISSE_ACT_RELU, 0.0f); }

void lisse_leaky_relu_inplace (LisseTensor *t, float slope)
{ lisse_activation_inplace (t, LISSE_ACT_LEAKY_RELU, slope); }

void lisse_gelu_inplace (LisseTensor *t)
{ lisse_activation_inplace (t, LISSE_ACT_GELU, 0.0f); }

void lisse_sigmoid_inplace (LisseTensor *t)
{ lisse_activation_inplace (t, LISSE_ACT_SIGMOID, 0.0f); }

void lisse_tanh_inplace (LisseTensor *t)
{ lisse_activation_inplace (t, LISSE_ACT_TANH, 0.0f); }

void lisse_bounded_tanh_inplace (LisseTensor *t, float bound)
{ bounded_tanh_array (t->data, lisse_tensor_numel (t), bound); }

void lisse_exp_inplace (LisseTensor *t)
{ lisse_activation_inplace (t, LISSE_ACT_EXP, 0.0f); }
