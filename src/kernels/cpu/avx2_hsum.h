/* Horizontal sum of an AVX register, for the AVX2 kernel files. */
#ifndef PARE_AVX2_HSUM_H
#define PARE_AVX2_HSUM_H

#include <immintrin.h>

static inline __attribute__((always_inline)) float pare_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
