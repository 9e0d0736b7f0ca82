/* Shared by qmatmul.c (driver, generic and reference kernels) and the
 * per-ISA files: the quantized activation row and the row-dot signature.
 *
 * Activation row (qx): x quantized in blocks of 32 to int8 with an f32
 * scale d per block (d = amax / 127, q = round(x / d)); dsum[b] = d[b] *
 * sum(q of block b) serves the minimum / offset terms of Q4_0, Q4_1, Q5_*
 * and Q4_K; s16[g] = sum(q of the 16 values g) serves Q6_K's per-16 scales.
 * An f32 scale per 32 (ggml keeps an f16 one, and one per 256 for K types)
 * costs nothing in a memory-bound product and keeps the error that of the
 * int8 rounding alone. */
#ifndef PARE_QMATMUL_INTERNAL_H
#define PARE_QMATMUL_INTERNAL_H

#include "kernels/cpu/kern_internal.h"
#include "pare/quant.h"

typedef struct pare_qx {
    const float *x; /* [k] the f32 row (float weight types use it) */
    int8_t *qs;     /* [k] */
    float *d;       /* [k/32] */
    float *dsum;    /* [k/32] */
    int16_t *s16;   /* [k/16] */
} pare_qx;

/* Tile height: one weight row is dotted with up to this many x rows at once. */
#define PARE_QX_TILE 4

/* out[r] = dot(weight row w, x row r) for r < R (1 <= R <= PARE_QX_TILE),
 * over k elements. */
typedef void (*pare_qdot_fn)(const void *w, const pare_qx *x, int R, int64_t k, float *out);

/* Per-ISA: the dot routine for a weight type (NULL: not handled) and the
 * activation quantizer (k a multiple of 32). */
pare_qdot_fn pare_qdot_get_avx2(pare_qtype type);
void pare_qx_quantize_avx2(const float *x, int64_t k, pare_qx *q);
void pare_qx_quantize_generic(const float *x, int64_t k, pare_qx *q);

/* pare_qmatmul with the kernels of a given ISA (capped at what this CPU
 * has): tests reach the generic path through it. */
pare_status pare_qmatmul_isa(pare_isa isa, pare_pool *pool, pare_qtype type, const void *w,
                             int64_t n, int64_t k, const float *x, int64_t m, float *y,
                             const float *bias, pare_err *err);

/* x[m, k] as qx rows in one allocation (*mem, free() it): quantized with
 * quant (threads when m >= 4), or only the f32 pointers when quant is NULL. */
pare_status pare_qx_prepare(pare_pool *pool, void (*quant)(const float *, int64_t, pare_qx *),
                            const float *x, int64_t m, int64_t k, pare_qx **rows, void **mem,
                            pare_err *err);

/* Packed (row-interleaved) kernels, qpacked_avx2.c (Q4_0, Q4_1) and
 * qpacked_vnni.c (Q8_0): out[r * ldo + c] for the pare_qpack_group_rows
 * rows of group g and x rows r < R (R <= PARE_QX_TILE). */
typedef void (*pare_qpacked_fn)(const uint8_t *group, const pare_qx *x, int R, int64_t k, float *out,
                                int64_t ldo);
pare_qpacked_fn pare_qpacked_get_avx2(pare_qtype type);
pare_qpacked_fn pare_qpacked_get_vnni(pare_qtype type);

#endif
