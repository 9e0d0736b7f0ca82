/* WordPiece tokenizer: ids identical to Hugging Face tokenizers on every
 * SemEval tweet and on edge cases (goldens from
 * tools/make_tokenizer_golden.py), truncation, batches, bad input. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

#include "testutil.h"
#include "pare/tokenize.h"
#include "tokenize/bert_unicode.h"

#define MAX_LEN 512



static pare_wordpiece *load_model(const char *name, const char *file) {
    char dir[1024], path[1200];
    tu_model_dir(dir, sizeof dir, name);
    if (file) snprintf(path, sizeof path, "%s/%s", dir, file);
    else snprintf(path, sizeof path, "%s", dir);
    pare_wordpiece *t = NULL;
    pare_err err = {0};
    tu_assert_ok(pare_wordpiece_load(path, &t, &err), &err);
    return t;
}



/* ------------------------------------------------------------------ SemEval */

static void check_semeval(pare_wordpiece *t, const char *label) {
    char path[1200], gpath[1200];
    const char *data = getenv("PARE_DATA_DIR");
    if (data && *data) snprintf(path, sizeof path, "%s/semeval2018-ec/2018-E-c-En-train.txt", data);
    else snprintf(path, sizeof path, "%s/../shared/data/semeval2018-ec/2018-E-c-En-train.txt", tu_source_dir());
    char *tsv = tu_slurp(path, NULL);
    char *golden = tu_slurp(tu_path(gpath, sizeof gpath, "tests/golden/semeval_wordpiece.tsv"), NULL);
    char *head = tu_slurp(tu_path(gpath, sizeof gpath, "tests/golden/semeval_wordpiece_head.txt"), NULL);
    int32_t ids[MAX_LEN];
    char *cur = tsv, *gcur = golden, *line;
    int line_no = 0, n_tweets = 0, bad = 0;
    pare_err err = {0};
    double t0 = pare_time_now();
    while ((line = tu_next_line(&cur))) {
        if (++line_no == 1) continue; /* header */
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        char *text = tab + 1, *end = strchr(text, '\t');
        size_t len = end ? (size_t)(end - text) : strlen(text);
        int32_t n = 0;
        tu_assert_ok(pare_wordpiece_encode(t, text, len, MAX_LEN, ids, &n, &err), &err);
        n_tweets++;
        char *g = tu_next_line(&gcur);
        assert_non_null(g);
        int g_line = 0, g_n = 0;
        unsigned long long g_hash = 0;
        assert_int_equal(sscanf(g, "%d\t%d\t%llx", &g_line, &g_n, &g_hash), 3);
        assert_int_equal(g_line, line_no);
        if (g_n != n || g_hash != tu_fnv1a64_ids(ids, n)) {
            if (bad++ < 5) {
                print_message("%s: line %d: %d ids, golden %d: '%.*s'\n  got:", label, line_no, (int)n,
                              g_n, (int)len, text);
                for (int32_t i = 0; i < n; i++) print_message(" %d", (int)ids[i]);
                print_message("\n");
            }
        }
    }
    double dt = pare_time_now() - t0;
    print_message("%s: %d/%d tweets identical, %.0f tweets/s (with the checks)\n", label,
                  n_tweets - bad, n_tweets, n_tweets / dt);
    assert_int_equal(n_tweets, 6858);
    assert_int_equal(bad, 0);
    /* the head file holds full ids: check them exactly too */
    char *hcur = head;
    int n_head = 0;
    while ((line = tu_next_line(&hcur))) n_head++;
    assert_int_equal(n_head, 64);
    free(tsv);
    free(golden);
    free(head);
}

static void test_semeval_minilm_json(void **state) {
    (void)state;
    pare_wordpiece *t = load_model("minilm-l6", "tokenizer.json");
    check_semeval(t, "minilm-l6/tokenizer.json");
    pare_wordpiece_free(t);
}

static void test_semeval_minilm_vocab_txt(void **state) {
    (void)state;
    pare_wordpiece *t = load_model("minilm-l6", "vocab.txt");
    check_semeval(t, "minilm-l6/vocab.txt");
    pare_wordpiece_free(t);
}

static void test_semeval_all_minilm(void **state) {
    (void)state;
    pare_wordpiece *t = load_model("all-minilm-l6", NULL);
    check_semeval(t, "all-minilm-l6");
    pare_wordpiece_free(t);
}

/* ------------------------------------------------------------------ edge cases */

/* Undo the golden file's escapes (\\, \uXXXX, \UXXXXXXXX) into UTF-8. */

static void check_edge_cases(pare_wordpiece *t, const char *label) {
    char p1[1200], p2[1200];
    char *cases = tu_slurp(tu_path(p1, sizeof p1, "tests/golden/wordpiece_edge_cases.txt"), NULL);
    char *golden = tu_slurp(tu_path(p2, sizeof p2, "tests/golden/wordpiece_edge_cases.ids"), NULL);
    char *cur = cases, *gcur = golden, *line;
    int k = 0, bad = 0;
    static char text[8192];
    int32_t ids[MAX_LEN], want[MAX_LEN];
    pare_err err = {0};
    while ((line = tu_next_line(&cur))) {
        k++;
        char *g = tu_next_line(&gcur);
        assert_non_null(g);
        int n_want = tu_parse_ids(g, want, MAX_LEN);
        size_t len = tu_unescape(line, text);
        int32_t n = 0;
        tu_assert_ok(pare_wordpiece_encode(t, text, len, MAX_LEN, ids, &n, &err), &err);
        if (n != n_want || memcmp(ids, want, sizeof(int32_t) * (size_t)n) != 0) {
            bad++;
            print_message("%s: edge case %d '%s':\n  want:", label, k, line);
            for (int i = 0; i < n_want; i++) print_message(" %d", (int)want[i]);
            print_message("\n  got: ");
            for (int32_t i = 0; i < n; i++) print_message(" %d", (int)ids[i]);
            print_message("\n");
        }
    }
    assert_true(k >= 60);
    assert_int_equal(bad, 0);
    free(cases);
    free(golden);
}

static void test_edge_cases(void **state) {
    (void)state;
    pare_wordpiece *t = load_model("minilm-l6", "tokenizer.json");
    check_edge_cases(t, "tokenizer.json");
    pare_wordpiece_free(t);
    t = load_model("minilm-l6", "vocab.txt");
    check_edge_cases(t, "vocab.txt");
    pare_wordpiece_free(t);
}

static void test_unicode_tables_match_utf8proc(void **state) {
    (void)state;
    /* the exception tables were generated against this utf8proc */
    assert_string_equal(pare_bert_tables_unicode_version(), utf8proc_unicode_version());
}

/* ------------------------------------------------------------------ truncation, batch */

static void test_truncation(void **state) {
    (void)state;
    pare_wordpiece *t = load_model("minilm-l6", NULL);
    char gpath[1200];
    char *head = tu_slurp(tu_path(gpath, sizeof gpath, "tests/golden/semeval_wordpiece_head.txt"), NULL);
    /* re-encode the tweets of the head file is not possible (no texts in the
     * repo): truncate long texts whose full ids we know here instead */
    const char *text = "The quick brown fox jumps over the lazy dog, unaffably and "
                       "supercalifragilistically, twice [SEP] again!";
    int32_t full[MAX_LEN], ids[MAX_LEN];
    int32_t n_full = 0, n = 0;
    pare_err err = {0};
    tu_assert_ok(pare_wordpiece_encode(t, text, strlen(text), MAX_LEN, full, &n_full, &err), &err);
    assert_true(n_full > 16);
    const int32_t lens[] = {2, 3, 8, 16};
    for (int k = 0; k < 4; k++) {
        int32_t m = lens[k];
        tu_assert_ok(pare_wordpiece_encode(t, text, strlen(text), m, ids, &n, &err), &err);
        assert_int_equal(n, m);
        assert_int_equal(ids[0], pare_wordpiece_cls_id(t));
        assert_int_equal(ids[m - 1], pare_wordpiece_sep_id(t));
        assert_memory_equal(ids + 1, full + 1, sizeof(int32_t) * (size_t)(m - 2));
    }
    /* HF with truncation=True, max_length=8 on this text */
    const int32_t want8[8] = {101, 1996, 4248, 2829, 4419, 14523, 2058, 102};
    tu_assert_ok(pare_wordpiece_encode(t, text, strlen(text), 8, ids, &n, &err), &err);
    assert_memory_equal(ids, want8, sizeof want8);
    /* a short text is not padded */
    tu_assert_ok(pare_wordpiece_encode(t, "hi", 2, 16, ids, &n, &err), &err);
    assert_int_equal(n, 3);
    /* the golden heads truncated to 16 keep their prefix */
    char *cur = head, *line;
    while ((line = tu_next_line(&cur))) {
        int32_t g[MAX_LEN];
        int ng = tu_parse_ids(strchr(line, '\t') + 1, g, MAX_LEN);
        assert_true(ng >= 2);
        assert_int_equal(g[0], 101);
        assert_int_equal(g[ng - 1], 102);
    }
    assert_int_equal(pare_wordpiece_encode(t, "hi", 2, 1, ids, &n, &err), PARE_ERR_INVALID);
    free(head);
    pare_wordpiece_free(t);
}

static void test_batch(void **state) {
    (void)state;
    pare_wordpiece *t = load_model("all-minilm-l6", NULL);
    const char *texts[4] = {"Hello world!", "", "A much longer sentence, with more pieces in it.",
                            "café [SEP] 中文"};
    const int32_t max_len = 12;
    int32_t ids[4 * 12], mask[4 * 12], seq = 0;
    pare_err err = {0};
    for (int pad_to_max = 0; pad_to_max < 2; pad_to_max++) {
        tu_assert_ok(pare_wordpiece_encode_batch(t, texts, 4, max_len, pad_to_max, ids, mask, &seq, &err),
                     &err);
        assert_int_equal(seq, pad_to_max ? max_len : 12);
        for (int i = 0; i < 4; i++) {
            int32_t one[12], n = 0;
            tu_assert_ok(pare_wordpiece_encode(t, texts[i], strlen(texts[i]), max_len, one, &n, &err), &err);
            for (int32_t j = 0; j < seq; j++) {
                assert_int_equal(mask[i * seq + j], j < n);
                assert_int_equal(ids[i * seq + j], j < n ? one[j] : pare_wordpiece_pad_id(t));
            }
        }
    }
    /* padded to the longest, not to max_len */
    const char *short_texts[2] = {"a b", "a"};
    int32_t ids2[2 * 64], mask2[2 * 64];
    tu_assert_ok(pare_wordpiece_encode_batch(t, short_texts, 2, 64, false, ids2, mask2, &seq, &err), &err);
    assert_int_equal(seq, 4);
    const int32_t want_ids[8] = {101, 1037, 1038, 102, 101, 1037, 102, 0};
    const int32_t want_mask[8] = {1, 1, 1, 1, 1, 1, 1, 0};
    assert_memory_equal(ids2, want_ids, sizeof want_ids);
    assert_memory_equal(mask2, want_mask, sizeof want_mask);
    /* an error names the text */
    const char *bad[2] = {"ok", "bad \xff"};
    assert_int_equal(pare_wordpiece_encode_batch(t, bad, 2, 16, false, ids, mask, &seq, &err),
                     PARE_ERR_INVALID);
    assert_non_null(strstr(err.msg, "text 1"));
    pare_wordpiece_free(t);
}

/* ------------------------------------------------------------------ bad input */

static void test_invalid_utf8(void **state) {
    (void)state;
    pare_wordpiece *t = load_model("minilm-l6", NULL);
    struct {
        const char *s;
        size_t off;
    } cases[] = {
        {"abc\xff", 3},          {"\xc0\x80", 0},       {"ok \xed\xa0\x80", 3}, {"\xe2\x82", 0},
        {"x\xf4\x90\x80\x80", 1}, {"\x80 lone", 0},      {"caf\xc3", 3},         {"\xf8\x88\x80\x80\x80", 0},
    };
    int32_t ids[16], n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pare_err err = {0};
        assert_int_equal(pare_wordpiece_encode(t, cases[i].s, strlen(cases[i].s), 16, ids, &n, &err),
                         PARE_ERR_INVALID);
        char want[64];
        snprintf(want, sizeof want, "byte offset %zu", cases[i].off);
        if (!strstr(err.msg, want)) fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, want);
    }
    /* NUL bytes inside the length are text, removed by clean_text like HF */
    pare_err err = {0};
    tu_assert_ok(pare_wordpiece_encode(t, "a\0b", 3, 16, ids, &n, &err), &err);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], pare_wordpiece_token_to_id(t, "ab"));
    pare_wordpiece_free(t);
}

static pare_wordpiece_opts bert_opts(void) {
    pare_wordpiece_opts o = {.clean_text = true, .handle_chinese_chars = true, .strip_accents = -1,
                             .lowercase = true, .max_input_chars_per_word = 100};
    strcpy(o.continuing_prefix, "##");
    return o;
}

static void test_small_vocab(void **state) {
    (void)state;
    const char *vocab = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nun\r\n##aff\r\n##able\r\n,\r\nhe\r\n##llo\r\nHe\r\n";
    pare_wordpiece_opts o = bert_opts();
    pare_wordpiece *t = NULL;
    pare_err err = {0};
    tu_assert_ok(pare_wordpiece_from_vocab(vocab, strlen(vocab), &o, &t, &err), &err);
    assert_int_equal(pare_wordpiece_vocab_size(t), 11);
    assert_int_equal(pare_wordpiece_token_to_id(t, "##able"), 6);
    assert_int_equal(pare_wordpiece_token_to_id(t, "nope"), -1);
    assert_string_equal(pare_wordpiece_id_to_token(t, 4), "un");
    assert_null(pare_wordpiece_id_to_token(t, 11));
    assert_int_equal(pare_wordpiece_pad_id(t), 0);
    assert_int_equal(pare_wordpiece_unk_id(t), 1);
    int32_t ids[32], n = 0;
    tu_assert_ok(pare_wordpiece_encode(t, "UNAFFABLE, Hello unaffx", 23, 32, ids, &n, &err), &err);
    const int32_t want[] = {2, 4, 5, 6, 7, 8, 9, 1, 3};
    assert_int_equal(n, 9);
    assert_memory_equal(ids, want, sizeof want);
    pare_wordpiece_free(t);
    /* cased: "Hello" has no piece */
    o.lowercase = false;
    tu_assert_ok(pare_wordpiece_from_vocab(vocab, strlen(vocab), &o, &t, &err), &err);
    tu_assert_ok(pare_wordpiece_encode(t, "Hello He", 8, 32, ids, &n, &err), &err);
    const int32_t want_cased[] = {2, 10, 9, 10, 3};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want_cased, sizeof want_cased);
    pare_wordpiece_free(t);
    /* max_input_chars_per_word counts chars, not bytes */
    o = bert_opts();
    o.max_input_chars_per_word = 3;
    const char *v2 = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xc3\xa9\n##\xc3\xa9\n";
    o.strip_accents = 0;
    tu_assert_ok(pare_wordpiece_from_vocab(v2, strlen(v2), &o, &t, &err), &err);
    tu_assert_ok(pare_wordpiece_encode(t, "\xc3\xa9\xc3\xa9\xc3\xa9 \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 15,
                                       32, ids, &n, &err), &err);
    const int32_t want_chars[] = {2, 4, 5, 5, 1, 3};
    assert_int_equal(n, 6);
    assert_memory_equal(ids, want_chars, sizeof want_chars);
    pare_wordpiece_free(t);
}

static void expect_vocab_error(const char *vocab, const char *needle) {
    pare_wordpiece_opts o = bert_opts();
    pare_wordpiece *t = NULL;
    pare_err err = {0};
    assert_int_equal(pare_wordpiece_from_vocab(vocab, strlen(vocab), &o, &t, &err), PARE_ERR_FORMAT);
    assert_null(t);
    if (!strstr(err.msg, needle)) fail_msg("'%s' lacks '%s'", err.msg, needle);
}

static void test_malformed_vocab(void **state) {
    (void)state;
    expect_vocab_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\nab\nab\n", "duplicate token 'ab'");
    expect_vocab_error("[PAD]\n[UNK]\n[SEP]\n", "cls_token '[CLS]'");
    expect_vocab_error("[UNK]\n[CLS]\n[SEP]\n", "pad_token '[PAD]'");
    expect_vocab_error("[PAD]\n[CLS]\n[SEP]\n", "unk_token '[UNK]'");
    expect_vocab_error("[PAD]\n[UNK]\n[CLS]\n", "sep_token '[SEP]'");
    expect_vocab_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\nbad\xff\n", "line 5: invalid UTF-8");
    expect_vocab_error("", "empty");
    pare_wordpiece_opts o = bert_opts();
    o.max_input_chars_per_word = 0;
    pare_wordpiece *t = NULL;
    pare_err err = {0};
    assert_int_equal(pare_wordpiece_from_vocab("[PAD]\n", 6, &o, &t, &err), PARE_ERR_INVALID);
}

static char tmpdir[256];

static void write_file(const char *name, const char *text, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_load_error(const char *json, pare_status code, const char *needle) {
    char path[512];
    write_file("tokenizer.json", json, path, sizeof path);
    pare_wordpiece *t = NULL;
    pare_err err = {0};
    assert_int_equal(pare_wordpiece_load(path, &t, &err), code);
    assert_null(t);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "tokenizer.json"))
        fail_msg("'%s' lacks '%s' or the file name", err.msg, needle);
}

#define NORM "\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true},"
#define PRE "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
#define POST                                                                                   \
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\"}}," \
    "{\"Sequence\":{\"id\":\"A\"}},{\"SpecialToken\":{\"id\":\"[SEP]\"}}],\"special_tokens\":{"  \
    "\"[CLS]\":{\"ids\":[2]},\"[SEP]\":{\"ids\":[3]}}}"
#define VOCAB "\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"a\":4}"

static void test_malformed_tokenizer_json(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pare_tok_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char path[512];
    /* a good one first */
    write_file("tokenizer.json", "{" NORM PRE "\"model\":{\"type\":\"WordPiece\"," VOCAB "}," POST "}",
               path, sizeof path);
    pare_wordpiece *t = NULL;
    pare_err err = {0};
    tu_assert_ok(pare_wordpiece_load(path, &t, &err), &err);
    int32_t ids[8], n = 0;
    tu_assert_ok(pare_wordpiece_encode(t, "A b", 3, 8, ids, &n, &err), &err);
    const int32_t want[] = {2, 4, 1, 3};
    assert_int_equal(n, 4);
    assert_memory_equal(ids, want, sizeof want);
    pare_wordpiece_free(t);

    expect_load_error("{\"model\": [", PARE_ERR_FORMAT, "invalid JSON");
    expect_load_error("[1, 2]", PARE_ERR_FORMAT, "not a JSON object");
    expect_load_error("{" NORM PRE POST "}", PARE_ERR_FORMAT, "model is missing");
    expect_load_error("{" NORM PRE "\"model\":{\"vocab\":[1]}," POST "}", PARE_ERR_FORMAT, "model.vocab");
    expect_load_error("{" NORM PRE "\"model\":{\"vocab\":{\"[PAD]\":0,\"x\":\"1\"}}," POST "}",
                      PARE_ERR_FORMAT, "model.vocab['x']");
    expect_load_error("{" NORM PRE "\"model\":{\"vocab\":{\"[PAD]\":0,\"x\":0}}," POST "}",
                      PARE_ERR_FORMAT, "id 0 is given to both");
    expect_load_error("{" NORM PRE "\"model\":{\"vocab\":{\"[PAD]\":0,\"[PAD]\":1}}," POST "}",
                      PARE_ERR_FORMAT, "duplicate token '[PAD]'");
    expect_load_error("{" NORM PRE "\"model\":{\"vocab\":{\"[PAD]\":0,\"[CLS]\":2,\"[SEP]\":3}}," POST "}",
                      PARE_ERR_FORMAT, "model.unk_token '[UNK]'");
    expect_load_error("{" NORM PRE "\"model\":{" VOCAB "}}", PARE_ERR_FORMAT, "post_processor");
    expect_load_error("{" NORM PRE "\"model\":{\"vocab\":{\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3}}," POST "}",
                      PARE_ERR_FORMAT, "[PAD]");
    expect_load_error("{\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":1}," PRE
                      "\"model\":{" VOCAB "}," POST "}",
                      PARE_ERR_FORMAT, "normalizer.lowercase");
    expect_load_error("{" NORM PRE "\"model\":{" VOCAB ",\"max_input_chars_per_word\":-3}," POST "}",
                      PARE_ERR_FORMAT, "model.max_input_chars_per_word");
    expect_load_error("{" NORM PRE "\"model\":{" VOCAB "},\"added_tokens\":[{\"id\":5}]," POST "}",
                      PARE_ERR_FORMAT, "added_tokens[0].content");
    expect_load_error("{" NORM "\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":{" VOCAB "}," POST "}",
                      PARE_ERR_UNSUPPORTED, "pre_tokenizer.type 'Whitespace'");
    expect_load_error("{\"normalizer\":{\"type\":\"NFC\"}," PRE "\"model\":{" VOCAB "}," POST "}",
                      PARE_ERR_UNSUPPORTED, "normalizer.type 'NFC'");
    expect_load_error("{" NORM PRE "\"model\":{\"type\":\"BPE\"," VOCAB "}," POST "}",
                      PARE_ERR_UNSUPPORTED, "model.type 'BPE'");

    /* a folder with a bad tokenizer_config.json next to vocab.txt */
    unlink(path);
    char vpath[512], cpath[512];
    write_file("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n", vpath, sizeof vpath);
    write_file("tokenizer_config.json", "{\"do_lower_case\": \"yes\"}", cpath, sizeof cpath);
    assert_int_equal(pare_wordpiece_load(tmpdir, &t, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tokenizer_config.json: do_lower_case"));
    write_file("tokenizer_config.json", "{\"do_lower_case\": false, \"cls_token\": \"<s>\"}", cpath,
               sizeof cpath);
    assert_int_equal(pare_wordpiece_load(tmpdir, &t, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "cls_token '<s>'"));
    assert_int_equal(pare_wordpiece_load("/nonexistent/pare", &t, &err), PARE_ERR_IO);
    unlink(vpath);
    unlink(cpath);
    rmdir(tmpdir);
}

static void expect_json_error(const char *json, pare_status code, const char *needle) {
    pare_wordpiece *t = NULL;
    pare_err err = {0};
    assert_int_equal(pare_wordpiece_from_json(json, strlen(json), "mem/tokenizer.json", &t, &err), code);
    assert_null(t);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "mem/tokenizer.json"))
        fail_msg("'%s' lacks '%s' or the source name", err.msg, needle);
}

static void test_tokenizer_json_memory(void **state) {
    (void)state;
    /* len stops before the trailing garbage: the buffer need not end in NUL */
    const char *json = "{" NORM PRE "\"model\":{\"type\":\"WordPiece\"," VOCAB "}," POST "}}}garbage";
    size_t len = strlen(json) - strlen("}}garbage");
    pare_wordpiece *t = NULL;
    pare_err err = {0};
    tu_assert_ok(pare_wordpiece_from_json(json, len, "mem/tokenizer.json", &t, &err), &err);
    assert_int_equal(pare_wordpiece_vocab_size(t), 5);
    assert_int_equal(pare_wordpiece_cls_id(t), 2);
    assert_int_equal(pare_wordpiece_sep_id(t), 3);
    assert_int_equal(pare_wordpiece_pad_id(t), 0);
    assert_int_equal(pare_wordpiece_unk_id(t), 1);
    assert_true(pare_wordpiece_options(t)->lowercase);
    int32_t ids[8], n = 0;
    tu_assert_ok(pare_wordpiece_encode(t, "A b a", 5, 8, ids, &n, &err), &err);
    const int32_t want[] = {2, 4, 1, 4, 3};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    pare_wordpiece_free(t);

    /* bytes after the object are refused; no name: "tokenizer.json" */
    assert_int_equal(pare_wordpiece_from_json(json, len + 2, NULL, &t, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tokenizer.json: trailing bytes"));
    assert_null(t);
    expect_json_error("", PARE_ERR_FORMAT, "invalid JSON");
    expect_json_error("[]", PARE_ERR_FORMAT, "not a JSON object");
    expect_json_error("{" NORM PRE POST "}", PARE_ERR_FORMAT, "model is missing");
    expect_json_error("{" NORM PRE "\"model\":{\"vocab\":{\"[PAD]\":0,\"x\":-2}}," POST "}",
                      PARE_ERR_FORMAT, "model.vocab['x']");
    expect_json_error("{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":\"no\"}," PRE
                      "\"model\":{" VOCAB "}," POST "}",
                      PARE_ERR_FORMAT, "normalizer.clean_text");
    expect_json_error("{" NORM PRE "\"model\":{" VOCAB ",\"unk_token\":7}," POST "}", PARE_ERR_FORMAT,
                      "model.unk_token");
    expect_json_error("{" NORM PRE "\"model\":{" VOCAB "},\"added_tokens\":[{\"content\":\"z\",\"id\":5,"
                      "\"special\":1}]," POST "}",
                      PARE_ERR_FORMAT, "added_tokens[0].special");
    expect_json_error("{" NORM PRE "\"model\":{" VOCAB "},\"post_processor\":{\"type\":\"BertProcessing\","
                      "\"cls\":[\"[CLS]\",2],\"sep\":\"[SEP]\"}}",
                      PARE_ERR_FORMAT, "post_processor.sep");
    expect_json_error("{" NORM PRE "\"model\":{" VOCAB "},\"post_processor\":{\"type\":\"BertProcessing\","
                      "\"cls\":[\"[CLS]\",2],\"sep\":[\"[SEP]\",9]}}",
                      PARE_ERR_FORMAT, "[SEP] (post_processor) id 9");
    assert_int_equal(pare_wordpiece_from_json("{}", 2, "x", NULL, &err), PARE_ERR_INVALID);
    assert_int_equal(pare_wordpiece_from_json(NULL, 3, "x", &t, &err), PARE_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unicode_tables_match_utf8proc),
        cmocka_unit_test(test_small_vocab),
        cmocka_unit_test(test_malformed_vocab),
        cmocka_unit_test(test_malformed_tokenizer_json),
        cmocka_unit_test(test_tokenizer_json_memory),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_semeval_minilm_json),
        cmocka_unit_test(test_semeval_minilm_vocab_txt),
        cmocka_unit_test(test_semeval_all_minilm),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
