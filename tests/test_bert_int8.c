/* int8 BERT (pare_bert_quantize, pare_bert_save_quantized): MiniLM-L6 on the
 * 32 golden tweets against the fp32 Hugging Face outputs
 * (tests/golden/minilm-l6.safetensors). Per tweet, the cosine similarity
 * of the mean-pooled last hidden state and of the pooler output must exceed
 * 0.99 for W8A8 dynamic and weight-only int8. Static W8A8 (one scale per
 * tensor, min-max or 99.99th-percentile calibration on 64 other tweets)
 * only has to exceed 0.9: the LayerNorm outputs feeding QKV carry a few
 * outlier channels (the known BERT outlier dimensions), so one per-tensor
 * scale leaves the other channels a handful of levels (with QKV kept
 * dynamic, static reaches 0.995); SmoothQuant is the remedy (later). A saved quantized folder loads
 * back and gives the same outputs as the model quantized in memory. */
#include "testutil.h"

#include "pare/bert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_COS 0.99
#define MIN_COS_STATIC 0.9

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

/* Mean-pooled hidden states and pooler outputs of the golden tweets. */
static void run_tweets(pare_bert *m, const ref *r, float *mean, float *pooled) {
    const int64_t H = r->H, B = 8;
    char **texts = tu_semeval_tweets(r->lines, r->N);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(B * 128)), *mask = malloc(sizeof(int32_t) * (size_t)(B * 128));
    float *hidden = malloc(sizeof(float) * (size_t)(B * 128 * H));
    pare_err err = {0};
    for (int64_t start = 0; start < r->N; start += B) {
        int64_t nb = r->N - start < B ? r->N - start : B;
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
    tu_free_strings(texts, r->N);
}

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

/* Quantize, compare with fp32, save, load back; the average mean-hidden
 * cosine to fp32. gptq: int4 by GPTQ on the calibration texts. */
static double check_mode_opts(const ref *r, pare_bert_qmode mode, pare_calib_method calib, bool gptq, double smooth,
                              double min_cos, const char *what) {
    char dir[4096];
    tu_model_dir(dir, sizeof dir, "minilm-l6");
    pare_err err = {0};
    pare_bert *m = NULL;
    tu_assert_ok(pare_bert_load(dir, NULL, &m, &err), &err);
    const int64_t n_calib = 64;
    char **texts = calib_texts(n_calib);
    pare_bert_quant_opts o = {.mode = mode, .calib = calib, .percentile = 99.99,
                              .calib_texts = (const char *const *)texts, .n_calib = n_calib, .gptq = gptq,
                              .smooth_alpha = smooth};
    tu_assert_ok(pare_bert_quantize(m, &o, &err), &err);
    assert_int_equal(pare_bert_get_qmode(m), mode);
    float *mean = malloc(sizeof(float) * (size_t)(r->N * r->H)), *pooled = malloc(sizeof(float) * (size_t)(r->N * r->H));
    run_tweets(m, r, mean, pooled);
    const double avg = check_close(what, r, mean, pooled, min_cos);
    /* save, load back: same outputs */
    if (mode != PARE_BERT_W8A8_DYNAMIC || !getenv("PARE_TEST_QUICK")) {
        char out[4096], cmd[8300];
        snprintf(out, sizeof out, "%s/pare-test-int8-%d-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), (int)mode);
        tu_assert_ok(pare_bert_save_quantized(m, dir, out, &err), &err);
        pare_bert *m2 = NULL;
        tu_assert_ok(pare_bert_load(out, NULL, &m2, &err), &err);
        assert_int_equal(pare_bert_get_qmode(m2), mode);
        float *mean2 = malloc(sizeof(float) * (size_t)(r->N * r->H)), *pooled2 = malloc(sizeof(float) * (size_t)(r->N * r->H));
        run_tweets(m2, r, mean2, pooled2);
        double d = tu_max_abs_diff(mean, mean2, r->N * r->H);
        if (d > 1e-5) fail_msg("%s: loaded model differs from the in-memory one by %g", what, d);
        assert_true(pare_bert_weight_bytes(m2) < pare_bert_weight_bytes(m));
        free(mean2); free(pooled2);
        pare_bert_free(m2);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
        assert_int_equal(system(cmd), 0);
    }
    free(mean); free(pooled);
    tu_free_strings(texts, n_calib);
    pare_bert_free(m);
    return avg;
}

static void check_mode(const ref *r, pare_bert_qmode mode, pare_calib_method calib, const char *what) {
    check_mode_opts(r, mode, calib, false, 0, mode == PARE_BERT_W8A8_STATIC ? MIN_COS_STATIC : MIN_COS, what);
}

/* 4-bit weight-only: NF4, FP4, int4 by round to nearest and by GPTQ; GPTQ
 * lands closer to fp32 than round to nearest (its paper's claim). */
static void test_4bit(void **state) {
    (void)state;
    ref r;
    ref_load(&r);
    check_mode_opts(&r, PARE_BERT_W4_NF4, PARE_CALIB_MINMAX, false, 0, 0.90, "w4-nf4");
    check_mode_opts(&r, PARE_BERT_W4_FP4, PARE_CALIB_MINMAX, false, 0, 0.85, "w4-fp4");
    const double rtn = check_mode_opts(&r, PARE_BERT_W4_INT, PARE_CALIB_MINMAX, false, 0, 0.90, "w4-int4 rtn");
    const double gptq = check_mode_opts(&r, PARE_BERT_W4_INT, PARE_CALIB_MINMAX, true, 0, 0.90, "w4-int4 gptq");
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
    const double sq = check_mode_opts(&r, PARE_BERT_W8A8_STATIC, PARE_CALIB_MINMAX, false, 0.8, MIN_COS_STATIC, "static+sq0.8");
    check_mode_opts(&r, PARE_BERT_W8A8_DYNAMIC, PARE_CALIB_MINMAX, false, 0.8, MIN_COS, "dynamic+sq0.8");
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
    return cmocka_run_group_tests(tests, NULL, NULL);
}
