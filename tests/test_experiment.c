/* Pieces of the experiment runner against plain computations: dataset
 * splits, classification metrics, magnitude pruning counts, the linear
 * head on a separable problem, latency statistics, and experiment files
 * parsed from memory (good and malformed). The runner itself (processes,
 * SIGKILL and resume, report rendering) is tests/cli_experiment.sh. */
#include "testutil.h"
#include "pare/dataset.h"
#include "pare/experiment.h"
#include "pare/prune.h"
#include "pare/train.h"
#include "experiment/exp_internal.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include <signal.h>
#include <string.h>

static void test_split(void **state) {
    (void)state;
    enum { N = 1001 };
    uint8_t a[N], b[N];
    const double frac[3] = {0.6, 0.3, 0.1};
    pare_dataset_split(N, 42, frac, a);
    pare_dataset_split(N, 42, frac, b);
    assert_memory_equal(a, b, N);
    int cnt[3] = {0};
    for (int i = 0; i < N; i++) cnt[a[i]]++;
    assert_int_equal(cnt[0], 601); /* round(0.6 * 1001) */
    assert_int_equal(cnt[0] + cnt[1], 901);
    pare_dataset_split(N, 43, frac, b);
    assert_true(memcmp(a, b, N) != 0);
    /* not a contiguous cut */
    int first_test = 0;
    for (int i = 0; i < 100; i++) first_test += a[i] == 2;
    assert_true(first_test > 0 && first_test < 40);
}

static void test_metrics(void **state) {
    (void)state;
    /* 3 examples x 2 labels */
    const uint8_t gold[] = {1, 0, 1, 1, 0, 0}, pred[] = {1, 0, 1, 0, 1, 0};
    pare_cls_metrics m;
    pare_cls_metrics_compute(pred, gold, 3, 2, &m);
    assert_float_equal(m.exact_match, 1.0 / 3, 1e-12);
    /* label 0: tp 2 fp 1 fn 0 -> f1 0.8; label 1: tp 0 fp 0 fn 1 -> 0 */
    assert_float_equal(m.macro_f1, 0.4, 1e-12);
    /* micro: tp 2 fp 1 fn 1 -> 4/6 */
    assert_float_equal(m.micro_f1, 4.0 / 6, 1e-12);
    /* jaccard: 1, 1/2, 0 */
    assert_float_equal(m.jaccard, 0.5, 1e-12);
    assert_float_equal(pare_cls_agreement(pred, gold, 3, 2), 1.0 / 3, 1e-12);
}

static void test_prune(void **state) {
    (void)state;
    float a[10] = {1, -2, 3, -4, 5, 6, -7, 8, 9, 10}, b[6] = {0.5f, -0.5f, 0.5f, 11, 12, 13};
    float *ws[2] = {a, b};
    int64_t ns[2] = {10, 6};
    /* global 25% of 16 = 4: the three 0.5s and the 1 */
    assert_int_equal(pare_prune_magnitude(ws, ns, 2, 0.25, true), 4);
    assert_true(a[0] == 0 && b[0] == 0 && b[1] == 0 && b[2] == 0 && a[1] == -2);
    /* local 50%: each tensor loses half of its values (ties broken by position) */
    float c[4] = {1, 1, 1, 1}, d[2] = {3, -1};
    float *w2[2] = {c, d};
    int64_t n2[2] = {4, 2};
    assert_int_equal(pare_prune_magnitude(w2, n2, 2, 0.5, false), 3);
    assert_true(c[0] == 0 && c[1] == 0 && c[2] == 1 && c[3] == 1 && d[0] == 3 && d[1] == 0);
    assert_float_equal(pare_sparsity(c, 4), 0.5, 0);
}

static void test_head(void **state) {
    (void)state;
    /* two Gaussian-ish blobs per label, offset features: separable */
    enum { N = 400, D = 8, L = 3 };
    float *X = malloc(sizeof(float) * N * D), W[L * D], b[L];
    uint8_t *Y = malloc(N * L), pred[N * L];
    uint64_t st = 1;
    for (int i = 0; i < N; i++)
        for (int l = 0; l < L; l++) Y[i * L + l] = (uint8_t)((i >> l) & 1);
    for (int i = 0; i < N * D; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        X[i] = (float)((double)(st >> 11) / 9007199254740992.0 - 0.5) + 100.0f; /* big offset: standardisation matters */
    }
    for (int i = 0; i < N; i++)
        for (int l = 0; l < L; l++) X[i * D + l] += Y[i * L + l] ? 1.5f : -1.5f;
    pare_head_opts o = {.multi_label = true, .epochs = 30, .lr = 0.05, .seed = 3};
    pare_err err = {0};
    double loss;
    tu_assert_ok(pare_train_linear_head(X, Y, N, D, L, &o, W, b, &loss, &err), &err);
    pare_linear_head_predict(X, N, D, L, W, b, true, 0.5f, NULL, pred);
    pare_cls_metrics m;
    pare_cls_metrics_compute(pred, Y, N, L, &m);
    if (!(m.exact_match > 0.97)) fail_msg("exact match %g", m.exact_match);
    if (!(loss < 0.3)) fail_msg("loss %g", loss);
    /* single-label: argmax of class = i % 3 */
    for (int i = 0; i < N; i++) {
        for (int l = 0; l < L; l++) Y[i * L + l] = (uint8_t)(i % L == l);
        for (int l = 0; l < L; l++) X[i * D + l] = 100.0f + (i % L == l ? 2.0f : 0.0f) + 0.1f * (float)((i * 7 + l) % 5);
    }
    o.multi_label = false;
    tu_assert_ok(pare_train_linear_head(X, Y, N, D, L, &o, W, b, NULL, &err), &err);
    pare_linear_head_predict(X, N, D, L, W, b, false, 0.5f, NULL, pred);
    pare_cls_metrics_compute(pred, Y, N, L, &m);
    assert_true(m.exact_match > 0.99);
    free(X);
    free(Y);
}

static void test_latency_stats(void **state) {
    (void)state;
    double s[10] = {10, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    exp_latency l = {.batch = 4};
    exp_latency_stats(s, 10, &l);
    assert_float_equal(l.p50, 5, 0);
    assert_float_equal(l.p90, 9, 0);
    assert_float_equal(l.p99, 10, 0);
    assert_float_equal(l.mean, 5.5, 1e-12);
    assert_float_equal(l.min, 1, 0);
    assert_float_equal(l.throughput, 4 * 1000.0 / 5, 1e-9);
    assert_float_equal(s[0], 10, 0); /* samples kept in their order */
}

/* Adaptive warm-up (issue 18, item 7): passes that speed up (cold pages,
 * the clock ramping) are warm-up until 5 in a row agree within 10%; the
 * timed repetitions come after. */
typedef struct fake_pass {
    int calls;
    const double *ms;
    int n_ms;
    double sleep_s;
} fake_pass;

static pare_status fake(void *ctx, double *ms, pare_err *err) {
    (void)err;
    fake_pass *f = ctx;
    ms[0] = ms[1] = f->ms[f->calls < f->n_ms ? f->calls : f->n_ms - 1];
    f->calls++;
    if (f->sleep_s > 0) {
        const double t0 = pare_time_now();
        while (pare_time_now() - t0 < f->sleep_s) {} /* this process's own CPU */
    }
    return PARE_OK;
}

static void test_warmup(void **state) {
    (void)state;
    static const double ramp[] = {50, 40, 30, 20, 14, 11, 10, 10.5, 10, 10.2, 10.1, 10};
    double samples[4];
    fake_pass f = {.ms = ramp, .n_ms = 12};
    exp_timing t = {.fn = fake, .ctx = &f, .n_values = 1, .warmup_min = 2, .reps = 4, .samples = {samples}};
    pare_err err = {0};
    tu_assert_ok(exp_time(&t, &err), &err);
    /* passes 6..10 (11, 10, 10.5, 10, 10.2) are the first 5 within 10% */
    assert_int_equal(t.warmup, 10);
    for (int i = 0; i < 4; i++) assert_true(samples[i] <= 10.5);
    /* a warm-up that never settles stops at EXP_WARMUP_MAX passes */
    fake_pass g = {0};
    exp_timing u = {.fn = fake, .ctx = &g, .n_values = 1, .warmup_min = 1, .reps = 1, .samples = {samples}};
    static double alt[EXP_WARMUP_MAX + 8];
    for (int i = 0; i < EXP_WARMUP_MAX + 8; i++) alt[i] = i % 2 ? 20 : 10;
    g.ms = alt, g.n_ms = EXP_WARMUP_MAX + 8;
    tu_assert_ok(exp_time(&u, &err), &err);
    assert_int_equal(u.warmup, EXP_WARMUP_MAX);
}

/* The CPU time of other processes while a cell is timed: a busy child on
 * this machine shows as a share well above the busy threshold; alone, the
 * share stays low. */
static void test_busy_machine(void **state) {
    (void)state;
    static const double flat[] = {5};
    double samples[20];
    pare_err err = {0};
    fake_pass f = {.ms = flat, .n_ms = 1, .sleep_s = 0.02};
    exp_timing t = {.fn = fake, .ctx = &f, .n_values = 1, .warmup_min = 0, .reps = 20, .samples = {samples}};
    tu_assert_ok(exp_time(&t, &err), &err);
    const double quiet = t.others_cpu;
    pid_t pid = fork();
    if (pid == 0) {
        const double t0 = pare_time_now();
        while (pare_time_now() - t0 < 5) {}
        _exit(0);
    }
    f.calls = 0;
    tu_assert_ok(exp_time(&t, &err), &err);
    const double busy = t.others_cpu;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    print_message("others' share of the CPUs: %.2f alone, %.2f with one busy process (%ld cores)\n", quiet, busy,
                  sysconf(_SC_NPROCESSORS_ONLN));
    if (quiet < 0 || busy < 0) tu_skip("no /proc/stat: the share is unknown here");
    /* the child alone is one core's worth, 1 / cores of the machine */
    assert_true(busy > EXP_BUSY_SHARE);
    assert_true(busy > 0.6 / (double)sysconf(_SC_NPROCESSORS_ONLN));
}

static const char *GOOD =
    "name: x\n"
    "models: [a/m1, {name: two, path: /abs/m2}]\n"
    "dataset: {path: d.tsv, split: [0.5, 0.25, 0.25], seed: 7}\n"
    "latency: {batch: 4, reps: 5}\n"
    "baseline: q\n"
    "pipelines:\n"
    "  - name: p\n"
    "    steps: [finetune-head]\n"
    "  - name: q\n"
    "    steps:\n"
    "      - prune: {sparsity: 0.3, scope: local}\n"
    "      - finetune-head: {epochs: 5, pooling: cls}\n"
    "      - quantize: {act: static, calib: percentile}\n";

static void test_config(void **state) {
    (void)state;
    pare_exp_config c;
    pare_err err = {0};
    tu_assert_ok(pare_exp_config_parse(GOOD, strlen(GOOD), "g.yaml", "/base", false, &c, &err), &err);
    assert_string_equal(c.name, "x");
    assert_int_equal(c.n_models, 2);
    assert_string_equal(c.models[0].path, "/base/a/m1");
    assert_string_equal(c.models[0].name, "m1");
    assert_string_equal(c.models[1].path, "/abs/m2");
    assert_string_equal(c.dataset.path, "/base/d.tsv");
    assert_int_equal(c.dataset.seed, 7);
    assert_float_equal(c.dataset.split[1], 0.25, 0);
    assert_int_equal(c.latency.n_batch, 1);
    assert_int_equal(c.latency.batch[0], 4);
    assert_int_equal(c.latency.seq, 128); /* default */
    assert_string_equal(c.baseline, "q");
    assert_int_equal(c.n_pipelines, 2);
    assert_int_equal(c.pipelines[1].n_steps, 3);
    assert_int_equal(c.pipelines[1].steps[0].kind, PARE_STEP_PRUNE);
    assert_float_equal(c.pipelines[1].steps[0].sparsity, 0.3, 0);
    assert_string_equal(c.pipelines[1].steps[1].pooling, "cls");
    assert_int_equal(c.pipelines[1].steps[1].epochs, 5);
    assert_string_equal(c.pipelines[1].steps[2].act, "static");
    pare_exp_config_free(&c);

    static const struct { const char *from, *to, *want; } bad[] = {
        {"steps: [finetune-head]", "steps: [finetune]", "g.yaml:8: pipelines[0].steps[0]: unknown step 'finetune'"},
        {"reps: 5", "reps: 5.5", "g.yaml:4: latency.reps: expected an integer, got '5.5'"},
        {"seed: 7", "seed: [7]", "g.yaml:3: dataset.seed: expected an integer, got a list"},
        {"  - name: q\n", "  - name: p\n", "g.yaml:9: pipelines[1]: duplicate pipeline name 'p' (also on line 7)"},
        {"{name: two, path: /abs/m2}", "{name: m1, path: /abs/m2}", "g.yaml:2: models[1]: duplicate model name 'm1'"},
        {"{name: two, path: /abs/m2}", "{name: two}", "g.yaml:2: models[1]: missing 'path'"},
        {"baseline: q", "baseline: zz", "g.yaml:5: baseline: no pipeline named 'zz'"},
        {"scope: local", "scope: everywhere", "g.yaml:11: pipelines[1].steps[0].prune.scope: 'everywhere' is not one of: global, local"},
        {"epochs: 5", "epoch: 5", "g.yaml:12: pipelines[1].steps[1].finetune-head: unknown key 'epoch'"},
        {"split: [0.5, 0.25, 0.25]", "split: [0.5, 0.5, 0.25]", "g.yaml:3: dataset.split: fractions sum to 1.25, not 1"},
        {"name: x\n", "nme: x\n", "g.yaml:1: (top level): unknown key 'nme'"},
        {"latency: {", "latency: {{", "g.yaml:5: YAML syntax"},
        {"      - quantize: {act: static, calib: percentile}\n", "      - quantize: {type: q4_0}\n",
         "g.yaml:13: pipelines[1].steps[2]: 'type' is for task lm"},
        {"dataset: {path: d.tsv,", "dataset: {task: lm, path: d.tsv,", "g.yaml:8: pipelines[0].steps[0]: step 'finetune-head' is not available for task lm"},
        {"      - quantize: {act: static, calib: percentile}\n", "      - quantize: {bits: 5}\n",
         "g.yaml:13: pipelines[1].steps[2]: 5 bits: BERT models quantize to 8 bits, or 4 (method rtn, gptq, nf4, fp4)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[2048];
        const char *p = strstr(GOOD, bad[i].from);
        assert_non_null(p);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(p - GOOD), GOOD, bad[i].to, p + strlen(bad[i].from));
        pare_err e = {0};
        pare_status s = pare_exp_config_parse(text, strlen(text), "g.yaml", "/base", false, &c, &e);
        if (s == PARE_OK || !strstr(e.msg, bad[i].want)) fail_msg("case %zu: got '%s', want '%s'", i, e.msg, bad[i].want);
    }
    /* paths are checked when asked: a missing model folder */
    pare_err e = {0};
    assert_int_equal(pare_exp_config_parse(GOOD, strlen(GOOD), "g.yaml", "/nonexistent", true, &c, &e), PARE_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "g.yaml:2: models[0].path: /nonexistent/a/m1 does not exist"));
    /* empty and non-mapping documents */
    assert_int_equal(pare_exp_config_parse("", 0, "e.yaml", "", false, &c, &e), PARE_ERR_FORMAT);
    assert_int_equal(pare_exp_config_parse("- 1\n", 4, "e.yaml", "", false, &c, &e), PARE_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "e.yaml:1: (top level): expected a mapping"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),   cmocka_unit_test(test_metrics),       cmocka_unit_test(test_prune),
        cmocka_unit_test(test_head),    cmocka_unit_test(test_latency_stats), cmocka_unit_test(test_config),
        cmocka_unit_test(test_warmup),  cmocka_unit_test(test_busy_machine),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
