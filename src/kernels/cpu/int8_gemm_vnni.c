/* int8 GEMM for AVX-512 VNNI: 8 x 48 micro-tile of int32 accumulators
 * (24 zmm). Per group of 4 k values and per row, vpdpbusd adds the dot
 * products of the row's 4 bytes of u = q + 128 (unsigned) with each
 * column's 4 int8 weights into int32, without the int16 saturation of
 * vpmaddubsw; the 128 * sum_k w each column picked up is taken off in the
 * epilogue (pare_qlinear.comp). Compiled on every x86-64 build, run only
 * where cpuid reports avx512_vnni (pare_qisa_resolve). */
#include <immintrin.h>

#include "kernels/cpu/int8_internal.h"

static inline __attribute__((always_inline)) void i8_tile(const int mr, int64_t kq,
                                                          const uint8_t *u, const int8_t *q,
                                                          int64_t ld, const int8_t *b, int32_t *c,
                                                          int64_t ldc, bool first) {
    (void)q;
    __m512i acc[8][3];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        if (i >= mr) break;
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
            acc[i][j] = first ? _mm512_setzero_si512() : _mm512_loadu_si512((const void *)(c + i * ldc + 16 * j));
    }
    for (int64_t k = 0; k < kq; k++) {
        __m512i bv[3];
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) bv[j] = _mm512_loadu_si512((const void *)(b + k * 192 + 64 * j));
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            if (i >= mr) break;
            int32_t us;
            __builtin_memcpy(&us, u + i * ld + 4 * k, 4);
            const __m512i vu = _mm512_set1_epi32(us);
#pragma GCC unroll 3
            for (int j = 0; j < 3; j++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], vu, bv[j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        if (i >= mr) break;
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) _mm512_storeu_si512((void *)(c + i * ldc + 16 * j), acc[i][j]);
    }
}

#define I8_MR 8
#define I8_NR 48
#define I8_KC 512
#define I8_MC 128
#define I8_GROUP 4
#define I8_SFX vnni
#define I8_ACT_SFX avx512
#include "kernels/cpu/int8_body.h"

_Static_assert(I8_NR == PARE_I8_VNNI_NR, "panel width");
