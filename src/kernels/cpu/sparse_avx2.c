/* AVX2 kernel for bitmap-sparse f16 weights (include/pare/sparse.h): per
 * weight row, each bitmap byte with any bit set loads the next 8 packed
 * values (F16C), moves them to their lanes with one permute from the
 * byte's index table, zeroes the empty lanes, and meets up to 4 x rows
 * with one FMA each. A tail of k % 8 columns uses the same code (the
 * bitmap's unused bits are zero, x is read only for k % 8 lanes). */
#include "kernels/cpu/sparse_internal.h"

#include "kernels/cpu/avx2_hsum.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))


INLINE __m256 load_x(const float *x, int64_t c, int64_t k) {
    if (c + 8 <= k) return _mm256_loadu_ps(x + c);
    float t[8] = {0};
    memcpy(t, x + c, sizeof(float) * (size_t)(k - c));
    return _mm256_loadu_ps(t);
}

/* The next 8 weights of a row under bitmap byte mask, in their lanes. */
INLINE __m256 expand(const sparse_job *j, const uint16_t **v, unsigned mask) {
    const __m256 w = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)*v));
    const __m256i idx = _mm256_loadu_si256((const __m256i *)j->idx[mask]);
    const __m256 on = _mm256_loadu_ps((const float *)j->lane[mask]);
    *v += __builtin_popcount(mask);
    return _mm256_and_ps(_mm256_permutevar8x32_ps(w, idx), on);
}

INLINE void row_r(const sparse_job *j, int64_t r, int64_t i0, const int R) {
    const pare_sparse *s = j->s;
    const int64_t k = s->k, kb = (k + 7) / 8;
    const uint8_t *bm = s->bitmap + r * kb;
    const uint16_t *v = s->vals + s->row_off[r];
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < kb; b++) {
        const unsigned mask = bm[b];
        if (!(b & 3)) _mm_prefetch((const char *)(v + PARE_SPARSE_PREFETCH), _MM_HINT_T0);
        if (!mask) continue;
        const __m256 e = expand(j, &v, mask);
        for (int i = 0; i < R; i++) acc[i] = _mm256_fmadd_ps(e, load_x(j->x + (i0 + i) * k, b * 8, k), acc[i]);
    }
    for (int i = 0; i < R; i++) j->y[(i0 + i) * s->n + r] = pare_hsum256(acc[i]) + (j->bias ? j->bias[r] : 0.0f);
}

/* One x row (decode): two weight rows interleaved, two accumulators each,
 * so four FMA chains and two value streams are in flight. */
INLINE void rows2_m1(const sparse_job *j, int64_t r) {
    const pare_sparse *s = j->s;
    const int64_t k = s->k, kb = (k + 7) / 8, kf = k / 8 & ~(int64_t)1; /* whole byte pairs */
    const uint8_t *b0 = s->bitmap + r * kb, *b1 = b0 + kb;
    const uint16_t *v0 = s->vals + s->row_off[r], *v1 = s->vals + s->row_off[r + 1];
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b < kf; b += 2) {
        const __m256 x0 = _mm256_loadu_ps(j->x + b * 8), x1 = _mm256_loadu_ps(j->x + b * 8 + 8);
        if (!(b & 3)) {
            _mm_prefetch((const char *)(v0 + PARE_SPARSE_PREFETCH), _MM_HINT_T0);
            _mm_prefetch((const char *)(v1 + PARE_SPARSE_PREFETCH), _MM_HINT_T0);
        }
        a0 = _mm256_fmadd_ps(expand(j, &v0, b0[b]), x0, a0);
        c0 = _mm256_fmadd_ps(expand(j, &v1, b1[b]), x0, c0);
        a1 = _mm256_fmadd_ps(expand(j, &v0, b0[b + 1]), x1, a1);
        c1 = _mm256_fmadd_ps(expand(j, &v1, b1[b + 1]), x1, c1);
    }
    for (; b < kb; b++) {
        const __m256 x0 = load_x(j->x, b * 8, k);
        a0 = _mm256_fmadd_ps(expand(j, &v0, b0[b]), x0, a0);
        c0 = _mm256_fmadd_ps(expand(j, &v1, b1[b]), x0, c0);
    }
    j->y[r] = pare_hsum256(_mm256_add_ps(a0, a1)) + (j->bias ? j->bias[r] : 0.0f);
    j->y[r + 1] = pare_hsum256(_mm256_add_ps(c0, c1)) + (j->bias ? j->bias[r + 1] : 0.0f);
}

PARE_SPARSE_ROWS(pare_sparse_rows_avx2)
