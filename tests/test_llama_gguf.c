/* SmolLM2-135M-Instruct from its GGUF (Q4_1 + Q8_0 embedding) against
 * transformers on the dequantized weights (tools/make_llama_gguf_references.py,
 * tests/golden/smollm2.safetensors): a 64-token prompt, the 64 best logits at
 * every position and all logits of the last, then 64 greedy tokens.
 *
 * Dequantize mode (every weight dequantized to f32 at load, exact f32 path):
 * max |pare - HF| < 1e-3 (measured 1.2e-4: HF's f32 on dequantized f16
 * scales) and the greedy tokens identical. Fast mode (block types kept,
 * activations rounded to 8 bits per block of 32 as llama.cpp does) is held
 * to llama.cpp's own quantized path below; against HF it is only bounded
 * (measured 0.66, bound 1.0: llama.cpp is 0.63 from HF). */
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

/* golden: tests/golden/smollm2.safetensors (HF on the dequantized weights)
 * or smollm2-llamacpp.safetensors (llama.cpp's quantized CPU path); both
 * hold the same prompt. */
static bool load_ref(ref *r, char *gguf, size_t cap, const char *golden) {
    char path[4096];
    tu_model_dir(gguf, cap, "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    pare_err err = {0};
    pare_tensor_file *f;
    tu_assert_ok(pare_safetensors_open(tu_path(path, sizeof path, golden), &f, &err), &err);
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

/* Max |pare - golden| over the stored entries (*rms: their root mean
 * square); greedy tokens into gen. */
static double run_rms(const char *gguf, bool dequantize, pare_kernel_impl kernel, const ref *r, int32_t *gen, double *rms) {
    pare_err err = {0};
    pare_llama_params p = pare_llama_default_params();
    p.dequantize = dequantize;
    p.kernel = kernel;
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
    double worst = 0, ss = 0;
    for (int64_t i = 0; i < NP; i++)
        for (int j = 0; j < NTOP; j++) {
            const double d = fabs(logits[i * r->vocab + r->top_ids[i * NTOP + j]] - r->top_logits[i * NTOP + j]);
            worst = fmax(worst, d);
            ss += d * d;
        }
    for (int64_t v = 0; v < r->vocab; v++) {
        const double d = fabs(logits[(NP - 1) * r->vocab + v] - r->last[v]);
        worst = fmax(worst, d);
        ss += d * d;
    }
    if (rms) *rms = sqrt(ss / (double)(NP * NTOP + r->vocab));
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

static double run(const char *gguf, bool dequantize, pare_kernel_impl kernel, const ref *r, int32_t *gen) {
    return run_rms(gguf, dequantize, kernel, r, gen, NULL);
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
    if (!load_ref(&r, gguf, sizeof gguf, "tests/golden/smollm2.safetensors")) fail_msg("cannot load the reference");
    int32_t gen[NGEN];
    double e = run(gguf, true, PARE_KERNEL_AUTO, &r, gen);
    int d = first_diff(gen, r.greedy, NGEN);
    printf("dequantize mode: max |logit diff| %.3g over %d x %d top logits + %lld last; greedy %s (first diff %d)\n", e,
           NP, NTOP, (long long)r.vocab, d < 0 ? "identical" : "differs", d);
    assert_true(e < 1e-3);
    assert_int_equal(d, -1);
    if (getenv("PARE_TEST_QUICK")) {
        free(r.last);
        return;
    }
    e = run(gguf, false, PARE_KERNEL_AUTO, &r, gen);
    d = first_diff(gen, r.greedy, NGEN);
    printf("fast mode (Q4_1/Q8_0 with 8-bit activations): max |logit diff| %.3g; greedy %s (first diff at %d)\n", e,
           d < 0 ? "identical" : "differs", d);
    assert_true(e < 1.0);
    free(r.last);
}

/* The production path (Q4_1 and Q8_0 blocks kept, activations quantized
 * per block of 32) on every kernel path this CPU runs, against llama.cpp's
 * own quantized CPU path on the same file (tools/make_llamacpp_golden.sh):
 * the logits and the 64 greedy tokens.
 *
 * Both engines round every matrix product's input to 8 bits (llama.cpp: an
 * f16 scale per 32, pare: an f32 one), and a network of such products is
 * chaotic: a last-bit difference anywhere moves some inputs across a
 * rounding boundary, and that spreads (pare's own AVX2 and AVX-512 paths,
 * equal to 1e-6 on every single product, end rms 0.18 apart; llama.cpp vs
 * Hugging Face on the dequantized weights: max 0.63). So the logits are
 * held to their measured spread with headroom (session 9: rms 0.10-0.12,
 * max 0.77 against llama.cpp; the plain-C path, f32 inputs, rms 0.21 and
 * max 0.63), far below what a wrong scale, offset or block index gives; and
 * the greedy tokens must be llama.cpp's until a step where llama.cpp's two
 * best logits are within TIE of each other, where pare may take the
 * runner-up (the sequences then diverge: step 3, margin 0.07). */
#define LC_RMS_TOL 0.3
#define LC_MAX_TOL 1.6
#define TIE 1.0
static void test_smollm2_llamacpp(void **state) {
    (void)state;
    ref r;
    char gguf[4096], path[4096];
    if (!load_ref(&r, gguf, sizeof gguf, "tests/golden/smollm2-llamacpp.safetensors")) fail_msg("cannot load the reference");
    int32_t top2_ids[NGEN * 2];
    float top2[NGEN * 2];
    pare_err err = {0};
    pare_tensor_file *f;
    tu_assert_ok(pare_safetensors_open(tu_path(path, sizeof path, "tests/golden/smollm2-llamacpp.safetensors"), &f, &err), &err);
    copy_tensor(f, "greedy_top2_ids", top2_ids, NGEN * 2);
    copy_tensor(f, "greedy_top2_logits", top2, NGEN * 2);
    pare_tensor_file_close(f);
    pare_kernel_impl paths[4];
    const int n = tu_kernel_paths(paths);
    for (int i = 0; i < n; i++) {
        if (paths[i] == PARE_KERNEL_BLAS) continue; /* the f32 GEMM: not on a quantized path */
        if (paths[i] == PARE_KERNEL_REF && getenv("PARE_TEST_QUICK")) continue; /* plain C under the sanitizers: the release run has it */
        int32_t gen[NGEN];
        double rms;
        const double e = run_rms(gguf, false, paths[i], &r, gen, &rms);
        const int d = first_diff(gen, r.greedy, NGEN);
        print_message("kernel %s vs llama.cpp: max |logit diff| %.3g, rms %.3g; greedy %s (first diff %d)\n",
                      pare_kernel_impl_name(paths[i]), e, rms, d < 0 ? "identical" : "differs", d);
        if (!(rms <= LC_RMS_TOL && e <= LC_MAX_TOL))
            fail_msg("kernel %s: logits off llama.cpp's by rms %.3g (bound %g), max %.3g (bound %g)",
                     pare_kernel_impl_name(paths[i]), rms, LC_RMS_TOL, e, LC_MAX_TOL);
        if (d >= 0) {
            const double margin = top2[2 * d] - top2[2 * d + 1];
            if (!(margin < TIE && gen[d] == top2_ids[2 * d + 1]))
                fail_msg("kernel %s: greedy token %d is %d, llama.cpp's %d (its runner-up %d, %.3g behind: %s)",
                         pare_kernel_impl_name(paths[i]), d, gen[d], r.greedy[d], top2_ids[2 * d + 1], margin,
                         margin < TIE ? "pare took neither" : "not a tie");
        }
    }
    free(r.last);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smollm2),
        cmocka_unit_test(test_smollm2_llamacpp),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
