/* CPU kernels. Every fast kernel has a plain reference beside it (the truth
 * in tests); the implementation is chosen once, at init, from cpuid, and
 * stored in the object that uses it, so there is no global dispatch state.
 *
 * Layout conventions: row-major. A Linear layer has PyTorch's weight layout
 * W[n_out, n_in] and computes y[m, n_out] = x[m, n_in] . W^T + bias.
 */
#ifndef PARE_KERNELS_H
#define PARE_KERNELS_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pare_kernel_impl {
    PARE_KERNEL_AUTO = 0,  /* best available for this CPU */
    PARE_KERNEL_REF = 1,   /* plain C loops: the truth */
    PARE_KERNEL_BLAS = 2,  /* OpenBLAS sgemm: the reference fast path */
    PARE_KERNEL_AVX2 = 3,  /* AVX2 + FMA */
    PARE_KERNEL_AVX512 = 4,/* AVX-512F */
} pare_kernel_impl;

const char *pare_kernel_impl_name(pare_kernel_impl k);
/* Parse "auto|ref|blas|avx2|avx512"; false if unknown. */
bool pare_kernel_impl_parse(const char *s, pare_kernel_impl *out);
/* Resolve AUTO (and any impl the CPU lacks) to what this CPU can run. */
pare_kernel_impl pare_kernel_resolve(pare_kernel_impl want);
/* Cap every kernel run on pool (row ops, attention, the quantized, packed,
 * sparse and int8 products) at what impl names: REF plain C, AVX2, AVX512;
 * AUTO and BLAS no cap. A model does this with its kernel parameter, so
 * --kernel avx2 runs the whole model on the AVX2 kernels even where
 * AVX-512 exists (tests run each path so). */
void pare_pool_cap_kernels(pare_pool *pool, pare_kernel_impl impl);

typedef enum pare_act {
    PARE_ACT_NONE = 0,
    PARE_ACT_GELU_ERF = 1,  /* exact GELU, HF "gelu" */
    PARE_ACT_GELU_TANH = 2, /* HF "gelu_new" / "gelu_pytorch_tanh" */
    PARE_ACT_RELU = 3,
    PARE_ACT_SILU = 4,
} pare_act;

/* A Linear layer prepared for one implementation (weights packed into the
 * layout its micro-kernel wants). */
typedef struct pare_linear {
    int64_t n_out, n_in;
    pare_kernel_impl impl;
    const float *w;     /* [n_out, n_in], borrowed */
    const float *bias;  /* [n_out] or NULL, borrowed */
    float *packed;      /* impl-specific copy of w, in the arena given to init */
} pare_linear;

pare_status pare_linear_init(pare_linear *l, const float *w, const float *bias, int64_t n_out,
                             int64_t n_in, pare_kernel_impl impl, pare_arena *arena,
                             pare_err *err);
/* y[m, n_out] = act(x[m, n_in] . W^T + bias). x and y must not overlap.
 * AVX2/AVX-512 split the work over pool (whole weight panels per thread, or
 * row blocks when there are fewer panels than threads). BLAS runs one
 * cblas_sgemm on OpenBLAS's own threads (OPENBLAS_NUM_THREADS), then the
 * bias + activation on pool. */
void pare_linear_forward(const pare_linear *l, const float *x, int64_t m, float *y, pare_act act,
                         pare_pool *pool);

/* Reference GEMM: C[m,n] = A[m,k] . B[n,k]^T (+ bias[n]) with plain loops. */
void pare_gemm_ref_f32(const float *a, const float *b, const float *bias, float *c, int64_t m,
                       int64_t n, int64_t k);

/* General GEMM for training, where the weights change every step:
 *   C[M, N] = op(A)[M, K] . op(B)[K, N] (+ bias[N]) (+ C when accumulate)
 * row-major; op(A) = A^T when ta (A stored [K, M] at lda), else A [M, K];
 * op(B) = B^T when tb (B stored [N, K], PyTorch's weight layout), else
 * B [K, N]. bias must be NULL when accumulate. With AVX-512 (impl from
 * pare_kernel_resolve) B is packed per call into ws and the packed tile
 * GEMM runs on pool; K is cut into chunks when ws is short. Otherwise one
 * cblas_sgemm. ws: caller-owned, ws_floats >= pare_sgemm_ws_min(N); with
 * pare_sgemm_ws_threads(threads of pool) more, a transposed A is packed
 * there instead of in memory allocated per call. */
typedef struct pare_sgemm_args {
    bool ta, tb, accumulate;
    int64_t M, N, K;
    const float *A, *B, *bias;
    int64_t lda, ldb, ldc;
    float *C;
} pare_sgemm_args;
int64_t pare_sgemm_ws_min(int64_t N);
/* the floats that hold the whole of B packed (no chunking) */
int64_t pare_sgemm_ws_full(int64_t N, int64_t K);
int64_t pare_sgemm_ws_threads(int n_threads);
void pare_sgemm(const pare_sgemm_args *g, pare_kernel_impl impl, float *ws, int64_t ws_floats,
                pare_pool *pool);
/* Plain loops in double: the truth for tests. */
void pare_sgemm_ref(const pare_sgemm_args *g);

/* ---- element-wise and row kernels (auto-vectorised or AVX-512, same API) */

/* y = (x - mean) / sqrt(var + eps) * gamma + beta over rows of length dim.
 * y may equal x. */
void pare_layernorm_f32(const float *x, const float *gamma, const float *beta, float *y,
                        int64_t rows, int64_t dim, float eps, pare_pool *pool);
void pare_layernorm_ref_f32(const float *x, const float *gamma, const float *beta, float *y,
                            int64_t rows, int64_t dim, float eps);
/* y = layernorm(x + res) in one pass over the rows (the residual add of a
 * transformer block fused in; x + res is rounded to float first, as a
 * separate add would). res may be NULL; y may equal x or res. */
void pare_add_layernorm_f32(const float *x, const float *res, const float *gamma,
                            const float *beta, float *y, int64_t rows, int64_t dim, float eps,
                            pare_pool *pool);
void pare_add_layernorm_ref_f32(const float *x, const float *res, const float *gamma,
                                const float *beta, float *y, int64_t rows, int64_t dim,
                                float eps);
void pare_act_f32(float *x, int64_t n, pare_act act);
void pare_act_ref_f32(float *x, int64_t n, pare_act act);
/* x += y */
void pare_add_f32(float *x, const float *y, int64_t n);

/* Multi-head attention (no projections), for B sequences of T tokens and H
 * heads of size D. q, k, v rows hold H*D values, row stride ld (so they can
 * live inside one fused QKV buffer); out is [B, T, H*D] dense. mask[B, T]:
 * 1 = attend, 0 = padding (NULL: all 1). scale is usually 1/sqrt(D).
 * causal: token t attends to keys <= t. */
typedef struct pare_attn_args {
    const float *q, *k, *v;
    int64_t ld;
    float *out;
    int64_t B, T, H, D;
    const int32_t *mask;
    float scale;
    bool causal;
} pare_attn_args;

/* Parallel over (sequence, head, block of queries); scratch is ~56 KB of
 * stack per thread whatever T and D are (no allocation). A query whose
 * keys are all masked gets an output row of 0. */
void pare_attention_f32(const pare_attn_args *a, pare_pool *pool);
void pare_attention_ref_f32(const pare_attn_args *a);

/* ---- decoder (Llama-family) kernels */

/* y = x / sqrt(mean(x^2) + eps) * w over rows of length dim (HF LlamaRMSNorm).
 * y may equal x. */
void pare_rmsnorm_f32(const float *x, const float *w, float *y, int64_t rows, int64_t dim,
                      float eps, pare_pool *pool);
void pare_rmsnorm_ref_f32(const float *x, const float *w, float *y, int64_t rows, int64_t dim,
                          float eps);

/* out[r][i] = silu(gate[r][i]) * up[r][i]; gate and up rows ld apart, out
 * dense [rows, n]. */
void pare_swiglu_f32(const float *gate, const float *up, int64_t ld, float *out, int64_t rows,
                     int64_t n, pare_pool *pool);
void pare_swiglu_ref_f32(const float *gate, const float *up, int64_t ld, float *out, int64_t rows,
                         int64_t n);

/* Rotary position embedding, in place, on rows of n_heads heads of size D
 * (row stride ld). NEOX pairs (i, i + D/2) (HF rotate_half); NORM pairs
 * (2i, 2i + 1) (GGML_ROPE_TYPE_NORM, the original Llama layout).
 * pare_rope_f32 takes a cos/sin table [rows][D/2] made by pare_rope_table_f32:
 * angle = (float)pos * inv_freq[i] (rounded to f32 as HF does), times
 * attn_factor after cos/sin. The reference computes everything itself. */
typedef enum pare_rope_mode {
    PARE_ROPE_NEOX = 0, /* HF rotate_half: (i, i + D/2) */
    PARE_ROPE_NORM = 1, /* interleaved (2i, 2i + 1): llama.cpp's GGUF llama layout, whose
                           attn_q/attn_k rows are permuted for it */
} pare_rope_mode;

void pare_rope_table_f32(const int32_t *pos, int64_t rows, const float *inv_freq, int64_t half,
                         float attn_factor, float *cos_out, float *sin_out);
void pare_rope_f32(float *x, int64_t ld, int64_t rows, int64_t n_heads, int64_t D,
                   const float *cos_t, const float *sin_t, pare_rope_mode mode, pare_pool *pool);
void pare_rope_ref_f32(float *x, int64_t ld, int64_t rows, int64_t n_heads, int64_t D,
                       const int32_t *pos, const float *inv_freq, float attn_factor,
                       pare_rope_mode mode);

/* Causal attention of n query rows against a KV cache, grouped-query:
 * query head h reads kv head h / (H / KVH). Query row t belongs to slot
 * seq[t] at position pos[t] and attends to that slot's keys at positions
 * max(0, pos[t] - window + 1) .. pos[t] (window 0: from 0), which must be in
 * the cache already. Cache of one layer: slot s, position p, kv head g at
 * k[s * seq_stride + p * KVH * D + g * D] (same for v). */
typedef struct pare_attn_kv_args {
    const float *q;      /* [n, H*D], rows ldq apart */
    int64_t ldq;
    const float *k, *v;  /* cache of one layer */
    int64_t seq_stride;  /* floats between slots */
    float *out;          /* [n, H*D] dense */
    const int32_t *seq, *pos; /* [n] */
    int64_t n, H, KVH, D;
    int64_t window;
    float scale;
} pare_attn_kv_args;

/* Parallel over (query row, kv head); the query heads of a group share each
 * K/V row read. Online softmax in blocks of keys, fixed stack scratch. */
void pare_attention_kv_f32(const pare_attn_kv_args *a, pare_pool *pool);
void pare_attention_kv_ref_f32(const pare_attn_kv_args *a);

/* ---- measurement */

/* Sustained fp32 FMA throughput of the whole pool in GFLOP/s (registers
 * only, no memory traffic), measured for about `seconds`. */
double pare_measure_fma_peak(pare_pool *pool, double seconds);
/* Sustained memory read bandwidth of the whole pool in GB/s (1e9 bytes/s):
 * the threads stream over equal slices of one buffer of `bytes` (make it
 * several times the last-level cache), best of `reps` passes. The buffer
 * is allocated and freed here. The bound a memory-bound kernel (decode
 * GEMV) is compared with. */
pare_status pare_measure_read_bandwidth(pare_pool *pool, size_t bytes, int reps, double *gbps,
                                        pare_err *err);

#ifdef __cplusplus
}
#endif
#endif
