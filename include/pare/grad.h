/* Training ops (src/train): forward and backward of every op of the
 * BERT-family encoder and the Llama-family decoder, the losses
 * (BCE-with-logits, softmax cross-entropy, knowledge distillation) and
 * AdamW. Written once over the real type
 * (src/train/grad_body.h), used in f32; the tests instantiate them in
 * double to check every backward against central finite differences, and
 * compare the f32 ones with PyTorch autograd (tests/golden/grad_ops.bin).
 *
 * Activations are row-major [rows][channels]; every backward ADDS into its
 * gradient buffers (zero them once per step); any gradient pointer a
 * backward takes may be NULL when that gradient is not needed (dx of the
 * first op, db of a bias-free linear). */
#ifndef PARE_GRAD_H
#define PARE_GRAD_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[M][N] = x[M][K] W[N][K]^T + b (b may be NULL) */
void pare_g_linear_fwd(float *y, const float *x, const float *w, const float *b, int64_t M, int64_t K, int64_t N);
void pare_g_linear_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int64_t M,
                       int64_t K, int64_t N);
/* LayerNorm over C; mean, rstd [M] saved for the backward */
void pare_g_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *g, const float *b, int64_t M,
                          int64_t C, float eps);
void pare_g_layernorm_bwd(float *dx, float *dg, float *db, const float *dy, const float *x, const float *g,
                          const float *mean, const float *rstd, int64_t M, int64_t C);
/* GELU (erf form) and tanh (the pooler) */
void pare_g_gelu_fwd(float *y, const float *x, int64_t n);
void pare_g_gelu_bwd(float *dx, const float *x, const float *dy, int64_t n);
void pare_g_tanh_fwd(float *y, const float *x, int64_t n);
void pare_g_tanh_bwd(float *dx, const float *y, const float *dy, int64_t n);
/* Self-attention, grouped-query when NKV < NH (NKV = NH: BERT's): qkv
 * [B][T][C + 2 NKV D], D = C / NH, q | k | v with query head h on kv head
 * h / (NH / NKV); att [B][NH][T][T] (probabilities) saved; mask [B][T] of
 * real tokens (NULL: all); causal for decoders. */
void pare_g_attention_fwd(float *out, float *att, const float *qkv, const int8_t *mask, int64_t B, int64_t T,
                          int64_t C, int64_t NH, int64_t NKV, int causal);
void pare_g_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att, int64_t B, int64_t T,
                          int64_t C, int64_t NH, int64_t NKV);
/* The same over (sequence, kv head) pairs [p0, p1) of the B * NKV (pair p
 * is sequence p / NKV, kv head p % NKV, with its query heads): disjoint
 * ranges touch disjoint memory, so threads can split the pairs. scratch:
 * (C / NH + 1) * T floats per thread. (The whole-batch forms above allocate
 * it; they do nothing if they cannot.) */
void pare_g_attention_fwd_range(float *out, float *att, const float *qkv, const int8_t *mask, int64_t T, int64_t C,
                                int64_t NH, int64_t NKV, int causal, int64_t p0, int64_t p1, float *scratch);
void pare_g_attention_bwd_range(float *dqkv, const float *dout, const float *qkv, const float *att, int64_t T, int64_t C,
                                int64_t NH, int64_t NKV, int64_t p0, int64_t p1, float *scratch);
/* ... plus datt [B][NH][T][T] (may be NULL), a gradient of the
 * probabilities from another loss (attention transfer), added to dO V^T. */
void pare_g_attention_bwd_range_ex(float *dqkv, const float *dout, const float *qkv, const float *att, const float *datt,
                                   int64_t T, int64_t C, int64_t NH, int64_t NKV, int64_t p0, int64_t p1, float *scratch);
/* Llama-family ops. RMSNorm over C (rstd [M] saved); SwiGLU silu(a) * b;
 * rotary embedding (HF rotate-half) of rows of NH heads of D at positions
 * pos[M], base theta (the forward overwrites y; the backward adds into dx).
 * Attention with causal = 1 serves decoders (one kv head per query head). */
void pare_g_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *g, int64_t M, int64_t C, float eps);
void pare_g_rmsnorm_bwd(float *dx, float *dg, const float *dy, const float *x, const float *g, const float *rstd, int64_t M,
                        int64_t C);
void pare_g_swiglu_fwd(float *y, const float *a, const float *b, int64_t n);
void pare_g_swiglu_bwd(float *da, float *db, const float *dy, const float *a, const float *b, int64_t n);
void pare_g_rope_fwd(float *y, const float *x, const int32_t *pos, int64_t M, int64_t NH, int64_t D, double theta);
void pare_g_rope_bwd(float *dx, const float *dy, const int32_t *pos, int64_t M, int64_t NH, int64_t D, double theta);
/* y += table[ids] rows; the backward scatters into dtable */
void pare_g_embed_fwd(float *y, const int32_t *ids, const float *table, int64_t n, int64_t C);
void pare_g_embed_bwd(float *dtable, const int32_t *ids, const float *dy, int64_t n, int64_t C);

/* Losses: the value; dlogits (may be NULL) is overwritten with its gradient. */
float pare_g_bce_logits(float *dlogits, const float *logits, const float *targets, int64_t n);
float pare_g_softmax_ce(float *dlogits, const float *logits, const int32_t *labels, int64_t B, int64_t L);
/* a * hard + (1 - a) * T^2 * KL(teacher/T || student/T): per-label sigmoid
 * form with targets [B][L] when multi_label, softmax (batchmean) with
 * labels [B] otherwise. Defaults of the seed study: T = 2, a = 0.5. */
float pare_g_distill_loss(float *ds, const float *s, const float *t, const float *targets, const int32_t *labels,
                          int64_t B, int64_t L, int multi_label, float T, float a);

/* ---- optimisation (src/train/adamw.c) */
typedef struct pare_adamw_opts {
    double lr, beta1, beta2, eps, weight_decay;
} pare_adamw_opts;

pare_adamw_opts pare_adamw_defaults(void); /* 5e-5, 0.9, 0.999, 1e-8, 0.01 */
/* One AdamW step (step counts from 1) on n parameters with moments m, v,
 * in float in torch.optim.AdamW's order of operations; the gradient is
 * gscale * g (gscale: the clipping factor, 1 without); decay: apply weight
 * decay (not for biases and norms, as HF does). */
void pare_adamw_step(float *p, const float *g, float *m, float *v, int64_t n, const pare_adamw_opts *o, int64_t step,
                     double lr, bool decay, float gscale);
/* The step's constants as pare_adamw_step rounds them: the decay factor
 * 1 - lr wd, lr / (1 - beta1^step) and 1 / sqrt(1 - beta2^step). */
typedef struct pare_adamw_consts {
    float keep, step_size, inv_c2s;
} pare_adamw_consts;
pare_adamw_consts pare_adamw_consts_at(const pare_adamw_opts *o, int64_t step, double lr);
/* Global L2 norm of the gradients (returned), scaled to max_norm when above (<= 0: no clipping). */
double pare_clip_grad_norm(float *const *grads, const int64_t *ns, int n_tensors, double max_norm);
/* The norm of one buffer of n gradients, split over pool: the sum of
 * squares is taken in fixed chunks of 65536 added in order, so the result
 * does not depend on the number of threads. pare_clip_factor: torch's
 * clip_grad_norm_ factor, max_norm / (norm + 1e-6) when norm > max_norm > 0,
 * else 1 (pare_adamw_step's gscale). */
double pare_grad_norm_pool(const float *g, int64_t n, pare_pool *pool);
float pare_clip_factor(double norm, double max_norm);
/* Linear warm-up over `warmup` steps, then linear decay to 0 at `total`. */
double pare_lr_linear(double lr, int64_t step, int64_t warmup, int64_t total);

#ifdef __cplusplus
}
#endif
#endif
