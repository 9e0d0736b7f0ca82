/* Pruning by scores and SparseGPT on synthetic matrices
 * (include/pare/prune.h):
 *   - pare_prune_by_score zeroes exactly the requested count per matrix,
 *     per row and n of every m, the lowest scores first, ties by position,
 *     a ragged tail kept;
 *   - SparseGPT reaches the requested sparsity (unstructured and 2:4, the
 *     pattern checked) and its output error on the calibration inputs,
 *     tr((W - W') H (W - W')^T), is below that of pruning the same matrix by
 *     magnitude and by Wanda's score, as the papers report. */
#include "testutil.h"
#include "pare/core.h"
#include "pare/prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float randn(uint64_t *s) {
    double u1 = ((double)(pare_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = ((double)(pare_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

static int64_t zeros(const float *w, int64_t n) {
    int64_t z = 0;
    for (int64_t i = 0; i < n; i++) z += w[i] == 0;
    return z;
}

static void test_by_score(void **state) {
    (void)state;
    enum { R = 5, C = 18 };
    float w[R * C], s[R * C];
    for (int i = 0; i < R * C; i++) {
        w[i] = 1.0f + (float)i;
        s[i] = (float)((i * 37) % 11); /* many ties */
    }
    float v[R * C];
    memcpy(v, w, sizeof w);
    assert_int_equal(pare_prune_by_score(v, s, R, C, PARE_PRUNE_MATRIX, 0.5, 0, 0), 45);
    assert_int_equal(zeros(v, R * C), 45);
    for (int i = 0; i < R * C; i++) /* nothing kept scores below anything pruned */
        for (int j = 0; j < R * C; j++)
            if (v[i] == 0 && v[j] != 0) assert_true(s[i] <= s[j]);
    memcpy(v, w, sizeof w);
    assert_int_equal(pare_prune_by_score(v, s, R, C, PARE_PRUNE_ROW, 0.5, 0, 0), R * 9);
    for (int r = 0; r < R; r++) assert_int_equal(zeros(v + r * C, C), 9);
    memcpy(v, w, sizeof w);
    assert_int_equal(pare_prune_by_score(v, s, R, C, PARE_PRUNE_NM, 0, 2, 4), R * 4 * 2);
    for (int r = 0; r < R; r++) {
        for (int g = 0; g < 4; g++) assert_int_equal(zeros(v + r * C + g * 4, 4), 2);
        assert_int_equal(zeros(v + r * C + 16, 2), 0); /* ragged tail kept */
    }
    memcpy(v, w, sizeof w);
    assert_int_equal(pare_prune_by_score(v, s, R, C, PARE_PRUNE_ROW, 0.0, 0, 0), 0);
}

static double herr(const float *a, const float *b, const double *h, int64_t R, int64_t C) {
    double s = 0;
    for (int64_t r = 0; r < R; r++)
        for (int64_t i = 0; i < C; i++) {
            const double di = (double)a[r * C + i] - b[r * C + i];
            if (di == 0) continue;
            for (int64_t j = 0; j < C; j++) s += di * h[i * C + j] * ((double)a[r * C + j] - b[r * C + j]);
        }
    return s;
}

static void test_sparsegpt(void **state) {
    (void)state;
    const int64_t R = 32, C = 192, N = 768;
    uint64_t seed = 3;
    float *x = malloc(sizeof(float) * N * C), *w = malloc(sizeof(float) * R * C);
    double *h = calloc((size_t)(C * C), sizeof(double)), *h0 = malloc(sizeof(double) * C * C);
    float *norm = calloc((size_t)C, sizeof(float));
    for (int64_t n = 0; n < N; n++) { /* correlated inputs, some channels large */
        float prev = 0;
        for (int64_t c = 0; c < C; c++) {
            prev = 0.7f * prev + randn(&seed);
            x[n * C + c] = prev * (c % 13 == 0 ? 5.0f : 1.0f);
        }
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < C; i++) {
            norm[i] += x[n * C + i] * x[n * C + i];
            for (int64_t j = 0; j < C; j++) h[i * C + j] += (double)x[n * C + i] * x[n * C + j];
        }
    memcpy(h0, h, sizeof(double) * C * C);
    for (int64_t i = 0; i < R * C; i++) w[i] = randn(&seed);
    pare_err err = {0};
    for (int nm = 0; nm < 2; nm++) {
        float *sg = malloc(sizeof(float) * R * C), *mag = malloc(sizeof(float) * R * C), *wan = malloc(sizeof(float) * R * C);
        float *score = malloc(sizeof(float) * R * C);
        memcpy(sg, w, sizeof(float) * R * C);
        memcpy(mag, w, sizeof(float) * R * C);
        memcpy(wan, w, sizeof(float) * R * C);
        memcpy(h, h0, sizeof(double) * C * C);
        tu_assert_ok(pare_sparsegpt(sg, R, C, h, 0.5, nm ? 2 : 0, nm ? 4 : 0, 0.01, &err), &err);
        for (int64_t i = 0; i < R * C; i++) score[i] = fabsf(w[i]);
        pare_prune_by_score(mag, score, R, C, nm ? PARE_PRUNE_NM : PARE_PRUNE_MATRIX, 0.5, 2, 4);
        for (int64_t i = 0; i < R * C; i++) score[i] = fabsf(w[i]) * sqrtf(norm[i % C]);
        pare_prune_by_score(wan, score, R, C, nm ? PARE_PRUNE_NM : PARE_PRUNE_ROW, 0.5, 2, 4);
        assert_int_equal(zeros(sg, R * C), R * C / 2);
        if (nm)
            for (int64_t r = 0; r < R; r++)
                for (int64_t g = 0; g < C / 4; g++) assert_int_equal(zeros(sg + r * C + g * 4, 4), 2);
        const double e_sg = herr(w, sg, h0, R, C), e_mag = herr(w, mag, h0, R, C), e_wan = herr(w, wan, h0, R, C);
        print_message("%s: output error magnitude %.4g, wanda %.4g, sparsegpt %.4g\n", nm ? "2:4" : "50%", e_mag, e_wan, e_sg);
        assert_true(e_wan < e_mag);
        assert_true(e_sg < e_wan);
        free(sg);
        free(mag);
        free(wan);
        free(score);
    }
    free(x);
    free(w);
    free(h);
    free(h0);
    free(norm);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_by_score), cmocka_unit_test(test_sparsegpt)};
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
