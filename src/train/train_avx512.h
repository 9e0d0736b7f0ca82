/* Training kernels built for AVX-512 (src/train/ files ending _avx512.c), called
 * by the trainer on CPUs that have it. */
#ifndef PARE_TRAIN_AVX512_H
#define PARE_TRAIN_AVX512_H

#include <stdbool.h>
#include <stdint.h>

/* Attention over (sequence, head) pairs [p0, p1), same contract as
 * pare_g_attention_fwd_range and pare_g_attention_bwd_range_ex (grad_body.h); scratch holds
 * pare_train_attn_scratch(C, NH, T) floats. Only when pare_train_attn_ok. */
bool pare_train_attn_ok(int64_t C, int64_t NH, int64_t NKV);
int64_t pare_train_attn_scratch(int64_t C, int64_t NH, int64_t T);
void pare_train_attn_fwd_avx512(float *out, float *att, const float *qkv, const int8_t *mask, int64_t T, int64_t C,
                                int64_t NH, int64_t NKV, int causal, int64_t p0, int64_t p1, float *scratch);
void pare_train_attn_bwd_avx512(float *dqkv, const float *dout, const float *qkv, const float *att, const float *datt,
                                int64_t T, int64_t C, int64_t NH, int64_t NKV, int64_t p0, int64_t p1, float *scratch);

/* GELU (erf form): y = gelu(x); dx += dy gelu'(x) */
void pare_train_gelu_fwd_avx512(float *y, const float *x, int64_t n);
void pare_train_gelu_bwd_avx512(float *dx, const float *x, const float *dy, int64_t n);

#endif
