/* The GPU trainer (pare_trainer_opts.cuda) against the CPU trainer, on a
 * small random BERT whose rows are wider than a CUDA block (hidden 160,
 * 5 heads of 32, intermediate 320, 2 layers), a padded batch:
 *   - BCE, cross-entropy and distillation: the first loss to 1e-5, every
 *     gradient to 1e-3 of the largest, and the losses of 5 steps to 1e-4;
 *   - a state saved on the GPU and loaded into a new GPU trainer continues
 *     to the same bits as an uninterrupted run (the kernels use no atomics,
 *     so a step is deterministic);
 *   - pruned weights frozen at 0 stay 0 on the GPU;
 *   - the first again on a structurally pruned copy (uneven heads, fewer
 *     neurons);
 *   - distillation with hidden-state and attention transfer, the teacher a
 *     trainer on the same device: losses and gradients against the CPU's.
 * Skipped (not failed) where pare has no CUDA or the machine no GPU. */
#include "testutil.h"
#include "pare/bert.h"
#include "pare/prune.h"
#include "pare/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { B = 3, T = 9, L = 4 };
static const int32_t IDS[B * T] = {101, 2023, 2003, 1037, 3231, 102, 0,    0,    0,    101, 7592, 2088, 102, 0,
                                   0,   0,    0,    0,    101,  1045, 2293, 2009, 2172, 999, 2003, 2023, 102};
static const int8_t MASK[B * T] = {1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const float TARGETS[B * L] = {1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0};
static const float TEACHER[B * L] = {2, -1, 0.5f, -2, 0, 1, 1, 3, -1, 0.2f, -0.3f, 1.5f};
static const int32_t LABELS[B] = {2, 0, 3};

static char g_dir[256];

static void make_model(void) {
    char src[4096], dir[256];
    snprintf(dir, sizeof dir, "/tmp/pare-test-train-cuda-%d", (int)getpid());
    pare_bert_random_opts o = {.n_layers = 2, .hidden_size = 160, .n_heads = 5, .intermediate_size = 320, .seed = 5,
                               .vocab_from = tu_model_dir(src, sizeof src, "minilm-l6")};
    pare_err err = {0};
    tu_assert_ok(pare_bert_write_random(dir, &o, &err), &err);
    snprintf(g_dir, sizeof g_dir, "%s", dir);
}

/* Each test makes the model when it first runs (a missing model then skips
 * the test instead of failing the group's setup). */
static void need_model(void) {
    if (!g_dir[0]) make_model();
}

static int setup(void **state) {
    (void)state;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    if (!g_dir[0]) return 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s-h' '%s-sp' '%s-teacher'", g_dir, g_dir, g_dir, g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A trainer on the GPU; the test is skipped (tu_skip) when there is none. */
static pare_bert_trainer *gpu_trainer_of(const char *dir, pare_trainer_opts o) {
    o.cuda = true;
    pare_bert_trainer *t = NULL;
    pare_err err = {0};
    if (pare_bert_trainer_create(dir, &o, &t, &err)) {
        assert_int_equal(err.code, PARE_ERR_UNSUPPORTED);
        tu_skip(err.msg); /* no CUDA in this build, or no GPU: skipped, never passed */
    }
    return t;
}

static pare_bert_trainer *gpu_trainer(pare_trainer_opts o) { return gpu_trainer_of(g_dir, o); }

static pare_trainer_opts opts(int kind) {
    return (pare_trainer_opts){.n_labels = L, .multi_label = kind != 1, .max_batch = B, .max_len = T,
                               .adamw = pare_adamw_defaults()};
}

static pare_train_batch batch(int kind) {
    return (pare_train_batch){.ids = IDS, .mask = MASK, .B = B, .T = T, .targets = TARGETS, .labels = LABELS,
                              .teacher = kind == 2 ? TEACHER : NULL, .kd_temperature = 2, .kd_alpha = 0.5f};
}

/* The GPU's gradients within 1e-3 of the largest of the CPU's. */
static void assert_grads_close(const char *what, const float *gc, const float *gg, int64_t n) {
    double gmax = 0, dmax = 0;
    for (int64_t i = 0; i < n; i++) {
        gmax = fmax(gmax, fabs(gc[i]));
        dmax = fmax(dmax, fabs((double)gc[i] - gg[i]));
    }
    print_message("%s: largest gradient %.3g, largest difference %.3g\n", what, gmax, dmax);
    assert_true(dmax <= 1e-3 * gmax);
}

/* state: NULL, or a structurally pruned copy of the model is compared */
static void test_matches_cpu(void **state) {
    need_model();
    pare_err err = {0};
    char dir[300], tmp[300];
    snprintf(dir, sizeof dir, "%s", g_dir);
    if (*state) { /* a third of the heads (one ranking: uneven layers), then a quarter of the neurons */
        snprintf(tmp, sizeof tmp, "%s-h", g_dir);
        snprintf(dir, sizeof dir, "%s-sp", g_dir);
        pare_bert_struct_opts ho = {.unit = PARE_STRUCT_HEADS, .fraction = 0.34, .global = true};
        pare_bert_struct_opts no = {.unit = PARE_STRUCT_NEURONS, .fraction = 0.25};
        tu_assert_ok(pare_bert_prune_structured(g_dir, tmp, &ho, NULL, &err), &err);
        tu_assert_ok(pare_bert_prune_structured(tmp, dir, &no, NULL, &err), &err);
    }
    for (int kind = 0; kind < 3; kind++) {
        pare_bert_trainer *gt = gpu_trainer_of(dir, opts(kind)), *ct; /* skips without a GPU */
        const pare_trainer_opts co = opts(kind);
        tu_assert_ok(pare_bert_trainer_create(dir, &co, &ct, &err), &err);
        const pare_train_batch bt = batch(kind);
        for (int step = 0; step < 5; step++) {
            float lc, lg;
            tu_assert_ok(pare_bert_trainer_step(ct, &bt, 1e-3, &lc, &err), &err);
            tu_assert_ok(pare_bert_trainer_step(gt, &bt, 1e-3, &lg, &err), &err);
            print_message("kind %d step %d: loss cpu %.7f gpu %.7f\n", kind, step, (double)lc, (double)lg);
            assert_true(fabsf(lc - lg) <= (step ? 1e-4f : 1e-5f) * fmaxf(1.0f, fabsf(lc)));
            if (step) continue;
            float *wc, *gc, *wg, *gg;
            int64_t n, n2;
            pare_bert_trainer_buffers(ct, &wc, &gc, &n);
            pare_bert_trainer_buffers(gt, &wg, &gg, &n2);
            assert_int_equal(n, n2);
            char what[32];
            snprintf(what, sizeof what, "kind %d", kind);
            assert_grads_close(what, gc, gg, n);
            double wdiff = 0;
            for (int64_t i = 0; i < n; i++) wdiff += fabs((double)wc[i] - wg[i]);
            print_message("kind %d: mean |dw| %.3g\n", kind, wdiff / (double)n);
            /* AdamW moves each weight by about lr whatever the gradient's size: weights with
             * rounding-noise gradients may move apart by up to 2 lr, so only the mean is tight */
            assert_true(wdiff / (double)n <= 1e-5);
        }
        pare_bert_trainer_free(ct);
        pare_bert_trainer_free(gt);
    }
}

static void test_resume_bits(void **state) {
    (void)state;
    need_model();
    pare_err err = {0};
    pare_bert_trainer *a = gpu_trainer(opts(0)); /* skips without a GPU */
    pare_bert_trainer *b = gpu_trainer(opts(0)), *c;
    const pare_train_batch bt = batch(0);
    char path[300];
    snprintf(path, sizeof path, "%s/state.safetensors", g_dir);
    for (int s = 0; s < 4; s++) tu_assert_ok(pare_bert_trainer_step(a, &bt, 1e-3, NULL, &err), &err);
    for (int s = 0; s < 2; s++) tu_assert_ok(pare_bert_trainer_step(b, &bt, 1e-3, NULL, &err), &err);
    tu_assert_ok(pare_bert_trainer_save_state(b, path, &err), &err);
    pare_bert_trainer_free(b);
    c = gpu_trainer(opts(0));
    tu_assert_ok(pare_bert_trainer_load_state(c, path, &err), &err);
    for (int s = 0; s < 2; s++) tu_assert_ok(pare_bert_trainer_step(c, &bt, 1e-3, NULL, &err), &err);
    float *wa, *ga, *wc, *gc;
    int64_t n;
    pare_bert_trainer_buffers(a, &wa, &ga, &n);
    pare_bert_trainer_buffers(c, &wc, &gc, &n);
    assert_memory_equal(wa, wc, sizeof(float) * (size_t)n);
    pare_bert_trainer_free(a);
    pare_bert_trainer_free(c);
}

static void test_frozen_zeros(void **state) {
    (void)state;
    need_model();
    pare_err err = {0};
    pare_bert_trainer *t = gpu_trainer(opts(0)); /* skips without a GPU */
    int64_t z = 0;
    tu_assert_ok(pare_bert_trainer_prune(t, 0.5, true, &z, &err), &err);
    tu_assert_ok(pare_bert_trainer_freeze_zeros(t, &err), &err);
    assert_true(z > 0);
    float *w, *g;
    int64_t n;
    pare_bert_trainer_buffers(t, &w, &g, &n);
    uint8_t *was0 = malloc((size_t)n);
    float *w0 = malloc(sizeof(float) * (size_t)n);
    assert_non_null(was0);
    assert_non_null(w0);
    for (int64_t i = 0; i < n; i++) was0[i] = w[i] == 0;
    memcpy(w0, w, sizeof(float) * (size_t)n);
    const pare_train_batch bt = batch(0);
    for (int s = 0; s < 3; s++) tu_assert_ok(pare_bert_trainer_step(t, &bt, 1e-2, NULL, &err), &err);
    pare_bert_trainer_buffers(t, &w, &g, &n);
    int64_t kept = 0, moved = 0;
    for (int64_t i = 0; i < n; i++) {
        kept += was0[i] && w[i] == 0;
        moved += !was0[i] && w[i] != w0[i];
    }
    print_message("%lld pruned; %lld zeros kept; %lld other weights moved\n", (long long)z, (long long)kept, (long long)moved);
    assert_true(moved > 0);
    assert_true(kept >= z); /* the pruned weights (zero biases of the random init may move) */
    free(was0);
    free(w0);
    pare_bert_trainer_free(t);
}

/* Distillation with hidden-state and attention transfer from a teacher of
 * the same shape (another seed): the teacher is a trainer on the same
 * device as its student, which reads its activations in place. */
static void test_transfer_matches_cpu(void **state) {
    (void)state;
    need_model();
    pare_err err = {0};
    char tdir[300], src[4096];
    snprintf(tdir, sizeof tdir, "%s-teacher", g_dir);
    pare_bert_random_opts ro = {.n_layers = 2, .hidden_size = 160, .n_heads = 5, .intermediate_size = 320, .seed = 6,
                                .vocab_from = tu_model_dir(src, sizeof src, "minilm-l6")};
    tu_assert_ok(pare_bert_write_random(tdir, &ro, &err), &err);
    pare_bert_trainer *st[2], *te[2];
    float loss[2][4];
    float *grads[2];
    int64_t n = 0;
    for (int dev = 0; dev < 2; dev++) {
        pare_trainer_opts o = opts(2);
        o.cuda = dev == 1;
        pare_status s1 = pare_bert_trainer_create(tdir, &o, &te[dev], &err);
        if (s1 && dev == 1) {
            assert_int_equal(err.code, PARE_ERR_UNSUPPORTED);
            pare_bert_trainer_free(st[0]);
            pare_bert_trainer_free(te[0]);
            free(grads[0]);
            tu_skip(err.msg);
        }
        tu_assert_ok(s1, &err);
        tu_assert_ok(pare_bert_trainer_create(g_dir, &o, &st[dev], &err), &err);
        for (int step = 0; step < 4; step++) {
            float tl[B * L];
            tu_assert_ok(pare_bert_trainer_logits(te[dev], IDS, MASK, B, T, tl, &err), &err);
            const float *hid[3], *att[2];
            for (int k = 0; k < 3; k++) hid[k] = pare_bert_trainer_hidden(te[dev], k);
            for (int k = 0; k < 2; k++) att[k] = pare_bert_trainer_attention(te[dev], k);
            pare_train_batch bt = batch(2);
            bt.teacher = tl;
            bt.teacher_hidden = hid;
            bt.kd_hidden = 0.5f;
            bt.teacher_att = att;
            bt.kd_att = 50;
            tu_assert_ok(pare_bert_trainer_step(st[dev], &bt, 1e-3, &loss[dev][step], &err), &err);
            if (step == 0) {
                float *w, *g;
                pare_bert_trainer_buffers(st[dev], &w, &g, &n);
                grads[dev] = malloc(sizeof(float) * (size_t)n);
                assert_non_null(grads[dev]);
                memcpy(grads[dev], g, sizeof(float) * (size_t)n);
            }
        }
    }
    for (int step = 0; step < 4; step++) {
        print_message("transfer step %d: loss cpu %.7f gpu %.7f\n", step, (double)loss[0][step], (double)loss[1][step]);
        assert_true(fabsf(loss[0][step] - loss[1][step]) <= 1e-4f * fmaxf(1.0f, fabsf(loss[0][step])));
    }
    assert_grads_close("transfer", grads[0], grads[1], n);
    for (int dev = 0; dev < 2; dev++) {
        pare_bert_trainer_free(st[dev]);
        pare_bert_trainer_free(te[dev]);
        free(grads[dev]);
    }
}

int main(void) {
    static const bool pruned = true;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matches_cpu), cmocka_unit_test(test_resume_bits),
                                       cmocka_unit_test(test_frozen_zeros),
                                       cmocka_unit_test_prestate(test_matches_cpu, (void *)&pruned),
                                       cmocka_unit_test(test_transfer_matches_cpu)};
    return tu_result(cmocka_run_group_tests(tests, setup, teardown));
}
