/* Internal declarations shared by the CPU kernel files: one set of entry
 * points per instruction set (generic C, AVX2+FMA, AVX-512F). The public
 * API in pare/kernels.h dispatches to these. */
#ifndef PARE_KERN_INTERNAL_H
#define PARE_KERN_INTERNAL_H

#include "pare/kernels.h"

/* Packed-weight panel widths (output columns per panel) of each GEMM. */
#define PARE_AVX2_NR 16
#define PARE_AVX512_NR 48
#define PARE_SGEMM_NR 48 /* pare_sgemm (sgemm_body.h in gemm_avx512.c) */

void pare_gemm_avx2(const pare_linear *l, const float *x, int64_t m, float *y, pare_act act,
                    pare_pool *pool);
void pare_gemm_avx512(const pare_linear *l, const float *x, int64_t m, float *y, pare_act act,
                      pare_pool *pool);
/* pare_sgemm's packed path (sgemm_body.h): K > 0, M > 0, N > 0 */
void pare_sgemm_avx512(const pare_sgemm_args *g, float *ws, int64_t ws_floats, pare_pool *pool);
int64_t pare_sgemm_apack_avx512(void); /* floats of one thread's A^T block */

/* Row kernels, one per ISA (suffix _generic, _avx2, _avx512). */
#define PARE_ROWOPS_DECL(sfx)                                                                   \
    void pare_act_##sfx(float *x, int64_t n, pare_act act);                                     \
    void pare_act_2d_##sfx(float *y, int64_t ld, int64_t rows, int64_t cols, pare_act act);      \
    void pare_bias_act_##sfx(float *y, const float *bias, int64_t n, pare_act act);             \
    void pare_add_##sfx(float *x, const float *y, int64_t n);                                   \
    void pare_layernorm_rows_##sfx(const float *x, const float *res, const float *gamma,        \
                                   const float *beta, float *y, int64_t r0, int64_t r1,         \
                                   int64_t dim, float eps);                                     \
    void pare_attention_##sfx(const pare_attn_args *a, pare_pool *pool);
PARE_ROWOPS_DECL(generic)
PARE_ROWOPS_DECL(avx2)
PARE_ROWOPS_DECL(avx512)

/* Decoder kernels, one per ISA (decoder_body.h). */
#define PARE_DECODER_DECL(sfx)                                                                  \
    void pare_rmsnorm_rows_##sfx(const float *x, const float *w, float *y, int64_t r0,          \
                                 int64_t r1, int64_t dim, float eps);                           \
    void pare_swiglu_rows_##sfx(const float *gate, const float *up, int64_t ld, float *out,     \
                                int64_t r0, int64_t r1, int64_t n);                             \
    void pare_attention_kv_##sfx(const pare_attn_kv_args *a, pare_pool *pool);
PARE_DECODER_DECL(generic)
PARE_DECODER_DECL(avx2)
PARE_DECODER_DECL(avx512)

/* Which ISA the row kernels use on this CPU (libgcc's cached cpuid). */
typedef enum { PARE_ISA_GENERIC, PARE_ISA_AVX2, PARE_ISA_AVX512 } pare_isa;
pare_isa pare_rowops_isa(void);
/* The ISA kernels run at on pool: the CPU's, lowered to the pool's cap
 * (pare_pool_cap_kernels); a NULL pool: the CPU's. Read it before a small
 * input drops the pool. */
pare_isa pare_pool_isa(const pare_pool *pool);
/* Whether this CPU has AVX-512 VNNI (with BW and VL): the Q8_0 and 16-row
 * Q4_0 packed layouts and the VNNI int8 GEMM. */
bool pare_cpu_vnni(void);

#endif
