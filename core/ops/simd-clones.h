/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * SIMD_CLONES: compile a function for AVX-512, AVX2 and plain x86-64 and
 * pick one at run time.  The builds here target plain x86-64; loops over
 * whole vectors of pixels or tiles (Winograd's transforms, the deformable
 * averages' gathers) gain 2–8× from the wider units.  Not under
 * AddressSanitizer, whose run-time set-up and ifunc resolvers do not mix. */
#pragma once

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LISSE_NO_SIMD_CLONES 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define LISSE_NO_SIMD_CLONES 1
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(LISSE_NO_SIMD_CLONES)
#define SIMD_CLONES __attribute__ ((target_clones ("avx512f", "avx2", "default")))
#else
#define SIMD_CLONES
#endif
