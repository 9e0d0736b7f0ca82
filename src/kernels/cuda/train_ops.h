/* CUDA kernels of the BERT trainer's forward and backward
 * (src/kernels/cuda/train_ops.cu), callable from C. Every launcher is
 * asynchronous on `st` and returns the launch's error (cudaSuccess = 0).
 * Activations are row-major [rows][channels] as on the CPU (grad.h); the
 * attention keeps q, k, v, their gradients and the context per head,
 * [B][NH][T][D], so cuBLAS can batch over (sequence, head) with one stride.
 * The arithmetic follows src/train/grad_body.h op for op; the float order
 * of the reductions differs (trees, not loops), so the results agree to
 * rounding, not bit for bit. */
#ifndef PARE_KERNELS_CUDA_TRAIN_OPS_H
#define PARE_KERNELS_CUDA_TRAIN_OPS_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* e[i] = word[ids[i]] + pos[i % T] + type[0] (kept for the backward), then
 * y = LayerNorm(e) with mean and rstd per row */
cudaError_t pare_cu_embed_ln(float *y, float *mean, float *rstd, float *e, const int32_t *ids, const float *word,
                             const float *pos, const float *type, const float *g, const float *b, int64_t BT, int64_t T,
                             int64_t C, float eps, cudaStream_t st);
/* x += bias (may be NULL) + res (may be NULL), then y = LayerNorm(x) */
cudaError_t pare_cu_ln_fwd(float *y, float *mean, float *rstd, float *x, const float *bias, const float *res,
                           const float *g, const float *b, int64_t M, int64_t C, float eps, cudaStream_t st);
/* dx = dx2 = LayerNorm backward of dy (dx2 may be NULL, either may be dy);
 * dg, db += their sums over the rows, summed per column in a fixed order
 * through part (pare_cu_ln_bwd_part floats) */
cudaError_t pare_cu_ln_bwd(float *dx, float *dx2, float *dg, float *db, const float *dy, const float *x, const float *g,
                           const float *mean, const float *rstd, int64_t M, int64_t C, float *part, cudaStream_t st);
int64_t pare_cu_ln_bwd_part(int64_t M, int64_t C);
/* rows [B*T][n*H] (plus bias [n*H] when not NULL) -> n tensors of heads
 * [B][NH][T][D] at heads + k * B*T*H; to_rows: the other way (no bias) */
cudaError_t pare_cu_rows_to_heads(float *heads, const float *rows, const float *bias, int n, int64_t B, int64_t T,
                                  int64_t NH, int64_t D, cudaStream_t st);
cudaError_t pare_cu_heads_to_rows(float *rows, const float *heads, int n, int64_t B, int64_t T, int64_t NH, int64_t D,
                                  cudaStream_t st);
/* rows of T scores of sequence b = row / (NH * T): padded keys (mask 0)
 * get no weight, a row with none gets all zeros; in place */
cudaError_t pare_cu_softmax_mask(float *s, const int8_t *mask, int64_t rows, int64_t NH, int64_t T, cudaStream_t st);
/* dp = p * (dp - sum(p * dp)) * scale, in place */
cudaError_t pare_cu_softmax_bwd(float *dp, const float *p, int64_t rows, int64_t T, float scale, cudaStream_t st);
/* h += bias per column; g = gelu(h) (erf form) */
cudaError_t pare_cu_bias_gelu(float *g, float *h, const float *bias, int64_t M, int64_t N, cudaStream_t st);
/* dx = dy * gelu'(x) */
cudaError_t pare_cu_gelu_bwd(float *dx, const float *x, const float *dy, int64_t n, cudaStream_t st);
/* y += bias per column, then tanh when act */
cudaError_t pare_cu_bias_act(float *y, const float *bias, int64_t M, int64_t N, int tanh_act, cudaStream_t st);
/* dx = dy * (1 - y^2) */
cudaError_t pare_cu_tanh_bwd(float *dx, const float *y, const float *dy, int64_t n, cudaStream_t st);
/* dst[b][..C] = src[b * stride][..C] (scatter: the other way) */
cudaError_t pare_cu_gather_rows(float *dst, const float *src, int64_t B, int64_t stride, int64_t C, cudaStream_t st);
cudaError_t pare_cu_scatter_rows(float *dst, const float *src, int64_t B, int64_t stride, int64_t C, cudaStream_t st);
/* dtable[ids[i]] += dy[i] over n rows: each distinct id summed by one
 * block in row order (deterministic, no atomics). ids NULL: i % T
 * (positions); T 0 and ids NULL: all 0 (token type) */
cudaError_t pare_cu_embed_bwd(float *dtable, const int32_t *ids, const float *dy, int64_t n, int64_t T, int64_t C,
                              cudaStream_t st);
/* sum of squares of g in chunks of 65536 (double, one per block) into part,
 * then out[0] = the clipping factor (clip <= 0: 1) */
cudaError_t pare_cu_clip_factor(float *out, double *part, const float *g, int64_t n, double clip, cudaStream_t st);
int64_t pare_cu_clip_part(int64_t n);
/* Transfer losses (hidden states, attention) between rows of two tensors
 * a, b [rows][len]: a row counts when its token is real, mask[m(row)] with
 * m(row) = row (hidden states) or, for attention rows [B][NH][T] (nht =
 * NH * T), (row / nht) * T + row % T; mask NULL: every row.
 * sq: part[block] = sum over the counted rows of (a - b)^2 (double, one per
 * block of 64 rows; pare_cu_transfer_part blocks). grad: d += coef (a - b)
 * on the counted rows. */
int64_t pare_cu_transfer_part(int64_t rows);
cudaError_t pare_cu_transfer_sq(double *part, const float *a, const float *b, const int8_t *mask, int64_t rows, int64_t len,
                                int64_t nht, int64_t T, cudaStream_t st);
cudaError_t pare_cu_transfer_grad(float *d, const float *a, const float *b, const int8_t *mask, int64_t rows, int64_t len,
                                  int64_t nht, int64_t T, float coef, cudaStream_t st);
/* torch.optim.AdamW as pare_adamw_step; flags per parameter: bit 0 decay,
 * bit 1 frozen (kept at 0 after the step); gscale[0] multiplies g */
cudaError_t pare_cu_adamw(float *w, const float *g, float *m, float *v, const uint8_t *flags, int64_t n, float b1,
                          float b2, float eps, float keep, float step_size, float inv_c2s, const float *gscale,
                          cudaStream_t st);

#ifdef __cplusplus
}
#endif
#endif
