/* Bitmap-sparse weights (include/pare/sparse.h) against the dense product
 * of the same f16 weights in double: random sparsity 0..100%, 2:4, and
 * adversarial rows (empty, fully dense, a single value at either end),
 * k not a multiple of 8 or 32, 1..6 x rows, with bias, one thread and a
 * pool; every kernel this CPU runs (plain C, AVX2, AVX-512 VBMI2), through
 * pools capped at each ISA. The blocked f32 format likewise (plain C,
 * AVX-512). Tolerances: of the sum of |products|, about 3x the measured
 * error (SPARSE_TOL below). */
#include "testutil.h"
#include "pare/core.h"
#include "pare/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double unif(uint64_t *s) { return (double)(pare_splitmix64(s) >> 11) / 9007199254740992.0; }

/* Weights w [n][k] (f32 values; f16 ones converted) and inputs: the
 * reference yr and the kernel's y against the dense product in double,
 * tolerances relative to the sum of |products|. relu: y is max(0, .). */
typedef struct setup {
    int64_t n, k, m;
    double density;
    int pattern, kernel;
    const char *what;
} setup;

/* f32 accumulation against double, of the sum of |products| (measured 0.32
 * to 0.56 of it over the kernels; the double references within 1e-9) */
#define SPARSE_TOL 4e-7

/* Pools of 1 and 2 threads capped at each ISA (ref: plain C, avx2, avx512),
 * NULL where this CPU cannot run it. */
static pare_pool *isa_pools[3][2];
static const pare_kernel_impl isa_caps[3] = {PARE_KERNEL_REF, PARE_KERNEL_AVX2, PARE_KERNEL_AVX512};

static int setup_pools(void **state) {
    (void)state;
    pare_err err = {0};
    for (int i = 0; i < 3; i++) {
        if (i && pare_kernel_resolve(isa_caps[i]) != isa_caps[i]) {
            print_message("variant sparse %s: not run (this CPU cannot run it)\n", pare_kernel_impl_name(isa_caps[i]));
            continue;
        }
        for (int t = 0; t < 2; t++) {
            isa_pools[i][t] = pare_pool_create(t + 1, &err);
            pare_pool_cap_kernels(isa_pools[i][t], isa_caps[i]);
        }
    }
    return 0;
}

static int free_pools(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 2; t++) pare_pool_free(isa_pools[i][t]);
    return 0;
}

static void compare(const setup *t, const float *w, const float *x, const float *bias, const float *yr, const float *y, bool relu) {
    const int64_t n = t->n, k = t->k;
    for (int64_t i = 0; i < t->m; i++)
        for (int64_t r = 0; r < n; r++) {
            double d = bias[r], l1 = fabs(bias[r]);
            for (int64_t c = 0; c < k; c++) {
                const double p = (double)w[r * k + c] * x[i * k + c];
                d += p;
                l1 += fabs(p);
            }
            assert_true(fabs(yr[i * n + r] - d) <= 1e-9 * l1 + 1e-7 * fabs(d) + 1e-12); /* ref: double, then rounded */
            const double want = relu && d < 0 ? 0 : d;
            char fam[64];
            snprintf(fam, sizeof fam, "%s %s", t->what, pare_kernel_impl_name(isa_caps[t->kernel]));
            if (!tu_err(fam, fabs(y[i * n + r] - want), SPARSE_TOL * l1 + 1e-7))
                fail_msg("%s kernel %d n %lld k %lld m %lld density %.2f pattern %d: y[%lld][%lld] = %g, want %g", t->what, t->kernel,
                         (long long)n, (long long)k, (long long)t->m, t->density, t->pattern, (long long)i, (long long)r, y[i * n + r], want);
        }
}

/* keep weight (r, c) of an n x k matrix: random at density, 2:4 (pattern 1),
 * or adversarial rows (2: empty, dense, first only, last only) */
static bool keep_at(int64_t r, int64_t c, int64_t k, double density, int pattern, uint64_t *seed) {
    bool keep = unif(seed) < density;
    if (pattern == 1) keep = (c % 4) == (r % 4) || (c % 4) == ((r + 1) % 4);
    if (pattern == 2) keep = r % 4 == 0 ? false : r % 4 == 1 ? true : r % 4 == 2 ? c == 0 : c == k - 1;
    return keep;
}

static void check(int64_t n, int64_t k, int64_t m, double density, int pattern, int threads, uint64_t *seed) {
    uint16_t *w = malloc(sizeof(uint16_t) * (size_t)(n * k));
    float *x = malloc(sizeof(float) * (size_t)(m * k)), *y = malloc(sizeof(float) * (size_t)(m * n));
    float *yr = malloc(sizeof(float) * (size_t)(m * n)), *bias = malloc(sizeof(float) * (size_t)n);
    for (int64_t r = 0; r < n; r++) {
        bias[r] = (float)(unif(seed) - 0.5);
        for (int64_t c = 0; c < k; c++)
            w[r * k + c] = keep_at(r, c, k, density, pattern, seed) ? pare_f32_to_f16((float)(unif(seed) * 2 - 1))
                                                                   : (r % 2 ? 0x8000 : 0); /* -0 too */
    }
    for (int64_t i = 0; i < m * k; i++) x[i] = (float)(unif(seed) * 2 - 1);
    pare_arena *a = pare_arena_create(1 << 20);
    pare_sparse s;
    pare_err err = {0};
    tu_assert_ok(pare_sparse_build(PARE_Q_F16, w, n, k, a, &s, &err), &err);
    assert_int_equal(s.nnz, n * k - pare_count_zeros(PARE_Q_F16, w, n, k));
    pare_sparse_matmul_ref(&s, x, m, yr, bias);
    float *wf = malloc(sizeof(float) * (size_t)(n * k));
    for (int64_t i = 0; i < n * k; i++) wf[i] = pare_f16_to_f32(w[i]);
    for (int kernel = 0; kernel < 3; kernel++) { /* plain C, AVX2, AVX-512 VBMI2 (where s.vbmi2) */
        pare_pool *pool = isa_pools[kernel][threads - 1];
        if (!pool) continue;
        tu_assert_ok(pare_sparse_matmul(pool, &s, x, m, y, bias, &err), &err);
        const setup t = {n, k, m, density, pattern, kernel, "bitmap"};
        compare(&t, wf, x, bias, yr, y, false);
    }
    pare_arena_free(a);
    free(wf);
    free(w);
    free(x);
    free(y);
    free(yr);
    free(bias);
}

static void test_sparse(void **state) {
    (void)state;
    uint64_t seed = 5;
    const double dens[] = {0.0, 0.05, 0.3, 0.5, 0.7, 1.0};
    const int64_t ks[] = {8, 13, 32, 64, 77, 100, 576};
    for (size_t d = 0; d < sizeof dens / sizeof dens[0]; d++)
        for (size_t kk = 0; kk < sizeof ks / sizeof ks[0]; kk++)
            for (int64_t m = 1; m <= 6; m++) check(37, ks[kk], m, dens[d], 0, m % 2 ? 2 : 1, &seed);
    for (int64_t m = 1; m <= 5; m++) {
        check(64, 576, m, 0, 1, 2, &seed); /* 2:4 */
        check(40, 77, m, 0, 2, 2, &seed);  /* empty, dense, first-only, last-only rows */
    }
    check(300, 1536, 1, 0.3, 0, 2, &seed); /* threaded */
}

/* The blocked f32 format (pare_spmm) against the dense product in double:
 * same patterns, k across block boundaries, token counts across the
 * 16-lane and 128-token tiles, an activation, both kernels. */
static void check_spmm(int64_t n, int64_t k, int64_t m, double density, int pattern, int threads, uint64_t *seed) {
    float *w = malloc(sizeof(float) * (size_t)(n * k)), *bias = malloc(sizeof(float) * (size_t)n);
    float *x = malloc(sizeof(float) * (size_t)(m * k)), *y = malloc(sizeof(float) * (size_t)(m * n));
    float *yr = malloc(sizeof(float) * (size_t)(m * n));
    for (int64_t r = 0; r < n; r++) {
        bias[r] = (float)(unif(seed) - 0.5);
        for (int64_t c = 0; c < k; c++) w[r * k + c] = keep_at(r, c, k, density, pattern, seed) ? (float)(unif(seed) * 2 - 1) : 0.0f;
    }
    for (int64_t i = 0; i < m * k; i++) x[i] = (float)(unif(seed) * 2 - 1);
    pare_arena *a = pare_arena_create(1 << 20);
    pare_spmm s;
    pare_err err = {0};
    tu_assert_ok(pare_spmm_build(w, n, k, a, &s, &err), &err);
    assert_int_equal(s.nnz, n * k - pare_count_zeros(PARE_Q_F32, w, n, k));
    void *scratch = malloc(pare_spmm_scratch_bytes(&s, m));
    pare_spmm_matmul_ref(&s, x, m, yr, bias);
    for (int kernel = 0; kernel < 3; kernel += 2) { /* plain C, AVX-512 */
        pare_pool *pool = isa_pools[kernel][threads - 1];
        if (!pool) continue;
        const pare_act act = kernel ? PARE_ACT_RELU : PARE_ACT_NONE;
        pare_spmm_matmul(pool, &s, x, m, y, bias, act, scratch);
        const setup t = {n, k, m, density, pattern, kernel, "spmm"};
        compare(&t, w, x, bias, yr, y, act == PARE_ACT_RELU);
    }
    free(scratch);
    pare_arena_free(a);
    free(w);
    free(x);
    free(y);
    free(yr);
    free(bias);
}

static void test_spmm(void **state) {
    (void)state;
    uint64_t seed = 9;
    const double dens[] = {0.0, 0.3, 0.7, 1.0};
    const int64_t ks[] = {5, 64, 65, 200};
    const int64_t ms[] = {1, 15, 16, 17, 128, 129, 300};
    for (size_t d = 0; d < sizeof dens / sizeof dens[0]; d++)
        for (size_t kk = 0; kk < sizeof ks / sizeof ks[0]; kk++)
            for (size_t mm = 0; mm < sizeof ms / sizeof ms[0]; mm++)
                check_spmm(23, ks[kk], ms[mm], dens[d], 0, mm % 2 ? 2 : 1, &seed);
    for (size_t mm = 0; mm < sizeof ms / sizeof ms[0]; mm++) {
        check_spmm(32, 192, ms[mm], 0, 1, 2, &seed); /* 2:4 */
        check_spmm(40, 77, ms[mm], 0, 2, 2, &seed);  /* empty, dense, first-only, last-only rows */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sparse), cmocka_unit_test(test_spmm)};
    return tu_result(cmocka_run_group_tests(tests, setup_pools, free_pools));
}
