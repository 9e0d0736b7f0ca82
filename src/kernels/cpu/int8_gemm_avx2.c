/* int8 GEMM for AVX2: 4 x 16 micro-tile of int32 accumulators (8 ymm).
 * Per group of 4 k values and per row: broadcast the row's 4 bytes of q
 * and of |q|, then for each 8-column vector of the packed weights
 *   t   = vpsignb(w, q)            sign(x) * w, in [-127, 127]
 *   p   = vpmaddubsw(|q|, t)       pairs |x| * sign(x) * w, |p| <= 32258
 *   acc += vpmaddwd(p, 1)          widened to int32
 * which is exact for x, w in [-127, 127] (see pare/qlinear.h). On Zen 3
 * this runs at ~24 int8 MACs per cycle and core against 16 for fp32 FMA.
 * KC = 1024 bytes keeps the B slice (16 KB) in L1 and the x block
 * (MC x KC x 2 arrays, 128 KB) in L2. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu/int8_internal.h"

static inline __attribute__((always_inline)) void i8_tile(const int mr, int64_t kq,
                                                          const uint8_t *u, const int8_t *q,
                                                          int64_t ld, const int8_t *b, int32_t *c,
                                                          int64_t ldc, bool first) {
    __m256i acc[4][2];
    const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        if (i >= mr) break;
        acc[i][0] = first ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)(c + i * ldc));
        acc[i][1] = first ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)(c + i * ldc + 8));
    }
    for (int64_t k = 0; k < kq; k++) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + k * 64));
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + k * 64 + 32));
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            if (i >= mr) break;
            int32_t qs, us;
            __builtin_memcpy(&qs, q + i * ld + 4 * k, 4);
            __builtin_memcpy(&us, u + i * ld + 4 * k, 4);
            const __m256i vq = _mm256_set1_epi32(qs), vu = _mm256_set1_epi32(us);
            __m256i p0 = _mm256_maddubs_epi16(vu, _mm256_sign_epi8(b0, vq));
            __m256i p1 = _mm256_maddubs_epi16(vu, _mm256_sign_epi8(b1, vq));
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(p0, ones));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(p1, ones));
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        if (i >= mr) break;
        _mm256_storeu_si256((__m256i *)(c + i * ldc), acc[i][0]);
        _mm256_storeu_si256((__m256i *)(c + i * ldc + 8), acc[i][1]);
    }
}

#define I8_MR 4
#define I8_NR 16
#define I8_KC 1024
#define I8_MC 64
#define I8_GROUP 8
#define I8_SFX avx2
#define I8_ACT_SFX avx2
#include "kernels/cpu/int8_body.h"

_Static_assert(I8_NR == PARE_I8_AVX2_NR, "panel width");

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

float pare_i8_quant_row_avx2(const float *x, int64_t k, int64_t k_pad, float static_scale,
                             int8_t *q, uint8_t *u, bool u_plus128) {
    float scale, inv;
    if (static_scale > 0.0f) {
        scale = static_scale;
        inv = 1.0f / static_scale;
    } else {
        const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
        __m256 vm = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 8 <= k; i += 8) vm = _mm256_max_ps(vm, _mm256_and_ps(_mm256_loadu_ps(x + i), absmask));
        float amax = hmax8(vm);
        for (; i < k; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
        scale = amax > 0.0f ? amax / 127.0f : 1.0f;
        inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    }
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    const __m256i v128 = _mm256_set1_epi8((char)0x80);
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        __m256i w[4];
        for (int j = 0; j < 4; j++) {
            __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * j), vinv);
            v = _mm256_min_ps(_mm256_max_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), lo), hi);
            w[j] = _mm256_cvtps_epi32(v);
        }
        /* packs work per 128-bit lane: fix the order with a permute */
        __m256i s16a = _mm256_packs_epi32(w[0], w[1]), s16b = _mm256_packs_epi32(w[2], w[3]);
        __m256i s8 = _mm256_packs_epi16(s16a, s16b);
        s8 = _mm256_permutevar8x32_epi32(s8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + i), s8);
        if (u)
            _mm256_storeu_si256((__m256i *)(u + i), u_plus128 ? _mm256_xor_si256(s8, v128) : _mm256_abs_epi8(s8));
    }
    for (; i < k_pad; i++) {
        int v = 0;
        if (i < k) {
            float r = nearbyintf(x[i] * inv);
            v = pare_i8_clamp(r);
        }
        q[i] = (int8_t)v;
        if (u) u[i] = (uint8_t)(u_plus128 ? v + 128 : abs(v));
    }
    return scale;
}
