/* Sparse weights for unstructured and n:m sparsity (src/kernels/cpu/sparse.c).
 *
 * Bitmap format: each row of k weights is a bitmap of k bits (bit c%8 of
 * byte c/8 set where w[c] != 0) and the nonzero values in column order,
 * f16. At density d a weight costs 1/8 + 2d bytes instead of 2 (f16 dense):
 * 0.725 bytes at 70% sparsity, 1.125 at 2:4, so a memory-bound decode step
 * reads 2.8x or 1.8x fewer bytes. One format serves both patterns (2:4 is
 * a bitmap with two bits set in every nibble).
 *
 * The AVX2 kernel expands 8 values at a time: the bitmap byte indexes two
 * small tables (per-call, on the stack) giving the permutation that moves
 * the packed values to their lanes and the lane mask, then one FMA per x
 * row; up to 4 x rows share each expanded chunk. */
#ifndef PARE_SPARSE_H
#define PARE_SPARSE_H

#include "pare/core.h"
#include "pare/qtypes.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pare_sparse {
    int64_t n, k, nnz;
    const uint8_t *bitmap;   /* [n][(k + 7) / 8] */
    const uint16_t *vals;    /* nnz f16 values, row after row, then 32 of padding */
    const int64_t *row_off;  /* [n + 1]: row r's values start at vals + row_off[r] */
    bool vbmi2;              /* run by the AVX-512 VBMI2 kernel (found at build) */
} pare_sparse;

/* Exact zeros among n rows of k F16 or F32 weights (row-major). */
int64_t pare_count_zeros(pare_qtype type, const void *w, int64_t n, int64_t k);

/* Build from n dense rows of k F16 (exact) or F32 (values rounded to f16)
 * weights, into arena. */
pare_status pare_sparse_build(pare_qtype type, const void *w, int64_t n, int64_t k, pare_arena *arena,
                              pare_sparse *out, pare_err *err);
/* Bytes of the format (bitmap, values, offsets). */
size_t pare_sparse_bytes(const pare_sparse *s);

/* y[m][n] = x[m][k] . W^T (+ bias): AVX2 when available, else scalar;
 * rows split over pool. x and y must not overlap. */
pare_status pare_sparse_matmul(pare_pool *pool, const pare_sparse *s, const float *x, int64_t m, float *y,
                               const float *bias, pare_err *err);
/* The reference: one output at a time in double. */
void pare_sparse_matmul_ref(const pare_sparse *s, const float *x, int64_t m, float *y, const float *bias);

#ifdef __cplusplus
}
#endif
#endif
