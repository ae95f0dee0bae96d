/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A branch-free float exp the compiler turns into SIMD code: libm's expf is
 * one call per element, which keeps a loop scalar (expf cannot be
 * vectorised without -ffast-math and libmvec).  Used by the activations
 * (activation.c) and the deformable averages' softmax (deform-sample.c). */
#pragma once

#include <stdint.h>
#include <string.h>

static inline uint32_t
float_bits (float f)
{
  uint32_t u;
  memcpy (&u, &f, sizeof u);
  return u;
}

static inline float
bits_float (uint32_t u)
{
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* cond ? a : b, on the bit patterns.  Written as a plain ?: (or an if),
 * GCC threads the constant arms of the clamps below into separate branches
 * and, since float arithmetic may trap by default (-ftrapping-math), will
 * not turn those branches back into vector selects: the loop stays scalar.
 * Integer masks keep it branch-free.  NaN compares false, so a NaN x passes
 * through every clamp. */
static inline float
select_f (int cond, float a, float b)
{
  uint32_t m = -(uint32_t) (cond != 0);
  return bits_float ((float_bits (a) & m) | (float_bits (b) & ~m));
}

/* exp(hi + lo) for every float hi and |lo| < 0.07, within about 2 ulp;
 * exp(±inf) = inf / 0 and NaN stays NaN.  hi + lo = n·ln2 + r with
 * |r| <= ln2/2 (plus lo), exp(r) by a degree-6 polynomial, 2ⁿ built in the
 * exponent bits.  2ⁿ is applied as two factors so that n from −150
 * (subnormal results) to 128 (overflow to inf) needs no special case.  The
 * second operand lets a caller pass an argument more precise than one float
 * (GELU's −x²/2). */
static inline float
fast_expf_split (float hi, float lo)
{
  /* Clamping keeps n in [−150, 128]; results beyond are 0 or inf anyway. */
  float xc = select_f (hi < -104.0f, -104.0f, hi);
  xc = select_f (xc > 89.0f, 89.0f, xc);

  /* Round x/ln2 to the nearest integer by adding 1.5·2²³: the sum's low
   * mantissa bits are then n itself. */
  const float shifter = 12582912.0f;
  float t = xc * 1.442695041f + shifter;
  float n = t - shifter;
  /* ln2 in two parts (Cody–Waite): n·LN2_HI is exact for |n| < 256. */
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606820e-06f;
  r = r + lo;

  float p = 1.394110843e-03f;
  p = p * r + 8.375126398e-03f;
  p = p * r + 4.166635290e-02f;
  p = p * r + 1.666641551e-01f;
  p = p * r + 5.000000047e-01f;
  p = p * r + 1.000000038e+00f;
  p = p * r + 1.000000000e+00f;

  /* Unsigned arithmetic: no signed overflow even for the bits of a NaN. */
  int32_t ni = (int32_t) (float_bits (t) - float_bits (shifter));
  int32_t n1 = ni >> 1;
  int32_t n2 = ni - n1;
  float s1 = bits_float ((uint32_t) (n1 + 127) << 23);
  float s2 = bits_float ((uint32_t) (n2 + 127) << 23);
  return p * s1 * s2;
}

static inline float
fast_expf (float x)
{
  return fast_expf_split (x, 0.0f);
}
