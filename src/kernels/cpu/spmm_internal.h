/* Shared by spmm.c (building, driver, generic kernel) and spmm_avx512.c. */
#ifndef PARE_SPMM_INTERNAL_H
#define PARE_SPMM_INTERNAL_H

#include "pare/sparse.h"

/* One tile of at most PARE_SPMM_TM tokens: xt [k][PARE_SPMM_TM] (x transposed,
 * tokens padded with zeros to tp, a multiple of 16), yt [n][tp]. */
typedef struct spmm_tile {
    const pare_spmm *s;
    const float *xt;
    float *yt;
    int64_t tp;
} spmm_tile;

/* yt rows [r0, r1) of the tile = W[r0:r1] . xt (no bias). */
void pare_spmm_rows_avx512(const spmm_tile *t, int64_t r0, int64_t r1);

#endif
