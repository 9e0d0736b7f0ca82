/* Byte-level BPE from the SmolLM2 GGUF: ids identical to Hugging Face on
 * every SemEval tweet and on edge cases, decode(encode(x)) == x, streaming
 * decode, chat templates identical to transformers' apply_chat_template
 * (goldens from tools/make_bpe_golden.py), bad metadata. */
#include "testutil.h"
#include "pare/bpe.h"
#include "pare/gguf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Inside a test: skip it (fail under CI=true) naming the missing model. */
static void need_smollm2(void) {
    char path[4096];
    tu_model_dir(path, sizeof path, "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    fail_msg("%s exists but did not open", path);
}

static pare_gguf *open_smollm2(void) {
    char path[4096], dir[4096];
    const char *models = getenv("PARE_MODELS_DIR");
    snprintf(path, sizeof path, "%s/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
             models ? models : tu_path(dir, sizeof dir, ".cache/models"));
    if (!pare_is_gguf_file(path)) return NULL; /* the tests that need it say so (need_smollm2) */
    pare_gguf *g;
    pare_err err = {0};
    tu_assert_ok(pare_gguf_open(path, &g, &err), &err);
    return g;
}

static int state_setup(void **state) {
    pare_gguf *g = open_smollm2();
    if (!g) {
        *state = NULL;
        return 0;
    }
    pare_bpe *t;
    pare_err err = {0};
    if (pare_bpe_from_gguf(g, &t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    pare_gguf_close(g);
    *state = t;
    return 0;
}

/* The same tokenizer through Hugging Face's format: written from the GGUF
 * (pare_bpe_gguf_write_json) into a temporary folder and read back by the
 * tokenizer.json loader; the goldens must hold unchanged. (make references
 * also checks that HF tokenizers reads this file to the same ids, and that
 * pare reads the tokenizer.json transformers itself saves.) */
static int state_setup_json(void **state) {
    pare_gguf *g = open_smollm2();
    if (!g) {
        *state = NULL;
        return 0;
    }
    char dir[] = "/tmp/pare-test-bpe-json-XXXXXX", path[128];
    pare_err err = {0};
    pare_bpe *t = NULL;
    if (!mkdtemp(dir) || pare_bpe_gguf_write_json(g, dir, &err) || pare_bpe_load(dir, &t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    pare_gguf_close(g);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    remove(path);
    rmdir(dir);
    *state = t;
    return 0;
}

static int state_teardown(void **state) {
    pare_bpe_free(*state);
    return 0;
}

/* decode(ids) must give the text back */
static void check_roundtrip(const pare_bpe *t, const int32_t *ids, int64_t n, const char *text, size_t len) {
    char *out = malloc(len + 64);
    size_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t l;
        const char *b = pare_bpe_token_bytes(t, ids[i], &l);
        assert_non_null(b);
        if (k + l > len) fail_msg("decode longer than the text");
        memcpy(out + k, b, l);
        k += l;
    }
    if (k != len || memcmp(out, text, len)) fail_msg("decode(encode(x)) != x for '%.*s'", (int)len, text);
    free(out);
}

/* Every SemEval tweet against a golden (line, n ids, fnv1a64): the HF one
 * (tools/make_bpe_golden.py) or llama.cpp's (tools/make_llamacpp_golden.sh). */
static void check_semeval(const pare_bpe *t, const char *golden_rel) {
    char path[1200], gpath[1200];
    const char *data = getenv("PARE_DATA_DIR");
    if (data && *data) snprintf(path, sizeof path, "%s/semeval2018-ec/2018-E-c-En-train.txt", data);
    else snprintf(path, sizeof path, "%s/../shared/data/semeval2018-ec/2018-E-c-En-train.txt", tu_source_dir());
    char *tsv = tu_slurp(path, NULL), *golden = tu_slurp(tu_path(gpath, sizeof gpath, golden_rel), NULL);
    char *cur = tsv, *gcur = golden, *line;
    int line_no = 0, n_tweets = 0, bad = 0;
    pare_err err = {0};
    double t0 = pare_time_now();
    while ((line = tu_next_line(&cur))) {
        if (++line_no == 1) continue;
        char *text = strchr(line, '\t') + 1, *end = strchr(text, '\t');
        size_t len = end ? (size_t)(end - text) : strlen(text);
        int32_t *ids;
        int64_t n;
        tu_assert_ok(pare_bpe_encode(t, text, len, false, &ids, &n, &err), &err);
        n_tweets++;
        char *g = tu_next_line(&gcur);
        assert_non_null(g);
        int g_line = 0, g_n = 0;
        unsigned long long g_hash = 0;
        assert_int_equal(sscanf(g, "%d\t%d\t%llx", &g_line, &g_n, &g_hash), 3);
        assert_int_equal(g_line, line_no);
        if (g_n != n || g_hash != tu_fnv1a64_ids(ids, (int32_t)n)) {
            if (bad++ < 5) {
                print_message("line %d: %d ids, golden %d: '%.*s'\n  got:", line_no, (int)n, g_n, (int)len, text);
                for (int64_t i = 0; i < n; i++) print_message(" %d", (int)ids[i]);
                print_message("\n");
            }
        }
        check_roundtrip(t, ids, n, text, len);
        free(ids);
    }
    print_message("smollm2 BPE vs %s: %d/%d tweets identical, %.0f tweets/s (with the checks)\n", golden_rel,
                  n_tweets - bad, n_tweets, n_tweets / (pare_time_now() - t0));
    assert_int_equal(n_tweets, 6858);
    assert_int_equal(bad, 0);
    free(tsv);
    free(golden);
}

static void test_semeval(void **state) {
    const pare_bpe *t = *state;
    if (!t) need_smollm2();
    check_semeval(t, "tests/golden/semeval_bpe_smollm2.tsv");
    check_semeval(t, "tests/golden/semeval_bpe_smollm2.llamacpp.tsv");
}

/* Escaped texts against ids, one a line; roundtrip: the ids decode back to
 * the text (not so for bytes the vocabulary lacks). */
static int check_edge(const pare_bpe *t, const char *cases_rel, const char *golden_rel, bool roundtrip) {
    char p1[1200], p2[1200];
    char *cases = tu_slurp(tu_path(p1, sizeof p1, cases_rel), NULL);
    char *golden = tu_slurp(tu_path(p2, sizeof p2, golden_rel), NULL);
    char *cur = cases, *gcur = golden, *line;
    static char text[16384];
    static int32_t want[4096];
    int k = 0, bad = 0;
    pare_err err = {0};
    while ((line = tu_next_line(&cur))) {
        k++;
        char *g = tu_next_line(&gcur);
        assert_non_null(g);
        int n_want = tu_parse_ids(g, want, 4096);
        size_t len = tu_unescape(line, text);
        int32_t *ids;
        int64_t n;
        tu_assert_ok(pare_bpe_encode(t, text, len, false, &ids, &n, &err), &err);
        if (n != n_want || memcmp(ids, want, sizeof(int32_t) * (size_t)n) != 0) {
            bad++;
            print_message("edge case %d '%s':\n  want:", k, line);
            for (int i = 0; i < n_want; i++) print_message(" %d", (int)want[i]);
            print_message("\n  got: ");
            for (int64_t i = 0; i < n; i++) print_message(" %d", (int)ids[i]);
            print_message("\n");
        }
        if (roundtrip) check_roundtrip(t, ids, n, text, len);
        free(ids);
    }
    print_message("smollm2 BPE vs %s: %d/%d edge cases identical\n", golden_rel, k - bad, k);
    assert_int_equal(bad, 0);
    free(cases);
    free(golden);
    return k;
}

static void test_edge_cases(void **state) {
    const pare_bpe *t = *state;
    if (!t) need_smollm2();
    assert_true(check_edge(t, "tests/golden/bpe_edge_cases.txt", "tests/golden/bpe_edge_cases.ids", true) >= 60);
    assert_true(check_edge(t, "tests/golden/bpe_edge_cases.txt", "tests/golden/bpe_edge_cases.llamacpp.ids", true) >= 60);
    /* bytes the vocabulary lacks (dropped) and invalid UTF-8 (U+FFFD), as
     * llama.cpp tokenizes them; HF tokenizers cannot encode these texts */
    assert_int_equal(check_edge(t, "tests/golden/bpe_bytes.txt", "tests/golden/bpe_bytes.llamacpp.ids", false), 10);
}

static void test_stream(void **state) {
    const pare_bpe *t = *state;
    if (!t) need_smollm2();
    const char *text = "emoji 👨‍👩‍👧 and 中文 é";
    int32_t *ids;
    int64_t n;
    pare_err err = {0};
    tu_assert_ok(pare_bpe_encode(t, text, strlen(text), false, &ids, &n, &err), &err);
    pare_bpe_stream s = {0};
    char out[4096], piece[512];
    size_t k = 0, l;
    for (int64_t i = 0; i < n; i++) {
        pare_bpe_stream_put(t, &s, ids[i], piece, sizeof piece, &l);
        /* every chunk handed out is whole UTF-8 */
        for (size_t j = 0; j < l;) {
            uint8_t c = (uint8_t)piece[j];
            size_t w = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            assert_true(j + w <= l);
            j += w;
        }
        memcpy(out + k, piece, l);
        k += l;
    }
    assert_int_equal(s.held, 0);
    assert_int_equal(k, strlen(text));
    assert_memory_equal(out, text, k);
    free(ids);
}

static void test_chat(void **state) {
    (void)state;
    pare_gguf *g = open_smollm2();
    if (!g) need_smollm2();
    char tmpl[8192], path[1200];
    pare_err err = {0};
    tu_assert_ok(pare_gguf_get_str(g, "tokenizer.chat_template", "", tmpl, sizeof tmpl, &err), &err);
    pare_gguf_close(g);
    const pare_chat_msg cases[3][3] = {
        {{"user", "What is the capital of France?"}},
        {{"system", "Be brief."}, {"user", "Hi!"}},
        {{"user", "Hello"}, {"assistant", "Hi, how can I help?"}, {"user", "Tell me a joke."}},
    };
    const int n_msgs[3] = {1, 2, 3};
    const bool gen[3] = {true, true, false};
    char *golden = tu_slurp(tu_path(path, sizeof path, "tests/golden/chat_smollm2.txt"), NULL), *cur = golden, *line;
    static char want[8192];
    for (int c = 0; c < 3; c++) {
        line = tu_next_line(&cur);
        assert_non_null(line);
        size_t wl = tu_unescape(strchr(line, '\t') + 1, want);
        want[wl] = 0;
        char *got;
        tu_assert_ok(pare_chat_apply(tmpl, cases[c], n_msgs[c], gen[c], &got, &err), &err);
        if (strcmp(got, want)) fail_msg("chat case %d:\nwant: %s\ngot:  %s", c, want, got);
        free(got);
    }
    free(golden);
    char *got;
    assert_int_equal(pare_chat_apply("{{ unknown }}", cases[0], 1, true, &got, &err), PARE_ERR_UNSUPPORTED);
}

static void test_bad_metadata(void **state) {
    (void)state;
    pare_err err = {0};
    pare_gguf_writer *w = pare_gguf_writer_create();
    assert_non_null(w);
    const char *toks[] = {"a", "b", "ab"};
    const char *merges[] = {"a c"};
    tu_assert_ok(pare_gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2", &err), &err);
    tu_assert_ok(pare_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 3, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", merges, 1, &err), &err);
    char path[256];
    snprintf(path, sizeof path, "/tmp/pare-test-bpe-%d.gguf", (int)getpid());
    tu_assert_ok(pare_gguf_writer_write(w, path, &err), &err);
    pare_gguf_writer_free(w);
    pare_gguf *g;
    tu_assert_ok(pare_gguf_open(path, &g, &err), &err);
    pare_bpe *t = NULL;
    assert_int_equal(pare_bpe_from_gguf(g, &t, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "not in the vocabulary"));
    pare_gguf_close(g);
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semeval),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_chat),
        cmocka_unit_test(test_bad_metadata),
    };
    const struct CMUnitTest json_tests[] = {
        cmocka_unit_test(test_semeval),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_stream),
    };
    int failed = cmocka_run_group_tests_name("bpe from GGUF metadata", tests, state_setup, state_teardown);
    return tu_result(failed + cmocka_run_group_tests_name("bpe from tokenizer.json", json_tests, state_setup_json, state_teardown));
}
