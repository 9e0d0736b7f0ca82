/* Sampler and perplexity: against hand-computed expectations. */
#include "testutil.h"

#include <math.h>
#include <string.h>

static pare_sampler *make(float temp, int top_k, float top_p, float pen, uint64_t seed, int64_t vocab) {
    pare_sampler_opts o;
    pare_sampler_opts_default(&o);
    o.temperature = temp;
    o.top_k = top_k;
    o.top_p = top_p;
    o.repeat_penalty = pen;
    o.seed = seed;
    pare_sampler *s = NULL;
    pare_err err = {0};
    tu_assert_ok(pare_sampler_create(&o, vocab, &s, &err), &err);
    return s;
}

static void test_greedy_and_penalty(void **state) {
    (void)state;
    pare_sampler *s = make(0, 0, 1, 1, 0, 5);
    float l[5] = {0.5f, 2.0f, 2.0f, -1.0f, 1.0f};
    assert_int_equal(pare_sampler_sample(s, l, NULL, 0), 1); /* lowest id on ties */
    pare_sampler_free(s);

    /* Penalty 4: token 1 (2.0 -> 0.5) and token 3 (-1 -> -4); 2 wins. Repeats
     * in the history are penalised once. */
    s = make(0, 0, 1, 4, 0, 5);
    float m[5] = {0.5f, 2.0f, 1.9f, -1.0f, 1.0f};
    int32_t hist[4] = {1, 3, 1, 1};
    assert_int_equal(pare_sampler_sample(s, m, hist, 4), 2);
    assert_true(fabsf(m[1] - 0.5f) < 1e-6f && fabsf(m[3] + 4.0f) < 1e-6f);
    pare_sampler_free(s);

    pare_err err = {0};
    pare_sampler_opts o;
    pare_sampler_opts_default(&o);
    o.top_p = 0;
    assert_int_equal(pare_sampler_create(&o, 5, &s, &err), PARE_ERR_INVALID);
    assert_non_null(strstr(err.msg, "top_p"));
}

static void test_distribution(void **state) {
    (void)state;
    /* softmax([0, ln 2, ln 3, ln 4]) = (1,2,3,4)/10; top_k 3 drops id 0;
     * top_p 0.5 keeps ids 3 and 2 (0.4 + 0.3 >= 0.5). */
    const float base[4] = {0, logf(2), logf(3), logf(4)};
    struct { int k; float p; double want[4]; } cases[] = {
        {0, 1.0f, {0.1, 0.2, 0.3, 0.4}},
        {3, 1.0f, {0, 2 / 9.0, 3 / 9.0, 4 / 9.0}},
        {0, 0.5f, {0, 0, 3 / 7.0, 4 / 7.0}},
        {1, 1.0f, {0, 0, 0, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pare_sampler *s = make(1.0f, cases[c].k, cases[c].p, 1, 42, 4);
        int counts[4] = {0};
        const int n = 40000;
        for (int i = 0; i < n; i++) {
            float l[4];
            memcpy(l, base, sizeof l);
            counts[pare_sampler_sample(s, l, NULL, 0)]++;
        }
        for (int v = 0; v < 4; v++) {
            double f = counts[v] / (double)n, w = cases[c].want[v];
            /* 5 standard deviations of a binomial proportion */
            double tol = 5 * sqrt(w * (1 - w) / n) + 1e-9;
            if (fabs(f - w) > tol) fail_msg("case %zu token %d: %.4f, want %.4f", c, v, f, w);
        }
        pare_sampler_free(s);
    }
    /* Same seed, same draws. */
    pare_sampler *a = make(0.8f, 0, 0.95f, 1, 7, 4), *b = make(0.8f, 0, 0.95f, 1, 7, 4);
    for (int i = 0; i < 100; i++) {
        float la[4], lb[4];
        memcpy(la, base, sizeof la);
        memcpy(lb, base, sizeof lb);
        assert_int_equal(pare_sampler_sample(a, la, NULL, 0), pare_sampler_sample(b, lb, NULL, 0));
    }
    pare_sampler_free(a);
    pare_sampler_free(b);
}

/* A "model" whose next-token distribution is fixed: logit 0 everywhere
 * except log(3) on (previous token + 1) mod V, and which records the
 * windows it sees. */
typedef struct toy {
    int64_t vocab, calls;
    int32_t first_tok[16];
} toy;

static pare_status toy_logits(void *ctx, const int32_t *tok, int64_t n, float *out, pare_err *err) {
    (void)err;
    toy *t = ctx;
    if (t->calls < 16) t->first_tok[t->calls] = tok[0];
    t->calls++;
    for (int64_t i = 0; i < n; i++)
        for (int64_t v = 0; v < t->vocab; v++)
            out[i * t->vocab + v] = v == (tok[i] + 1) % t->vocab ? logf(3) : 0;
    return PARE_OK;
}

static void test_perplexity(void **state) {
    (void)state;
    enum { V = 8, N = 100 };
    int32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = i % V; /* always the predicted successor */
    toy t = {.vocab = V};
    pare_ppl_opts o = {.ctx = 16};
    pare_ppl_result r;
    pare_err err = {0};
    tu_assert_ok(pare_perplexity(tok, N, V, &o, toy_logits, &t, NULL, NULL, &r, &err), &err);
    /* p(correct) = 3 / (3 + 7) each time: ppl = 10/3; 6 windows (100/16) of
     * 16 - 1 - 8 = 7 scored tokens. */
    assert_int_equal(r.windows, 6);
    assert_int_equal(r.scored, 6 * 7);
    assert_true(fabs(r.ppl - 10.0 / 3.0) < 1e-6); /* logf(3) is rounded to float */
    assert_true(r.ppl_err < 1e-6);

    /* Strided: windows every 4 tokens, last 4 scored; (100-16+3)/4 = 21. */
    t.calls = 0;
    o.stride = 4;
    o.add_bos = true;
    o.bos = 5;
    tu_assert_ok(pare_perplexity(tok, N, V, &o, toy_logits, &t, NULL, NULL, &r, &err), &err);
    assert_int_equal(r.windows, 21);
    assert_int_equal(r.scored, 21 * 4);
    assert_int_equal(t.first_tok[0], 5);
    assert_int_equal(t.first_tok[3], 5);

    /* Too short, bad ids, bad options. */
    o.stride = 0;
    assert_int_equal(pare_perplexity(tok, 20, V, &o, toy_logits, &t, NULL, NULL, &r, &err), PARE_ERR_INVALID);
    assert_non_null(strstr(err.msg, "at least 32"));
    tok[50] = V;
    assert_int_equal(pare_perplexity(tok, N, V, &o, toy_logits, &t, NULL, NULL, &r, &err), PARE_ERR_INVALID);
    o.stride = 16;
    assert_int_equal(pare_perplexity(tok, N, V, &o, toy_logits, &t, NULL, NULL, &r, &err), PARE_ERR_INVALID);
}

static void test_kld(void **state) {
    (void)state;
    /* p = (1,2,3,4)/10, q uniform: KL = sum p log(4p). */
    const float p[4] = {0, logf(2), logf(3), logf(4)}, q[4] = {1, 1, 1, 1};
    pare_kld_stats s = {0};
    pare_kld_add(&s, p, q, 4);
    double want = 0;
    for (int i = 1; i <= 4; i++) want += i / 10.0 * log(4 * i / 10.0);
    assert_true(fabs(s.kl_sum - want) < 1e-6);
    assert_int_equal(s.same_top1, 0); /* argmax 3 vs 0 */
    pare_kld_add(&s, p, p, 4);
    assert_true(fabs(s.kl_sum - want) < 1e-6);
    assert_int_equal(s.same_top1, 1);
    assert_int_equal(s.count, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_and_penalty),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_perplexity),
        cmocka_unit_test(test_kld),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
