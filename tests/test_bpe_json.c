/* The tokenizer.json loader on small hand-written files: both merge forms,
 * added tokens (special and not), a TemplateProcessing BOS, NFC, Digits,
 * ignore_merges; and every malformed or unsupported file refused with the
 * key named. (The full SmolLM2 tokenizer through tokenizer.json is in
 * test_bpe.) Expected ids are worked out by hand from the merges. */
#include "testutil.h"
#include "pare/bpe.h"

#include <stdlib.h>
#include <string.h>

/* vocabulary: bytes a b c Ġ(space) 1 2, merges a+b -> ab, ab+c -> abc,
 * Ġ+a -> Ġa; added <s> (special, id 9), <x> (not special, id 10) */
#define VOCAB "\"a\": 0, \"b\": 1, \"c\": 2, \"\\u0120\": 3, \"1\": 4, \"2\": 5, \"ab\": 6, \"abc\": 7, \"\\u0120a\": 8"
#define ADDED                                                                                                   \
    "\"added_tokens\": [{\"id\": 9, \"content\": \"<s>\", \"special\": true}, "                               \
    "{\"id\": 10, \"content\": \"<x>\", \"special\": false}]"
#define PRE "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\", \"individual_digits\": true}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}]}"

static char *make(const char *merges, const char *extra) {
    char *s = malloc(4096);
    snprintf(s, 4096, "{\"model\": {\"type\": \"BPE\", \"vocab\": {" VOCAB "}, \"merges\": %s}, " ADDED ", " PRE "%s}",
             merges, extra);
    return s;
}

static void expect_ids(const pare_bpe *t, const char *text, bool special, const int32_t *want, int64_t n_want) {
    int32_t *ids;
    int64_t n;
    pare_err err = {0};
    tu_assert_ok(pare_bpe_encode(t, text, strlen(text), special, &ids, &n, &err), &err);
    if (n != n_want) fail_msg("'%s': %lld ids, want %lld", text, (long long)n, (long long)n_want);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] != want[i]) fail_msg("'%s': id %lld is %d, want %d", text, (long long)i, ids[i], want[i]);
    free(ids);
}

static void test_good(void **state) {
    (void)state;
    const char *forms[] = {"[\"a b\", \"ab c\", \"\\u0120 a\"]", "[[\"a\", \"b\"], [\"ab\", \"c\"], [\"\\u0120\", \"a\"]]"};
    for (int f = 0; f < 2; f++) {
        char *j = make(forms[f], ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
                                 "[{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}]}");
        const char *cfg = "{\"eos_token\": {\"content\": \"<x>\"}}";
        pare_bpe *t;
        pare_err err = {0};
        tu_assert_ok(pare_bpe_from_json(j, strlen(j), cfg, strlen(cfg), "t.json", &t, &err), &err);
        assert_int_equal(pare_bpe_vocab_size(t), 11);
        assert_int_equal(pare_bpe_bos(t), 9);
        assert_int_equal(pare_bpe_eos(t), 10);
        assert_true(pare_bpe_add_bos(t));
        assert_true(pare_bpe_is_control(t, 9));
        assert_false(pare_bpe_is_control(t, 10));
        /* "abc ab12<s>c<x>": abc | Ġab -> Ġa b (Ġa ranks after ab? no: merge order
         * a b (0) first, so Ġ a b -> Ġ ab) | digits split | specials */
        const int32_t want[] = {9, 7, 3, 6, 4, 5, 9, 2, 10};
        expect_ids(t, "abc ab12<s>c<x>", true, want, 9);
        const int32_t want2[] = {8, 2};
        expect_ids(t, " ac", false, want2, 2);
        pare_bpe_free(t);
        free(j);
    }
}

static void test_bad(void **state) {
    (void)state;
    static const struct { const char *json, *want; } cases[] = {
        {"[1, 2", "not a JSON object"},
        {"{\"model\": {\"type\": \"WordPiece\"}}", "model.type: only BPE"},
        {"{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {}, \"merges\": []}}", "model.byte_fallback"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}",
         "pre_tokenizer type 'Whitespace' is not supported"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Digits\"}}",
         "no ByteLevel step"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"normalizer\": {\"type\": \"Lowercase\"}, " PRE "}",
         "normalizer 'Lowercase' is not supported"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}, " PRE "}", "id 0 is given to"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 2}, \"merges\": []}, " PRE "}", "no token has id 1"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 2000000000}, \"merges\": []}, " PRE "}", "ids up to"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}, " PRE "}", "is not an id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0.5}, \"merges\": []}, " PRE "}", "is not an id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a c\"]}, " PRE "}",
         "names a token not in the vocabulary"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"ab\"]}, " PRE "}", "merge 0 is not a pair"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [[\"a\"]]}, " PRE "}", "merge 0 is not a pair"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": {}}, " PRE "}", "model.merges is not a list"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": [], \"merges\": []}, " PRE "}", "model.vocab is not an object"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 0, \"content\": \"b\"}], " PRE "}",
         "added_tokens: id 0 is 'b'"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1, \"content\": \"<b>\", \"lstrip\": true}], " PRE "}",
         "lstrip"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"content\": \"<b>\"}], " PRE "}",
         "without an id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}, {\"type\": \"ByteLevel\"}]}}",
         "does not compile"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Removed\"}, {\"type\": \"ByteLevel\"}]}}",
         "behavior: only Isolated"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true}}",
         "add_prefix_space"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, " PRE ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"A\"}}, {\"SpecialToken\": {\"id\": \"a\"}}]}}",
         "only one special token before the text"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, " PRE ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"zz\"}}, {\"Sequence\": {\"id\": \"A\"}}]}}",
         "not in the vocabulary"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pare_bpe *t = NULL;
        pare_err err = {0};
        pare_status s = pare_bpe_from_json(cases[i].json, strlen(cases[i].json), NULL, 0, "bad.json", &t, &err);
        if (s == PARE_OK || !strstr(err.msg, cases[i].want) || !strstr(err.msg, "bad.json"))
            fail_msg("case %zu: status %d, '%s' (want '%s')", i, (int)s, err.msg, cases[i].want);
        assert_null(t);
    }
    /* a bad tokenizer_config.json beside a good file */
    char *j = make("[]", "");
    pare_bpe *t = NULL;
    pare_err err = {0};
    assert_int_equal(pare_bpe_from_json(j, strlen(j), "{", 1, "t.json", &t, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tokenizer_config.json"));
    free(j);
    /* missing files */
    assert_int_equal(pare_bpe_load("/nonexistent/tokenizer.json", &t, &err), PARE_ERR_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
