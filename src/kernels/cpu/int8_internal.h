/* Internal declarations of the int8 GEMM (pare/qlinear.h): the quantized
 * input handed to the per-ISA drivers, and their entry points. */
#ifndef PARE_INT8_INTERNAL_H
#define PARE_INT8_INTERNAL_H

#include "pare/qlinear.h"

/* Panel widths of the packed int8 layouts. */
#define PARE_I8_AVX2_NR 16
#define PARE_I8_VNNI_NR 48

/* A quantized input: rows of k_pad bytes at stride ld. AVX2 reads q (signed)
 * and u = |q|; VNNI and AMX read u = q + 128 only (AMX: rows padded to 16). */
typedef struct pare_i8_input {
    const int8_t *q;
    const uint8_t *u;
    int64_t ld;
    const float *scale; /* [m]; NULL: write the raw int32 accumulators */
} pare_i8_input;

/* One GEMM call of a packed driver: work items of (group of panels) x
 * (block of rows), claimed through next. */
typedef struct pare_i8_job {
    const pare_qlinear *l;
    const pare_i8_input *in;
    int64_t m;
    int32_t *y;
    pare_act act;
    int64_t group, n_groups;
    int64_t rows, n_rblocks;
    _Atomic long long next;
} pare_i8_job;

/* y (float, or int32 when in->scale is NULL) [m, n_out]. */
void pare_i8_gemm_avx2(const pare_qlinear *l, const pare_i8_input *in, int64_t m, void *y,
                       pare_act act, pare_pool *pool);
void pare_i8_gemm_vnni(const pare_qlinear *l, const pare_i8_input *in, int64_t m, void *y,
                       pare_act act, pare_pool *pool);
void pare_i8_gemm_amx(const pare_qlinear *l, const pare_i8_input *in, int64_t m, void *y,
                      pare_act act, pare_pool *pool);

/* Whether the layer's kernel reads u = q + 128 and subtracts comp. */
static inline bool pare_i8_plus128(pare_qisa isa) { return isa == PARE_QISA_VNNI || isa == PARE_QISA_AMX; }

/* One row: q[0, k_pad) from x[0, k) (zero padded), u as the ISA wants it
 * (u_plus128: q + 128, else |q|; u may be NULL), returns the scale. */
float pare_i8_quant_row_avx2(const float *x, int64_t k, int64_t k_pad, float static_scale,
                             int8_t *q, uint8_t *u, bool u_plus128);

/* A rounded value onto [-127, 127]; NaN goes to -127 as it does in the
 * vector paths (max(NaN, -127) is -127), never through an undefined
 * float-to-int conversion. */
static inline int pare_i8_clamp(float r) { return r >= -127.0f ? (r > 127.0f ? 127 : (int)r) : -127; }

#endif
