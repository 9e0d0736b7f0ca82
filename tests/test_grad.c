/* Training ops (include/pare/grad.h):
 *   1. every backward, instantiated in double, agrees with central finite
 *      differences of its forward (loss = sum(out * R), R random), relative
 *      error <= 1e-6 on sampled elements of every input;
 *   2. the f32 ops (the library's) agree with the double ones (<= 2e-5 of
 *      each tensor's largest magnitude);
 *   3. the f32 ops agree with PyTorch autograd on the same inputs
 *      (tests/golden/grad_ops.bin, tools/make_grad_golden.py): outputs,
 *      losses and every gradient within 2e-5 of the largest magnitude;
 *   4. AdamW, clipping and the schedule on hand-worked numbers.
 * Ops: linear, LayerNorm, GELU, tanh, attention (padding mask, causal,
 * grouped-query), embedding, RMSNorm, SwiGLU, RoPE, BCE-with-logits,
 * softmax CE, distillation (both forms); the trainer's AVX-512 attention
 * and GELU against the double ops. */
#include "testutil.h"
#include "pare/core.h"
#include "pare/grad.h"
#include "train/train_avx512.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REAL double
#define SUF _f64
#define GEMM cblas_dgemm
#define EXP exp
#define ERF erf
#define SQRT sqrt
#define TANH tanh
#define LOG log
#define LOG1P log1p
#include "train/grad_body.h"

static uint64_t g_seed = 99;
/* every buffer of a test, freed by its teardown */
static void *g_bufs[256];
static int g_nbufs;
static void *keep(void *p) {
    assert_non_null(p);
    assert_true(g_nbufs < 256);
    return g_bufs[g_nbufs++] = p;
}
static int release(void **state) {
    (void)state;
    while (g_nbufs) free(g_bufs[--g_nbufs]);
    return 0;
}
static float *fz(int64_t n) { return keep(calloc((size_t)n, sizeof(float))); }
static double unif(void) { return (double)(pare_splitmix64(&g_seed) >> 11) / 9007199254740992.0 * 2 - 1; }
static double *rnd(int64_t n, double scale) {
    double *p = keep(malloc(sizeof(double) * (size_t)n));
    for (int64_t i = 0; i < n; i++) p[i] = unif() * scale;
    return p;
}
static double *zeros(int64_t n) { return keep(calloc((size_t)n, sizeof(double))); }
static float *tof(const double *d, int64_t n) {
    float *f = keep(malloc(sizeof(float) * (size_t)n));
    for (int64_t i = 0; i < n; i++) f[i] = (float)d[i];
    return f;
}
static double dot(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Central differences of loss() with respect to x[i] for sampled i, against g. */
typedef double (*loss_fn)(void *ctx);
static void fd_check(const char *what, loss_fn loss, void *ctx, double *x, const double *g, int64_t n) {
    const double h = 1e-6;
    double worst = 0;
    for (int s = 0; s < 24; s++) {
        const int64_t i = s < 4 ? (n - 1) * s / 3 : (int64_t)(pare_splitmix64(&g_seed) % (uint64_t)n);
        const double keep = x[i];
        x[i] = keep + h;
        const double lp = loss(ctx);
        x[i] = keep - h;
        const double lm = loss(ctx);
        x[i] = keep;
        const double fd = (lp - lm) / (2 * h), err = fabs(fd - g[i]) / (fabs(g[i]) + 1e-3);
        worst = err > worst ? err : worst;
    }
    print_message("  %-28s finite differences: worst relative error %.2e\n", what, worst);
    assert_true(worst < 1e-5);
}

/* f32 result against the double one. */
static void close_f32(const char *what, const float *f, const double *d, int64_t n) {
    double mx = 0, err = 0;
    for (int64_t i = 0; i < n; i++) {
        mx = fabs(d[i]) > mx ? fabs(d[i]) : mx;
        err = fabs(f[i] - d[i]) > err ? fabs(f[i] - d[i]) : err;
    }
    if (!(err <= 2e-5 * mx + 1e-7)) fail_msg("%s: f32 differs from double by %g (largest %g)", what, err, mx);
}

/* ---- linear */
typedef struct { double *x, *w, *b, *r, *y; int64_t M, K, N; } lin_ctx;
static double lin_loss(void *c_) {
    lin_ctx *c = c_;
    pare_g_linear_fwd_f64(c->y, c->x, c->w, c->b, c->M, c->K, c->N);
    return dot(c->y, c->r, c->M * c->N);
}
static void test_linear(void **state) {
    (void)state;
    lin_ctx c = {.M = 5, .K = 7, .N = 4};
    c.x = rnd(c.M * c.K, 1), c.w = rnd(c.N * c.K, 1), c.b = rnd(c.N, 1), c.r = rnd(c.M * c.N, 1), c.y = zeros(c.M * c.N);
    double *dx = zeros(c.M * c.K), *dw = zeros(c.N * c.K), *db = zeros(c.N);
    lin_loss(&c);
    pare_g_linear_bwd_f64(dx, dw, db, c.r, c.x, c.w, c.M, c.K, c.N);
    fd_check("linear dx", lin_loss, &c, c.x, dx, c.M * c.K);
    fd_check("linear dw", lin_loss, &c, c.w, dw, c.N * c.K);
    fd_check("linear db", lin_loss, &c, c.b, db, c.N);
    float *fx = tof(c.x, c.M * c.K), *fw = tof(c.w, c.N * c.K), *fb = tof(c.b, c.N), *fr = tof(c.r, c.M * c.N);
    float *fy = fz(c.M * c.N), *fdx = fz(c.M * c.K), *fdw = fz(c.N * c.K),
          *fdb = fz(c.N);
    pare_g_linear_fwd(fy, fx, fw, fb, c.M, c.K, c.N);
    pare_g_linear_bwd(fdx, fdw, fdb, fr, fx, fw, c.M, c.K, c.N);
    close_f32("linear y", fy, c.y, c.M * c.N);
    close_f32("linear dx", fdx, dx, c.M * c.K);
    close_f32("linear dw", fdw, dw, c.N * c.K);
    close_f32("linear db", fdb, db, c.N);
}

/* ---- LayerNorm */
typedef struct { double *x, *g, *b, *r, *y, *mean, *rstd; int64_t M, C; } ln_ctx;
static double ln_loss(void *c_) {
    ln_ctx *c = c_;
    pare_g_layernorm_fwd_f64(c->y, c->mean, c->rstd, c->x, c->g, c->b, c->M, c->C, 1e-12);
    return dot(c->y, c->r, c->M * c->C);
}
static void test_layernorm(void **state) {
    (void)state;
    ln_ctx c = {.M = 4, .C = 9};
    c.x = rnd(c.M * c.C, 2), c.g = rnd(c.C, 1), c.b = rnd(c.C, 1), c.r = rnd(c.M * c.C, 1), c.y = zeros(c.M * c.C);
    c.mean = zeros(c.M), c.rstd = zeros(c.M);
    double *dx = zeros(c.M * c.C), *dg = zeros(c.C), *db = zeros(c.C);
    ln_loss(&c);
    pare_g_layernorm_bwd_f64(dx, dg, db, c.r, c.x, c.g, c.mean, c.rstd, c.M, c.C);
    fd_check("layernorm dx", ln_loss, &c, c.x, dx, c.M * c.C);
    fd_check("layernorm dgamma", ln_loss, &c, c.g, dg, c.C);
    fd_check("layernorm dbeta", ln_loss, &c, c.b, db, c.C);
    float *fx = tof(c.x, c.M * c.C), *fg = tof(c.g, c.C), *fb = tof(c.b, c.C), *fr = tof(c.r, c.M * c.C);
    float *fy = fz(c.M * c.C), *fm = fz(c.M), *fs = fz(c.M);
    float *fdx = fz(c.M * c.C), *fdg = fz(c.C), *fdb = fz(c.C);
    pare_g_layernorm_fwd(fy, fm, fs, fx, fg, fb, c.M, c.C, 1e-12f);
    pare_g_layernorm_bwd(fdx, fdg, fdb, fr, fx, fg, fm, fs, c.M, c.C);
    close_f32("layernorm y", fy, c.y, c.M * c.C);
    close_f32("layernorm dx", fdx, dx, c.M * c.C);
    close_f32("layernorm dgamma", fdg, dg, c.C);
}

/* ---- element-wise */
typedef struct { double *x, *r, *y; int64_t n; int op; } ew_ctx;
static double ew_loss(void *c_) {
    ew_ctx *c = c_;
    if (c->op == 0) pare_g_gelu_fwd_f64(c->y, c->x, c->n);
    else pare_g_tanh_fwd_f64(c->y, c->x, c->n);
    return dot(c->y, c->r, c->n);
}
static void test_elementwise(void **state) {
    (void)state;
    for (int op = 0; op < 2; op++) {
        ew_ctx c = {.n = 40, .op = op};
        c.x = rnd(c.n, 4), c.r = rnd(c.n, 1), c.y = zeros(c.n);
        double *dx = zeros(c.n);
        ew_loss(&c);
        if (op == 0) pare_g_gelu_bwd_f64(dx, c.x, c.r, c.n);
        else pare_g_tanh_bwd_f64(dx, c.y, c.r, c.n);
        fd_check(op ? "tanh dx" : "gelu dx", ew_loss, &c, c.x, dx, c.n);
        float *fx = tof(c.x, c.n), *fr = tof(c.r, c.n), *fy = fz(c.n), *fdx = fz(c.n);
        if (op == 0) {
            pare_g_gelu_fwd(fy, fx, c.n);
            pare_g_gelu_bwd(fdx, fx, fr, c.n);
        } else {
            pare_g_tanh_fwd(fy, fx, c.n);
            pare_g_tanh_bwd(fdx, fy, fr, c.n);
        }
        close_f32(op ? "tanh" : "gelu", fy, c.y, c.n);
        close_f32(op ? "tanh dx" : "gelu dx", fdx, dx, c.n);
    }
}

/* ---- attention */
typedef struct { double *qkv, *r, *out, *att, *ra; const int8_t *mask; int64_t B, T, C, NH, NKV; int causal; } at_ctx;
/* r . out, plus ra . att when ra (a loss on the probabilities: attention transfer) */
static double at_loss(void *c_) {
    at_ctx *c = c_;
    pare_g_attention_fwd_f64(c->out, c->att, c->qkv, c->mask, c->B, c->T, c->C, c->NH, c->NKV, c->causal);
    return dot(c->out, c->r, c->B * c->T * c->C) + (c->ra ? dot(c->att, c->ra, c->B * c->NH * c->T * c->T) : 0);
}
/* qkv floats of a case: q of C, k and v of NKV heads of C / NH */
static int64_t at_qkv(const at_ctx *c) { return c->B * c->T * (c->C + 2 * c->NKV * (c->C / c->NH)); }

static void test_attention(void **state) {
    (void)state;
    const int8_t mask[2 * 5] = {1, 1, 1, 1, 0, 1, 1, 0, 0, 0};
    static const char *const names[5] = {"attention dqkv", "attention dqkv (padding mask)", "attention dqkv (causal)",
                                         "attention dqkv (GQA, mask)", "attention dqkv (GQA, causal)"};
    for (int v = 0; v < 5; v++) {
        at_ctx c = {.B = 2, .T = 5, .C = v < 3 ? 8 : 12, .NH = v < 3 ? 2 : 6, .NKV = v < 3 ? 2 : 2,
                    .mask = v == 1 || v == 3 ? mask : NULL, .causal = v == 2 || v == 4};
        const int64_t n = at_qkv(&c);
        c.qkv = rnd(n, 1.5), c.r = rnd(c.B * c.T * c.C, 1), c.out = zeros(c.B * c.T * c.C), c.att = zeros(c.B * c.NH * c.T * c.T);
        double *d = zeros(n);
        at_loss(&c);
        pare_g_attention_bwd_f64(d, c.r, c.qkv, c.att, c.B, c.T, c.C, c.NH, c.NKV);
        fd_check(names[v], at_loss, &c, c.qkv, d, n);
        float *fq = tof(c.qkv, n), *fr = tof(c.r, c.B * c.T * c.C), *fo = fz(c.B * c.T * c.C);
        float *fa = fz(c.B * c.NH * c.T * c.T), *fd = fz(n);
        pare_g_attention_fwd(fo, fa, fq, c.mask, c.B, c.T, c.C, c.NH, c.NKV, c.causal);
        pare_g_attention_bwd(fd, fr, fq, fa, c.B, c.T, c.C, c.NH, c.NKV);
        close_f32("attention out", fo, c.out, c.B * c.T * c.C);
        close_f32("attention dqkv", fd, d, n);
        /* with a loss on the probabilities too: its gradient as datt (pare_g_attention_bwd_range_ex) */
        c.ra = rnd(c.B * c.NH * c.T * c.T, 1);
        double *d2 = zeros(n), *vt = zeros((c.C / c.NH + 1) * c.T);
        at_loss(&c);
        pare_g_attention_bwd_range_ex_f64(d2, c.r, c.qkv, c.att, c.ra, c.T, c.C, c.NH, c.NKV, 0, c.B * c.NKV, vt);
        fd_check("attention dqkv with datt", at_loss, &c, c.qkv, d2, n);
    }
}

/* The trainer's AVX-512 attention (register-tiled small GEMMs) and GELU
 * against the double ops: head sizes 16 and 32, T not a multiple of 8 or
 * 16, padding masks (one sequence with no visible key in a causal row is
 * not possible; a fully masked sequence is), causal. */
static void test_train_avx512(void **state) {
    (void)state;
    if (!__builtin_cpu_supports("avx512f")) tu_skip("no AVX-512: the trainer's AVX-512 kernels not run");
    static const struct { int64_t B, T, C, NH, NKV; int mask, causal; } cases[] = {
        {2, 5, 32, 2, 2, 0, 0}, {2, 17, 64, 2, 2, 1, 0}, {3, 37, 96, 3, 3, 1, 1}, {1, 40, 32, 1, 1, 0, 1},
        {2, 9, 32, 1, 1, 2, 0}, {2, 19, 96, 6, 2, 1, 1}, {1, 24, 64, 4, 1, 0, 0}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        at_ctx c = {.B = cases[ci].B, .T = cases[ci].T, .C = cases[ci].C, .NH = cases[ci].NH, .NKV = cases[ci].NKV,
                    .causal = cases[ci].causal};
        const int64_t n = at_qkv(&c), no = c.B * c.T * c.C, na = c.B * c.NH * c.T * c.T;
        int8_t *mask = keep(malloc((size_t)(c.B * c.T)));
        for (int64_t i = 0; i < c.B * c.T; i++) /* mask 2: the second sequence has no real token */
            mask[i] = (int8_t)(cases[ci].mask == 2 ? i < c.T : (i % c.T) < c.T - 1 - (i / c.T) * 3);
        c.mask = cases[ci].mask ? mask : NULL;
        assert_true(pare_train_attn_ok(c.C, c.NH, c.NKV));
        c.qkv = rnd(n, 1.5), c.r = rnd(no, 1), c.out = zeros(no), c.att = zeros(na);
        double *d = zeros(n);
        at_loss(&c);
        pare_g_attention_bwd_f64(d, c.r, c.qkv, c.att, c.B, c.T, c.C, c.NH, c.NKV);
        float *fq = tof(c.qkv, n), *fr = tof(c.r, no), *fo = fz(no), *fa = fz(na), *fd = fz(n);
        float *sc = fz(pare_train_attn_scratch(c.C, c.NH, c.T));
        pare_train_attn_fwd_avx512(fo, fa, fq, c.mask, c.T, c.C, c.NH, c.NKV, c.causal, 0, c.B * c.NKV, sc);
        pare_train_attn_bwd_avx512(fd, fr, fq, fa, NULL, c.T, c.C, c.NH, c.NKV, 0, c.B * c.NKV, sc);
        close_f32("avx512 attention out", fo, c.out, no);
        close_f32("avx512 attention probabilities", fa, c.att, na);
        close_f32("avx512 attention dqkv", fd, d, n);
        /* with a gradient of the probabilities from elsewhere (attention transfer) */
        double *datt = rnd(na, 0.5), *d2 = zeros(n), *vt = zeros((c.C / c.NH + 1) * c.T);
        pare_g_attention_bwd_range_ex_f64(d2, c.r, c.qkv, c.att, datt, c.T, c.C, c.NH, c.NKV, 0, c.B * c.NKV, vt);
        float *fdatt = tof(datt, na), *fd2 = fz(n);
        pare_train_attn_bwd_avx512(fd2, fr, fq, fa, fdatt, c.T, c.C, c.NH, c.NKV, 0, c.B * c.NKV, sc);
        close_f32("avx512 attention dqkv with datt", fd2, d2, n);
    }
    const int64_t n = 1000 + 7;
    double *x = rnd(n, 6), *dy = rnd(n, 1), *y = zeros(n), *dx = zeros(n);
    pare_g_gelu_fwd_f64(y, x, n);
    pare_g_gelu_bwd_f64(dx, x, dy, n);
    float *fx = tof(x, n), *fdy = tof(dy, n), *fy = fz(n), *fdx = fz(n);
    pare_train_gelu_fwd_avx512(fy, fx, n);
    pare_train_gelu_bwd_avx512(fdx, fx, fdy, n);
    close_f32("avx512 gelu", fy, y, n);
    close_f32("avx512 gelu backward", fdx, dx, n);
}

/* ---- embedding */
typedef struct { double *tab, *r, *y; const int32_t *ids; int64_t n, C; } em_ctx;
static double em_loss(void *c_) {
    em_ctx *c = c_;
    memset(c->y, 0, sizeof(double) * (size_t)(c->n * c->C));
    pare_g_embed_fwd_f64(c->y, c->ids, c->tab, c->n, c->C);
    return dot(c->y, c->r, c->n * c->C);
}
static void test_embed(void **state) {
    (void)state;
    const int32_t ids[6] = {3, 0, 3, 5, 1, 3};
    em_ctx c = {.ids = ids, .n = 6, .C = 4};
    c.tab = rnd(6 * c.C, 1), c.r = rnd(c.n * c.C, 1), c.y = zeros(c.n * c.C);
    double *d = zeros(6 * c.C);
    em_loss(&c);
    pare_g_embed_bwd_f64(d, ids, c.r, c.n, c.C);
    fd_check("embedding dtable", em_loss, &c, c.tab, d, 6 * c.C);
}

/* ---- losses */
typedef struct { double *s, *t, *y; const int32_t *labels; int64_t B, L; int kind; } ls_ctx;
static double ls_loss(void *c_) {
    ls_ctx *c = c_;
    if (c->kind == 0) return pare_g_bce_logits_f64(NULL, c->s, c->y, c->B * c->L);
    if (c->kind == 1) return pare_g_softmax_ce_f64(NULL, c->s, c->labels, c->B, c->L);
    return pare_g_distill_loss_f64(NULL, c->s, c->t, c->y, c->labels, c->B, c->L, c->kind == 2, 2.0, 0.5);
}
static void test_losses(void **state) {
    (void)state;
    const int32_t labels[3] = {2, 0, 4};
    const char *names[] = {"bce-with-logits", "softmax cross-entropy", "distillation (sigmoid)", "distillation (softmax)"};
    for (int kind = 0; kind < 4; kind++) {
        ls_ctx c = {.B = 3, .L = 5, .labels = labels, .kind = kind};
        const int64_t n = c.B * c.L;
        c.s = rnd(n, 4), c.t = rnd(n, 4), c.y = zeros(n);
        for (int64_t i = 0; i < n; i++) c.y[i] = unif() > 0 ? 1 : 0;
        double *d = zeros(n);
        double l = kind == 0 ? pare_g_bce_logits_f64(d, c.s, c.y, n)
                 : kind == 1 ? pare_g_softmax_ce_f64(d, c.s, labels, c.B, c.L)
                             : pare_g_distill_loss_f64(d, c.s, c.t, c.y, labels, c.B, c.L, kind == 2, 2.0, 0.5);
        fd_check(names[kind], ls_loss, &c, c.s, d, n);
        float *fs = tof(c.s, n), *ft = tof(c.t, n), *fy = tof(c.y, n), *fd = fz(n);
        float fl = kind == 0 ? pare_g_bce_logits(fd, fs, fy, n)
                 : kind == 1 ? pare_g_softmax_ce(fd, fs, labels, c.B, c.L)
                             : pare_g_distill_loss(fd, fs, ft, fy, labels, c.B, c.L, kind == 2, 2.0f, 0.5f);
        assert_true(fabs(fl - l) <= 1e-5 * fabs(l) + 1e-6);
        close_f32(names[kind], fd, d, n);
    }
    /* a student equal to its teacher has no soft loss */
    double s[4] = {0.3, -1, 2, 0.5}, y[4] = {1, 0, 1, 1};
    const int32_t lab[1] = {2};
    assert_true(fabs(pare_g_distill_loss_f64(NULL, s, s, y, lab, 1, 4, 1, 2.0, 0.0)) < 1e-12);
    assert_true(fabs(pare_g_distill_loss_f64(NULL, s, s, y, lab, 1, 4, 0, 2.0, 0.0)) < 1e-12);
}

/* ---- Llama ops: RMSNorm, SwiGLU, RoPE */
typedef struct { double *x, *g, *a, *b, *r, *y, *rstd; int32_t *pos; int64_t M, C, NH, D; int op; } ll_ctx;
static double ll_loss(void *c_) {
    ll_ctx *c = c_;
    const int64_t n = c->op == 0 ? c->M * c->C : c->op == 1 ? c->M * c->C : c->M * c->NH * c->D;
    if (c->op == 0) pare_g_rmsnorm_fwd_f64(c->y, c->rstd, c->x, c->g, c->M, c->C, 1e-6);
    else if (c->op == 1) pare_g_swiglu_fwd_f64(c->y, c->a, c->b, n);
    else pare_g_rope_fwd_f64(c->y, c->x, c->pos, c->M, c->NH, c->D, 10000.0);
    return dot(c->y, c->r, n);
}
static void test_llama_ops(void **state) {
    (void)state;
    int32_t pos[5] = {0, 1, 7, 100, 2047};
    ll_ctx c = {.M = 5, .C = 12, .NH = 3, .D = 8, .pos = pos};
    const int64_t n = c.M * c.C, nr = c.M * c.NH * c.D;
    c.x = rnd(nr, 2), c.g = rnd(c.C, 1), c.a = rnd(n, 4), c.b = rnd(n, 2), c.r = rnd(nr, 1), c.y = zeros(nr), c.rstd = zeros(c.M);
    /* rmsnorm */
    double *dx = zeros(nr), *dg = zeros(c.C);
    c.op = 0;
    ll_loss(&c);
    pare_g_rmsnorm_bwd_f64(dx, dg, c.r, c.x, c.g, c.rstd, c.M, c.C);
    fd_check("rmsnorm dx", ll_loss, &c, c.x, dx, n);
    fd_check("rmsnorm dgamma", ll_loss, &c, c.g, dg, c.C);
    float *fy = fz(nr), *fs = fz(c.M), *fdx = fz(nr), *fdg = fz(c.C);
    pare_g_rmsnorm_fwd(fy, fs, tof(c.x, n), tof(c.g, c.C), c.M, c.C, 1e-6f);
    pare_g_rmsnorm_bwd(fdx, fdg, tof(c.r, n), tof(c.x, n), tof(c.g, c.C), fs, c.M, c.C);
    ll_loss(&c);
    close_f32("rmsnorm y", fy, c.y, n);
    close_f32("rmsnorm dx", fdx, dx, n);
    close_f32("rmsnorm dgamma", fdg, dg, c.C);
    /* swiglu */
    double *da = zeros(n), *db = zeros(n);
    c.op = 1;
    ll_loss(&c);
    pare_g_swiglu_bwd_f64(da, db, c.r, c.a, c.b, n);
    fd_check("swiglu dgate", ll_loss, &c, c.a, da, n);
    fd_check("swiglu dup", ll_loss, &c, c.b, db, n);
    float *fda = fz(n), *fdb = fz(n);
    pare_g_swiglu_fwd(fy, tof(c.a, n), tof(c.b, n), n);
    pare_g_swiglu_bwd(fda, fdb, tof(c.r, n), tof(c.a, n), tof(c.b, n), n);
    close_f32("swiglu y", fy, c.y, n);
    close_f32("swiglu dgate", fda, da, n);
    close_f32("swiglu dup", fdb, db, n);
    /* rope */
    double *dr = zeros(nr);
    c.op = 2;
    ll_loss(&c);
    pare_g_rope_bwd_f64(dr, c.r, c.pos, c.M, c.NH, c.D, 10000.0);
    fd_check("rope dx", ll_loss, &c, c.x, dr, nr);
    float *fdr = fz(nr);
    pare_g_rope_fwd(fy, tof(c.x, nr), pos, c.M, c.NH, c.D, 10000.0);
    pare_g_rope_bwd(fdr, tof(c.r, nr), pos, c.M, c.NH, c.D, 10000.0);
    close_f32("rope y", fy, c.y, nr);
    close_f32("rope dx", fdr, dr, nr);
}

/* ---- PyTorch autograd (tests/golden/grad_ops.bin) */
typedef struct golden { char *data; size_t len; } golden;
/* The array `name` (count n), or NULL. */
static const float *gfind(const golden *g, const char *name, int64_t *n) {
    size_t o = 0;
    while (o + 8 <= g->len) {
        uint32_t nl, cnt;
        memcpy(&nl, g->data + o, 4);
        if (o + 4 + nl + 4 > g->len) break;
        memcpy(&cnt, g->data + o + 4 + nl, 4);
        const size_t body = o + 8 + nl;
        if (body + 4ull * cnt > g->len) break;
        if (nl == strlen(name) && !memcmp(g->data + o + 4, name, nl)) {
            *n = cnt;
            return (const float *)(g->data + body);
        }
        o = body + 4ull * cnt;
    }
    fail_msg("golden array %s missing", name);
    return NULL;
}
static float *gget(const golden *g, const char *name, int64_t want) {
    int64_t n;
    const float *p = gfind(g, name, &n);
    assert_int_equal(n, want);
    float *c = fz(n);
    memcpy(c, p, sizeof(float) * (size_t)n);
    return c;
}
static void near_torch(const char *what, const float *got, const float *want, int64_t n) {
    double mx = 0, err = 0;
    for (int64_t i = 0; i < n; i++) {
        mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
        err = fabs(got[i] - want[i]) > err ? fabs(got[i] - want[i]) : err;
    }
    print_message("  %-28s vs torch autograd: max error %.2e of %.2e\n", what, err, mx);
    if (!(err <= 2e-5 * mx + 1e-7)) fail_msg("%s: differs from torch by %g (largest %g)", what, err, mx);
}

static void test_torch(void **state) {
    (void)state;
    char path[4096];
    golden g;
    g.data = keep(tu_slurp(tu_path(path, sizeof path, "tests/golden/grad_ops.bin"), &g.len));
    {   /* linear */
        const int64_t M = 6, K = 10, N = 7;
        float *x = gget(&g, "lin.x", M * K), *w = gget(&g, "lin.w", N * K), *b = gget(&g, "lin.b", N), *r = gget(&g, "lin.r", M * N);
        float *y = fz(M * N), *dx = fz(M * K), *dw = fz(N * K), *db = fz(N);
        pare_g_linear_fwd(y, x, w, b, M, K, N);
        pare_g_linear_bwd(dx, dw, db, r, x, w, M, K, N);
        near_torch("linear y", y, gget(&g, "lin.y", M * N), M * N);
        near_torch("linear dx", dx, gget(&g, "lin.dx", M * K), M * K);
        near_torch("linear dw", dw, gget(&g, "lin.dw", N * K), N * K);
        near_torch("linear db", db, gget(&g, "lin.db", N), N);
    }
    {   /* layernorm */
        const int64_t M = 5, C = 12;
        float *x = gget(&g, "ln.x", M * C), *ga = gget(&g, "ln.g", C), *b = gget(&g, "ln.b", C), *r = gget(&g, "ln.r", M * C);
        float *y = fz(M * C), *mean = fz(M), *rstd = fz(M), *dx = fz(M * C), *dg = fz(C), *db = fz(C);
        pare_g_layernorm_fwd(y, mean, rstd, x, ga, b, M, C, 1e-12f);
        pare_g_layernorm_bwd(dx, dg, db, r, x, ga, mean, rstd, M, C);
        near_torch("layernorm y", y, gget(&g, "ln.y", M * C), M * C);
        near_torch("layernorm dx", dx, gget(&g, "ln.dx", M * C), M * C);
        near_torch("layernorm dgamma", dg, gget(&g, "ln.dg", C), C);
        near_torch("layernorm dbeta", db, gget(&g, "ln.db", C), C);
    }
    {   /* gelu */
        float *x = gget(&g, "gelu.x", 50), *r = gget(&g, "gelu.r", 50), *y = fz(50), *dx = fz(50);
        pare_g_gelu_fwd(y, x, 50);
        pare_g_gelu_bwd(dx, x, r, 50);
        near_torch("gelu y", y, gget(&g, "gelu.y", 50), 50);
        near_torch("gelu dx", dx, gget(&g, "gelu.dx", 50), 50);
    }
    {   /* rmsnorm, swiglu, rope (HF Llama's formulas) */
        const int64_t M = 5, C = 12, NH = 3, D = 8, n = M * C;
        float *x = gget(&g, "rms.x", n), *ga = gget(&g, "rms.g", C), *r = gget(&g, "rms.r", n);
        float *y = fz(n), *rs = fz(M), *dx = fz(n), *dg = fz(C);
        pare_g_rmsnorm_fwd(y, rs, x, ga, M, C, 1e-6f);
        pare_g_rmsnorm_bwd(dx, dg, r, x, ga, rs, M, C);
        near_torch("rmsnorm y", y, gget(&g, "rms.y", n), n);
        near_torch("rmsnorm dx", dx, gget(&g, "rms.dx", n), n);
        near_torch("rmsnorm dgamma", dg, gget(&g, "rms.dg", C), C);
        float *a = gget(&g, "swi.a", n), *b = gget(&g, "swi.b", n), *sr = gget(&g, "swi.r", n), *da = fz(n), *db = fz(n);
        pare_g_swiglu_fwd(y, a, b, n);
        pare_g_swiglu_bwd(da, db, sr, a, b, n);
        near_torch("swiglu y", y, gget(&g, "swi.y", n), n);
        near_torch("swiglu dgate", da, gget(&g, "swi.da", n), n);
        near_torch("swiglu dup", db, gget(&g, "swi.db", n), n);
        const int64_t nr = M * NH * D;
        float *rx = gget(&g, "rope.x", nr), *rr = gget(&g, "rope.r", nr), *ry = fz(nr), *rdx = fz(nr), *pf = gget(&g, "rope.pos", M);
        int32_t pos[5];
        for (int i = 0; i < 5; i++) pos[i] = (int32_t)pf[i];
        pare_g_rope_fwd(ry, rx, pos, M, NH, D, 10000.0);
        pare_g_rope_bwd(rdx, rr, pos, M, NH, D, 10000.0);
        near_torch("rope y", ry, gget(&g, "rope.y", nr), nr);
        near_torch("rope dx", rdx, gget(&g, "rope.dx", nr), nr);
    }
    /* attention on B 2, T 6: multi-head (C 8, 2 heads) and grouped-query
     * (C 16, 4 query heads on 2 kv heads), padding mask and causal */
    static const struct { const char *name, *pfx; int64_t C, NH, NKV; int causal; } at[] = {
        {"attention", "att.", 8, 2, 2, 0},     {"attention", "attc.", 8, 2, 2, 1},
        {"GQA attention", "gqa.", 16, 4, 2, 0}, {"GQA attention", "gqac.", 16, 4, 2, 1}};
    for (size_t v = 0; v < sizeof at / sizeof at[0]; v++) {
        const int64_t B = 2, T = 6, C = at[v].C, NH = at[v].NH, NKV = at[v].NKV, n = B * T * (C + 2 * NKV * (C / NH));
        char nm[32], what[64];
        float *m = gget(&g, "att.mask", B * T);
        int8_t mask[12];
        for (int i = 0; i < 12; i++) mask[i] = m[i] != 0;
        snprintf(nm, sizeof nm, "%sqkv", at[v].pfx);
        float *qkv = gget(&g, nm, n);
        snprintf(nm, sizeof nm, "%sr", at[v].pfx);
        float *r = gget(&g, nm, B * T * C), *o = fz(B * T * C), *att = fz(B * NH * T * T), *d = fz(n);
        pare_g_attention_fwd(o, att, qkv, at[v].causal ? NULL : mask, B, T, C, NH, NKV, at[v].causal);
        pare_g_attention_bwd(d, r, qkv, att, B, T, C, NH, NKV);
        snprintf(nm, sizeof nm, "%sout", at[v].pfx);
        snprintf(what, sizeof what, "%s out (%s)", at[v].name, at[v].causal ? "causal" : "mask");
        near_torch(what, o, gget(&g, nm, B * T * C), B * T * C);
        snprintf(nm, sizeof nm, "%sdqkv", at[v].pfx);
        snprintf(what, sizeof what, "%s dqkv (%s)", at[v].name, at[v].causal ? "causal" : "mask");
        near_torch(what, d, gget(&g, nm, n), n);
    }
    {   /* losses */
        const int64_t B = 4, L = 5;
        float *s = gget(&g, "loss.s", B * L), *t = gget(&g, "loss.t", B * L), *y = gget(&g, "loss.y", B * L);
        float *lf = gget(&g, "loss.labels", B), *ds = fz(B * L);
        int32_t labels[4];
        for (int i = 0; i < 4; i++) labels[i] = (int32_t)lf[i];
        float l = pare_g_bce_logits(ds, s, y, B * L);
        near_torch("bce loss", &l, gget(&g, "bce.loss", 1), 1);
        near_torch("bce dlogits", ds, gget(&g, "bce.ds", B * L), B * L);
        l = pare_g_softmax_ce(ds, s, labels, B, L);
        near_torch("cross-entropy loss", &l, gget(&g, "ce.loss", 1), 1);
        near_torch("cross-entropy dlogits", ds, gget(&g, "ce.ds", B * L), B * L);
        l = pare_g_distill_loss(ds, s, t, y, labels, B, L, 1, 2.0f, 0.5f);
        near_torch("distill (sigmoid) loss", &l, gget(&g, "kds.loss", 1), 1);
        near_torch("distill (sigmoid) dlogits", ds, gget(&g, "kds.ds", B * L), B * L);
        l = pare_g_distill_loss(ds, s, t, y, labels, B, L, 0, 2.0f, 0.5f);
        near_torch("distill (softmax) loss", &l, gget(&g, "kdm.loss", 1), 1);
        near_torch("distill (softmax) dlogits", ds, gget(&g, "kdm.ds", B * L), B * L);
    }
}

static void test_adamw(void **state) {
    (void)state;
    pare_adamw_opts o = pare_adamw_defaults();
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.25f}, m[2] = {0}, v[2] = {0};
    pare_adamw_step(p, g, m, v, 2, &o, 1, 0.1, true, 1.0f);
    /* step 1: m/(1-b1) = g, v/(1-b2) = g^2, so the update is lr * (sign(g) + wd * p) */
    assert_float_equal(p[0], 1.0f - 0.1f * (1.0f + 0.01f * 1.0f), 1e-6);
    assert_float_equal(p[1], -2.0f - 0.1f * (-1.0f + 0.01f * -2.0f), 1e-6);
    float a[2] = {3, 4}, b[1] = {12};
    float *gs[2] = {a, b};
    const int64_t ns[2] = {2, 1};
    assert_float_equal(pare_clip_grad_norm(gs, ns, 2, 6.5), 13.0, 1e-9);
    assert_float_equal(a[0], 3 * 6.5 / 13.0, 1e-5);
    assert_float_equal(b[0], 12 * 6.5 / 13.0, 1e-5);
    /* the clipping factor folded into the step: 0.5 on 2 g is the step on g */
    float p1[2] = {1.0f, -2.0f}, p2[2] = {1.0f, -2.0f}, g2[2] = {1.0f, -0.5f}, m1[2] = {0}, v1[2] = {0}, m2[2] = {0}, v2[2] = {0};
    for (int st = 1; st <= 3; st++) {
        pare_adamw_step(p1, g, m1, v1, 2, &o, st, 0.1, true, 1.0f);
        pare_adamw_step(p2, g2, m2, v2, 2, &o, st, 0.1, true, 0.5f);
    }
    assert_float_equal(p1[0], p2[0], 1e-6);
    assert_float_equal(p1[1], p2[1], 1e-6);
    /* the pooled norm (fixed chunks) against the plain one; the factor */
    const int64_t nb = 200003;
    float *gb = fz(nb);
    for (int64_t i = 0; i < nb; i++) gb[i] = (float)unif();
    pare_err err = {0};
    pare_pool *pool = pare_pool_create(3, &err);
    assert_non_null(pool);
    const double pooled = pare_grad_norm_pool(gb, nb, pool), plain = pare_clip_grad_norm(&gb, &nb, 1, 0);
    pare_pool_free(pool);
    assert_float_equal(pooled, plain, 1e-9 * plain);
    assert_float_equal(pare_grad_norm_pool(gb, nb, NULL), pooled, 0); /* no pool: same chunks, same sum */
    assert_float_equal(pare_clip_factor(13.0, 6.5), 6.5 / (13.0 + 1e-6), 1e-7);
    assert_true(pare_clip_factor(5.0, 6.5) == 1.0f && pare_clip_factor(13.0, 0) == 1.0f);
    assert_float_equal(pare_lr_linear(1.0, 5, 10, 110), 0.5, 1e-12);
    assert_float_equal(pare_lr_linear(1.0, 60, 10, 110), 0.5, 1e-12);
    assert_float_equal(pare_lr_linear(1.0, 110, 10, 110), 0.0, 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_linear, release),      cmocka_unit_test_teardown(test_layernorm, release),
        cmocka_unit_test_teardown(test_elementwise, release), cmocka_unit_test_teardown(test_attention, release),
        cmocka_unit_test_teardown(test_train_avx512, release),
        cmocka_unit_test_teardown(test_llama_ops, release),
        cmocka_unit_test_teardown(test_embed, release),       cmocka_unit_test_teardown(test_losses, release),
        cmocka_unit_test_teardown(test_torch, release),       cmocka_unit_test_teardown(test_adamw, release)};
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
