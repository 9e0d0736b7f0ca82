/* AVX-512 VBMI2 kernel for bitmap-sparse f16 weights (include/pare/sparse.h):
 * 32 weights at a time, the row's 4 bitmap bytes are the mask of one
 * vpexpandw that loads the next popcount packed values straight into their
 * lanes (zeros elsewhere), two f16 -> f32 conversions, two FMAs per x row.
 * A tail of k % 32 columns masks the bitmap bytes and the x loads. Decode
 * (one x row) interleaves two weight rows for four FMA chains. */
#include "kernels/cpu/sparse_internal.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

/* Bitmap bits of columns [c, c + 32) of a row (zero past k). */
INLINE uint32_t mask32(const uint8_t *bm, int64_t c, int64_t k) {
    uint32_t m = 0;
    if (c + 32 <= k) {
        memcpy(&m, bm + c / 8, 4);
        return m;
    }
    for (int64_t b = 0; b < (k - c + 7) / 8; b++) m |= (uint32_t)bm[c / 8 + b] << (8 * b);
    return m;
}

INLINE __mmask16 xmask(int64_t c, int64_t k) {
    const int64_t n = k - c;
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

INLINE void expand32(const uint16_t **v, uint32_t m, __m512 *lo, __m512 *hi) {
    /* the register form of vpexpandw: its memory form is microcoded on
     * Intel (and gcc folds a plain load into it, hence the empty asm) */
    __m512i raw = _mm512_loadu_si512(*v);
    __asm__("" : "+v"(raw));
    const __m512i w = _mm512_maskz_expand_epi16((__mmask32)m, raw);
    *v += __builtin_popcount(m);
    *lo = _mm512_cvtph_ps(_mm512_castsi512_si256(w));
    *hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(w, 1));
}

INLINE void row_r(const sparse_job *j, int64_t r, int64_t i0, const int R) {
    const pare_sparse *s = j->s;
    const int64_t k = s->k, kb = (k + 7) / 8;
    const uint8_t *bm = s->bitmap + r * kb;
    const uint16_t *v = s->vals + s->row_off[r];
    __m512 acc[4][2];
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 32) {
        const uint32_t m = mask32(bm, c, k);
        _mm_prefetch((const char *)(v + PARE_SPARSE_PREFETCH), _MM_HINT_T0);
        if (!m) continue;
        __m512 lo, hi;
        expand32(&v, m, &lo, &hi);
        const __mmask16 m0 = xmask(c, k), m1 = xmask(c + 16, k);
        for (int i = 0; i < R; i++) {
            const float *x = j->x + (i0 + i) * k + c;
            acc[i][0] = _mm512_fmadd_ps(lo, _mm512_maskz_loadu_ps(m0, x), acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(hi, _mm512_maskz_loadu_ps(m1, x + 16), acc[i][1]);
        }
    }
    for (int i = 0; i < R; i++)
        j->y[(i0 + i) * s->n + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[i][0], acc[i][1])) + (j->bias ? j->bias[r] : 0.0f);
}

INLINE void rows2_m1(const sparse_job *j, int64_t r) {
    const pare_sparse *s = j->s;
    const int64_t k = s->k, kb = (k + 7) / 8;
    const uint8_t *b0 = s->bitmap + r * kb, *b1 = b0 + kb;
    const uint16_t *v0 = s->vals + s->row_off[r], *v1 = s->vals + s->row_off[r + 1];
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 32) {
        const __mmask16 m0 = xmask(c, k), m1 = xmask(c + 16, k);
        const __m512 x0 = _mm512_maskz_loadu_ps(m0, j->x + c), x1 = _mm512_maskz_loadu_ps(m1, j->x + c + 16);
        /* the rows' values stream from DRAM: ask for them well ahead */
        _mm_prefetch((const char *)(v0 + PARE_SPARSE_PREFETCH), _MM_HINT_T0);
        _mm_prefetch((const char *)(v1 + PARE_SPARSE_PREFETCH), _MM_HINT_T0);
        __m512 lo, hi;
        expand32(&v0, mask32(b0, c, k), &lo, &hi);
        a0 = _mm512_fmadd_ps(lo, x0, a0);
        a1 = _mm512_fmadd_ps(hi, x1, a1);
        expand32(&v1, mask32(b1, c, k), &lo, &hi);
        c0 = _mm512_fmadd_ps(lo, x0, c0);
        c1 = _mm512_fmadd_ps(hi, x1, c1);
    }
    j->y[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) + (j->bias ? j->bias[r] : 0.0f);
    j->y[r + 1] = _mm512_reduce_add_ps(_mm512_add_ps(c0, c1)) + (j->bias ? j->bias[r + 1] : 0.0f);
}

PARE_SPARSE_ROWS(pare_sparse_rows_vbmi2)
