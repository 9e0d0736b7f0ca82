/* The register tile of the packed GEMMs (gemm_body.h for inference,
 * sgemm_body.h for training), written once with GCC vector extensions and
 * compiled per ISA. The includer defines GB_VL (floats per vector), GB_NV
 * (vectors per panel, NR = VL*NV), GB_MR (rows per tile) and GB_SFX. */
#ifndef PARE_GEMM_TILE_H
#define PARE_GEMM_TILE_H
#include "kernels/cpu/kern_internal.h"

#define GB_CAT2(a, b) a##b
#define GB_CAT(a, b) GB_CAT2(a, b)
#define GB_NAME(base) GB_CAT(base, GB_SFX)
#define GB_NR (GB_VL * GB_NV)

typedef float gb_vec __attribute__((vector_size(GB_VL * 4)));
typedef float gb_uvec __attribute__((vector_size(GB_VL * 4), aligned(4)));

/* One MR' x NR tile, MR' = mr <= GB_MR a compile-time constant after
 * inlining. a: rows of x at stride lda (at: A transposed, so a[k lda + i]
 * holds row i, column k); b: packed slice [kc][NR]; c: tile
 * at stride ldc; bias: start from it (first k slice), else from c; pf: a
 * packed slice [kc][NR] to prefetch into L2 on the way (the next panel's,
 * or b itself when there is nothing to fetch). */
static inline __attribute__((always_inline)) void gb_tile(const int at, const int mr, int64_t kc, const float *a,
                                                          int64_t lda, const float *b, float *c,
                                                          int64_t ldc, const float *bias,
                                                          const float *pf) {
    gb_vec acc[GB_MR][GB_NV];
#pragma GCC unroll 16
    for (int i = 0; i < GB_MR; i++) {
        if (i >= mr) break;
#pragma GCC unroll 4
        for (int j = 0; j < GB_NV; j++)
            acc[i][j] = bias ? *(const gb_vec *)(bias + j * GB_VL)
                             : *(const gb_uvec *)(c + i * ldc + j * GB_VL);
    }
    for (int64_t k = 0; k < kc; k++) {
        gb_vec bv[GB_NV];
#pragma GCC unroll 4
        for (int j = 0; j < GB_NR; j += 16) __builtin_prefetch(pf + k * GB_NR + j, 0, 1);
#pragma GCC unroll 4
        for (int j = 0; j < GB_NV; j++) bv[j] = *(const gb_vec *)(b + k * GB_NR + j * GB_VL);
#pragma GCC unroll 16
        for (int i = 0; i < GB_MR; i++) {
            if (i >= mr) break;
            float av = at ? a[k * lda + i] : a[i * lda + k];
#pragma GCC unroll 4
            for (int j = 0; j < GB_NV; j++) acc[i][j] += av * bv[j];
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < GB_MR; i++) {
        if (i >= mr) break;
#pragma GCC unroll 4
        for (int j = 0; j < GB_NV; j++) *(gb_uvec *)(c + i * ldc + j * GB_VL) = acc[i][j];
    }
}

#define GB_CASE(r)                                                                           \
    case r:                                                                                  \
        if (r <= GB_MR) {                                                                    \
            if (at) gb_tile(1, r, kc, a, lda, b, c, ldc, bias, pf);                          \
            else gb_tile(0, r, kc, a, lda, b, c, ldc, bias, pf);                             \
        }                                                                                    \
        break;

static void gb_tile_any(int at, int mr, int64_t kc, const float *a, int64_t lda, const float *b, float *c,
                        int64_t ldc, const float *bias, const float *pf) {
    switch (mr) {
        GB_CASE(1) GB_CASE(2) GB_CASE(3) GB_CASE(4) GB_CASE(5) GB_CASE(6) GB_CASE(7)
        GB_CASE(8) GB_CASE(9) GB_CASE(10) GB_CASE(11) GB_CASE(12)
    default: break;
    }
}

#endif
