/* Grids, GPTQ and AWQ on synthetic matrices (include/pare/wquant.h):
 *   - grid rows encoded as ggml blocks dequantize (pare_dequantize_row) to
 *     exactly the grid values, for every type and group 32/64/128, with
 *     constant, zero and ragged-group rows;
 *   - GPTQ's H-weighted error tr((W-Q) H (W-Q)^T) is below round to
 *     nearest's on correlated inputs, with and without act-order; the
 *     reported figures match a recomputation; dead inputs get zero weights;
 *   - AWQ's search never does worse than plain rounding and picks alpha > 0
 *     when a few input channels are much larger than the rest. */
#include "testutil.h"
#include "pare/core.h"
#include "pare/quant.h"
#include "pare/wquant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float randn(uint64_t *s) {
    double u1 = ((double)(pare_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = ((double)(pare_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

static void test_grid_encode(void **state) {
    (void)state;
    const pare_qtype types[] = {PARE_Q_Q8_0, PARE_Q_Q5_0, PARE_Q_Q5_1, PARE_Q_Q4_0, PARE_Q_Q4_1};
    const int64_t groups[] = {32, 64, 128};
    const int64_t R = 7, C = 160; /* 160 = 128 + 32: a ragged last group at 128 */
    uint64_t seed = 1;
    float *w = malloc(sizeof(float) * R * C), *v = malloc(sizeof(float) * R * C), *back = malloc(sizeof(float) * C);
    for (int64_t i = 0; i < R * C; i++) w[i] = randn(&seed) * (i / C == 3 ? 100.0f : 1.0f);
    for (int64_t c = 0; c < C; c++) {
        w[1 * C + c] = 0.0f; /* zero row */
        w[2 * C + c] = 0.37f; /* constant row */
    }
    pare_err err = {0};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (size_t g = 0; g < 3; g++) {
            pare_grid grid = {types[t], groups[g]};
            pare_qmat q;
            tu_assert_ok(pare_qmat_init(&q, &grid, R, C, &err), &err);
            pare_qmat_rtn(&q, w, v);
            uint8_t *b = malloc(pare_qmat_bytes(&q));
            pare_qmat_encode(&q, b);
            size_t row;
            assert_true(pare_qtype_row_size(types[t], C, &row));
            assert_int_equal(pare_qmat_bytes(&q), row * R);
            for (int64_t r = 0; r < R; r++) {
                tu_assert_ok(pare_dequantize_row(types[t], b + r * row, back, C, &err), &err);
                for (int64_t c = 0; c < C; c++) assert_true(back[c] == v[r * C + c]);
                /* within one step (the symmetric types clamp the far side at -7/8 of the range; m is f16) */
                for (int64_t c = 0; c < C; c++) {
                    const int64_t k = r * q.n_groups + c / groups[g];
                    assert_true(fabsf(v[r * C + c] - w[r * C + c]) <= fabsf(q.d[k]) * 1.001f + fabsf(q.m[k]) * 1e-3f + 1e-6f);
                }
            }
            free(b);
            pare_qmat_free(&q);
        }
    pare_grid bad = {PARE_Q_Q4_K, 128};
    assert_non_null(pare_grid_check(&bad));
    bad = (pare_grid){PARE_Q_Q4_0, 48};
    assert_non_null(pare_grid_check(&bad));
    free(w);
    free(v);
    free(back);
}

/* X [N][C] with correlated columns: X = Z A, A mixing neighbours. */
static double *hessian(int64_t N, int64_t C, uint64_t *seed, int dead_col) {
    float *z = malloc(sizeof(float) * N * C), *x = malloc(sizeof(float) * N * C);
    for (int64_t i = 0; i < N * C; i++) z[i] = randn(seed);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            float s = z[n * C + c];
            for (int64_t k = 1; k <= 4 && c - k >= 0; k++) s += 0.6f * z[n * C + c - k];
            x[n * C + c] = c == dead_col ? 0.0f : s * (c % 7 == 0 ? 4.0f : 1.0f);
        }
    double *h = calloc((size_t)(C * C), sizeof(double));
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < C; i++)
            for (int64_t j = 0; j < C; j++) h[i * C + j] += (double)x[n * C + i] * x[n * C + j];
    free(z);
    free(x);
    return h;
}

static double weighted(const float *a, const float *b, const double *h, int64_t R, int64_t C) {
    double s = 0;
    for (int64_t r = 0; r < R; r++)
        for (int64_t i = 0; i < C; i++)
            for (int64_t j = 0; j < C; j++)
                s += (double)(a[r * C + i] - b[r * C + i]) * h[i * C + j] * (a[r * C + j] - b[r * C + j]);
    return s;
}

static void test_gptq(void **state) {
    (void)state;
    const int64_t R = 24, C = 256, N = 512;
    uint64_t seed = 7;
    pare_err err = {0};
    for (int act = 0; act < 2; act++)
        for (int t = 0; t < 2; t++) {
            const int dead = 5;
            double *h = hessian(N, C, &seed, dead), *h0 = malloc(sizeof(double) * C * C);
            memcpy(h0, h, sizeof(double) * C * C);
            float *w = malloc(sizeof(float) * R * C), *w0 = malloc(sizeof(float) * R * C), *rtn = malloc(sizeof(float) * R * C);
            for (int64_t i = 0; i < R * C; i++) w[i] = randn(&seed);
            memcpy(w0, w, sizeof(float) * R * C);
            pare_grid grid = {t ? PARE_Q_Q4_1 : PARE_Q_Q4_0, 128};
            pare_qmat q;
            tu_assert_ok(pare_qmat_init(&q, &grid, R, C, &err), &err);
            pare_gptq_opts o = {.damp = 0.01, .act_order = act, .block = 64};
            pare_gptq_stats st;
            tu_assert_ok(pare_gptq(&q, w, h, &o, &st, &err), &err);
            for (int64_t r = 0; r < R; r++) assert_true(w[r * C + dead] == 0.0f || fabsf(w[r * C + dead]) < q.d[r * q.n_groups] * 1.01f);
            for (int64_t r = 0; r < R; r++) w0[r * C + dead] = 0; /* dead inputs do not count */
            pare_qmat q2;
            tu_assert_ok(pare_qmat_init(&q2, &grid, R, C, &err), &err);
            pare_qmat_rtn(&q2, w0, rtn);
            const double e_rtn = weighted(w0, rtn, h0, R, C), e_gptq = weighted(w0, w, h0, R, C);
            print_message("gptq %s act_order %d: H-weighted error rtn %.4g gptq %.4g (%.2fx)\n",
                          t ? "q4_1" : "q4_0", act, e_rtn, e_gptq, e_rtn / e_gptq);
            assert_true(e_gptq < 0.8 * e_rtn);
            assert_true(fabs(st.err_gptq - e_gptq) <= 1e-3 * e_gptq);
            assert_true(fabs(st.err_rtn - e_rtn) <= 1e-3 * e_rtn);
            /* the codes and params encode exactly the weights GPTQ left */
            uint8_t *b = malloc(pare_qmat_bytes(&q));
            float *back = malloc(sizeof(float) * C);
            size_t row;
            pare_qtype_row_size(grid.type, C, &row);
            pare_qmat_encode(&q, b);
            for (int64_t r = 0; r < R; r++) {
                tu_assert_ok(pare_dequantize_row(grid.type, b + r * row, back, C, &err), &err);
                assert_memory_equal(back, w + r * C, sizeof(float) * C);
            }
            free(b);
            free(back);
            pare_qmat_free(&q);
            pare_qmat_free(&q2);
            free(h);
            free(h0);
            free(w);
            free(w0);
            free(rtn);
        }
}

static void test_awq(void **state) {
    (void)state;
    const int64_t R = 32, C = 128, N = 256;
    uint64_t seed = 11;
    float *w = malloc(sizeof(float) * R * C), *x = malloc(sizeof(float) * N * C), *xm = calloc(C, sizeof(float)),
          *s = malloc(sizeof(float) * C);
    for (int64_t i = 0; i < R * C; i++) w[i] = randn(&seed);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            x[n * C + c] = randn(&seed) * (c % 16 == 3 ? 30.0f : 1.0f);
            xm[c] += fabsf(x[n * C + c]) / N;
        }
    pare_grid grid = {PARE_Q_Q4_0, 128};
    double alpha, best, plain;
    pare_err err = {0};
    tu_assert_ok(pare_awq_search(&grid, w, R, C, x, N, xm, NULL, s, &alpha, &best, &plain, &err), &err);
    print_message("awq: alpha %.2f, output mse %.4g vs rtn %.4g\n", alpha, best, plain);
    assert_true(alpha > 0);
    assert_true(best < 0.8 * plain);
    assert_true(s[3] > s[4]); /* the large channels get the large scales */
    free(w);
    free(x);
    free(xm);
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_grid_encode), cmocka_unit_test(test_gptq),
                                       cmocka_unit_test(test_awq)};
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
