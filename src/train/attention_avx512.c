/* Training attention for AVX-512: the same forward and backward as
 * pare_g_attention_{fwd,bwd}_range (grad_body.h), written as small GEMMs on
 * register tiles so a (sequence, head) pair runs near the FMA peak instead
 * of streaming rows through L1 per product. Head size D must be a multiple
 * of 16 (pare_train_attn_ok); the trainer uses grad_body.h otherwise.
 *
 * Per (sequence, kv head) pair and each of its query heads, with P the
 * probabilities [T][T] (kept in att for the backward):
 *   forward   S = Q K^T * scale (+ masks), P = softmax(S), O = P V
 *   backward  dP = dO V^T, dS = P (dP - rowsum(P dP)) * scale,
 *             dQ = dS K, dK = dS^T Q, dV = P^T dO
 * Rows go in blocks of 8; S and dP rows live in scratch at a width Tp = T
 * rounded up to 16, whose padding columns are zero (K^T / V^T are zero
 * padded), so every tile is full width. */
#include "train/train_avx512.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define VM_LANES 16
#include "kernels/cpu/vmath.h"

#define MR 8

/* c[mr][16 nv] (+)= sum_k A(i, k) b[k][.]: A(i, k) = a[i lda + k], or
 * a[k lda + i] when at (A transposed). */
static inline __attribute__((always_inline)) void tile(const int at, const int nv, const int mr, int64_t K,
                                                      const float *a, int64_t lda, const float *b, int64_t ldb,
                                                      float *c, int64_t ldc, int add) {
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < K; k++) {
        const __m512 b0 = _mm512_loadu_ps(b + k * ldb);
        const __m512 b1 = nv > 1 ? _mm512_loadu_ps(b + k * ldb + 16) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            if (i >= mr) break;
            const __m512 av = _mm512_set1_ps(at ? a[k * lda + i] : a[i * lda + k]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            if (nv > 1) acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        for (int j = 0; j < nv; j++) {
            float *cp = c + i * ldc + 16 * j;
            _mm512_storeu_ps(cp, add ? _mm512_add_ps(_mm512_loadu_ps(cp), acc[i][j]) : acc[i][j]);
        }
    }
}

#define TILE_CASE(at, nv, r)                                                                                 \
    case r: tile(at, nv, r, K, ai, lda, bj, ldb, cij, ldc, add); break;
#define TILE_SWITCH(at, nv)                                                                                  \
    switch (mr) {                                                                                            \
        TILE_CASE(at, nv, 1) TILE_CASE(at, nv, 2) TILE_CASE(at, nv, 3) TILE_CASE(at, nv, 4)                  \
        TILE_CASE(at, nv, 5) TILE_CASE(at, nv, 6) TILE_CASE(at, nv, 7) TILE_CASE(at, nv, 8)                  \
    default: break;                                                                                          \
    }

/* C[M][N] (+)= A B for N a multiple of 16, B row-major [K][N] at ldb. */
static void gemm_nn(int at, int64_t M, int64_t N, int64_t K, const float *a, int64_t lda, const float *b, int64_t ldb,
                    float *c, int64_t ldc, int add) {
    for (int64_t i0 = 0; i0 < M; i0 += MR) {
        const int mr = (int)(M - i0 < MR ? M - i0 : MR);
        const float *ai = at ? a + i0 : a + i0 * lda;
        for (int64_t j0 = 0; j0 < N; j0 += 32) {
            const float *bj = b + j0;
            float *cij = c + i0 * ldc + j0;
            if (N - j0 >= 32) {
                if (at) {
                    TILE_SWITCH(1, 2)
                } else {
                    TILE_SWITCH(0, 2)
                }
            } else if (at) {
                TILE_SWITCH(1, 1)
            } else {
                TILE_SWITCH(0, 1)
            }
        }
    }
}

bool pare_train_attn_ok(int64_t C, int64_t NH, int64_t NKV) {
    return NH > 0 && NKV > 0 && NH % NKV == 0 && C % NH == 0 && (C / NH) % 16 == 0;
}

int64_t pare_train_attn_scratch(int64_t C, int64_t NH, int64_t T) {
    const int64_t D = C / NH, Tp = (T + 15) / 16 * 16;
    return D * Tp + MR * Tp + T * Tp; /* K^T or V^T, a row block of S, dS */
}

/* dst[d][j] = src[j ld + d] for j < T, 0 for T <= j < Tp */
static void transpose_head(float *dst, const float *src, int64_t ld, int64_t T, int64_t Tp, int64_t D) {
    for (int64_t j = 0; j < T; j++)
        for (int64_t d = 0; d < D; d++) dst[d * Tp + j] = src[j * ld + d];
    for (int64_t d = 0; d < D; d++)
        for (int64_t j = T; j < Tp; j++) dst[d * Tp + j] = 0;
}

void pare_train_attn_fwd_avx512(float *out, float *att, const float *qkv, const int8_t *mask, int64_t T, int64_t C,
                                int64_t NH, int64_t NKV, int causal, int64_t p0, int64_t p1, float *scratch) {
    const int64_t D = C / NH, Tp = (T + 15) / 16 * 16, S = C + 2 * NKV * D, G = NH / NKV;
    const float scale = 1.0f / sqrtf((float)D);
    float *kt = scratch, *s = kt + D * Tp;
    for (int64_t p = p0; p < p1; p++) {
        const int64_t b = p / NKV, kh = p % NKV;
        const float *row0 = qkv + b * T * S, *k = row0 + C + kh * D, *v = row0 + C + (NKV + kh) * D;
        const int8_t *mk = mask ? mask + b * T : NULL;
        transpose_head(kt, k, S, T, Tp, D);
        for (int64_t h = kh * G; h < (kh + 1) * G; h++) {
            const float *q = row0 + h * D;
            for (int64_t i0 = 0; i0 < T; i0 += MR) {
                const int64_t mr = T - i0 < MR ? T - i0 : MR;
                gemm_nn(0, mr, Tp, D, q + i0 * S, S, kt, Tp, s, Tp, 0);
                for (int64_t r = 0; r < mr; r++) {
                    const int64_t i = i0 + r;
                    float *sr = s + r * Tp, mx = -1e30f;
                    for (int64_t j = 0; j < Tp; j++) {
                        const int on = j < T && (!mk || mk[j]) && (!causal || j <= i);
                        sr[j] = on ? sr[j] * scale : -1e30f;
                        mx = sr[j] > mx ? sr[j] : mx;
                    }
                    float *ar = att + ((b * NH + h) * T + i) * T;
                    if (mx <= -1e29f) { /* no visible key */
                        memset(sr, 0, sizeof(float) * (size_t)Tp);
                        memset(ar, 0, sizeof(float) * (size_t)T);
                        continue;
                    }
                    vm_v sum = VM_SPLAT(0.0f);
                    for (int64_t j = 0; j < Tp; j += 16) {
                        vm_v e = vm_exp(*(vm_uv *)(sr + j) - mx); /* -1e30 - mx -> exactly 0 */
                        *(vm_uv *)(sr + j) = e;
                        sum += e;
                    }
                    const float inv = 1.0f / _mm512_reduce_add_ps((__m512)sum);
                    for (int64_t j = 0; j < Tp; j += 16) *(vm_uv *)(sr + j) *= inv;
                    memcpy(ar, sr, sizeof(float) * (size_t)T);
                }
                gemm_nn(0, mr, D, T, s, Tp, v, S, out + (b * T + i0) * C + h * D, C, 0);
            }
        }
    }
}

void pare_train_attn_bwd_avx512(float *dqkv, const float *dout, const float *qkv, const float *att, const float *datt,
                                int64_t T, int64_t C, int64_t NH, int64_t NKV, int64_t p0, int64_t p1, float *scratch) {
    const int64_t D = C / NH, Tp = (T + 15) / 16 * 16, S = C + 2 * NKV * D, G = NH / NKV;
    const float scale = 1.0f / sqrtf((float)D);
    float *vt = scratch, *dp = vt + D * Tp, *ds = dp + MR * Tp;
    for (int64_t p = p0; p < p1; p++) {
        const int64_t b = p / NKV, kh = p % NKV;
        const float *row0 = qkv + b * T * S, *k = row0 + C + kh * D, *v = row0 + C + (NKV + kh) * D;
        float *drow0 = dqkv + b * T * S, *dk = drow0 + C + kh * D, *dv = drow0 + C + (NKV + kh) * D;
        transpose_head(vt, v, S, T, Tp, D);
        for (int64_t h = kh * G; h < (kh + 1) * G; h++) {
            const float *q = row0 + h * D, *P = att + (b * NH + h) * T * T, *dO = dout + b * T * C + h * D;
            float *dq = drow0 + h * D;
            for (int64_t i0 = 0; i0 < T; i0 += MR) {
                const int64_t mr = T - i0 < MR ? T - i0 : MR;
                gemm_nn(0, mr, Tp, D, dO + i0 * C, C, vt, Tp, dp, Tp, 0);
                for (int64_t r = 0; r < mr; r++) {
                    const float *pr = P + (i0 + r) * T;
                    float *dpr = dp + r * Tp, *dsr = ds + (i0 + r) * Tp;
                    if (datt) { /* attention transfer's gradient of the probabilities */
                        const float *er = datt + ((b * NH + h) * T + i0 + r) * T;
                        for (int64_t j = 0; j < T; j++) dpr[j] += er[j];
                    }
                    const int64_t T16 = T / 16 * 16;
                    vm_v acc = VM_SPLAT(0.0f);
                    for (int64_t j = 0; j < T16; j += 16) acc += *(const vm_uv *)(pr + j) * *(const vm_uv *)(dpr + j);
                    float dot = _mm512_reduce_add_ps((__m512)acc);
                    for (int64_t j = T16; j < T; j++) dot += pr[j] * dpr[j];
                    for (int64_t j = 0; j < T16; j += 16)
                        *(vm_uv *)(dsr + j) = *(const vm_uv *)(pr + j) * (*(const vm_uv *)(dpr + j) - dot) * scale;
                    for (int64_t j = T16; j < T; j++) dsr[j] = pr[j] * (dpr[j] - dot) * scale;
                    for (int64_t j = T; j < Tp; j++) dsr[j] = 0;
                }
                gemm_nn(0, mr, D, T, ds + i0 * Tp, Tp, k, S, dq + i0 * S, S, 1);
            }
            gemm_nn(1, T, D, T, ds, Tp, q, S, dk, S, 1); /* dK += dS^T Q */
            gemm_nn(1, T, D, T, P, T, dO, C, dv, S, 1);  /* dV += P^T dO */
        }
    }
}
