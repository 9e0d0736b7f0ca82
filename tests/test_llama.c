/* Llama-family decoder vs Hugging Face transformers (golden files written by
 * tools/make_llama_references.py): prompt logits at every position, greedy
 * decode steps through the KV cache, a batch of 3 sequences of different
 * lengths, sequence classification. Each golden file names the
 * `pare dev random-llama` arguments of its model, which the test re-creates.
 * Tolerance: max |pare - HF| <= 2e-6 x the logit scale (max |HF logit| of
 * the tensor, at least 1): about 3x the worst relative error measured over
 * every model, check and kernel path (6.2e-7, MHA prompt logits, BLAS;
 * Sapphire Rapids, session 9). Also: prefill-then-decode equals one prefill,
 * slots interleaved in one batch, error paths, config parsing. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REL_TOL 2e-6

typedef struct golden {
    pare_tensor_file *f;
    char dir[4096]; /* the re-created model */
} golden;

/* A tensor of the golden file copied out (the file's data may be unaligned);
 * NULL when absent. n: element count. */
static void *golden_get(const golden *g, const char *name, int64_t *n, int64_t *d0) {
    const pare_tensor *t = pare_tensor_file_find(g->f, name);
    if (n) *n = 0;
    if (d0) *d0 = 1;
    if (!t) return NULL;
    void *p = malloc(t->nbytes);
    memcpy(p, t->data, t->nbytes);
    if (n) *n = pare_tensor_nelem(t);
    if (d0) *d0 = t->shape[0];
    return p;
}

static void golden_open(golden *g, const char *name) {
    char rel[256], path[4096], cmd[8192];
    pare_err err = {0};
    snprintf(rel, sizeof rel, "tests/golden/llama-%s.safetensors", name);
    tu_assert_ok(pare_safetensors_open(tu_path(path, sizeof path, rel), &g->f, &err), &err);
    const char *args = pare_tensor_file_metadata(g->f, "pare_args");
    assert_non_null(args);
    const char *cli = getenv("PARE_CLI");
    if (!cli) fail_msg("PARE_CLI is not set (run through ctest)");
    snprintf(g->dir, sizeof g->dir, "%s/pare-test-llama-%s-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name,
             (int)getpid());
    snprintf(cmd, sizeof cmd, "'%s' dev random-llama '%s' %s 2>/dev/null", cli, g->dir, args);
    if (system(cmd) != 0) fail_msg("`%s` failed", cmd);
}

static void golden_close(golden *g) {
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g->dir);
    assert_int_equal(system(cmd), 0);
    pare_tensor_file_close(g->f);
}

static double max_abs(const float *a, int64_t n) {
    double m = 1.0;
    for (int64_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* Relative error |got - want| / scale(want), printed and checked. */
static double check_close(const char *what, const float *got, const float *want, int64_t n) {
    double scale = max_abs(want, n), d = tu_max_abs_diff(got, want, n) / scale;
    print_message("  %-34s max |diff| %.3g of scale %.3g (%.2g relative)\n", what, d * scale, scale, d);
    if (!(d <= REL_TOL)) fail_msg("%s: relative error %.3g > %.0e", what, d, REL_TOL);
    return d;
}

static int64_t argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static pare_llama *load_with(const char *dir, pare_kernel_impl kernel) {
    pare_err err = {0};
    pare_llama_params p = pare_llama_default_params();
    p.kernel = kernel;
    pare_llama *m = NULL;
    tu_assert_ok(pare_llama_load(dir, &p, &m, &err), &err);
    return m;
}

static pare_llama *load(const char *dir) { return load_with(dir, PARE_KERNEL_AUTO); }

/* Prompt logits (all positions), then the decode steps one token at a time. */
static void check_causal(const char *name, bool consistent_cache, pare_kernel_impl kernel) {
    golden g;
    golden_open(&g, name);
    print_message("llama-%s, kernel %s (%s)\n", name, pare_kernel_impl_name(pare_kernel_resolve(kernel)),
                  pare_tensor_file_metadata(g.f, "covers"));
    pare_llama *m = load_with(g.dir, kernel);
    const int64_t V = pare_llama_get_config(m)->vocab_size;
    int64_t T, N;
    int32_t *prompt = golden_get(&g, "prompt_ids", &T, NULL), *dec = golden_get(&g, "decode_ids", &N, NULL);
    float *want_p = golden_get(&g, "prompt_logits", NULL, NULL), *want_d = golden_get(&g, "decode_logits", NULL, NULL);
    assert_non_null(prompt); assert_non_null(dec); assert_non_null(want_p); assert_non_null(want_d);
    pare_err err = {0};
    pare_llama_cache *kc = NULL;
    tu_assert_ok(pare_llama_cache_create(m, 1, T + N, &kc, &err), &err);
    int8_t *all = malloc((size_t)(T + N));
    memset(all, 1, (size_t)(T + N));
    float *logits = malloc(sizeof(float) * (size_t)((T + N) * V)), *step = malloc(sizeof(float) * (size_t)(N * V));
    pare_llama_batch b = {.n_tokens = T, .tokens = prompt, .output = all};
    pare_llama_outputs o = {.logits = logits};
    tu_assert_ok(pare_llama_forward(m, kc, &b, &o, &err), &err);
    check_close("prompt logits (all positions)", logits, want_p, T * V);
    assert_int_equal(argmax(logits + (T - 1) * V, V), dec[0]);
    for (int64_t i = 0; i < N; i++) {
        pare_llama_batch d = {.n_tokens = 1, .tokens = dec + i};
        pare_llama_outputs od = {.logits = step + i * V};
        tu_assert_ok(pare_llama_forward(m, kc, &d, &od, &err), &err);
        if (i + 1 < N) assert_int_equal(argmax(step + i * V, V), dec[i + 1]);
    }
    assert_int_equal(pare_llama_cache_seq_len(kc, 0), T + N);
    check_close("decode logits (KV cache)", step, want_d, N * V);
    /* One prefill of prompt + decoded tokens gives the same logits as the
     * cached steps (not with dynamic RoPE: its frequencies depend on the
     * pass's length, in HF too). */
    if (consistent_cache) {
        int32_t *full = malloc(sizeof(int32_t) * (size_t)(T + N));
        memcpy(full, prompt, sizeof(int32_t) * (size_t)T);
        memcpy(full + T, dec, sizeof(int32_t) * (size_t)N);
        pare_llama_cache_truncate(kc, -1, 0);
        pare_llama_batch bf = {.n_tokens = T + N, .tokens = full, .output = all};
        tu_assert_ok(pare_llama_forward(m, kc, &bf, &o, &err), &err);
        check_close("one prefill vs prefill + decode", logits + T * V, step, N * V);
        free(full);
    }
    free(all); free(logits); free(step); free(prompt); free(dec); free(want_p); free(want_d);
    pare_llama_cache_free(kc);
    pare_llama_free(m);
    golden_close(&g);
}

/* Every model through every kernel path this CPU runs (--kernel ref, blas,
 * avx2, avx512: the GEMMs and every row kernel at that ISA). */
static void check_paths(const char *name, bool consistent_cache) {
    pare_kernel_impl paths[4];
    const int n = tu_kernel_paths(paths);
    for (int i = 0; i < n; i++) check_causal(name, consistent_cache, paths[i]);
}

static void test_mha(void **state) { (void)state; check_paths("mha", true); }
static void test_gqa_llama3(void **state) { (void)state; check_paths("gqa-llama3", true); }
static void test_qwen2_yarn(void **state) { (void)state; check_paths("qwen2-yarn", true); }
static void test_linear_bias(void **state) { (void)state; check_paths("linear-bias", true); }
static void test_mistral_dynamic(void **state) { (void)state; check_paths("mistral-dynamic", false); }

/* Three sequences of different lengths in one batch (slots 0..2), tokens
 * interleaved round-robin so positions are assigned per slot; then one
 * decode token per slot in one batch vs each slot alone. */
static void test_batch(void **state) {
    (void)state;
    golden g;
    golden_open(&g, "mha");
    pare_llama *m = load(g.dir);
    const int64_t V = pare_llama_get_config(m)->vocab_size;
    int64_t B, n_ids;
    int32_t *ids = golden_get(&g, "batch_ids", &n_ids, &B), *mask = golden_get(&g, "batch_mask", NULL, NULL);
    float *want = golden_get(&g, "batch_logits", NULL, NULL);
    assert_non_null(ids); assert_non_null(mask); assert_non_null(want);
    const int64_t Tm = n_ids / B;
    int64_t len[8] = {0}, row0[9] = {0}, total = 0;
    for (int64_t r = 0; r < B; r++) {
        for (int64_t t = 0; t < Tm; t++) len[r] += mask[r * Tm + t];
        row0[r + 1] = row0[r] + len[r];
        total += len[r];
    }
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)total), *seq = malloc(sizeof(int32_t) * (size_t)total);
    int64_t *src_row = malloc(sizeof(int64_t) * (size_t)total), n = 0;
    for (int64_t t = 0; t < Tm; t++)
        for (int64_t r = 0; r < B; r++)
            if (t < len[r]) {
                tok[n] = ids[r * Tm + t];
                seq[n] = (int32_t)r;
                src_row[n++] = row0[r] + t;
            }
    int8_t *all = malloc((size_t)total);
    memset(all, 1, (size_t)total);
    float *logits = malloc(sizeof(float) * (size_t)(total * V)), *packed = malloc(sizeof(float) * (size_t)(total * V));
    pare_err err = {0};
    pare_llama_cache *kc = NULL;
    tu_assert_ok(pare_llama_cache_create(m, B, Tm + 1, &kc, &err), &err);
    pare_llama_batch b = {.n_tokens = total, .tokens = tok, .seq = seq, .output = all};
    pare_llama_outputs o = {.logits = logits};
    assert_int_equal(pare_llama_batch_n_out(&b), total);
    tu_assert_ok(pare_llama_forward(m, kc, &b, &o, &err), &err);
    for (int64_t i = 0; i < total; i++) memcpy(packed + src_row[i] * V, logits + i * V, sizeof(float) * (size_t)V);
    print_message("llama-mha batch of %lld sequences (%lld tokens, interleaved)\n", (long long)B, (long long)total);
    check_close("batch logits (real positions)", packed, want, total * V);

    /* decode: one token per slot in one batch; the default outputs are the
     * last token of each slot, i.e. all three */
    int32_t next[8], slots[8];
    for (int64_t r = 0; r < B; r++) next[r] = (int32_t)argmax(want + (row0[r] + len[r] - 1) * V, V), slots[r] = (int32_t)r;
    pare_llama_batch d = {.n_tokens = B, .tokens = next, .seq = slots};
    assert_int_equal(pare_llama_batch_n_out(&d), B);
    float *together = malloc(sizeof(float) * (size_t)(B * V)), *alone = malloc(sizeof(float) * (size_t)V);
    pare_llama_outputs od = {.logits = together};
    tu_assert_ok(pare_llama_forward(m, kc, &d, &od, &err), &err);
    for (int64_t r = 0; r < B; r++) {
        pare_llama_cache *k1 = NULL;
        tu_assert_ok(pare_llama_cache_create(m, 1, Tm + 1, &k1, &err), &err);
        pare_llama_batch p = {.n_tokens = len[r], .tokens = ids + r * Tm};
        pare_llama_outputs none = {0};
        tu_assert_ok(pare_llama_forward(m, k1, &p, &none, &err), &err);
        pare_llama_batch one = {.n_tokens = 1, .tokens = next + r};
        pare_llama_outputs oa = {.logits = alone};
        tu_assert_ok(pare_llama_forward(m, k1, &one, &oa, &err), &err);
        check_close("batched decode vs one sequence", together + r * V, alone, V);
        pare_llama_cache_free(k1);
    }
    free(together); free(alone); free(tok); free(seq); free(src_row); free(all); free(logits); free(packed);
    free(ids); free(mask); free(want);
    pare_llama_cache_free(kc);
    pare_llama_free(m);
    golden_close(&g);
}

static void test_classify(void **state) {
    (void)state;
    golden g;
    golden_open(&g, "cls");
    pare_llama *m = load(g.dir);
    const pare_llama_config *c = pare_llama_get_config(m);
    assert_int_equal(c->n_labels, 3);
    assert_int_equal(c->pad_token_id, 0);
    assert_true(pare_llama_has_score(m));
    assert_false(pare_llama_has_lm_head(m));
    int64_t B, n;
    int32_t *ids = golden_get(&g, "cls_ids", &n, &B);
    float *want = golden_get(&g, "cls_scores", NULL, NULL), scores[16];
    pare_err err = {0};
    tu_assert_ok(pare_llama_classify(m, ids, B, n / B, scores, &err), &err);
    print_message("llama-cls (%s)\n", pare_tensor_file_metadata(g.f, "covers"));
    check_close("sequence-classification scores", scores, want, B * c->n_labels);
    /* no LM head to ask for */
    pare_llama_cache *kc = NULL;
    tu_assert_ok(pare_llama_cache_create(m, 1, 8, &kc, &err), &err);
    float logits[512];
    pare_llama_batch b = {.n_tokens = 1, .tokens = ids};
    pare_llama_outputs o = {.logits = logits};
    assert_int_equal(pare_llama_forward(m, kc, &b, &o, &err), PARE_ERR_INVALID);
    pare_llama_cache_free(kc);
    free(ids); free(want);
    pare_llama_free(m);
    golden_close(&g);
}

static void test_bad_inputs(void **state) {
    (void)state;
    golden g;
    golden_open(&g, "mha");
    pare_llama *m = load(g.dir);
    pare_err err = {0};
    pare_llama_cache *kc = NULL;
    tu_assert_ok(pare_llama_cache_create(m, 2, 4, &kc, &err), &err);
    float logits[5 * 512];
    int32_t tok[5] = {1, 2, 3, 4, 5}, seq[5] = {0, 0, 0, 0, 1};
    pare_llama_outputs o = {.logits = logits};
    pare_llama_batch b = {.n_tokens = 5, .tokens = tok};
    assert_int_equal(pare_llama_forward(m, kc, &b, &o, &err), PARE_ERR_INVALID); /* 5 > 4 positions */
    assert_non_null(strstr(err.msg, "full"));
    assert_int_equal(pare_llama_cache_seq_len(kc, 0), 0); /* unchanged */
    b.seq = seq;
    tu_assert_ok(pare_llama_forward(m, kc, &b, &o, &err), &err);
    assert_int_equal(pare_llama_cache_seq_len(kc, 0), 4);
    assert_int_equal(pare_llama_cache_seq_len(kc, 1), 1);
    tok[0] = 512;
    pare_llama_batch bad = {.n_tokens = 1, .tokens = tok, .seq = seq + 4};
    assert_int_equal(pare_llama_forward(m, kc, &bad, &o, &err), PARE_ERR_INVALID);
    assert_non_null(strstr(err.msg, "512"));
    tok[0] = 1;
    seq[0] = 2;
    bad.seq = seq;
    assert_int_equal(pare_llama_forward(m, kc, &bad, &o, &err), PARE_ERR_INVALID);
    pare_llama_cache_truncate(kc, 0, 1);
    assert_int_equal(pare_llama_cache_seq_len(kc, 0), 1);
    pare_llama_cache_free(kc);
    assert_int_not_equal(pare_llama_cache_create(m, 0, 4, &kc, &err), PARE_OK);
    pare_llama_free(m);
    golden_close(&g);
    assert_int_not_equal(pare_llama_load("/nonexistent-llama", NULL, &m, &err), PARE_OK);
    assert_null(m);
    assert_non_null(strstr(err.msg, "/nonexistent-llama"));
}

static pare_status parse(const char *json, pare_llama_config *c, pare_err *err) {
    return pare_llama_config_parse(json, strlen(json), "cfg.json", c, err);
}

static void test_config(void **state) {
    (void)state;
    pare_llama_config c;
    pare_err err = {0};
#define BASE "\"vocab_size\": 100, \"hidden_size\": 64, \"num_hidden_layers\": 2, \"intermediate_size\": 128, "
    tu_assert_ok(parse("{\"model_type\": \"llama\", " BASE "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
                       "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}, \"eos_token_id\": [2, 3]}", &c, &err), &err);
    assert_int_equal(c.head_dim, 16);
    assert_int_equal(c.rope.scaling, PARE_ROPE_SCALING_LINEAR);
    assert_int_equal(c.eos_token_id, 2);
    assert_int_equal(c.pad_token_id, -1);
    assert_false(c.qkv_bias);
    /* transformers 5 writes rope_parameters with rope_theta inside */
    tu_assert_ok(parse("{\"model_type\": \"qwen2\", " BASE "\"num_attention_heads\": 4, \"rope_parameters\": "
                       "{\"rope_type\": \"default\", \"rope_theta\": 1000000.0}}", &c, &err), &err);
    assert_true(c.qkv_bias && !c.o_bias);
    assert_true(c.rope.theta == 1e6);
    static const char *const bad[] = {
        "{\"model_type\": \"bert\", " BASE "\"num_attention_heads\": 4}",
        "{\"model_type\": \"llama\", " BASE "\"num_attention_heads\": 4, \"num_key_value_heads\": 3}",
        "{\"model_type\": \"llama\", " BASE "\"num_attention_heads\": 4, \"head_dim\": 15}",
        "{\"model_type\": \"llama\", " BASE "\"num_attention_heads\": 4, \"rope_scaling\": {\"type\": \"longrope\", \"factor\": 2}}",
        "{\"model_type\": \"llama\", " BASE "\"num_attention_heads\": 4, \"rope_scaling\": {\"type\": \"linear\"}}",
        "{\"model_type\": \"llama\", " BASE "\"num_attention_heads\": 4, \"hidden_act\": \"gelu\"}",
        "{\"model_type\": \"llama\", " BASE "\"num_attention_heads\": 4, \"pad_token_id\": 100}",
        "{\"model_type\": \"llama\", " BASE "\"num_attention_heads\": 0}",
        "{\"model_type\": \"llama\", " BASE "\"num_attention_heads\": 4, \"rms_norm_eps\": -1}",
        "{\"model_type\": \"llama\", \"hidden_size\": 64}",
        /* head_dim 9996 / 6 = 1666 by default (found by fuzz_llama_config) */
        ("{\"model_type\": \"llama\", \"vocab_size\": 100, \"hidden_size\": 9996, \"num_hidden_layers\": 2, "
         "\"intermediate_size\": 128, \"num_attention_heads\": 6}"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pare_status s = parse(bad[i], &c, &err);
        if (s == PARE_OK) fail_msg("accepted bad config %zu: %s", i, bad[i]);
        assert_non_null(strstr(err.msg, "cfg.json"));
    }
#undef BASE
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mha),          cmocka_unit_test(test_gqa_llama3), cmocka_unit_test(test_qwen2_yarn),
        cmocka_unit_test(test_linear_bias),  cmocka_unit_test(test_mistral_dynamic),
        cmocka_unit_test(test_batch),        cmocka_unit_test(test_classify),   cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_config),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
