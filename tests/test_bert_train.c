/* Fine-tuning (include/pare/train.h, pare_bert_trainer) on a small
 * random-weight BERT (2 layers, hidden 32, 4 heads, 3 labels):
 *   - the whole backward pass: for random directions d over every
 *     parameter, (L(w + h d) - L(w - h d)) / 2h matches g . d (relative
 *     1e-2 in f32), for BCE, cross-entropy and the distillation loss (also
 *     with hidden-state transfer), with padding in the batch;
 *   - training drives the loss of a small batch down (overfitting);
 *   - a saved checkpoint loads in pare as BertForSequenceClassification and
 *     gives the trainer's logits (1e-4), padding included;
 *   - gradient checkpointing (recompute) gives the same bits;
 *   - the first two again on a structurally pruned folder (heads and FFN
 *     neurons removed, different counts per layer). */
#include "testutil.h"
#include "pare/bert.h"
#include "pare/prune.h"
#include "pare/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { B = 3, T = 7, L = 3 };
static const int32_t IDS[B * T] = {101, 2023, 2003, 1037, 3231, 102, 0, 101, 7592, 2088, 102, 0, 0, 0,
                                   101, 1045, 2293, 2009, 2172, 999, 102};
static const int8_t MASK[B * T] = {1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1};

static void make_model(char *dir, size_t cap) {
    snprintf(dir, cap, "/tmp/pare-test-train-%d", (int)getpid());
    char src[4096];
    pare_bert_random_opts o = {.n_layers = 2, .hidden_size = 32, .n_heads = 4, .intermediate_size = 64, .seed = 3,
                               .vocab_from = tu_model_dir(src, sizeof src, "minilm-l6")};
    pare_err err = {0};
    tu_assert_ok(pare_bert_write_random(dir, &o, &err), &err);
}

static void remove_dir(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* make_model, then (state points to true) structurally pruned: half the
 * heads by one global ranking (so layers keep different counts), then a
 * quarter of each layer's FFN neurons: the trainer reads per-layer shapes. */
static void make_model_for(char *dir, size_t cap, void **state) {
    make_model(dir, cap);
    if (!*state || !*(const bool *)*state) return;
    char a[300], b[300];
    snprintf(a, sizeof a, "%s-h", dir);
    snprintf(b, sizeof b, "%s-sp", dir);
    pare_err err = {0};
    pare_bert_struct_opts ho = {.unit = PARE_STRUCT_HEADS, .fraction = 0.5, .global = true};
    pare_bert_struct_opts no = {.unit = PARE_STRUCT_NEURONS, .fraction = 0.25};
    tu_assert_ok(pare_bert_prune_structured(dir, a, &ho, NULL, &err), &err);
    tu_assert_ok(pare_bert_prune_structured(a, b, &no, NULL, &err), &err);
    remove_dir(dir);
    remove_dir(a);
    snprintf(dir, cap, "%s", b);
}

static void test_directional(void **state) {
    char dir[256];
    make_model_for(dir, sizeof dir, state);
    pare_err err = {0};
    float targets[B * L] = {1, 0, 1, 0, 0, 1, 1, 1, 0}, teacher[B * L] = {2, -1, 0.5f, -2, 0, 1, 1, 3, -1};
    const int32_t labels[B] = {2, 0, 1};
    /* kind 3: distillation with hidden-state transfer to random targets (3 of [B][T][32]) */
    float hid[3][B * T * 32];
    const float *hid_p[3] = {hid[0], hid[1], hid[2]};
    uint64_t hs = 99;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < B * T * 32; i++) hid[k][i] = tu_randf(&hs, -1, 1);
    /* kind 4: with attention transfer to random targets (2 layers of [B][4 heads][T][T]) */
    static float att[2][B * 4 * T * T];
    const float *att_p[2] = {att[0], att[1]};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < B * 4 * T * T; i++) att[k][i] = tu_randf(&hs, 0, 0.3f);
    for (int kind = 0; kind < 5; kind++) {
        const bool pruned = *state && *(const bool *)*state;
        if (kind == 4 && pruned) continue; /* the transfer needs the teacher's heads */
        pare_trainer_opts o = {.n_labels = L, .multi_label = kind != 1, .max_batch = B, .max_len = T,
                               .adamw = pare_adamw_defaults(), .clip = -1};
        o.adamw.weight_decay = 0;
        pare_bert_trainer *t;
        tu_assert_ok(pare_bert_trainer_create(dir, &o, &t, &err), &err);
        pare_train_batch bt = {.ids = IDS, .mask = MASK, .B = B, .T = T, .targets = targets, .labels = labels,
                               .teacher = kind >= 2 ? teacher : NULL, .kd_temperature = 2, .kd_alpha = 0.5f,
                               .teacher_hidden = kind == 3 ? hid_p : NULL, .kd_hidden = 0.7f,
                               .teacher_att = kind == 4 ? att_p : NULL, .kd_att = 30.0f};
        /* lr 0: the step computes the gradient and leaves the weights */
        float loss;
        tu_assert_ok(pare_bert_trainer_step(t, &bt, 0.0, &loss, &err), &err);
        float *w, *g;
        int64_t n;
        pare_bert_trainer_buffers(t, &w, &g, &n);
        float *g0 = malloc(sizeof(float) * (size_t)n), *w0 = malloc(sizeof(float) * (size_t)n), *d = malloc(sizeof(float) * (size_t)n);
        memcpy(g0, g, sizeof(float) * (size_t)n);
        memcpy(w0, w, sizeof(float) * (size_t)n);
        uint64_t seed = 17 + (uint64_t)kind;
        for (int trial = 0; trial < 3; trial++) {
            double gd = 0, dd = 0;
            for (int64_t i = 0; i < n; i++) {
                d[i] = tu_randf(&seed, -1, 1);
                gd += (double)g0[i] * d[i];
                dd += (double)d[i] * d[i];
            }
            const double h = 1e-2 / sqrt(dd / (double)n) * 0.05;
            double lp = 0, lm = 0;
            for (int sgn = 0; sgn < 2; sgn++) {
                for (int64_t i = 0; i < n; i++) w[i] = w0[i] + (float)((sgn ? -h : h) * d[i]);
                float l2;
                tu_assert_ok(pare_bert_trainer_loss(t, &bt, &l2, &err), &err);
                if (sgn) lm = l2;
                else lp = l2;
            }
            memcpy(w, w0, sizeof(float) * (size_t)n);
            const double fd = (lp - lm) / (2 * h);
            print_message("  loss %d trial %d: directional derivative %.6g, gradient . d %.6g\n", kind, trial, fd, gd);
            assert_true(fabs(fd - gd) <= 1e-2 * fabs(gd) + 1e-4);
        }
        free(g0);
        free(w0);
        free(d);
        pare_bert_trainer_free(t);
    }
    remove_dir(dir);
}

static void test_overfit_and_save(void **state) {
    char dir[256], out[300];
    make_model_for(dir, sizeof dir, state);
    snprintf(out, sizeof out, "%s-ft", dir);
    pare_err err = {0};
    pare_trainer_opts o = {.n_labels = L, .multi_label = true, .max_batch = B, .max_len = T, .adamw = pare_adamw_defaults()};
    pare_bert_trainer *t;
    tu_assert_ok(pare_bert_trainer_create(dir, &o, &t, &err), &err);
    float targets[B * L] = {1, 0, 1, 0, 0, 1, 1, 1, 0};
    pare_train_batch bt = {.ids = IDS, .mask = MASK, .B = B, .T = T, .targets = targets};
    float first = 0, loss = 0;
    for (int s = 0; s < 60; s++) {
        tu_assert_ok(pare_bert_trainer_step(t, &bt, 3e-3, &loss, &err), &err);
        if (s == 0) first = loss;
    }
    print_message("  overfitting 3 rows: loss %.4f -> %.4f\n", first, loss);
    assert_true(loss < 0.3 * first);
    const char *names[L] = {"anger", "joy", "fear"};
    tu_assert_ok(pare_bert_trainer_save(t, out, names, &err), &err);
    float lt[B * L];
    tu_assert_ok(pare_bert_trainer_logits(t, IDS, MASK, B, T, lt, &err), &err);
    pare_bert *m;
    tu_assert_ok(pare_bert_load(out, NULL, &m, &err), &err);
    assert_int_equal(pare_bert_get_config(m)->n_labels, L);
    int32_t mask32[B * T];
    for (int i = 0; i < B * T; i++) mask32[i] = MASK[i];
    float lm[B * L];
    pare_bert_outputs bo = {.logits = lm};
    tu_assert_ok(pare_bert_forward(m, IDS, mask32, NULL, B, T, &bo, &err), &err);
    for (int i = 0; i < B * L; i++) assert_float_equal(lm[i], lt[i], 1e-4 * (1 + fabsf(lt[i])));
    pare_bert_free(m);
    pare_bert_trainer_free(t);
    remove_dir(dir);
    remove_dir(out);
}

/* Gradient checkpointing recomputes the same floats: two steps with and
 * without give the same bits (weights and last gradients). */
static void test_recompute_same_bits(void **state) {
    (void)state;
    char dir[256];
    make_model(dir, sizeof dir);
    pare_err err = {0};
    float targets[B * L] = {1, 0, 1, 0, 0, 1, 1, 1, 0};
    pare_bert_trainer *t[2];
    for (int k = 0; k < 2; k++) {
        pare_trainer_opts o = {.n_labels = L, .multi_label = true, .max_batch = B, .max_len = T,
                               .adamw = pare_adamw_defaults(), .recompute = k == 1};
        tu_assert_ok(pare_bert_trainer_create(dir, &o, &t[k], &err), &err);
        pare_train_batch bt = {.ids = IDS, .mask = MASK, .B = B, .T = T, .targets = targets};
        for (int s = 0; s < 2; s++) tu_assert_ok(pare_bert_trainer_step(t[k], &bt, 1e-3, NULL, &err), &err);
    }
    float *w0, *g0, *w1, *g1;
    int64_t n0, n1;
    pare_bert_trainer_buffers(t[0], &w0, &g0, &n0);
    pare_bert_trainer_buffers(t[1], &w1, &g1, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(g0, g1, sizeof(float) * (size_t)n0);
    assert_memory_equal(w0, w1, sizeof(float) * (size_t)n0);
    pare_bert_trainer_free(t[0]);
    pare_bert_trainer_free(t[1]);
    remove_dir(dir);
}

int main(void) {
    static const bool pruned = true;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directional), cmocka_unit_test(test_overfit_and_save), cmocka_unit_test(test_recompute_same_bits),
        cmocka_unit_test_prestate(test_directional, (void *)&pruned),
        cmocka_unit_test_prestate(test_overfit_and_save, (void *)&pruned)};
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
