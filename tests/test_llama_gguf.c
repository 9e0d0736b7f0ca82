/* SmolLM2-135M-Instruct from its GGUF (Q4_1 + Q8_0 embedding) against
 * transformers on the dequantized weights (tools/make_llama_gguf_references.py,
 * tests/golden/smollm2.safetensors): a 64-token prompt, the 64 best logits at
 * every position and all logits of the last, then 64 greedy tokens.
 *
 * Dequantize mode (every weight dequantized to f32 at load, exact f32 path):
 * max |pare - HF| < 1e-3 and the greedy tokens identical. Fast mode (block
 * types kept, activations rounded to 8 bits per block of 32 as llama.cpp
 * does): the error is printed and bounded loosely (1.0 of a logit scale of
 * about 20), and its greedy tokens are printed, not asserted. */
#include "testutil.h"
#include "pare/llama.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NP = 64, NTOP = 64, NGEN = 64 };

typedef struct ref {
    int32_t prompt[NP], top_ids[NP * NTOP], greedy[NGEN];
    float top_logits[NP * NTOP];
    float *last; /* [vocab] */
    int64_t vocab;
} ref;

static void copy_tensor(pare_tensor_file *f, const char *name, void *dst, int64_t n_want) {
    const pare_tensor *t = pare_tensor_file_find(f, name);
    if (!t) fail_msg("golden lacks %s", name);
    if (n_want >= 0 && pare_tensor_nelem(t) != n_want) fail_msg("golden %s has %lld elements", name, (long long)pare_tensor_nelem(t));
    memcpy(dst, t->data, t->nbytes);
}

static bool load_ref(ref *r, char *gguf, size_t cap) {
    char dir[4096], path[4096];
    const char *models = getenv("PARE_MODELS_DIR");
    snprintf(dir, sizeof dir, "%s", models ? models : tu_path(path, sizeof path, ".cache/models"));
    snprintf(gguf, cap, "%s/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", dir);
    if (!pare_is_gguf_file(gguf)) {
        fprintf(stderr, "SKIP: %s not installed (make models)\n", gguf);
        return false;
    }
    pare_err err = {0};
    pare_tensor_file *f;
    tu_assert_ok(pare_safetensors_open(tu_path(path, sizeof path, "tests/golden/smollm2.safetensors"), &f, &err), &err);
    copy_tensor(f, "prompt_ids", r->prompt, NP);
    copy_tensor(f, "top_ids", r->top_ids, NP * NTOP);
    copy_tensor(f, "top_logits", r->top_logits, NP * NTOP);
    copy_tensor(f, "greedy_ids", r->greedy, NGEN);
    const pare_tensor *t = pare_tensor_file_find(f, "last_logits");
    assert_non_null(t);
    r->vocab = pare_tensor_nelem(t);
    r->last = malloc(t->nbytes);
    memcpy(r->last, t->data, t->nbytes);
    pare_tensor_file_close(f);
    return true;
}

/* Max |pare - HF| over the stored entries; greedy tokens into gen. */
static double run(const char *gguf, bool dequantize, const ref *r, int32_t *gen) {
    pare_err err = {0};
    pare_llama_params p = pare_llama_default_params();
    p.dequantize = dequantize;
    pare_llama *m;
    tu_assert_ok(pare_llama_load(gguf, &p, &m, &err), &err);
    assert_int_equal(pare_llama_get_config(m)->vocab_size, r->vocab);
    pare_llama_cache *kc;
    tu_assert_ok(pare_llama_cache_create(m, 1, NP + NGEN, &kc, &err), &err);
    float *logits = malloc(sizeof(float) * (size_t)(NP * r->vocab));
    int8_t all[NP];
    memset(all, 1, sizeof all);
    pare_llama_batch b = {.n_tokens = NP, .tokens = r->prompt, .output = all};
    pare_llama_outputs out = {.logits = logits};
    tu_assert_ok(pare_llama_forward(m, kc, &b, &out, &err), &err);
    double worst = 0;
    for (int64_t i = 0; i < NP; i++)
        for (int j = 0; j < NTOP; j++)
            worst = fmax(worst, fabs(logits[i * r->vocab + r->top_ids[i * NTOP + j]] - r->top_logits[i * NTOP + j]));
    worst = fmax(worst, tu_max_abs_diff(logits + (NP - 1) * r->vocab, r->last, r->vocab));
    float *row = logits + (NP - 1) * r->vocab;
    for (int g = 0; g < NGEN; g++) {
        int32_t best = 0;
        for (int64_t v = 1; v < r->vocab; v++)
            if (row[v] > row[best]) best = (int32_t)v;
        gen[g] = best;
        b = (pare_llama_batch){.n_tokens = 1, .tokens = &gen[g]};
        out.logits = row = logits;
        tu_assert_ok(pare_llama_forward(m, kc, &b, &out, &err), &err);
    }
    free(logits);
    pare_llama_cache_free(kc);
    pare_llama_free(m);
    return worst;
}

static int first_diff(const int32_t *a, const int32_t *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return i;
    return -1;
}

static void test_smollm2(void **state) {
    (void)state;
    ref r;
    char gguf[4096];
    if (!load_ref(&r, gguf, sizeof gguf)) skip();
    int32_t gen[NGEN];
    double e = run(gguf, true, &r, gen);
    int d = first_diff(gen, r.greedy, NGEN);
    printf("dequantize mode: max |logit diff| %.3g over %d x %d top logits + %lld last; greedy %s (first diff %d)\n", e,
           NP, NTOP, (long long)r.vocab, d < 0 ? "identical" : "differs", d);
    assert_true(e < 1e-3);
    assert_int_equal(d, -1);
    if (getenv("PARE_TEST_QUICK")) {
        free(r.last);
        return;
    }
    e = run(gguf, false, &r, gen);
    d = first_diff(gen, r.greedy, NGEN);
    printf("fast mode (Q4_1/Q8_0 with 8-bit activations): max |logit diff| %.3g; greedy %s (first diff at %d)\n", e,
           d < 0 ? "identical" : "differs", d);
    assert_true(e < 1.0);
    free(r.last);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smollm2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
