/* pare_qmatmul for every weight type, m = 1..9 (ragged against the x tile
 * of 4), n not a multiple of the thread split, k of a few blocks (and k
 * with a float tail for float types), with and without bias, no pool and a
 * pool of 3, on the generic path and the AVX2 one; the packed layouts of
 * AVX2 and AVX-512 VNNI.
 *
 * Two references, both in double on dequantized weights:
 *  - pare_qmatmul_ref: x as it is. The paths that quantize x (block weight
 *    types on AVX2 and the packed layouts: int8 per block of 32, d =
 *    amax/127) stay within the derived bound
 *      |y - y_ref| <= sum_b (amax_b / 254) * sum_{i in b} |w_i| + FTOL * mag,
 *    mag = sum_i |w_i x_i|.
 *  - the same product on x quantized by the plain-C quantizer
 *    (pare_qx_quantize_generic, which test_quantize_x holds the AVX2 one
 *    to): only the f32 accumulation order differs, so |y - y_q| <= QTOL *
 *    mag + 1e-7, QTOL about 3x the measured error (below; mag the size of
 *    the terms summed). The paths that keep x in f32 meet pare_qmatmul_ref
 *    within FTOL * sum |w x|. */
#include "testutil.h"
#include "kernels/cpu/qmatmul_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Weights of type t: n rows of k, from random floats for types with a
 * quantizer, else random block bytes with small f16 scales (K types). */
static void *make_weights(pare_qtype t, int64_t n, int64_t k, uint64_t *st) {
    size_t row;
    assert_true(pare_qtype_row_size(t, k, &row));
    uint8_t *w = malloc(row * (size_t)n);
    float *f = malloc((size_t)k * sizeof *f);
    assert_non_null(w);
    assert_non_null(f);
    pare_err err = {0};
    for (int64_t r = 0; r < n; r++) {
        uint8_t *wr = w + (size_t)r * row;
        if (t == PARE_Q_Q4_K || t == PARE_Q_Q6_K) {
            for (size_t i = 0; i < row; i++) wr[i] = (uint8_t)(tu_randf(st, 0, 256));
            for (int64_t b = 0; b < k / PARE_QK_K; b++) {
                uint16_t d = pare_f32_to_f16(tu_randf(st, 1e-3f, 2e-2f));
                if (t == PARE_Q_Q4_K) {
                    pare_block_q4_K *blk = (pare_block_q4_K *)wr + b;
                    blk->d = d;
                    blk->dmin = pare_f32_to_f16(tu_randf(st, 1e-3f, 2e-2f));
                } else {
                    ((pare_block_q6_K *)wr + b)->d = d;
                }
            }
        } else {
            for (int64_t i = 0; i < k; i++) f[i] = tu_randf(st, -1, 1) * (1 + (i % 7 == 0) * 3);
            tu_assert_ok(pare_quantize_row_ref(t, f, wr, k, &err), &err);
        }
    }
    free(f);
    return w;
}

/* f32 accumulation against double, of the terms' size (Sapphire Rapids,
 * session 9): on the quantized x measured 0.41 of QTOL; on f32 x (float
 * types, the generic path) 0.39 of FTOL */
#define QTOL 1e-7
#define FTOL 6e-7

/* The bound on |y - pare_qmatmul_ref| stated at the top (quantized: the
 * paths that quantize x). */
static double tolerance(bool quantized, const float *wdeq, const float *x, int64_t k) {
    double act = 0, mag = 0;
    for (int64_t b = 0; b < k; b += 32) {
        double amax = 0, wabs = 0;
        for (int64_t i = b; i < b + 32 && i < k; i++) {
            amax = fmax(amax, fabs(x[i]));
            wabs += fabs(wdeq[i]);
            mag += fabs((double)wdeq[i] * x[i]);
        }
        if (quantized) act += amax / 254 * wabs;
    }
    return act + FTOL * mag + 1e-7;
}

/* The product on x quantized by the plain-C quantizer, in double. *mag: the
 * size of the terms a kernel sums, which for types with an offset or
 * minimum (d u + m, d (u - 8)) exceed |w x^|: per block, 2 max|w| sum|x^|. */
static double quantized_dot(const float *wdeq, const float *x, int64_t k, double *mag) {
    int8_t qs[4096];
    float d[128], dsum[128];
    int16_t s16[256];
    pare_qx q = {x, qs, d, dsum, s16};
    assert_true(k <= 4096 && k % 32 == 0);
    pare_qx_quantize_generic(x, k, &q);
    double y = 0, m = 0;
    for (int64_t b = 0; b < k; b += 32) {
        double wmax = 0, xs = 0;
        for (int64_t i = b; i < b + 32; i++) {
            const double xq = (double)d[i / 32] * qs[i];
            y += (double)wdeq[i] * xq;
            wmax = fmax(wmax, fabs(wdeq[i]));
            xs += fabs(xq);
        }
        m += 2 * wmax * xs;
    }
    *mag = m;
    return y;
}

/* isa < 0: the packed (row-interleaved) path */
static int check_case(pare_qtype t, int64_t m, int64_t n, int64_t k, bool bias, pare_pool *pool,
                      int isa, uint64_t *st) {
    void *w = make_weights(t, n, k, st);
    float *x = malloc((size_t)(m * k) * sizeof *x), *b = malloc((size_t)n * sizeof *b);
    float *y = malloc((size_t)(m * n) * sizeof *y), *yr = malloc((size_t)(m * n) * sizeof *yr);
    float *wd = malloc((size_t)k * sizeof *wd);
    assert_true(x && b && y && yr && wd);
    for (int64_t i = 0; i < m * k; i++) x[i] = tu_randf(st, -2, 2);
    for (int64_t i = 0; i < n; i++) b[i] = tu_randf(st, -1, 1);
    pare_err err = {0};
    if (isa < 0) { /* packed for the layout of pool's cap (-1: AVX2's, -2: VNNI's) */
        size_t pb = pare_qpack_bytes(t, n, k, pool);
        void *pk = aligned_alloc(32, pb ? (pb + 31) / 32 * 32 : 32);
        pare_qpacked qp;
        tu_assert_ok(pare_qpack(t, w, n, k, pool, pk, &qp, &err), &err);
        assert_int_equal(qp.n_groups, n / pare_qpack_group_rows(t, pool));
        assert_int_equal(qp.vnni, isa == -2);
        tu_assert_ok(pare_qmatmul_packed(pool, &qp, x, m, y, bias ? b : NULL, &err), &err);
        free(pk);
    } else {
        tu_assert_ok(pare_qmatmul_isa((pare_isa)isa, pool, t, w, n, k, x, m, y, bias ? b : NULL, &err), &err);
    }
    tu_assert_ok(pare_qmatmul_ref(t, w, n, k, x, m, yr, bias ? b : NULL, &err), &err);
    size_t row;
    pare_qtype_row_size(t, k, &row);
    const bool is_float = t == PARE_Q_F32 || t == PARE_Q_F16 || t == PARE_Q_BF16;
    const bool quantized = !is_float && (isa < 0 || isa >= PARE_ISA_AVX2);
    for (int64_t c = 0; c < n; c++) {
        tu_assert_ok(pare_dequantize_row(t, (uint8_t *)w + (size_t)c * row, wd, k, &err), &err);
        for (int64_t r = 0; r < m; r++) {
            if (quantized) { /* tight: against the same quantized x */
                double mag, yq = quantized_dot(wd, x + r * k, k, &mag) + (bias ? b[c] : 0);
                if (!tu_err("qmatmul vs quantized x", fabs(y[r * n + c] - yq), QTOL * mag + 1e-7))
                    fail_msg("%s isa %d m %lld n %lld k %lld: y[%lld][%lld] = %.9g, on the quantized x %.9g (bound %g)",
                             pare_qtype_get(t)->name, isa, (long long)m, (long long)n, (long long)k, (long long)r,
                             (long long)c, y[r * n + c], yq, QTOL * mag + 1e-7);
            }
            double tol = tolerance(quantized, wd, x + r * k, k), d = fabs(y[r * n + c] - yr[r * n + c]);
            if (!tu_err(quantized ? "qmatmul vs f32 x (derived bound)" : "qmatmul vs f32 x", d, tol))
                fail_msg("%s isa %d m %lld n %lld k %lld: y[%lld][%lld] = %g, ref %g (|diff| %g > "
                         "tol %g)",
                         pare_qtype_get(t)->name, (int)isa, (long long)m, (long long)n,
                         (long long)k, (long long)r, (long long)c, y[r * n + c], yr[r * n + c],
                         d, tol);
        }
    }
    free(w);
    free(x);
    free(b);
    free(y);
    free(yr);
    free(wd);
    return (int)(m * n);
}

static void test_all_types(void **state) {
    (void)state;
    const pare_qtype types[] = {PARE_Q_F32,  PARE_Q_F16,  PARE_Q_BF16, PARE_Q_Q8_0, PARE_Q_Q4_0,
                                PARE_Q_Q4_1, PARE_Q_Q5_0, PARE_Q_Q5_1, PARE_Q_Q4_K, PARE_Q_Q6_K};
    const int64_t ms[] = {1, 2, 3, 4, 5, 8, 9}, ns[] = {1, 7, 33};
    pare_err err = {0};
    pare_pool *pool = pare_pool_create(3, &err);
    assert_non_null(pool);
    uint64_t st = 42;
    int outputs = 0;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        pare_qtype t = types[ti];
        assert_true(pare_qmatmul_supports(t));
        int32_t bs = pare_qtype_get(t)->block_size;
        int64_t ks[3] = {bs == 1 ? 5 : bs, bs == 1 ? 37 : 3 * bs, bs == 1 ? 96 : (bs == 32 ? 320 : 512)};
        for (int isa = PARE_ISA_GENERIC; isa <= (int)pare_rowops_isa(); isa++) {
            if (isa == PARE_ISA_AVX512) continue; /* no AVX-512 kernels: same as AVX2 */
            for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
                for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
                    for (int ki = 0; ki < 3; ki++)
                        outputs += check_case(t, ms[mi], ns[ni], ks[ki], (mi + ni) % 2 == 0,
                                              (mi + ki) % 2 ? pool : NULL, isa, &st);
        }
    }
    print_message("checked %d outputs\n", outputs);
    pare_pool_free(pool);
}

/* Row-interleaved Q4_0 / Q4_1 in AVX2's 8-row layout and Q4_0 / Q8_0 in
 * VNNI's 16-row one, each where this CPU can run it (a pool capped at AVX2
 * gets AVX2's layout on a VNNI machine too): whole groups of 8 or 16,
 * ragged tails, one to many x rows (ragged against the tile of 4), long k. */
static void test_packed(void **state) {
    (void)state;
    const int64_t ms[] = {1, 2, 3, 4, 5, 17}, ns[] = {1, 7, 8, 9, 16, 33, 67}, ks[] = {32, 64, 4096};
    const pare_qtype types[] = {PARE_Q_Q4_0, PARE_Q_Q4_1, PARE_Q_Q8_0};
    const char *const layout[2] = {"avx2 (8 rows)", "avx512-vnni (16 rows)"};
    pare_err err = {0};
    uint64_t st = 7;
    for (int lay = 0; lay < 2; lay++) {
        const pare_kernel_impl cap = lay ? PARE_KERNEL_AVX512 : PARE_KERNEL_AVX2;
        pare_pool *pool = pare_pool_create(3, &err), *one = pare_pool_create(1, &err);
        assert_non_null(pool);
        pare_pool_cap_kernels(pool, cap);
        pare_pool_cap_kernels(one, cap);
        if (!pare_qpack_supports(PARE_Q_Q4_0, pool) || (lay && !pare_cpu_vnni())) {
            print_message("variant packed %s: not run (this CPU cannot run it)\n", layout[lay]);
            pare_pool_free(pool), pare_pool_free(one);
            continue;
        }
        assert_false(pare_qpack_supports(PARE_Q_Q4_K, pool));
        int outputs = 0, n_types = 0;
        for (int ti = 0; ti < 3; ti++) {
            if (!pare_qpack_supports(types[ti], pool) || (lay && types[ti] == PARE_Q_Q4_1)) continue;
            n_types++;
            for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
                for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
                    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
                        outputs += check_case(types[ti], ms[mi], ns[ni], ks[ki], (mi + ni) % 2 == 0,
                                              (mi + ki) % 2 ? pool : one, lay ? -2 : -1, &st);
                    }
        }
        assert_int_equal(n_types, 2); /* avx2: Q4_0, Q4_1; vnni: Q4_0, Q8_0 */
        print_message("variant packed %s: ran, %d outputs checked\n", layout[lay], outputs);
        pare_pool_free(pool), pare_pool_free(one);
    }
}

/* The activation quantizers: |x - d q| <= d / 2 per element, sums exact. */
static void test_quantize_x(void **state) {
    (void)state;
    enum { K = 256 };
    float x[K];
    uint64_t st = 3;
    for (int i = 0; i < K; i++) x[i] = tu_randf(&st, -3, 3) * (i < 32 ? 1e-3f : 1.0f);
    for (int i = 64; i < 96; i++) x[i] = 0; /* a zero block */
    void (*fns[2])(const float *, int64_t, pare_qx *) = {pare_qx_quantize_generic,
                                                         pare_qx_quantize_avx2};
    for (int f = 0; f < (pare_rowops_isa() >= PARE_ISA_AVX2 ? 2 : 1); f++) {
        int8_t qs[K];
        float d[K / 32], dsum[K / 32];
        int16_t s16[K / 16];
        pare_qx q = {x, qs, d, dsum, s16};
        fns[f](x, K, &q);
        for (int b = 0; b < K / 32; b++) {
            int sum[2] = {0, 0};
            for (int j = 0; j < 32; j++) {
                int i = 32 * b + j;
                assert_true(fabsf(x[i] - d[b] * qs[i]) <= d[b] * 0.5f * (1 + 1e-5f) + 1e-30f);
                sum[j / 16] += qs[i];
            }
            assert_int_equal(s16[2 * b], sum[0]);
            assert_int_equal(s16[2 * b + 1], sum[1]);
            assert_float_equal(dsum[b], d[b] * (float)(sum[0] + sum[1]), 0);
        }
    }
}

static void test_errors(void **state) {
    (void)state;
    float x[64] = {0}, y[4];
    uint8_t w[256] = {0};
    pare_err err = {0};
    assert_int_equal(pare_qmatmul(NULL, PARE_Q_Q2_K, w, 1, 256, x, 1, y, NULL, &err),
                     PARE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "Q2_K"));
    assert_int_equal(pare_qmatmul(NULL, (pare_qtype)77, w, 1, 32, x, 1, y, NULL, &err),
                     PARE_ERR_UNSUPPORTED);
    assert_int_equal(pare_qmatmul(NULL, PARE_Q_Q4_0, w, 1, 48, x, 1, y, NULL, &err),
                     PARE_ERR_INVALID);
    assert_non_null(strstr(err.msg, "48"));
    assert_int_equal(pare_qmatmul(NULL, PARE_Q_Q8_0, w, 0, 32, x, 1, y, NULL, &err),
                     PARE_ERR_INVALID);
    assert_int_equal(pare_qmatmul(NULL, PARE_Q_Q8_0, NULL, 1, 32, x, 1, y, NULL, &err),
                     PARE_ERR_INVALID);
    assert_int_equal(pare_qmatmul(NULL, PARE_Q_Q8_0, w, 1, 32, NULL, 1, y, NULL, &err),
                     PARE_ERR_INVALID);
    tu_assert_ok(pare_qmatmul(NULL, PARE_Q_Q8_0, w, 1, 32, x, 0, y, NULL, &err), &err);
    assert_false(pare_qmatmul_supports(PARE_Q_Q3_K));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_types),
        cmocka_unit_test(test_packed),
        cmocka_unit_test(test_quantize_x),
        cmocka_unit_test(test_errors),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
