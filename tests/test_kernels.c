/* CPU kernels: every fast kernel against its plain reference on random
 * data, for ragged shapes, every implementation this CPU has, every
 * activation, and pools of 1 and 3 threads.
 *
 * Tolerances (stated relative to the size of the result; the constants and
 * what they were measured against are below the includes):
 *   GEMM, sgemm max|diff| <= GEMM_TOL * (1 + max|ref|) * max(1, k / 768)
 *               (fp32 accumulation in a different order vs double)
 *   activations max|diff| <= ACT_TOL * (1 + |ref|) per element (the fast erf
 *               is within 1e-7 of erf; the reference is libm in double)
 *   layernorm   max|diff| <= LN_TOL * (1 + max|ref|), also with the residual add fused
 *   attention   max|diff| <= ATTN_TOL * (1 + max|ref|) */
#include "testutil.h"
#include "kernels/cpu/kern_internal.h"

/* The tolerances (see the top), each about 2-3x the largest error measured
 * over every shape, ISA and pool (Sapphire Rapids, session 9; tu_err prints
 * the share each run uses): */
#define GEMM_TOL 3e-6    /* measured 0.36 of it */
#define SGEMM_TOL 3e-6   /* of (1 + max|C|) * max(1, K / 768); measured 0.35 of it */
#define ACT_TOL 3e-7     /* per element, of (1 + |ref|); measured 0.46 */
#define LN_TOL 1e-6      /* measured 0.53 */
#define ATTN_TOL 2e-6    /* measured 0.33 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool quick(void) {
    const char *q = getenv("PARE_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

static float *rand_buf(int64_t n, uint64_t *st, float lo, float hi) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = tu_randf(st, lo, hi);
    return p;
}

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static const pare_act all_acts[] = {PARE_ACT_NONE, PARE_ACT_GELU_ERF, PARE_ACT_GELU_TANH,
                                    PARE_ACT_RELU, PARE_ACT_SILU};
#define N_ACTS (int)(sizeof all_acts / sizeof all_acts[0])

/* Every per-ISA instance of the row kernels this CPU can run (the public
 * functions only reach the best one). */
typedef struct {
    const char *name;
    bool ok;
    void (*act)(float *, int64_t, pare_act);
    void (*ln)(const float *, const float *, const float *, const float *, float *, int64_t,
               int64_t, int64_t, float);
    void (*attn)(const pare_attn_args *, pare_pool *);
} isa_fns;

static int isa_list(isa_fns out[3]) {
    pare_isa best = pare_rowops_isa();
    isa_fns all[3] = {
        {"generic", true, pare_act_generic, pare_layernorm_rows_generic, pare_attention_generic},
        {"avx2", best >= PARE_ISA_AVX2, pare_act_avx2, pare_layernorm_rows_avx2,
         pare_attention_avx2},
        {"avx512", best >= PARE_ISA_AVX512, pare_act_avx512, pare_layernorm_rows_avx512,
         pare_attention_avx512},
    };
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (all[i].ok) out[n++] = all[i];
    return n;
}

static void test_impl_names(void **state) {
    (void)state;
    pare_kernel_impl k;
    assert_true(pare_kernel_impl_parse("avx512", &k));
    assert_int_equal(k, PARE_KERNEL_AVX512);
    assert_true(pare_kernel_impl_parse("blas", &k));
    assert_false(pare_kernel_impl_parse("sse9", &k));
    assert_string_equal(pare_kernel_impl_name(PARE_KERNEL_REF), "ref");
    pare_kernel_impl a = pare_kernel_resolve(PARE_KERNEL_AUTO);
    assert_true(a != PARE_KERNEL_AUTO);
    assert_int_equal(pare_kernel_resolve(PARE_KERNEL_REF), PARE_KERNEL_REF);
    assert_int_equal(pare_kernel_resolve(PARE_KERNEL_BLAS), PARE_KERNEL_BLAS);
    pare_cpu_features f;
    pare_cpu_detect(&f);
    if (!f.avx512f) assert_int_not_equal(pare_kernel_resolve(PARE_KERNEL_AVX512), PARE_KERNEL_AVX512);
}

static void test_linear_init_errors(void **state) {
    (void)state;
    pare_arena *ar = pare_arena_create(0);
    pare_err err = {0};
    pare_linear l;
    float w[4] = {0};
    assert_int_equal(pare_linear_init(&l, w, NULL, 0, 4, PARE_KERNEL_AUTO, ar, &err),
                     PARE_ERR_INVALID);
    assert_non_null(strstr(err.msg, "pare_linear_init"));
    assert_int_equal(pare_linear_init(&l, NULL, NULL, 1, 4, PARE_KERNEL_AUTO, ar, &err),
                     PARE_ERR_INVALID);
    assert_int_equal(pare_linear_init(&l, w, NULL, 1, 4, (pare_kernel_impl)9, ar, &err),
                     PARE_ERR_INVALID);
    assert_int_equal(pare_linear_init(&l, w, NULL, INT64_MAX / 2, 4, PARE_KERNEL_AUTO, ar, &err),
                     PARE_ERR_INVALID);
    pare_arena_free(ar);
}

/* One shape: every impl x pool x activation against the reference. */
static void check_gemm(int64_t m, int64_t n, int64_t k, bool with_bias, pare_pool **pools,
                       int n_pools, uint64_t *st) {
    float *x = rand_buf(m * k, st, -1, 1), *w = rand_buf(n * k, st, -1, 1);
    float *bias = with_bias ? rand_buf(n, st, -1, 1) : NULL;
    float *ref = malloc((size_t)(m * n) * sizeof *ref), *ref_act = malloc((size_t)(m * n) * 4);
    const int64_t guard = 32;
    float *y = malloc((size_t)(m * n + guard) * sizeof *y);
    assert_non_null(ref);
    assert_non_null(ref_act);
    assert_non_null(y);
    pare_gemm_ref_f32(x, w, bias, ref, m, n, k);
    double tol_base = GEMM_TOL * (k > 768 ? (double)k / 768.0 : 1.0);
    pare_arena *ar = pare_arena_create(0);
    for (int impl = PARE_KERNEL_REF; impl <= PARE_KERNEL_AVX512; impl++) {
        if ((int)pare_kernel_resolve((pare_kernel_impl)impl) != impl) continue; /* CPU lacks it */
        pare_linear l;
        pare_err err = {0};
        tu_assert_ok(pare_linear_init(&l, w, bias, n, k, (pare_kernel_impl)impl, ar, &err), &err);
        assert_int_equal((int)l.impl, impl);
        for (int a = 0; a < N_ACTS; a++) {
            memcpy(ref_act, ref, (size_t)(m * n) * sizeof *ref);
            pare_act_ref_f32(ref_act, m * n, all_acts[a]);
            double tol = tol_base * (1.0 + max_abs(ref_act, m * n));
            for (int p = 0; p < n_pools; p++) {
                for (int64_t i = 0; i < m * n + guard; i++) y[i] = 12345.0f;
                pare_linear_forward(&l, x, m, y, all_acts[a], pools[p]);
                double d = tu_max_abs_diff(y, ref_act, m * n);
                if (!tu_err("gemm", d, tol))
                    fail_msg("gemm %s m=%lld n=%lld k=%lld bias=%d act=%d threads=%d: "
                             "max diff %g > tol %g",
                             pare_kernel_impl_name((pare_kernel_impl)impl), (long long)m,
                             (long long)n, (long long)k, with_bias, a, pare_pool_size(pools[p]),
                             d, tol);
                for (int64_t i = m * n; i < m * n + guard; i++) assert_true(y[i] == 12345.0f);
            }
        }
    }
    pare_arena_free(ar);
    free(x);
    free(w);
    free(bias);
    free(ref);
    free(ref_act);
    free(y);
}

static void test_gemm_shapes(void **state) {
    (void)state;
    pare_err err = {0};
    pare_pool *p3 = pare_pool_create(3, &err);
    assert_non_null(p3);
    pare_pool *pools[2] = {NULL, p3};
    uint64_t st = 0x9e3779b97f4a7c15ull;
    static const int64_t ms[] = {1, 2, 3, 5, 7, 13, 64, 128, 129, 300};
    static const int64_t nk[][2] = {{1, 1},   {15, 17}, {17, 33}, {33, 15},  {100, 385},
                                    {385, 100}, {48, 64}, {64, 48}, {16, 300}, {97, 257},
                                    {40, 1100}};
    int nm = quick() ? 6 : (int)(sizeof ms / sizeof ms[0]);
    for (int i = 0; i < nm; i++)
        for (size_t s = 0; s < sizeof nk / sizeof nk[0]; s++)
            check_gemm(ms[i], nk[s][0], nk[s][1], (i + s) % 3 != 0, pools, 2, &st);
    pare_pool_free(p3);
}

static void test_gemm_bert_shape(void **state) {
    (void)state;
    pare_err err = {0};
    pare_pool *p2 = pare_pool_create(2, &err);
    assert_non_null(p2);
    pare_pool *pools[1] = {p2};
    uint64_t st = 42;
    if (quick()) check_gemm(128, 384, 1536, true, pools, 1, &st); /* the sanitizer run: MiniLM's FFN at seq 128 */
    else check_gemm(128, 768, 3072, true, pools, 1, &st);
    pare_pool_free(p2);
}

/* pare_sgemm, every transpose and start (bias, zero, accumulate), ragged
 * panels, strided operands, and K cut into chunks by a short workspace;
 * against the double reference. */
static void test_sgemm(void **state) {
    (void)state;
    pare_err err = {0};
    pare_pool *p3 = pare_pool_create(3, &err);
    assert_non_null(p3);
    uint64_t st = 7;
    static const int64_t shapes[][3] = {{1, 1, 1}, {5, 50, 7}, {17, 48, 200}, {64, 100, 33}, {130, 97, 300}, {9, 384, 1024}};
    const pare_kernel_impl impls[2] = {PARE_KERNEL_BLAS, pare_kernel_resolve(PARE_KERNEL_AUTO)};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int v = 0; v < 16; v++) {
            const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], pad = 3;
            pare_sgemm_args g = {.ta = v & 1, .tb = (v >> 1) & 1, .accumulate = (v >> 2) == 1, .M = M, .N = N, .K = K};
            g.lda = (g.ta ? M : K) + pad;
            g.ldb = (g.tb ? K : N) + pad;
            g.ldc = N + pad;
            float *a = rand_buf((g.ta ? K : M) * g.lda, &st, -1, 1), *b = rand_buf((g.tb ? N : K) * g.ldb, &st, -1, 1);
            float *bias = (v >> 2) == 2 ? rand_buf(N, &st, -1, 1) : NULL;
            float *c0 = rand_buf(M * g.ldc, &st, -1, 1), *want = malloc(sizeof(float) * (size_t)(M * g.ldc));
            g.A = a, g.B = b, g.bias = bias;
            const bool chunked = (v >> 2) == 3; /* a workspace of 2 rows of panels: K in chunks of 1 */
            /* the bias variants also give the A^T blocks room in ws */
            const int64_t wsn = chunked ? pare_sgemm_ws_min(N)
                                        : pare_sgemm_ws_full(N, K) + ((v >> 2) == 2 ? pare_sgemm_ws_threads(3) : 0);
            float *ws = malloc(sizeof(float) * (size_t)wsn), *got = malloc(sizeof(float) * (size_t)(M * g.ldc));
            assert_non_null(want), assert_non_null(ws), assert_non_null(got);
            memcpy(want, c0, sizeof(float) * (size_t)(M * g.ldc));
            g.C = want;
            pare_sgemm_ref(&g);
            double cmax = 0;
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) cmax = fmax(cmax, fabs(want[i * g.ldc + j]));
            for (int im = 0; im < 2; im++) {
                memcpy(got, c0, sizeof(float) * (size_t)(M * g.ldc));
                g.C = got;
                pare_sgemm(&g, impls[im], ws, wsn, im ? p3 : NULL);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < g.ldc; j++) {
                        const float w = want[i * g.ldc + j], x = got[i * g.ldc + j];
                        if (j >= N) assert_true(x == c0[i * g.ldc + j]); /* the padding is not touched */
                        else if (!tu_err("sgemm", fabsf(w - x), SGEMM_TOL * (1 + cmax) * fmax(1.0, (double)K / 768)))
                            fail_msg("sgemm %s M %lld N %lld K %lld variant %d: [%lld, %lld] %g, want %g",
                                     pare_kernel_impl_name(impls[im]), (long long)M, (long long)N, (long long)K, v,
                                     (long long)i, (long long)j, x, w);
                    }
            }
            free(a), free(b), free(bias), free(c0), free(want), free(ws), free(got);
        }
    pare_pool_free(p3);
}

static void test_act(void **state) {
    (void)state;
    uint64_t st = 7;
    const int64_t n = 1037;
    float *x = rand_buf(n, &st, -12, 12);
    static const float special[] = {0.0f, -0.0f, 100.0f, -100.0f, 1e-8f, -1e-8f, 0.5f, -3.0f,
                                    88.0f, -88.0f, 1e30f, -1e30f};
    memcpy(x, special, sizeof special);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    isa_fns isas[3];
    int n_isa = isa_list(isas);
    for (int is = 0; is <= n_isa; is++) {
        for (int k = 0; k < N_ACTS; k++) {
            for (int64_t len = 0; len <= n; len += (len < 40 ? 1 : 331)) {
                memcpy(a, x, n * sizeof *a);
                memcpy(b, x, n * sizeof *b);
                if (is == n_isa) pare_act_f32(a, len, all_acts[k]); /* public dispatch */
                else isas[is].act(a, len, all_acts[k]);
                pare_act_ref_f32(b, len, all_acts[k]);
                for (int64_t i = 0; i < n; i++) {
                    double tol = ACT_TOL * (1.0 + fabs(b[i]));
                    if (!tu_err("activations", fabs((double)a[i] - b[i]), tol))
                        fail_msg("act %d (%s) len %lld x=%g: fast %.9g ref %.9g", k,
                                 is == n_isa ? "public" : isas[is].name, (long long)len, x[i], a[i],
                                 b[i]);
                }
            }
        }
    }
    /* add */
    float *y = rand_buf(n, &st, -1, 1);
    memcpy(a, x, n * sizeof *a);
    pare_add_f32(a, y, n);
    for (int64_t i = 0; i < n; i++) assert_true(a[i] == x[i] + y[i]);
    free(x);
    free(y);
    free(a);
    free(b);
}

static void test_layernorm(void **state) {
    (void)state;
    pare_err err = {0};
    pare_pool *p3 = pare_pool_create(3, &err);
    assert_non_null(p3);
    uint64_t st = 11;
    static const int64_t dims[] = {1, 7, 33, 384, 768, 1000};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        int64_t dim = dims[di], rows = dim > 100 ? 70 : 5;
        float *x = rand_buf(rows * dim, &st, -2, 2);
        for (int64_t i = 0; i < rows * dim; i++) x[i] += 5.0f; /* offset mean: needs 2 passes */
        float *g = rand_buf(dim, &st, 0.5f, 1.5f), *b = rand_buf(dim, &st, -0.5f, 0.5f);
        float *ref = malloc((size_t)(rows * dim) * 4), *y = malloc((size_t)(rows * dim) * 4);
        assert_non_null(ref);
        assert_non_null(y);
        pare_layernorm_ref_f32(x, g, b, ref, rows, dim, 1e-12f);
        double tol = LN_TOL * (1.0 + max_abs(ref, rows * dim));
        pare_pool *pools[2] = {NULL, p3};
        for (int p = 0; p < 2; p++) {
            pare_layernorm_f32(x, g, b, y, rows, dim, 1e-12f, pools[p]);
            double d = tu_max_abs_diff(y, ref, rows * dim);
            if (!tu_err("layernorm", d, tol)) fail_msg("layernorm dim %lld: diff %g > %g", (long long)dim, d, tol);
        }
        memcpy(y, x, (size_t)(rows * dim) * 4); /* in place */
        pare_layernorm_f32(y, g, b, y, rows, dim, 1e-12f, p3);
        assert_true(tu_err("layernorm", tu_max_abs_diff(y, ref, rows * dim), tol));
        isa_fns isas[3];
        for (int is = 0, n_isa = isa_list(isas); is < n_isa; is++) {
            isas[is].ln(x, NULL, g, b, y, 0, rows, dim, 1e-12f);
            double d = tu_max_abs_diff(y, ref, rows * dim);
            if (!tu_err("layernorm", d, tol))
                fail_msg("layernorm %s dim %lld: diff %g > %g", isas[is].name, (long long)dim, d,
                         tol);
        }
        /* fused residual add: layernorm(h + x) with h = x - 5 + noise, against
         * the reference on the same operands, in place on either one */
        float *h = rand_buf(rows * dim, &st, -3, 3), *hc = malloc((size_t)(rows * dim) * 4);
        float *xc = malloc((size_t)(rows * dim) * 4);
        assert_non_null(hc);
        assert_non_null(xc);
        pare_add_layernorm_ref_f32(h, x, g, b, ref, rows, dim, 1e-12f);
        tol = LN_TOL * (1.0 + max_abs(ref, rows * dim));
        for (int p = 0; p < 2; p++) {
            pare_add_layernorm_f32(h, x, g, b, y, rows, dim, 1e-12f, pools[p]);
            double d = tu_max_abs_diff(y, ref, rows * dim);
            if (!tu_err("layernorm", d, tol)) fail_msg("add+layernorm dim %lld: diff %g > %g", (long long)dim, d, tol);
        }
        memcpy(hc, h, (size_t)(rows * dim) * 4);
        memcpy(xc, x, (size_t)(rows * dim) * 4);
        pare_add_layernorm_f32(hc, xc, g, b, xc, rows, dim, 1e-12f, p3); /* y = res */
        assert_true(tu_err("layernorm", tu_max_abs_diff(xc, ref, rows * dim), tol));
        memcpy(xc, x, (size_t)(rows * dim) * 4);
        pare_add_layernorm_f32(hc, xc, g, b, hc, rows, dim, 1e-12f, NULL); /* y = x */
        assert_true(tu_err("layernorm", tu_max_abs_diff(hc, ref, rows * dim), tol));
        for (int is = 0, n_isa = isa_list(isas); is < n_isa; is++) {
            isas[is].ln(h, x, g, b, y, 0, rows, dim, 1e-12f);
            double d = tu_max_abs_diff(y, ref, rows * dim);
            if (!tu_err("layernorm", d, tol))
                fail_msg("add+layernorm %s dim %lld: diff %g > %g", isas[is].name, (long long)dim,
                         d, tol);
        }
        free(h);
        free(hc);
        free(xc);
        free(x);
        free(g);
        free(b);
        free(ref);
        free(y);
    }
    pare_pool_free(p3);
}

static void check_attention(int64_t B, int64_t T, int64_t H, int64_t D, int mask_kind, bool causal,
                            pare_pool *pool, const isa_fns *isa, uint64_t *st) {
    int64_t HD = H * D, ld = 3 * HD + 5;
    float *qkv = rand_buf(B * T * ld, st, -2, 2);
    int32_t *mask = NULL;
    if (mask_kind) {
        mask = malloc((size_t)(B * T) * sizeof *mask);
        assert_non_null(mask);
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++)
                /* kind 1: padding at the end of later sequences; kind 2: also
                 * one sequence with every key masked */
                mask[b * T + t] = (mask_kind == 2 && b == B - 1) ? 0 : (t < T - b * (T / 3 + 1));
    }
    float *ref = malloc((size_t)(B * T * HD) * 4), *out = malloc((size_t)(B * T * HD) * 4);
    assert_non_null(ref);
    assert_non_null(out);
    pare_attn_args a = {qkv, qkv + HD, qkv + 2 * HD, ld, ref, B, T, H, D, mask,
                        1.0f / sqrtf((float)D), causal};
    pare_attention_ref_f32(&a);
    a.out = out;
    for (int64_t i = 0; i < B * T * HD; i++) out[i] = NAN;
    if (isa) isa->attn(&a, pool);
    else pare_attention_f32(&a, pool);
    double tol = ATTN_TOL * (1.0 + max_abs(ref, B * T * HD));
    double d = tu_max_abs_diff(out, ref, B * T * HD);
    if (!tu_err("attention", d, tol))
        fail_msg("attention %s B=%lld T=%lld H=%lld D=%lld mask=%d causal=%d: diff %g > %g",
                 isa ? isa->name : "public", (long long)B, (long long)T, (long long)H,
                 (long long)D, mask_kind, causal, d, tol);
    if (mask_kind == 2) /* fully masked rows are defined as 0 */
        for (int64_t i = (B - 1) * T * HD; i < B * T * HD; i++) assert_true(out[i] == 0.0f);
    free(qkv);
    free(mask);
    free(ref);
    free(out);
}

static void test_attention(void **state) {
    (void)state;
    pare_err err = {0};
    pare_pool *p3 = pare_pool_create(3, &err);
    assert_non_null(p3);
    uint64_t st = 99;
    static const int64_t Ts[] = {1, 5, 37, 128, 130};
    static const int64_t Ds[] = {1, 7, 32, 64, 130};
    for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++)
        for (size_t di = 0; di < sizeof Ds / sizeof Ds[0]; di++)
            for (int mk = 0; mk < 3; mk++)
                for (int causal = 0; causal < 2; causal++)
                    check_attention(2, Ts[ti], 3, Ds[di], mk, causal, (ti + di) % 2 ? p3 : NULL,
                                    NULL, &st);
    isa_fns isas[3];
    int n_isa = isa_list(isas);
    for (int is = 0; is < n_isa; is++)
        for (int mk = 0; mk < 3; mk++)
            for (int causal = 0; causal < 2; causal++) {
                check_attention(2, 37, 2, 7, mk, causal, p3, &isas[is], &st);
                check_attention(1, 130, 2, 64, mk, causal, NULL, &isas[is], &st);
                check_attention(2, 70, 1, 130, mk, causal, p3, &isas[is], &st);
            }
    pare_pool_free(p3);
}

static void test_peak(void **state) {
    (void)state;
    pare_err err = {0};
    pare_pool *p2 = pare_pool_create(2, &err);
    assert_non_null(p2);
    double g = pare_measure_fma_peak(p2, 0.02);
    assert_true(g > 0.1 && g < 1e6);
    pare_pool_free(p2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impl_names),    cmocka_unit_test(test_linear_init_errors),
        cmocka_unit_test(test_gemm_shapes),   cmocka_unit_test(test_gemm_bert_shape),
        cmocka_unit_test(test_sgemm),
        cmocka_unit_test(test_act),           cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_attention),     cmocka_unit_test(test_peak),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
