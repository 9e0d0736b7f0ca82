/* Shared by sparse.c (driver) and sparse_avx2.c (kernel). */
#ifndef PARE_SPARSE_INTERNAL_H
#define PARE_SPARSE_INTERNAL_H

#include "pare/sparse.h"

typedef struct sparse_job {
    const pare_sparse *s;
    const float *x;
    int64_t m;
    float *y;
    const float *bias;
    bool vbmi2;           /* AVX-512 VBMI2 kernel (vpexpandw) */
    bool avx2;            /* else the AVX2 kernel (else plain C) */
    int32_t idx[256][8];  /* lane -> packed value index, per bitmap byte */
    int32_t lane[256][8]; /* -1 where the bit is set */
} sparse_job;

/* How far ahead (f16 values) the kernels prefetch a row's value stream:
 * the hardware prefetchers alone left decode of a 2:4 SmolLM2 at 1.05x of
 * dense; 1024 (2 KB) makes it 1.5x (256: 1.3x, 2048: same as 1024). */
#define PARE_SPARSE_PREFETCH 1024

/* Rows [r0, r1) of y for every x row. */
void pare_sparse_rows_avx2(const sparse_job *j, int64_t r0, int64_t r1);
void pare_sparse_rows_vbmi2(const sparse_job *j, int64_t r0, int64_t r1);

/* The row loop each kernel file instantiates with its own row_r (one
 * weight row against R <= 4 x rows from i0) and rows2_m1 (two weight rows
 * against the single x row of a decode step). */
#define PARE_SPARSE_ROWS(name)                                                     \
    void name(const sparse_job *j, int64_t r0, int64_t r1) {                       \
        if (j->m == 1) {                                                           \
            int64_t r = r0;                                                        \
            for (; r + 2 <= r1; r += 2) rows2_m1(j, r);                            \
            if (r < r1) row_r(j, r, 0, 1);                                         \
            return;                                                                \
        }                                                                          \
        for (int64_t i0 = 0; i0 < j->m; i0 += 4) {                                 \
            const int64_t R = j->m - i0 < 4 ? j->m - i0 : 4;                       \
            for (int64_t r = r0; r < r1; r++) switch (R) {                         \
                case 1: row_r(j, r, i0, 1); break;                                 \
                case 2: row_r(j, r, i0, 2); break;                                 \
                case 3: row_r(j, r, i0, 3); break;                                 \
                default: row_r(j, r, i0, 4); break;                                \
                }                                                                  \
        }                                                                          \
    }

#endif
