/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bf16 products for the Winograd convolution where a network allows them
 * (LisseConv2dGeom.bf16): its 36 products per chunk, M_ξ [Cout × T] =
 * U_ξ [Cout × Cin] · V_ξ [Cin × T], with bf16 operands and float
 * accumulation on AMX's tile unit.  A and B hold pairs of bf16 values along
 * k in one 32-bit word (even k in the lower half): the layout the tile
 * instructions read, so B is V's rows paired in place, with no packing.
 *
 * Only AMX: avx512_bf16's vdpbf16ps, tried first on the same layout (an
 * AVX-512 kernel of 6 × 64 accumulators), made the convolution no faster
 * than float FMAs did on the development machine, and float products stay
 * with cblas_sgemm, which a float version of that kernel did not beat
 * either (both measured with tools/bench/conv-bench, then dropped).
 *
 * Each entry of C is accumulated by one tile instruction sequence in order
 * of k, whatever the other rows and columns: the same bits whatever the
 * thread count or the chunking. */
#include "gemm-bf16.h"
#include "simd-clones.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define GEMM_AMX 1
#endif

#ifdef GEMM_AMX
/* bf16 on AMX: the eight tile registers hold, for a block of C of 32 × 32,
 * its four 16 × 16 float tiles (0–3), two tiles of A (4, 5: 16 rows × 16
 * pairs) and two of B (6, 7: 16 pair rows × 16 columns); one tdpbf16ps
 * multiplies a 16 × 32 by a 32 × 16 bf16 block into a float tile, 8192
 * multiply-adds where an AVX-512 FMA does 16.  Every tile has 16 rows of
 * 64 bytes, so m, n and the pair count are whole multiples of 16. */
static inline __attribute__ ((always_inline, target ("amx-tile,amx-bf16"))) void
block_amx (const int mt, const int nt, int kp, const guint32 *a, int lda, const guint32 *b,
           int ldb, float *c, int ldc)
{
  _tile_zero (0);
  if (nt > 1)
    _tile_zero (1);
  if (mt > 1)
    _tile_zero (2);
  if (mt > 1 && nt > 1)
    _tile_zero (3);
  for (int p = 0; p < kp; p += 16)
    {
      _tile_loadd (4, a + p, lda * 4);
      if (mt > 1)
        _tile_loadd (5, a + (size_t) 16 * lda + p, lda * 4);
      _tile_loadd (6, b + (size_t) p * ldb, ldb * 4);
      if (nt > 1)
        _tile_loadd (7, b + (size_t) p * ldb + 16, ldb * 4);
      _tile_dpbf16ps (0, 4, 6);
      if (nt > 1)
        _tile_dpbf16ps (1, 4, 7);
      if (mt > 1)
        _tile_dpbf16ps (2, 5, 6);
      if (mt > 1 && nt > 1)
        _tile_dpbf16ps (3, 5, 7);
    }
  _tile_stored (0, c, ldc * 4);
  if (nt > 1)
    _tile_stored (1, c + 16, ldc * 4);
  if (mt > 1)
    _tile_stored (2, c + (size_t) 16 * ldc, ldc * 4);
  if (mt > 1 && nt > 1)
    _tile_stored (3, c + (size_t) 16 * ldc + 16, ldc * 4);
}

/* The tile configuration is per thread: loaded on a thread's first product. */
typedef struct
{
  guint8 palette, start_row, reserved[14];
  guint16 colsb[16];
  guint8 rows[16];
} AmxConfig;

static __thread gboolean amx_configured;

static __attribute__ ((target ("amx-tile,amx-bf16"))) void
gemm_amx (int m, int n, int kp, const guint32 *a, int lda, const guint32 *b, int ldb,
          float *c, int ldc)
{
  if (!amx_configured)
    {
      AmxConfig cfg;
      memset (&cfg, 0, sizeof cfg);
      cfg.palette = 1;
      for (int t = 0; t < 8; t++)
        {
          cfg.colsb[t] = 64;
          cfg.rows[t] = 16;
        }
      _tile_loadconfig (&cfg);
      amx_configured = TRUE;
    }
  for (int i = 0; i < m; i += 32)
    for (int j = 0; j < n; j += 32)
      {
        const guint32 *ai = a + (size_t) i * lda;
        const guint32 *bj = b + j;
        float *cij = c + (size_t) i * ldc + j;
        const gboolean two_m = i + 16 < m, two_n = j + 16 < n;
        if (two_m && two_n)
          block_amx (2, 2, kp, ai, lda, bj, ldb, cij, ldc);
        else if (two_m)
          block_amx (2, 1, kp, ai, lda, bj, ldb, cij, ldc);
        else if (two_n)
          block_amx (1, 2, kp, ai, lda, bj, ldb, cij, ldc);
        else
          block_amx (1, 1, kp, ai, lda, bj, ldb, cij, ldc);
      }
}

/* AMX needs the CPU's tile and bf16 units and the kernel's leave to use
 * them (Linux ≥ 5.16: arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA, once
 * per process). */
static gboolean
have_amx_bf16 (void)
{
  static gsize state = 0;   /* 0 unknown, 1 no, 2 yes */
  if (g_once_init_enter (&state))
    {
      __builtin_cpu_init ();
      gboolean ok = __builtin_cpu_supports ("amx-tile") && __builtin_cpu_supports ("amx-bf16");
#ifdef SYS_arch_prctl
      ok = ok && syscall (SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                          18 /* XFEATURE_XTILEDATA */) == 0;
#else
      ok = FALSE;
#endif
      g_once_init_leave (&state, ok ? 2 : 1);
    }
  return state == 2;
}
#endif

gboolean
lisse_gemm_bf16_supported (void)
{
#ifdef GEMM_AMX
  return have_amx_bf16 ();
#else
  return FALSE;
#endif
}

/* float → bf16, rounding to nearest even (finite values: the networks'
 * inputs are checked finite). */
static inline guint32
bf16_bits (float f)
{
  guint32 u;
  memcpy (&u, &f, sizeof u);
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

SIMD_CLONES void
lisse_bf16_pack_pairs (const float *even, const float *odd, int n, guint32 *out)
{
  for (int i = 0; i < n; i++)
    {
      const guint32 lo = bf16_bits (even[i]), hi = odd ? bf16_bits (odd[i]) : 0u;
      out[i] = lo | hi << 16;
    }
}

void
lisse_gemm_bf16 (int m, int n, int kp, const guint32 *a, int lda, const guint32 *b, int ldb,
                 float *c, int ldc)
{
#ifdef GEMM_AMX
  g_return_if_fail (m % 16 == 0 && n % 16 == 0 && kp % 16 == 0 && have_amx_bf16 ());
  gemm_amx (m, n, kp, a, lda, b, ldb, c, ldc);
#else
  (void) m; (void) n; (void) kp; (void) a; (void) lda; (void) b; (void) ldb; (void) c; (void) ldc;
  g_return_if_reached ();
#endif
}
