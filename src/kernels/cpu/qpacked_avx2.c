/* AVX2 kernel of the row-interleaved Q4_0 / Q4_1 layout (qpacked.c): 8
 * weight rows against R <= 4 quantized x rows, the 8 row sums in the 8
 * lanes of one register per x row.
 *
 * Per block and x row: four x chunks of 8 int8 broadcast to 64-bit lanes;
 * maddubs of the unsigned codes (4 rows per register) with them; the four
 * chunks' int16 pair sums added (at most 4 * 2 * 15 * 127 = 15240, no
 * saturation), madd to int32, and one hadd of the A and B halves gives
 * sum(u * x) of rows 0..7. Then in f32, with xd the x block scale and
 * dsum = xd * sum(x):
 *   Q4_0 (w = d (u - 8)):  acc += d * (S xd - 8 dsum)
 *   Q4_1 (w = d u + m):    acc += d * S xd + m * dsum */
#include "kernels/cpu/qmatmul_internal.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

INLINE __m256i bcast8(const int8_t *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return _mm256_set1_epi64x(v);
}

INLINE void qpacked_r(const uint8_t *g, const pare_qx *x, const int R, int64_t k, float *out, int64_t ldo,
                      const bool q41) {
    const size_t bb = q41 ? 160 : 144, qo = q41 ? 32 : 16;
    const __m256i m4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256 acc[PARE_QX_TILE];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    const int64_t nb = k / 32;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = g + (size_t)b * bb;
        _mm_prefetch((const char *)p + 2048, _MM_HINT_T0); /* the group's stream, ahead of the hardware prefetchers */
        const __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)(p + qo));
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(p + qo + 32));
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(p + qo + 64));
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(p + qo + 96));
        const __m256i a0l = _mm256_and_si256(a0, m4), a0h = _mm256_and_si256(_mm256_srli_epi16(a0, 4), m4);
        const __m256i a1l = _mm256_and_si256(a1, m4), a1h = _mm256_and_si256(_mm256_srli_epi16(a1, 4), m4);
        const __m256i b0l = _mm256_and_si256(b0, m4), b0h = _mm256_and_si256(_mm256_srli_epi16(b0, 4), m4);
        const __m256i b1l = _mm256_and_si256(b1, m4), b1h = _mm256_and_si256(_mm256_srli_epi16(b1, 4), m4);
        __m256 mv = _mm256_setzero_ps();
        if (q41) mv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
        for (int r = 0; r < R; r++) {
            const int8_t *xq = x[r].qs + 32 * b;
            const __m256i x0 = bcast8(xq), x1 = bcast8(xq + 8), x2 = bcast8(xq + 16), x3 = bcast8(xq + 24);
            __m256i sa = _mm256_add_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(a0l, x0), _mm256_maddubs_epi16(a1l, x1)),
                                          _mm256_add_epi16(_mm256_maddubs_epi16(a0h, x2), _mm256_maddubs_epi16(a1h, x3)));
            __m256i sb = _mm256_add_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(b0l, x0), _mm256_maddubs_epi16(b1l, x1)),
                                          _mm256_add_epi16(_mm256_maddubs_epi16(b0h, x2), _mm256_maddubs_epi16(b1h, x3)));
            const __m256 s = _mm256_cvtepi32_ps(_mm256_hadd_epi32(_mm256_madd_epi16(sa, ones), _mm256_madd_epi16(sb, ones)));
            const float xd = x[r].d[b], ds = x[r].dsum[b];
            if (q41) {
                acc[r] = _mm256_fmadd_ps(dv, _mm256_mul_ps(s, _mm256_set1_ps(xd)), acc[r]);
                acc[r] = _mm256_fmadd_ps(mv, _mm256_set1_ps(ds), acc[r]);
            } else {
                acc[r] = _mm256_fmadd_ps(dv, _mm256_fmsub_ps(s, _mm256_set1_ps(xd), _mm256_set1_ps(8.0f * ds)), acc[r]);
            }
        }
    }
    for (int r = 0; r < R; r++) _mm256_storeu_ps(out + r * ldo, acc[r]);
}

#define INSTANCES(NAME, Q41)                                                                                  \
    static void NAME(const uint8_t *g, const pare_qx *x, int R, int64_t k, float *out, int64_t ldo) {        \
        switch (R) {                                                                                          \
        case 1: qpacked_r(g, x, 1, k, out, ldo, Q41); break;                                                 \
        case 2: qpacked_r(g, x, 2, k, out, ldo, Q41); break;                                                 \
        case 3: qpacked_r(g, x, 3, k, out, ldo, Q41); break;                                                 \
        default: qpacked_r(g, x, 4, k, out, ldo, Q41); break;                                                \
        }                                                                                                     \
    }
INSTANCES(qpacked_q4_0, false)
INSTANCES(qpacked_q4_1, true)

pare_qpacked_fn pare_qpacked_get_avx2(pare_qtype type) {
    return type == PARE_Q_Q4_0 ? qpacked_q4_0 : type == PARE_Q_Q4_1 ? qpacked_q4_1 : NULL;
}
