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
    int32_t idx[256][8];  /* lane -> packed value index, per bitmap byte */
    int32_t lane[256][8]; /* -1 where the bit is set */
} sparse_job;

/* Rows [r0, r1) of y for every x row. */
void pare_sparse_rows_avx2(const sparse_job *j, int64_t r0, int64_t r1);
void pare_sparse_rows_vbmi2(const sparse_job *j, int64_t r0, int64_t r1);

#endif
