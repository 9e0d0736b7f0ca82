/* int8 BERT (pare_bert_quantize, pare_bert_save_quantized): MiniLM-L6 on the
 * 32 golden tweets: every kernel path (plain C, AVX2, VNNI, AMX) against
 * the plain-C path of the same quantized model (PATH_REL_TOL below), and
 * the quality of each format against the fp32 Hugging Face outputs
 * (tests/golden/minilm-l6.safetensors): per tweet, the cosine similarity
 * of the mean-pooled last hidden state and of the pooler output.
 *
 * The cosine floors are about twice the worst distance (1 - cos) measured
 * on Sapphire Rapids in session 9: W8A8 dynamic 0.99285 (floor 0.985),
 * weight-only 0.99917 (0.998), static W8A8 0.92019 (0.84: one scale per
 * tensor meets BERT's outlier channels at the LayerNorm outputs; with QKV
 * kept dynamic static reaches 0.995; SmoothQuant is the remedy), static +
 * SmoothQuant 0.99390 (0.987), dynamic + SmoothQuant 0.99708 (0.994), NF4
 * 0.94745 (0.89), FP4 0.90053 (0.80), int4 RTN 0.91790 (0.83), int4 GPTQ
 * 0.96666 (0.93). A saved quantized folder loads back and gives the same
 * outputs as the model quantized in memory. */
#include "testutil.h"

#include "pare/bert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_COS 0.985
#define MIN_COS_W8 0.998
#define MIN_COS_STATIC 0.84

static bool quick(void) {
    const char *q = getenv("PARE_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

typedef struct ref {
    pare_tensor_file *f;
    int64_t N, H, lines[64];
    float *mean;   /* [N, H] mean over real tokens of the HF hidden state */
    float *pooled; /* [N, H] */
} ref;

static void ref_load(ref *r) {
    char path[4096];
    pare_err err = {0};
    memset(r, 0, sizeof *r);
    tu_assert_ok(pare_safetensors_open(tu_path(path, sizeof path, "tests/golden/minilm-l6.safetensors"), &r->f, &err), &err);
    const pare_tensor *mask = pare_tensor_file_find(r->f, "attention_mask");
    const pare_tensor *hid = pare_tensor_file_find(r->f, "last_hidden_state_packed");
    const pare_tensor *pool = pare_tensor_file_find(r->f, "pooler_output");
    assert_non_null(mask); assert_non_null(hid); assert_non_null(pool);
    r->N = mask->shape[0];
    r->H = hid->shape[1];
    const int64_t T = mask->shape[1], H = r->H;
    int32_t *m32 = malloc(mask->nbytes);
    float *h = malloc(hid->nbytes);
    memcpy(m32, mask->data, mask->nbytes);
    memcpy(h, hid->data, hid->nbytes);
    r->pooled = malloc(pool->nbytes);
    memcpy(r->pooled, pool->data, pool->nbytes);
    r->mean = calloc((size_t)(r->N * H), sizeof(float));
    int64_t row = 0;
    for (int64_t i = 0; i < r->N; i++) {
        int64_t len = 0;
        for (int64_t t = 0; t < T; t++) len += m32[i * T + t];
        for (int64_t t = 0; t < len; t++, row++)
            for (int64_t j = 0; j < H; j++) r->mean[i * H + j] += h[row * H + j] / (float)len;
    }
    const char *lines = pare_tensor_file_metadata(r->f, "tweet_lines");
    assert_non_null(lines);
    int64_t n = 0;
    for (const char *s = lines; *s && n < 64;) {
        r->lines[n++] = strtoll(s, (char **)&s, 10);
        if (*s == ',') s++;
    }
    assert_int_equal(n, r->N);
    /* the sanitizer run: the first 8 tweets (a minimum over 8 is at least the
     * minimum over 32, so the floors hold) */
    if (quick()) r->N = 8;
    free(m32);
    free(h);
}

static void ref_free(ref *r) {
    free(r->mean);
    free(r->pooled);
    pare_tensor_file_close(r->f);
}

static double cosine(const float *a, const float *b, int64_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / (sqrt(aa) * sqrt(bb) + 1e-30);
}

/* Mean-pooled hidden states and pooler outputs of the first n golden tweets. */
static void run_tweets_n(pare_bert *m, const ref *r, int64_t n, float *mean, float *pooled) {
    const int64_t H = r->H, B = 8;
    char **texts = tu_semeval_tweets(r->lines, n);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(B * 128)), *mask = malloc(sizeof(int32_t) * (size_t)(B * 128));
    float *hidden = malloc(sizeof(float) * (size_t)(B * 128 * H));
    pare_err err = {0};
    for (int64_t start = 0; start < n; start += B) {
        int64_t nb = n - start < B ? n - start : B;
        int32_t T;
        tu_assert_ok(pare_wordpiece_encode_batch(pare_bert_tokenizer(m), (const char *const *)texts + start, (int32_t)nb,
                                                 128, false, ids, mask, &T, &err), &err);
        pare_bert_outputs out = {.hidden = hidden, .pooled = pooled + start * H};
        tu_assert_ok(pare_bert_forward(m, ids, mask, NULL, nb, T, &out, &err), &err);
        for (int64_t b = 0; b < nb; b++) {
            float *mv = mean + (start + b) * H;
            int64_t len = 0;
            memset(mv, 0, sizeof(float) * (size_t)H);
            for (int64_t t = 0; t < T; t++) len += mask[b * T + t];
            for (int64_t t = 0; t < len; t++)
                for (int64_t j = 0; j < H; j++) mv[j] += hidden[(b * T + t) * H + j] / (float)len;
        }
    }
    free(ids); free(mask); free(hidden);
    tu_free_strings(texts, n);
}

static void run_tweets(pare_bert *m, const ref *r, float *mean, float *pooled) { run_tweets_n(m, r, r->N, mean, pooled); }

/* Per-tweet cosine of mean hidden and pooled vs the fp32 reference. */
static double check_close(const char *what, const ref *r, const float *mean, const float *pooled, double min_cos) {
    double min_h = 1, min_p = 1, sum_h = 0, sum_p = 0;
    for (int64_t i = 0; i < r->N; i++) {
        double ch = cosine(mean + i * r->H, r->mean + i * r->H, r->H);
        double cp = cosine(pooled + i * r->H, r->pooled + i * r->H, r->H);
        min_h = ch < min_h ? ch : min_h;
        min_p = cp < min_p ? cp : min_p;
        sum_h += ch;
        sum_p += cp;
    }
    print_message("minilm-l6 %-14s cosine vs fp32 over %lld tweets: mean-hidden min %.5f avg %.5f, pooled min %.5f avg %.5f\n",
                  what, (long long)r->N, min_h, sum_h / (double)r->N, min_p, sum_p / (double)r->N);
    if (min_h < min_cos || min_p < min_cos) fail_msg("%s: cosine below %.2f", what, min_cos);
    return sum_h / (double)r->N;
}

static char **calib_texts(int64_t n) {
    int64_t lines[64];
    for (int64_t i = 0; i < n; i++) lines[i] = 3001 + 7 * i;
    return tu_semeval_tweets(lines, n);
}

/* The saved quantized folder loaded with its kernels forced to kernel (ref:
 * the plain-C int8 GEMM and row kernels; avx2: maddubs; avx512: VNNI; auto:
 * AMX where the CPU has it), run on the first n golden tweets. */
static void run_path(const char *folder, pare_kernel_impl kernel, pare_bert_qmode mode, const ref *r, int64_t n,
                     float *mean, float *pooled) {
    pare_err err = {0};
    pare_bert *m = NULL;
    pare_bert_params p = pare_bert_default_params();
    p.kernel = kernel;
    tu_assert_ok(pare_bert_load(folder, &p, &m, &err), &err);
    assert_int_equal(pare_bert_get_qmode(m), mode);
    run_tweets_n(m, r, n, mean, pooled);
    pare_bert_free(m);
}

/* Quantize, compare with fp32, save, load back, and run the saved folder on
 * every kernel path against the plain-C one; the average mean-hidden cosine
 * to fp32. gptq: int4 by GPTQ on the calibration texts.
 *
 * Kernel paths against the plain-C path of the same saved model, on the
 * first 8 tweets (max |diff| of the mean hidden state and the pooler output
 * over the largest |value|; path_tol). Weight-only formats compute in f32
 * on dequantized weights: measured 8.8e-7, bound 2.7e-6 (3x). W8A8: the
 * int32 accumulators are exact in every kernel (test_int8), but the f32
 * row kernels and the order of the scale products differ in the last bit,
 * and where that moves an input across an int8 rounding boundary the
 * difference grows layer by layer: measured up to W8A8_MEASURED, bound 3x.
 * (Sapphire Rapids, session 9.) A sign or offset bug in an int8 kernel's
 * compensation moves outputs by far more, and the fp32 cosines fall. */
#define PATH_TOL_F32 2.7e-6
#define W8A8_MEASURED 0.051 /* dynamic, VNNI (this CPU has no AMX); static min-max 0.022 */
#define PATH_TOL_W8A8 (3 * W8A8_MEASURED)
enum { N_PATH_TWEETS = 8 };
static double check_mode_opts(const ref *r, pare_bert_qmode mode, pare_calib_method calib, bool gptq, double smooth,
                              double min_cos, const char *what) {
    const bool w8a8 = mode == PARE_BERT_W8A8_DYNAMIC || mode == PARE_BERT_W8A8_STATIC;
    const double path_tol = w8a8 ? PATH_TOL_W8A8 : PATH_TOL_F32;
    char dir[4096];
    tu_model_dir(dir, sizeof dir, "minilm-l6");
    pare_err err = {0};
    const int64_t n_calib = 64, NH = r->N * r->H, NP = N_PATH_TWEETS * r->H;
    char **texts = calib_texts(n_calib);
    pare_bert_quant_opts o = {.mode = mode, .calib = calib, .percentile = 99.99,
                              .calib_texts = (const char *const *)texts, .n_calib = n_calib, .gptq = gptq,
                              .smooth_alpha = smooth};
    float *mean = malloc(sizeof(float) * (size_t)NH), *pooled = malloc(sizeof(float) * (size_t)NH);
    float *m2 = malloc(sizeof(float) * (size_t)NH), *p2 = malloc(sizeof(float) * (size_t)NH);
    pare_bert *m = NULL;
    tu_assert_ok(pare_bert_load(dir, NULL, &m, &err), &err);
    tu_assert_ok(pare_bert_quantize(m, &o, &err), &err);
    assert_int_equal(pare_bert_get_qmode(m), mode);
    run_tweets(m, r, mean, pooled);
    const double avg = check_close(what, r, mean, pooled, min_cos);
    /* save, load back: the same outputs */
    char out[4096], cmd[8300];
    snprintf(out, sizeof out, "%s/pare-test-int8-%d-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), (int)mode);
    tu_assert_ok(pare_bert_save_quantized(m, dir, out, &err), &err);
    run_path(out, PARE_KERNEL_AUTO, mode, r, r->N, m2, p2);
    double d = tu_max_abs_diff(mean, m2, NH);
    if (d > 1e-5) fail_msg("%s: loaded model differs from the in-memory one by %g", what, d);
    pare_bert *loaded = NULL;
    tu_assert_ok(pare_bert_load(out, NULL, &loaded, &err), &err);
    assert_true(pare_bert_weight_bytes(loaded) < pare_bert_weight_bytes(m));
    pare_bert_free(loaded);
    /* every kernel path on the saved folder against plain C (the sanitizer
     * run: for an int8 and a 4-bit format only; the same kernels serve the rest) */
    const bool paths_too = !quick() || (mode == PARE_BERT_W8A8_DYNAMIC && smooth == 0) || mode == PARE_BERT_W4_NF4;
    if (paths_too) run_path(out, PARE_KERNEL_REF, mode, r, N_PATH_TWEETS, mean, pooled);
    double scale = 0;
    for (int64_t i = 0; i < NP; i++) scale = fmax(scale, fmax(fabs(mean[i]), fabs(pooled[i])));
    static const pare_kernel_impl paths[] = {PARE_KERNEL_AVX2, PARE_KERNEL_AVX512, PARE_KERNEL_AUTO};
    for (int i = 0; i < 3 && paths_too; i++) {
        if (paths[i] != PARE_KERNEL_AUTO && pare_kernel_resolve(paths[i]) != paths[i]) {
            print_message("  %s kernel path %s: not run (this CPU cannot run it)\n", what, pare_kernel_impl_name(paths[i]));
            continue;
        }
        run_path(out, paths[i], mode, r, N_PATH_TWEETS, m2, p2);
        d = fmax(tu_max_abs_diff(m2, mean, NP), tu_max_abs_diff(p2, pooled, NP)) / scale;
        print_message("  %s kernel path %s vs plain C: max |diff| %.3g of the largest value (bound %.2g)\n", what,
                      pare_kernel_impl_name(paths[i]), d, path_tol);
        if (!(d <= path_tol)) fail_msg("%s kernel path %s: %.3g > %.3g", what, pare_kernel_impl_name(paths[i]), d, path_tol);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    assert_int_equal(system(cmd), 0);
    free(mean), free(pooled), free(m2), free(p2);
    tu_free_strings(texts, n_calib);
    pare_bert_free(m);
    return avg;
}

static void check_mode(const ref *r, pare_bert_qmode mode, pare_calib_method calib, const char *what) {
    check_mode_opts(r, mode, calib, false, 0,
                    mode == PARE_BERT_W8A8_STATIC ? MIN_COS_STATIC : mode == PARE_BERT_W8_ONLY ? MIN_COS_W8 : MIN_COS, what);
}

/* 4-bit weight-only: NF4, FP4, int4 by round to nearest and by GPTQ; GPTQ
 * lands closer to fp32 than round to nearest (its paper's claim). */
static void test_4bit(void **state) {
    (void)state;
    ref r;
    ref_load(&r);
    check_mode_opts(&r, PARE_BERT_W4_NF4, PARE_CALIB_MINMAX, false, 0, 0.89, "w4-nf4");
    check_mode_opts(&r, PARE_BERT_W4_FP4, PARE_CALIB_MINMAX, false, 0, 0.80, "w4-fp4");
    const double rtn = check_mode_opts(&r, PARE_BERT_W4_INT, PARE_CALIB_MINMAX, false, 0, 0.83, "w4-int4 rtn");
    const double gptq = check_mode_opts(&r, PARE_BERT_W4_INT, PARE_CALIB_MINMAX, true, 0, 0.93, "w4-int4 gptq");
    print_message("int4 g128 mean-hidden cosine to fp32: rtn %.5f, gptq %.5f\n", rtn, gptq);
    assert_true(gptq > rtn);
    ref_free(&r);
}

static void test_dynamic(void **state) {
    (void)state;
    ref r;
    ref_load(&r);
    check_mode(&r, PARE_BERT_W8A8_DYNAMIC, PARE_CALIB_MINMAX, "w8a8-dynamic");
    ref_free(&r);
}

static void test_static(void **state) {
    (void)state;
    ref r;
    ref_load(&r);
    check_mode(&r, PARE_BERT_W8A8_STATIC, PARE_CALIB_PERCENTILE, "static-pct");
    check_mode(&r, PARE_BERT_W8A8_STATIC, PARE_CALIB_MINMAX, "static-minmax");
    ref_free(&r);
}

/* SmoothQuant on W8A8 (alpha 0.8): saved and loaded back like the rest; on
 * MiniLM the static per-tensor input scale gains from the smoothing (mean
 * cosine 0.977 -> 0.996; alpha 0.5 made it worse, 0.91). */
static void test_smoothquant(void **state) {
    (void)state;
    ref r;
    ref_load(&r);
    const double plain = check_mode_opts(&r, PARE_BERT_W8A8_STATIC, PARE_CALIB_MINMAX, false, 0, MIN_COS_STATIC, "static");
    const double sq = check_mode_opts(&r, PARE_BERT_W8A8_STATIC, PARE_CALIB_MINMAX, false, 0.8, 0.987, "static+sq0.8");
    check_mode_opts(&r, PARE_BERT_W8A8_DYNAMIC, PARE_CALIB_MINMAX, false, 0.8, 0.994, "dynamic+sq0.8");
    print_message("w8a8 static mean-hidden cosine to fp32: plain %.5f, smoothquant %.5f\n", plain, sq);
    assert_true(sq > plain);
    ref_free(&r);
}

static void test_weight_only(void **state) {
    (void)state;
    ref r;
    ref_load(&r);
    check_mode(&r, PARE_BERT_W8_ONLY, PARE_CALIB_MINMAX, "w8-only");
    ref_free(&r);
}

static void test_errors(void **state) {
    (void)state;
    char dir[4096];
    tu_model_dir(dir, sizeof dir, "minilm-l6");
    pare_err err = {0};
    pare_bert *m = NULL;
    tu_assert_ok(pare_bert_load(dir, NULL, &m, &err), &err);
    pare_bert_quant_opts o = {.mode = PARE_BERT_W8A8_STATIC};
    assert_int_equal(pare_bert_quantize(m, &o, &err), PARE_ERR_INVALID); /* no calibration texts */
    assert_non_null(strstr(err.msg, "calibration"));
    assert_int_equal(pare_bert_get_qmode(m), PARE_BERT_FP32);
    assert_int_equal(pare_bert_save_quantized(m, dir, "/nonexistent/x", &err), PARE_ERR_INVALID);
    o.mode = PARE_BERT_W8A8_DYNAMIC;
    tu_assert_ok(pare_bert_quantize(m, &o, &err), &err);
    assert_int_equal(pare_bert_quantize(m, &o, &err), PARE_ERR_INVALID); /* twice */
    pare_bert_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynamic), cmocka_unit_test(test_static),
        cmocka_unit_test(test_weight_only), cmocka_unit_test(test_4bit), cmocka_unit_test(test_smoothquant), cmocka_unit_test(test_errors),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
