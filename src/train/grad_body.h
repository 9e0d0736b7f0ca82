/* Forward and backward of the ops of the BERT-family encoder and the
 * training losses, written once over a real type (include/pare/grad.h).
 * Included by grad.c with REAL float (the library) and by the gradient
 * test with REAL double (the finite-difference reference). Before
 * including: REAL, SUF (name suffix, e.g. _f32), GEMM (cblas_sgemm or
 * cblas_dgemm), EXP/ERF/SQRT/TANH/LOG/LOG1P of REAL.
 *
 * Conventions follow llm.c: activations row-major [rows][channels];
 * every backward ADDS into its gradient buffers (so a tensor used twice
 * accumulates), the caller zeroes them once per step. */
#include <cblas.h>
#include <stdlib.h>
#include <stdint.h>

#define G_CAT2(a, b) a##b
#define G_CAT(a, b) G_CAT2(a, b)
#define G_FN(name) G_CAT(name, SUF)

/* y[M][N] = x[M][K] W[N][K]^T + b[N] (b may be NULL) */
void G_FN(pare_g_linear_fwd)(REAL *y, const REAL *x, const REAL *w, const REAL *b, int64_t M, int64_t K, int64_t N) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t o = 0; o < N; o++) y[i * N + o] = b ? b[o] : 0;
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1, x, (int)K, w, (int)K, 1, y, (int)N);
}

/* dx[M][K] += dy W; dw[N][K] += dy^T x; db[N] += sum of dy rows (any may be NULL) */
void G_FN(pare_g_linear_bwd)(REAL *dx, REAL *dw, REAL *db, const REAL *dy, const REAL *x, const REAL *w, int64_t M,
                             int64_t K, int64_t N) {
    if (dx) GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)K, (int)N, 1, dy, (int)N, w, (int)K, 1, dx, (int)K);
    if (dw) GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)K, (int)M, 1, dy, (int)N, x, (int)K, 1, dw, (int)K);
    if (db)
        for (int64_t i = 0; i < M; i++)
            for (int64_t o = 0; o < N; o++) db[o] += dy[i * N + o];
}

/* LayerNorm over C channels; mean and rstd [M] saved for the backward. */
void G_FN(pare_g_layernorm_fwd)(REAL *y, REAL *mean, REAL *rstd, const REAL *x, const REAL *g, const REAL *b, int64_t M,
                                int64_t C, REAL eps) {
    for (int64_t i = 0; i < M; i++) {
        const REAL *xi = x + i * C;
        REAL m = 0, v = 0;
        for (int64_t c = 0; c < C; c++) m += xi[c];
        m /= (REAL)C;
        for (int64_t c = 0; c < C; c++) v += (xi[c] - m) * (xi[c] - m);
        v /= (REAL)C;
        const REAL rs = 1 / SQRT(v + eps);
        for (int64_t c = 0; c < C; c++) y[i * C + c] = (xi[c] - m) * rs * g[c] + b[c];
        mean[i] = m;
        rstd[i] = rs;
    }
}

void G_FN(pare_g_layernorm_bwd)(REAL *dx, REAL *dg, REAL *db, const REAL *dy, const REAL *x, const REAL *g,
                                const REAL *mean, const REAL *rstd, int64_t M, int64_t C) {
    for (int64_t i = 0; i < M; i++) {
        const REAL *xi = x + i * C, *dyi = dy + i * C;
        REAL a = 0, bsum = 0; /* mean of dnorm, mean of dnorm * norm */
        for (int64_t c = 0; c < C; c++) {
            const REAL n = (xi[c] - mean[i]) * rstd[i], dn = g[c] * dyi[c];
            a += dn;
            bsum += dn * n;
        }
        a /= (REAL)C;
        bsum /= (REAL)C;
        for (int64_t c = 0; c < C; c++) {
            const REAL n = (xi[c] - mean[i]) * rstd[i], dn = g[c] * dyi[c];
            if (db) db[c] += dyi[c];
            if (dg) dg[c] += n * dyi[c];
            dx[i * C + c] += (dn - a - n * bsum) * rstd[i];
        }
    }
}

/* GELU, the exact (erf) form BERT uses. */
void G_FN(pare_g_gelu_fwd)(REAL *y, const REAL *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (REAL)0.5 * x[i] * (1 + ERF(x[i] * (REAL)0.70710678118654752440));
}

void G_FN(pare_g_gelu_bwd)(REAL *dx, const REAL *x, const REAL *dy, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const REAL cdf = (REAL)0.5 * (1 + ERF(x[i] * (REAL)0.70710678118654752440));
        const REAL pdf = EXP((REAL)-0.5 * x[i] * x[i]) * (REAL)0.39894228040143267794;
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

void G_FN(pare_g_tanh_fwd)(REAL *y, const REAL *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = TANH(x[i]);
}

/* from the forward's output y */
void G_FN(pare_g_tanh_bwd)(REAL *dx, const REAL *y, const REAL *dy, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (1 - y[i] * y[i]);
}

/* Multi-head self-attention, grouped-query when NKV < NH: qkv [B][T][S],
 * S = C + 2 NKV D with D = C / NH: q (NH heads of D) | k (NKV heads) |
 * v (NKV heads); query head h reads kv head h / (NH / NKV). out [B][T][C];
 * att [B][NH][T][T] keeps the probabilities. mask [B][T] (NULL: all) marks
 * real tokens; padded keys get no weight; causal: key j visible from query
 * i when j <= i. The ranges run over (sequence, kv head) pairs p of the
 * B * NKV (p / NKV, p % NKV), each with its NH / NKV query heads, so
 * disjoint ranges write disjoint memory. */
void G_FN(pare_g_attention_fwd_range)(REAL *out, REAL *att, const REAL *qkv, const int8_t *mask, int64_t T, int64_t C,
                                      int64_t NH, int64_t NKV, int causal, int64_t p0, int64_t p1, REAL *kt) {
    const int64_t D = C / NH, S = C + 2 * NKV * D, G = NH / NKV;
    const REAL scale = 1 / SQRT((REAL)D);
    /* kt: K^T of the kv head (D x T), so the score loops run along j */
    for (int64_t p = p0; p < p1; p++) {
        const int64_t b = p / NKV, kh = p % NKV;
        for (int64_t j = 0; j < T; j++) {
            const REAL *k = qkv + (b * T + j) * S + C + kh * D;
            for (int64_t d = 0; d < D; d++) kt[d * T + j] = k[d];
        }
        for (int64_t h = kh * G; h < (kh + 1) * G; h++)
            for (int64_t i = 0; i < T; i++) {
                const REAL *q = qkv + (b * T + i) * S + h * D;
                REAL *a = att + ((b * NH + h) * T + i) * T;
                for (int64_t j = 0; j < T; j++) a[j] = 0;
                for (int64_t d = 0; d < D; d++) {
                    const REAL qd = q[d], *row = kt + d * T;
                    for (int64_t j = 0; j < T; j++) a[j] += qd * row[j];
                }
                REAL mx = -1e30f;
                for (int64_t j = 0; j < T; j++) {
                    const int on = (!mask || mask[b * T + j]) && (!causal || j <= i);
                    a[j] = on ? a[j] * scale : (REAL)-1e30f;
                    mx = a[j] > mx ? a[j] : mx;
                }
                REAL sum = 0;
                for (int64_t j = 0; j < T; j++) {
                    a[j] = a[j] <= (REAL)-1e29f ? 0 : EXP(a[j] - mx);
                    sum += a[j];
                }
                const REAL inv = sum > 0 ? 1 / sum : 0;
                REAL *o = out + (b * T + i) * C + h * D;
                for (int64_t d = 0; d < D; d++) o[d] = 0;
                for (int64_t j = 0; j < T; j++) {
                    a[j] *= inv;
                    if (a[j] == 0) continue;
                    const REAL *v = qkv + (b * T + j) * S + C + (NKV + kh) * D;
                    for (int64_t d = 0; d < D; d++) o[d] += a[j] * v[d];
                }
            }
    }
}

void G_FN(pare_g_attention_fwd)(REAL *out, REAL *att, const REAL *qkv, const int8_t *mask, int64_t B, int64_t T,
                                int64_t C, int64_t NH, int64_t NKV, int causal) {
    REAL *kt = malloc(sizeof(REAL) * (size_t)(C / NH * T + T));
    if (kt) G_FN(pare_g_attention_fwd_range)(out, att, qkv, mask, T, C, NH, NKV, causal, 0, B * NKV, kt);
    free(kt);
}

void G_FN(pare_g_attention_bwd_range_ex)(REAL *dqkv, const REAL *dout, const REAL *qkv, const REAL *att, const REAL *datt,
                                         int64_t T, int64_t C, int64_t NH, int64_t NKV, int64_t p0, int64_t p1, REAL *vt) {
    const int64_t D = C / NH, S = C + 2 * NKV * D, G = NH / NKV;
    const REAL scale = 1 / SQRT((REAL)D);
    REAL *da = vt + D * T; /* vt: V^T of the kv head (D x T), then d att of a row (T) */
    for (int64_t p = p0; p < p1; p++) {
        const int64_t b = p / NKV, kh = p % NKV;
        for (int64_t j = 0; j < T; j++) {
            const REAL *v = qkv + (b * T + j) * S + C + (NKV + kh) * D;
            for (int64_t d = 0; d < D; d++) vt[d * T + j] = v[d];
        }
        for (int64_t h = kh * G; h < (kh + 1) * G; h++)
            for (int64_t i = 0; i < T; i++) {
                const REAL *a = att + ((b * NH + h) * T + i) * T, *dO = dout + (b * T + i) * C + h * D;
                const REAL *q = qkv + (b * T + i) * S + h * D;
                REAL *dq = dqkv + (b * T + i) * S + h * D;
                /* d att[j] = dO . v_j */
                for (int64_t j = 0; j < T; j++) da[j] = 0;
                for (int64_t d = 0; d < D; d++) {
                    const REAL g = dO[d], *row = vt + d * T;
                    for (int64_t j = 0; j < T; j++) da[j] += g * row[j];
                }
                if (datt) /* a gradient of the probabilities from elsewhere (attention transfer) */
                    for (int64_t j = 0; j < T; j++) da[j] += datt[((b * NH + h) * T + i) * T + j];
                REAL dot = 0; /* sum_j att[j] d att[j] */
                for (int64_t j = 0; j < T; j++) {
                    if (a[j] == 0) continue;
                    REAL *dv = dqkv + (b * T + j) * S + C + (NKV + kh) * D;
                    for (int64_t d = 0; d < D; d++) dv[d] += a[j] * dO[d];
                    dot += a[j] * da[j];
                }
                for (int64_t j = 0; j < T; j++) {
                    if (a[j] == 0) continue;
                    const REAL *k = qkv + (b * T + j) * S + C + kh * D;
                    REAL *dk = dqkv + (b * T + j) * S + C + kh * D;
                    const REAL ds = a[j] * (da[j] - dot) * scale; /* softmax backward, then the scale */
                    for (int64_t d = 0; d < D; d++) {
                        dq[d] += ds * k[d];
                        dk[d] += ds * q[d];
                    }
                }
            }
    }
}

void G_FN(pare_g_attention_bwd_range)(REAL *dqkv, const REAL *dout, const REAL *qkv, const REAL *att, int64_t T,
                                      int64_t C, int64_t NH, int64_t NKV, int64_t p0, int64_t p1, REAL *vt) {
    G_FN(pare_g_attention_bwd_range_ex)(dqkv, dout, qkv, att, NULL, T, C, NH, NKV, p0, p1, vt);
}

void G_FN(pare_g_attention_bwd)(REAL *dqkv, const REAL *dout, const REAL *qkv, const REAL *att, int64_t B, int64_t T,
                                int64_t C, int64_t NH, int64_t NKV) {
    REAL *vt = malloc(sizeof(REAL) * (size_t)(C / NH * T + T));
    if (vt) G_FN(pare_g_attention_bwd_range)(dqkv, dout, qkv, att, T, C, NH, NKV, 0, B * NKV, vt);
    free(vt);
}

/* ---- Llama-family ops */

/* RMSNorm over C (HF LlamaRMSNorm): y = x / sqrt(mean(x^2) + eps) * g;
 * rstd [M] saved for the backward. */
void G_FN(pare_g_rmsnorm_fwd)(REAL *y, REAL *rstd, const REAL *x, const REAL *g, int64_t M, int64_t C, REAL eps) {
    for (int64_t i = 0; i < M; i++) {
        const REAL *xi = x + i * C;
        REAL ss = 0;
        for (int64_t c = 0; c < C; c++) ss += xi[c] * xi[c];
        const REAL rs = 1 / SQRT(ss / (REAL)C + eps);
        for (int64_t c = 0; c < C; c++) y[i * C + c] = xi[c] * rs * g[c];
        rstd[i] = rs;
    }
}

void G_FN(pare_g_rmsnorm_bwd)(REAL *dx, REAL *dg, const REAL *dy, const REAL *x, const REAL *g, const REAL *rstd, int64_t M,
                              int64_t C) {
    for (int64_t i = 0; i < M; i++) {
        const REAL *xi = x + i * C, *dyi = dy + i * C, rs = rstd[i];
        REAL m = 0; /* mean of dnorm * norm */
        for (int64_t c = 0; c < C; c++) m += g[c] * dyi[c] * xi[c] * rs;
        m /= (REAL)C;
        for (int64_t c = 0; c < C; c++) {
            const REAL n = xi[c] * rs;
            if (dg) dg[c] += n * dyi[c];
            if (dx) dx[i * C + c] += (g[c] * dyi[c] - n * m) * rs;
        }
    }
}

/* SwiGLU: y = silu(a) * b over n values (a: the gate projection, b: up). */
void G_FN(pare_g_swiglu_fwd)(REAL *y, const REAL *a, const REAL *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] / (1 + EXP(-a[i])) * b[i];
}

void G_FN(pare_g_swiglu_bwd)(REAL *da, REAL *db, const REAL *dy, const REAL *a, const REAL *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const REAL sg = 1 / (1 + EXP(-a[i])), silu = a[i] * sg;
        if (da) da[i] += dy[i] * b[i] * sg * (1 + a[i] * (1 - sg));
        if (db) db[i] += dy[i] * silu;
    }
}

/* Rotary position embedding, HF's rotate-half layout: rows of NH heads of
 * D; for i < D/2 at position p, angle p * theta^(-2i/D), the pair
 * (x[i], x[i + D/2]) is rotated. The backward rotates back. */
static void G_FN(rope_rot)(REAL *y, const REAL *x, const int32_t *pos, int64_t M, int64_t NH, int64_t D, double theta, int dir) {
    const int64_t half = D / 2;
    for (int64_t r = 0; r < M; r++)
        for (int64_t i = 0; i < half; i++) {
            const double ang = (double)pos[r] * pow(theta, -2.0 * (double)i / (double)D);
            const REAL cs = (REAL)cos(ang), sn = (REAL)(dir * sin(ang));
            for (int64_t h = 0; h < NH; h++) {
                const REAL *xh = x + (r * NH + h) * D;
                REAL *yh = y + (r * NH + h) * D;
                const REAL x1 = xh[i], x2 = xh[i + half];
                yh[i] += x1 * cs - x2 * sn;
                yh[i + half] += x2 * cs + x1 * sn;
            }
        }
}

void G_FN(pare_g_rope_fwd)(REAL *y, const REAL *x, const int32_t *pos, int64_t M, int64_t NH, int64_t D, double theta) {
    for (int64_t i = 0; i < M * NH * D; i++) y[i] = 0;
    G_FN(rope_rot)(y, x, pos, M, NH, D, theta, 1);
}

void G_FN(pare_g_rope_bwd)(REAL *dx, const REAL *dy, const int32_t *pos, int64_t M, int64_t NH, int64_t D, double theta) {
    G_FN(rope_rot)(dx, dy, pos, M, NH, D, theta, -1);
}

/* y[n][C] += table[ids[i]] (call once per embedding table to sum them) */
void G_FN(pare_g_embed_fwd)(REAL *y, const int32_t *ids, const REAL *table, int64_t n, int64_t C) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < C; c++) y[i * C + c] += table[(int64_t)ids[i] * C + c];
}

void G_FN(pare_g_embed_bwd)(REAL *dtable, const int32_t *ids, const REAL *dy, int64_t n, int64_t C) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < C; c++) dtable[(int64_t)ids[i] * C + c] += dy[i * C + c];
}

static REAL G_FN(g_sigmoid)(REAL x) { return x >= 0 ? 1 / (1 + EXP(-x)) : EXP(x) / (1 + EXP(x)); }
/* log(1 + exp(x)) without overflow */
static REAL G_FN(g_softplus)(REAL x) { return x > 0 ? x + LOG1P(EXP(-x)) : LOG1P(EXP(x)); }

/* Mean BCE-with-logits over n = B * L elements against targets in [0, 1];
 * dlogits (may be NULL) gets its gradient (overwritten). */
REAL G_FN(pare_g_bce_logits)(REAL *dlogits, const REAL *logits, const REAL *targets, int64_t n) {
    REAL loss = 0;
    for (int64_t i = 0; i < n; i++) {
        loss += G_FN(g_softplus)(logits[i]) - targets[i] * logits[i];
        if (dlogits) dlogits[i] = (G_FN(g_sigmoid)(logits[i]) - targets[i]) / (REAL)n;
    }
    return loss / (REAL)n;
}

/* Mean softmax cross-entropy over B rows of L classes. */
REAL G_FN(pare_g_softmax_ce)(REAL *dlogits, const REAL *logits, const int32_t *labels, int64_t B, int64_t L) {
    REAL loss = 0;
    for (int64_t b = 0; b < B; b++) {
        const REAL *z = logits + b * L;
        REAL mx = z[0], sum = 0;
        for (int64_t l = 1; l < L; l++) mx = z[l] > mx ? z[l] : mx;
        for (int64_t l = 0; l < L; l++) sum += EXP(z[l] - mx);
        loss += LOG(sum) + mx - z[labels[b]];
        if (dlogits)
            for (int64_t l = 0; l < L; l++)
                dlogits[b * L + l] = (EXP(z[l] - mx) / sum - (l == labels[b] ? 1 : 0)) / (REAL)B;
    }
    return loss / (REAL)B;
}

/* Knowledge distillation: a * hard + (1 - a) * T^2 * soft, on student
 * logits s [B][L] against teacher logits t.
 *   multi-label: hard = mean BCE(s, targets); soft = mean over the B * L
 *                labels of KL(Bernoulli(sigmoid(t/T)) || Bernoulli(sigmoid(s/T)));
 *   multi-class: hard = mean CE(s, labels); soft = mean over the B rows of
 *                KL(softmax(t/T) || softmax(s/T)) (PyTorch's batchmean).
 * targets [B][L] (multi-label) or labels [B] (multi-class). */
REAL G_FN(pare_g_distill_loss)(REAL *ds, const REAL *s, const REAL *t, const REAL *targets, const int32_t *labels,
                               int64_t B, int64_t L, int multi_label, REAL T, REAL a) {
    const int64_t n = B * L;
    REAL hard = multi_label ? G_FN(pare_g_bce_logits)(ds, s, targets, n) : G_FN(pare_g_softmax_ce)(ds, s, labels, B, L);
    if (ds)
        for (int64_t i = 0; i < n; i++) ds[i] *= a;
    REAL soft = 0;
    if (multi_label) {
        for (int64_t i = 0; i < n; i++) {
            const REAL zt = t[i] / T, zs = s[i] / T, pt = G_FN(g_sigmoid)(zt), ps = G_FN(g_sigmoid)(zs);
            /* pt log(pt/ps) + (1-pt) log((1-pt)/(1-ps)), via softplus for stability */
            soft += pt * (G_FN(g_softplus)(-zs) - G_FN(g_softplus)(-zt)) + (1 - pt) * (G_FN(g_softplus)(zs) - G_FN(g_softplus)(zt));
            if (ds) ds[i] += (1 - a) * T * T * (ps - pt) / (T * (REAL)n);
        }
        soft /= (REAL)n;
    } else {
        for (int64_t b = 0; b < B; b++) {
            const REAL *zs = s + b * L, *zt = t + b * L;
            REAL ms = zs[0] / T, mt = zt[0] / T, ss = 0, st = 0;
            for (int64_t l = 1; l < L; l++) {
                ms = zs[l] / T > ms ? zs[l] / T : ms;
                mt = zt[l] / T > mt ? zt[l] / T : mt;
            }
            for (int64_t l = 0; l < L; l++) {
                ss += EXP(zs[l] / T - ms);
                st += EXP(zt[l] / T - mt);
            }
            for (int64_t l = 0; l < L; l++) {
                const REAL lqs = zs[l] / T - ms - LOG(ss), lqt = zt[l] / T - mt - LOG(st), qt = EXP(lqt);
                soft += qt * (lqt - lqs);
                if (ds) ds[b * L + l] += (1 - a) * T * T * (EXP(lqs) - qt) / (T * (REAL)B);
            }
        }
        soft /= (REAL)B;
    }
    return a * hard + (1 - a) * T * T * soft;
}
