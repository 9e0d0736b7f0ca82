/* Block-quantized rows: reference (de)quantization of the ggml types in
 * qtypes.h, and matrix products with block-quantized weights.
 *
 * A "row" of n elements of a block type is n / block_size blocks laid end
 * to end (pare_qtype_row_size bytes); n must be a multiple of the block
 * size. Reference definitions are ggml's (ggml-quants.c): dequantize_row_*
 * and quantize_row_*_ref give bit-identical output here (checked against
 * tests/golden/qtypes.bin, written from the gguf Python package's ports).
 */
#ifndef PARE_QUANT_H
#define PARE_QUANT_H

#include "pare/core.h"
#include "pare/qtypes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of a row of n elements of type; false (out untouched) if the type
 * is unknown, n < 0, n is not a multiple of the block size, or overflow. */
bool pare_qtype_row_size(pare_qtype type, int64_t n, size_t *out);

/* dst[0..n) = the values encoded by the row src. Types: F32, F16, BF16,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
 * Errors: PARE_ERR_UNSUPPORTED for other types, PARE_ERR_INVALID when n is
 * not a multiple of the block size. */
pare_status pare_dequantize_row(pare_qtype type, const void *src, float *dst, int64_t n,
                                pare_err *err);

/* dst = the row src[0..n) encoded as type, as ggml's quantize_row_*_ref.
 * Types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q8_K. */
pare_status pare_quantize_row_ref(pare_qtype type, const float *src, void *dst, int64_t n,
                                  pare_err *err);

/* True if pare_qmatmul takes weights of this type. */
bool pare_qmatmul_supports(pare_qtype type);

/* y[m][n] = x[m][k] . W[n][k]^T (+ bias[n]), W being n rows of k elements
 * of type (row stride pare_qtype_row_size(type, k) bytes). Types: F32, F16,
 * BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K.
 *
 * Block types work the llama.cpp way: each x row is quantized once to 8-bit
 * blocks of 32 (an f32 scale per block, sums per 16; see qmatmul_act.h),
 * then integer block dots are scaled and summed in f32. The error against
 * the exact product of the dequantized weights is that of the activation
 * rounding: |err| <= sum over blocks of |w|_1 * amax_x(block) / 254 (plus
 * f32 summation), see tests/test_qmatmul.c. F32/F16/BF16 weights multiply
 * x in f32 (FMA), no activation rounding.
 *
 * Threads split the n weight rows over pool (NULL: the caller alone); each
 * loaded weight block is used for up to 4 x rows. Allocates m quantized x
 * rows (freed before returning). x and y must not overlap. */
pare_status pare_qmatmul(pare_pool *pool, pare_qtype type, const void *w, int64_t n, int64_t k,
                         const float *x, int64_t m, float *y, const float *bias, pare_err *err);

/* ---- row-interleaved ("packed") weights for decode speed
 *
 * Q4_0 and Q4_1 rows repacked in groups of 8: for each block of 32, the 8
 * rows' f16 scales (and minimums) side by side, then their codes arranged so
 * one 32-byte load feeds one x chunk to 4 rows (src/kernels/cpu/qpacked.c).
 * The kernel then sums 8 rows at once into the 8 lanes of one register: no
 * horizontal sums, scales converted 8 at a time, each x block loaded once
 * per 8 rows (llama.cpp repacks Q4_0 to its 8x8 layout for the same
 * reasons). Q8_0 rows are repacked in groups of 16 into the AVX-512 VNNI
 * operand layout (one 64-byte load feeds 4 k values of 16 rows to
 * vpdpbusd). Same bytes per weight as the original; rows beyond the last
 * whole group stay in the original layout (borrowed). 4-bit: AVX2; Q8_0:
 * AVX-512 VNNI. */
typedef struct pare_qpacked {
    pare_qtype type;
    int64_t n, k;
    int64_t n_groups;      /* n / pare_qpack_group_rows(type) */
    const uint8_t *groups; /* n_groups * k/32 blocks of pare_qpack_block_bytes(type) */
    const uint8_t *tail;   /* rows 8*n_groups .. n-1 in the original layout (borrowed), or NULL */
    bool vnni;             /* the AVX-512 VNNI layout (16-row groups), else AVX2's */
} pare_qpacked;

/* The layout follows what the pool's kernels may use (pare_pool_cap_kernels
 * in pare/kernels.h; NULL: this CPU): VNNI's where it can run, else AVX2's.
 * True if this type can be packed for pool. */
bool pare_qpack_supports(pare_qtype type, const pare_pool *pool);
/* Rows per packed group: 16 for Q8_0 and VNNI's Q4_0, 8 for AVX2's 4-bit. */
int64_t pare_qpack_group_rows(pare_qtype type, const pare_pool *pool);
/* Bytes the packed groups of an [n, k] weight take (0 if unsupported). */
size_t pare_qpack_bytes(pare_qtype type, int64_t n, int64_t k, const pare_pool *pool);
/* Pack w (n rows of type, as pare_qmatmul takes them) into dst (at least
 * pare_qpack_bytes; 32-aligned is best); *out borrows dst and w. */
pare_status pare_qpack(pare_qtype type, const void *w, int64_t n, int64_t k, const pare_pool *pool, void *dst,
                       pare_qpacked *out, pare_err *err);
/* pare_qmatmul on packed weights (same results up to f32 summation order). */
pare_status pare_qmatmul_packed(pare_pool *pool, const pare_qpacked *p, const float *x, int64_t m,
                                float *y, const float *bias, pare_err *err);

/* ---- requantizing a GGUF model (src/compress/quant/gguf_requant.c)
 *
 * Round to nearest into one ggml type: each 2-D tensor whose rows are
 * whole blocks is dequantized and quantized again with
 * pare_quantize_row_ref; below 8 bits token_embd/output become Q8_0; 1-D
 * tensors and all metadata are copied (general.file_type updated). The
 * result loads in pare and llama.cpp. prog may be NULL. */
bool pare_requant_supports(pare_qtype type); /* F32 F16 BF16 Q8_0 Q5_1 Q5_0 Q4_1 Q4_0 */
/* general.file_type (llama_ftype) of a model mostly of this type; -1 if none. */
int pare_gguf_file_type(pare_qtype t);
pare_status pare_gguf_requantize(const char *in, const char *out, pare_qtype type, pare_progress *prog,
                                 pare_err *err);

/* The truth for tests: each W row dequantized (pare_dequantize_row) and
 * dotted with x in double. Single-threaded, any type that dequantizes. */
pare_status pare_qmatmul_ref(pare_qtype type, const void *w, int64_t n, int64_t k,
                             const float *x, int64_t m, float *y, const float *bias,
                             pare_err *err);

#ifdef __cplusplus
}
#endif
#endif
