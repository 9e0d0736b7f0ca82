/* AVX2 dot kernels for pare_qmatmul: one weight row against R <= 4
 * quantized x rows (qmatmul_internal.h). Each kernel is written once for a
 * constant R (always inlined) and instantiated for R = 1..4, so the R
 * accumulators stay in registers.
 *
 * Integer block dots use maddubs (u8 x s8 -> pairs summed to s16) and
 * madd with ones (-> s32), as llama.cpp does:
 *   - Q8_0 weights are signed: the sign trick maddubs(|w|, sign(x, w)).
 *   - Q4_0/Q4_1/Q5_0/Q5_1/Q4_K/Q6_K quants are unsigned codes u; the
 *     offset (-8, -16, -32) or minimum is applied per block through the sum
 *     of the x quants: sum(w x) = d_w (sum(u x) - off sum(x)) [+ m sum(x)].
 *     No pair sum saturates s16: 2 * 63 * 127 < 32767.
 * Float weights (F32, F16 via F16C, BF16 via a shift) multiply the f32 x
 * rows with FMA. */
#include "kernels/cpu/qmatmul_internal.h"

#include "kernels/cpu/avx2_hsum.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))


INLINE float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* 32 unsigned 4-bit codes of 16 bytes: low nibbles, then high nibbles. */
INLINE __m256i nibbles(const uint8_t *qs) {
    __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(15));
}

/* Byte j = 0xFF where bit j of the 32-bit mask is set. */
INLINE __m256i bits_to_bytes(const uint8_t *qh) {
    uint32_t b;
    memcpy(&b, qh, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)b), shuf);
    v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

/* sum(u * x) of 32 unsigned codes and 32 int8, as 8 int32 lanes in float. */
INLINE __m256 udot(__m256i u, const int8_t *x) {
    __m256i p = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)x));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* ---- 32-blocks with unsigned codes: Q4_0, Q4_1, Q5_0, Q5_1 */

/* codes of block b and its (scale, offset-or-min) terms: value = d*u + c.
 * Two blocks per step into separate accumulators (vector and scalar), so
 * neither the FMA chain nor the scalar correction chain waits on the
 * previous block: at one x row (decode) the single chains were the limit. */
#define QBLOCK_STEP(BLK, CODES, OFFSET_TERM, b, ACC, CORR)                                      \
    do {                                                                                        \
        const BLK *blk = &bl[b];                                                                \
        const float dw = h2f(blk->d);                                                           \
        const float cw = OFFSET_TERM;                                                           \
        __m256i u = CODES;                                                                      \
        for (int r = 0; r < R; r++) {                                                           \
            ACC[r] = _mm256_fmadd_ps(udot(u, x[r].qs + 32 * (b)), _mm256_set1_ps(dw * x[r].d[b]), \
                                     ACC[r]);                                                   \
            CORR[r] += cw * x[r].dsum[b];                                                       \
        }                                                                                       \
    } while (0)

#define QBLOCK_KERNEL(NAME, BLK, CODES, OFFSET_TERM)                                            \
    INLINE void NAME##_r(const void *w, const pare_qx *x, const int R, int64_t k, float *out) { \
        const BLK *bl = w;                                                                      \
        __m256 acc0[PARE_QX_TILE], acc1[PARE_QX_TILE];                                          \
        float corr0[PARE_QX_TILE], corr1[PARE_QX_TILE];                                         \
        for (int r = 0; r < R; r++) {                                                           \
            acc0[r] = acc1[r] = _mm256_setzero_ps();                                            \
            corr0[r] = corr1[r] = 0;                                                            \
        }                                                                                       \
        const int64_t nb = k / 32;                                                              \
        int64_t b = 0;                                                                          \
        for (; b + 1 < nb; b += 2) {                                                            \
            QBLOCK_STEP(BLK, CODES, OFFSET_TERM, b, acc0, corr0);                               \
            QBLOCK_STEP(BLK, CODES, OFFSET_TERM, b + 1, acc1, corr1);                           \
        }                                                                                       \
        if (b < nb) QBLOCK_STEP(BLK, CODES, OFFSET_TERM, b, acc0, corr0);                       \
        for (int r = 0; r < R; r++)                                                             \
            out[r] = pare_hsum256(_mm256_add_ps(acc0[r], acc1[r])) + (corr0[r] + corr1[r]);             \
    }

/* Q4_0: codes - 8 are signed in [-8, 7], so the sign trick applies and no
 * per-block correction is needed (llama.cpp's way); two blocks per step. */
INLINE __m256 sdot(__m256i w, const int8_t *xq) {
    __m256i xv = _mm256_loadu_si256((const __m256i *)xq);
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xv, w));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

#define Q4_0_STEP(b, ACC)                                                                       \
    do {                                                                                        \
        const float dw = h2f(bl[b].d);                                                          \
        __m256i wv = _mm256_sub_epi8(nibbles(bl[b].qs), _mm256_set1_epi8(8));                   \
        for (int r = 0; r < R; r++)                                                             \
            ACC[r] = _mm256_fmadd_ps(sdot(wv, x[r].qs + 32 * (b)), _mm256_set1_ps(dw * x[r].d[b]), ACC[r]); \
    } while (0)

INLINE void dot_q4_0_r(const void *w, const pare_qx *x, const int R, int64_t k, float *out) {
    const pare_block_q4_0 *bl = w;
    __m256 acc0[PARE_QX_TILE], acc1[PARE_QX_TILE];
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm256_setzero_ps();
    const int64_t nb = k / 32;
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        Q4_0_STEP(b, acc0);
        Q4_0_STEP(b + 1, acc1);
    }
    if (b < nb) Q4_0_STEP(b, acc0);
    for (int r = 0; r < R; r++) out[r] = pare_hsum256(_mm256_add_ps(acc0[r], acc1[r]));
}
QBLOCK_KERNEL(dot_q4_1, pare_block_q4_1, nibbles(blk->qs), h2f(blk->m))
QBLOCK_KERNEL(dot_q5_0, pare_block_q5_0,
              _mm256_or_si256(nibbles(blk->qs),
                              _mm256_and_si256(bits_to_bytes(blk->qh), _mm256_set1_epi8(16))),
              -16.0f * dw)
QBLOCK_KERNEL(dot_q5_1, pare_block_q5_1,
              _mm256_or_si256(nibbles(blk->qs),
                              _mm256_and_si256(bits_to_bytes(blk->qh), _mm256_set1_epi8(16))),
              h2f(blk->m))

#ifndef PARE_QDOT_PREFETCH
#define PARE_QDOT_PREFETCH 2048 /* bytes ahead in the weight row */
#endif

/* ---- Q8_0: signed weights, sign trick */
INLINE __m256 q8_block(const pare_block_q8_0 *blk, const int8_t *xq) {
    __m256i wv = _mm256_loadu_si256((const __m256i *)blk->qs);
    __m256i xv = _mm256_loadu_si256((const __m256i *)xq);
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* Two blocks per step into two accumulators per x row (as for the 4-bit
 * blocks): one chain of FMAs held decode to about 16 GB/s of weights. */
INLINE void dot_q8_0_r(const void *w, const pare_qx *x, const int R, int64_t k, float *out) {
    const pare_block_q8_0 *bl = w;
    const int64_t nb = k / 32;
    __m256 acc[PARE_QX_TILE], acc2[PARE_QX_TILE];
    for (int r = 0; r < R; r++) acc[r] = acc2[r] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        _mm_prefetch((const char *)(bl + b) + PARE_QDOT_PREFETCH, _MM_HINT_T0);
        _mm_prefetch((const char *)(bl + b) + PARE_QDOT_PREFETCH + 64, _MM_HINT_T0);
        const float dw0 = h2f(bl[b].d), dw1 = h2f(bl[b + 1].d);
        for (int r = 0; r < R; r++) {
            acc[r] = _mm256_fmadd_ps(q8_block(bl + b, x[r].qs + 32 * b), _mm256_set1_ps(dw0 * x[r].d[b]), acc[r]);
            acc2[r] = _mm256_fmadd_ps(q8_block(bl + b + 1, x[r].qs + 32 * b + 32),
                                      _mm256_set1_ps(dw1 * x[r].d[b + 1]), acc2[r]);
        }
    }
    for (; b < nb; b++) {
        const float dw = h2f(bl[b].d);
        for (int r = 0; r < R; r++)
            acc[r] = _mm256_fmadd_ps(q8_block(bl + b, x[r].qs + 32 * b), _mm256_set1_ps(dw * x[r].d[b]), acc[r]);
    }
    for (int r = 0; r < R; r++) out[r] = pare_hsum256(_mm256_add_ps(acc[r], acc2[r]));
}

/* ---- Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins */
INLINE void k4_scales(const uint8_t *q, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        mn[j] = q[j + 4] & 63;
        sc[j + 4] = (uint8_t)((q[j + 8] & 15) | ((q[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
    }
}

INLINE void dot_q4_k_r(const void *w, const pare_qx *x, const int R, int64_t k, float *out) {
    const pare_block_q4_K *bl = w;
    __m256 acc[PARE_QX_TILE];
    float corr[PARE_QX_TILE];
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        corr[r] = 0;
    }
    for (int64_t b = 0; b < k / PARE_QK_K; b++) {
        const float d = h2f(bl[b].d), dmin = h2f(bl[b].dmin);
        uint8_t sc[8], mn[8];
        k4_scales(bl[b].scales, sc, mn);
        for (int c = 0; c < 4; c++) { /* 64 values: low nibbles, then high */
            __m256i raw = _mm256_loadu_si256((const __m256i *)(bl[b].qs + 32 * c));
            __m256i u[2] = {_mm256_and_si256(raw, _mm256_set1_epi8(15)),
                            _mm256_and_si256(_mm256_srli_epi16(raw, 4), _mm256_set1_epi8(15))};
            for (int h = 0; h < 2; h++) {
                const int sb = 2 * c + h;
                const int64_t xb = 8 * b + sb; /* x block of 32 */
                const float ds = d * (float)sc[sb], ms = dmin * (float)mn[sb];
                for (int r = 0; r < R; r++) {
                    acc[r] = _mm256_fmadd_ps(udot(u[h], x[r].qs + 32 * xb),
                                             _mm256_set1_ps(ds * x[r].d[xb]), acc[r]);
                    corr[r] += ms * x[r].dsum[xb];
                }
            }
        }
    }
    for (int r = 0; r < R; r++) out[r] = pare_hsum256(acc[r]) - corr[r];
}

/* ---- Q6_K: 16 sub-blocks of 16 with int8 scales; codes 0..63, offset 32 */
INLINE void dot_q6_k_r(const void *w, const pare_qx *x, const int R, int64_t k, float *out) {
    const pare_block_q6_K *bl = w;
    __m256 acc[PARE_QX_TILE];
    float corr[PARE_QX_TILE];
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        corr[r] = 0;
    }
    for (int64_t b = 0; b < k / PARE_QK_K; b++) {
        const float d = h2f(bl[b].d);
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = bl[b].ql + 64 * half, *qh = bl[b].qh + 32 * half;
            const int8_t *sc = bl[b].scales + 8 * half;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hv = _mm256_loadu_si256((const __m256i *)qh);
            __m256i u[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, m4),
                                _mm256_slli_epi16(_mm256_and_si256(hv, m2), 4)),
                _mm256_or_si256(_mm256_and_si256(l1, m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hv, 2), m2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hv, 4), m2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hv, 6), m2), 4)),
            };
            for (int t = 0; t < 4; t++) {
                const int64_t xb = 8 * b + 4 * half + t; /* x block of 32 */
                const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[2 * t + 1]),
                                                     _mm_set1_epi16(sc[2 * t]));
                for (int r = 0; r < R; r++) {
                    __m256i p = _mm256_maddubs_epi16(
                        u[t], _mm256_loadu_si256((const __m256i *)(x[r].qs + 32 * xb)));
                    __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, scv));
                    const float dd = d * x[r].d[xb];
                    acc[r] = _mm256_fmadd_ps(s, _mm256_set1_ps(dd), acc[r]);
                    corr[r] += dd * (float)(32 * (sc[2 * t] * x[r].s16[2 * xb] +
                                                  sc[2 * t + 1] * x[r].s16[2 * xb + 1]));
                }
            }
        }
    }
    for (int r = 0; r < R; r++) out[r] = pare_hsum256(acc[r]) - corr[r];
}

/* ---- float weights: 8 lanes per load, U independent accumulators per row */
#define FLOAT_KERNEL(NAME, ELEM, LOAD8, SCALAR)                                                 \
    INLINE void NAME##_r(const void *w, const pare_qx *x, const int R, int64_t k, float *out) { \
        const ELEM *wp = w;                                                                     \
        enum { U = 2 };                                                                         \
        __m256 acc[PARE_QX_TILE][U];                                                            \
        for (int r = 0; r < R; r++)                                                             \
            for (int u = 0; u < U; u++) acc[r][u] = _mm256_setzero_ps();                        \
        int64_t i = 0;                                                                          \
        for (; i + 8 * U <= k; i += 8 * U) {                                                    \
            if (!(i & 31)) _mm_prefetch((const char *)(wp + i) + PARE_QDOT_PREFETCH, _MM_HINT_T0); \
            for (int u = 0; u < U; u++) {                                                       \
                __m256 wv = LOAD8(wp + i + 8 * u);                                              \
                for (int r = 0; r < R; r++)                                                     \
                    acc[r][u] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[r].x + i + 8 * u),        \
                                                acc[r][u]);                                     \
            }                                                                                   \
        }                                                                                       \
        for (int r = 0; r < R; r++) {                                                           \
            float s = pare_hsum256(_mm256_add_ps(acc[r][0], acc[r][1]));                                \
            for (int64_t t = i; t < k; t++) s += SCALAR(wp[t]) * x[r].x[t];                     \
            out[r] = s;                                                                         \
        }                                                                                       \
    }

INLINE __m256 load_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
INLINE __m256 load_bf16(const uint16_t *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
INLINE float f32_id(float v) { return v; }
INLINE float bf2f(uint16_t h) { return pare_bf16_to_f32(h); }

FLOAT_KERNEL(dot_f32, float, _mm256_loadu_ps, f32_id)
FLOAT_KERNEL(dot_f16, uint16_t, load_f16, h2f)
FLOAT_KERNEL(dot_bf16, uint16_t, load_bf16, bf2f)

/* R = 1..4 instances of each kernel */
#define INSTANCES(NAME)                                                                         \
    static void NAME(const void *w, const pare_qx *x, int R, int64_t k, float *out) {           \
        switch (R) {                                                                            \
        case 1: NAME##_r(w, x, 1, k, out); break;                                               \
        case 2: NAME##_r(w, x, 2, k, out); break;                                               \
        case 3: NAME##_r(w, x, 3, k, out); break;                                               \
        default: NAME##_r(w, x, 4, k, out); break;                                              \
        }                                                                                       \
    }
INSTANCES(dot_q4_0)
INSTANCES(dot_q4_1)
INSTANCES(dot_q5_0)
INSTANCES(dot_q5_1)
INSTANCES(dot_q8_0)
INSTANCES(dot_q4_k)
INSTANCES(dot_q6_k)
INSTANCES(dot_f32)
INSTANCES(dot_f16)
INSTANCES(dot_bf16)

pare_qdot_fn pare_qdot_get_avx2(pare_qtype type) {
    switch (type) {
    case PARE_Q_F32: return dot_f32;
    case PARE_Q_F16: return dot_f16;
    case PARE_Q_BF16: return dot_bf16;
    case PARE_Q_Q4_0: return dot_q4_0;
    case PARE_Q_Q4_1: return dot_q4_1;
    case PARE_Q_Q5_0: return dot_q5_0;
    case PARE_Q_Q5_1: return dot_q5_1;
    case PARE_Q_Q8_0: return dot_q8_0;
    case PARE_Q_Q4_K: return dot_q4_k;
    case PARE_Q_Q6_K: return dot_q6_k;
    default: return NULL;
    }
}

/* Per block of 32: d = amax / 127, q = round-to-nearest-even(x / d). */
void pare_qx_quantize_avx2(const float *x, int64_t k, pare_qx *q) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < k / 32; b++) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) {
            v[j] = _mm256_loadu_ps(x + 32 * b + 8 * j);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[j]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float d = _mm_cvtss_f32(m) / 127, id = d != 0.0f ? 1.0f / d : 0.0f;
        __m256i i32[4];
        for (int j = 0; j < 4; j++)
            i32[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], _mm256_set1_ps(id)));
        /* pack to int8 (packs interleave 128-bit lanes: permute back) */
        __m256i p16a = _mm256_packs_epi32(i32[0], i32[1]), p16b = _mm256_packs_epi32(i32[2], i32[3]);
        __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q->qs + 32 * b), p8);
        /* sums per 16: lanes 0..7 of (i32[0] + i32[1]) and (i32[2] + i32[3]) */
        __m256i s01 = _mm256_add_epi32(i32[0], i32[1]), s23 = _mm256_add_epi32(i32[2], i32[3]);
        __m256i h = _mm256_hadd_epi32(s01, s23); /* [s01 pairs lo, s23 pairs lo, s01 hi, s23 hi] */
        h = _mm256_hadd_epi32(h, h);
        int32_t t[8];
        _mm256_storeu_si256((__m256i *)t, h);
        int s0 = t[0] + t[4], s1 = t[1] + t[5];
        q->d[b] = d;
        q->dsum[b] = d * (float)(s0 + s1);
        q->s16[2 * b] = (int16_t)s0;
        q->s16[2 * b + 1] = (int16_t)s1;
    }
}
