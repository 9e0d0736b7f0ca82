/* AVX-512 VNNI kernels of the packed Q8_0 and Q4_0 layouts (qpacked.c): 16 weight rows
 * against R <= 4 quantized x rows, the 16 row sums in the 16 lanes of one
 * zmm per x row.
 *
 * Per block of 32 and step of 4 k values: one 64-byte load of the 16 rows'
 * quants, x's 4 bytes broadcast and moved to unsigned (u = x + 128, the
 * xor with 0x80), and vpdpbusd(u, w) into int32 lanes; one more vpdpbusd
 * of 128 against the same weights, shared by every x row, gives the
 * 128 * sum(w) to take off, so weights of -128 are exact too. At the end of
 * the block the int32 sums become floats scaled by the 16 row scales (f16)
 * times x's block scale. Sums are exact in int32 (32 * 255 * 128 per
 * block). */
#include "kernels/cpu/qmatmul_internal.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

#ifndef PARE_Q8P_PREFETCH
#define PARE_Q8P_PREFETCH 2048 /* bytes ahead in the group's stream */
#endif

INLINE void q8p_r(const uint8_t *g, const pare_qx *x, const int R, int64_t k, float *out, int64_t ldo) {
    const __m512i c128 = _mm512_set1_epi8((char)0x80);
    __m512 acc[PARE_QX_TILE];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    const int64_t nb = k / 32;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = g + (size_t)b * 544;
#pragma GCC unroll 9
        for (int l = 0; l < 9; l++) _mm_prefetch((const char *)p + PARE_Q8P_PREFETCH + 64 * l, _MM_HINT_T0);
        __m512i comp = _mm512_setzero_si512(), a[PARE_QX_TILE];
        for (int r = 0; r < R; r++) a[r] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            const __m512i wv = _mm512_loadu_si512((const void *)(p + 64 * j));
            comp = _mm512_dpbusd_epi32(comp, c128, wv);
            for (int r = 0; r < R; r++) {
                int32_t x4;
                memcpy(&x4, x[r].qs + 32 * b + 4 * j, 4);
                a[r] = _mm512_dpbusd_epi32(a[r], _mm512_xor_si512(_mm512_set1_epi32(x4), c128), wv);
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 512)));
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a[r], comp)),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(x[r].d[b])), acc[r]);
    }
    for (int r = 0; r < R; r++) _mm512_storeu_ps(out + r * ldo, acc[r]);
}

/* Q4_0: codes u in 0..15 are vpdpbusd's unsigned operand and x its signed
 * one, w = d (u - 8): acc += d * (xd * sum(u x) - 8 dsum), dsum = xd sum(x). */
INLINE void q4p_r(const uint8_t *g, const pare_qx *x, const int R, int64_t k, float *out, int64_t ldo) {
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512 acc[PARE_QX_TILE];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    const int64_t nb = k / 32;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = g + (size_t)b * 288;
#pragma GCC unroll 5
        for (int l = 0; l < 5; l++) _mm_prefetch((const char *)p + PARE_Q8P_PREFETCH + 64 * l, _MM_HINT_T0);
        __m512i a[PARE_QX_TILE], a2[PARE_QX_TILE];
        for (int r = 0; r < R; r++) a[r] = a2[r] = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int l = 0; l < 4; l++) {
            const __m512i raw = _mm512_loadu_si512((const void *)(p + 64 * l));
            const __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            for (int r = 0; r < R; r++) {
                int32_t x0, x1;
                memcpy(&x0, x[r].qs + 32 * b + 8 * l, 4);
                memcpy(&x1, x[r].qs + 32 * b + 8 * l + 4, 4);
                a[r] = _mm512_dpbusd_epi32(a[r], lo, _mm512_set1_epi32(x0));
                a2[r] = _mm512_dpbusd_epi32(a2[r], hi, _mm512_set1_epi32(x1));
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 256)));
        for (int r = 0; r < R; r++) {
            const __m512 s = _mm512_cvtepi32_ps(_mm512_add_epi32(a[r], a2[r]));
            acc[r] = _mm512_fmadd_ps(dw, _mm512_fmsub_ps(s, _mm512_set1_ps(x[r].d[b]), _mm512_set1_ps(8.0f * x[r].dsum[b])),
                                     acc[r]);
        }
    }
    for (int r = 0; r < R; r++) _mm512_storeu_ps(out + r * ldo, acc[r]);
}

#define INSTANCES(NAME, KERNEL)                                                                        \
    static void NAME(const uint8_t *g, const pare_qx *x, int R, int64_t k, float *out, int64_t ldo) { \
        switch (R) {                                                                                   \
        case 1: KERNEL(g, x, 1, k, out, ldo); break;                                                  \
        case 2: KERNEL(g, x, 2, k, out, ldo); break;                                                  \
        case 3: KERNEL(g, x, 3, k, out, ldo); break;                                                  \
        default: KERNEL(g, x, 4, k, out, ldo); break;                                                 \
        }                                                                                              \
    }
INSTANCES(qpacked_q8_0, q8p_r)
INSTANCES(qpacked_q4_0, q4p_r)

pare_qpacked_fn pare_qpacked_get_vnni(pare_qtype type) {
    return type == PARE_Q_Q8_0 ? qpacked_q8_0 : type == PARE_Q_Q4_0 ? qpacked_q4_0 : NULL;
}
