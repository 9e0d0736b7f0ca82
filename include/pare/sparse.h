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
#include "pare/kernels.h"
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

/* ---- many input rows (encoders, prefill): f32 nonzeros, blocked
 * (src/kernels/cpu/spmm.c, spmm_avx512.c)
 *
 * The k inputs are cut into blocks of PARE_SPMM_KB columns; for each block,
 * row after row, the row's nonzeros in that block as (value, column within
 * the block). The kernel works on x transposed, 128 input rows (tokens) at
 * a time: one output row's 128 partial sums stay in eight AVX-512
 * registers while each nonzero adds value * (its input column over the 128
 * tokens), a broadcast and eight FMAs reading a block of x^T that stays in
 * L1. Work and weight bytes scale with the nonzeros, so unlike the bitmap
 * format above it wins in the compute-bound regime of many tokens. */
#define PARE_SPMM_KB 64
#define PARE_SPMM_TM 128

typedef struct pare_spmm_nz {
    float v;
    int32_t c; /* column within the block, as the byte offset of its row of x^T (c * PARE_SPMM_TM * 4) */
} pare_spmm_nz;

typedef struct pare_spmm {
    int64_t n, k, nnz, nkb;
    const pare_spmm_nz *nz;   /* block after block, row after row */
    const int64_t *off;       /* [nkb * n + 1]: (block b, row r) starts at nz + off[b * n + r] */
    bool generic;             /* run the plain C kernel even where AVX-512 is (tests) */
} pare_spmm;

/* From n dense rows of k f32 weights (zeros dropped, values exact). */
pare_status pare_spmm_build(const float *w, int64_t n, int64_t k, pare_arena *arena, pare_spmm *out, pare_err *err);
size_t pare_spmm_bytes(const pare_spmm *s);
/* Scratch the product of m input rows needs (x^T and y^T of one tile). */
size_t pare_spmm_scratch_bytes(const pare_spmm *s, int64_t m);
/* y[m][n] = act(x[m][k] . W^T + bias); scratch: pare_spmm_scratch_bytes,
 * 64-byte aligned. Output rows split over pool. */
void pare_spmm_matmul(pare_pool *pool, const pare_spmm *s, const float *x, int64_t m, float *y, const float *bias,
                      pare_act act, void *scratch);
/* The reference: one output at a time in double, no activation. */
void pare_spmm_matmul_ref(const pare_spmm *s, const float *x, int64_t m, float *y, const float *bias);

#ifdef __cplusplus
}
#endif
#endif
