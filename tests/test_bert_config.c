/* BERT config.json: pare_bert_config_parse from memory (valid, defaults,
 * malformed inputs naming the source and the key) and pare_bert_config_load
 * on a real model folder. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "pare/bert.h"

#define REQUIRED                                                                              \
    "\"vocab_size\": 50, \"hidden_size\": 32, \"num_hidden_layers\": 2, "                     \
    "\"num_attention_heads\": 4, \"intermediate_size\": 37"

static pare_bert_config cfg; /* 8 KB of labels: off the stack */

static void test_parse_valid(void **state) {
    (void)state;
    const char *text =
        "{\"architectures\": [\"BertForSequenceClassification\"], \"model_type\": \"bert\", " REQUIRED
        ", \"hidden_act\": \"gelu_new\", \"layer_norm_eps\": 1e-7, \"max_position_embeddings\": 128,"
        " \"type_vocab_size\": 1, \"id2label\": {\"0\": \"anger\", \"2\": \"fear\", \"1\": \"joy\"},"
        " \"problem_type\": \"multi_label_classification\", \"use_cache\": true}"
        "GARBAGE AFTER len";
    size_t len = strlen(text) - strlen("GARBAGE AFTER len");
    pare_err err = {0};
    tu_assert_ok(pare_bert_config_parse(text, len, "mem/config.json", &cfg, &err), &err);
    assert_int_equal(cfg.vocab_size, 50);
    assert_int_equal(cfg.hidden_size, 32);
    assert_int_equal(cfg.n_layers, 2);
    assert_int_equal(cfg.n_heads, 4);
    assert_int_equal(cfg.intermediate_size, 37);
    assert_int_equal(cfg.max_position, 128);
    assert_int_equal(cfg.type_vocab_size, 1);
    assert_true(cfg.layer_norm_eps == 1e-7);
    assert_int_equal(cfg.hidden_act, PARE_ACT_GELU_TANH);
    assert_int_equal(cfg.n_labels, 3);
    assert_string_equal(cfg.labels[1], "joy");
    assert_string_equal(cfg.labels[2], "fear");
    assert_int_equal(cfg.problem_type, PARE_PROBLEM_MULTI_LABEL);
    assert_string_equal(cfg.architecture, "BertForSequenceClassification");
    assert_string_equal(cfg.model_type, "bert");

    /* defaults; num_labels without id2label names labels LABEL_i */
    const char *minimal = "{" REQUIRED ", \"num_labels\": 2, \"hidden_act\": null}";
    tu_assert_ok(pare_bert_config_parse(minimal, strlen(minimal), NULL, &cfg, &err), &err);
    assert_int_equal(cfg.max_position, 512);
    assert_int_equal(cfg.type_vocab_size, 2);
    assert_true(cfg.layer_norm_eps == 1e-12);
    assert_int_equal(cfg.hidden_act, PARE_ACT_GELU_ERF);
    assert_int_equal(cfg.n_labels, 2);
    assert_string_equal(cfg.labels[1], "LABEL_1");
    assert_int_equal(cfg.problem_type, PARE_PROBLEM_SINGLE_LABEL);
    assert_string_equal(cfg.architecture, "");
}

static void expect_error(const char *text, pare_status code, const char *key) {
    pare_err err = {0};
    pare_status s = pare_bert_config_parse(text, strlen(text), "mem/config.json", &cfg, &err);
    if (s != code) fail_msg("%s: status %d, want %d (%s)", text, (int)s, (int)code, err.msg);
    if (!strstr(err.msg, "mem/config.json") || !strstr(err.msg, key))
        fail_msg("'%s' lacks the source name or '%s'", err.msg, key);
}

static void test_parse_malformed(void **state) {
    (void)state;
    expect_error("{" REQUIRED ",}", PARE_ERR_FORMAT, "invalid JSON");
    expect_error("{" REQUIRED "} {}", PARE_ERR_FORMAT, "trailing bytes");
    expect_error("[1]", PARE_ERR_FORMAT, "not a JSON object");
    expect_error("", PARE_ERR_FORMAT, "invalid JSON");
    expect_error("{\"vocab_size\": \"50\", \"hidden_size\": 32, \"num_hidden_layers\": 2, "
                 "\"num_attention_heads\": 4, \"intermediate_size\": 37}",
                 PARE_ERR_FORMAT, "vocab_size");
    expect_error("{\"vocab_size\": 50, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
                 "\"intermediate_size\": 37}",
                 PARE_ERR_FORMAT, "missing required key \"hidden_size\"");
    expect_error("{\"vocab_size\": 50, \"hidden_size\": null, \"num_hidden_layers\": 2, "
                 "\"num_attention_heads\": 4, \"intermediate_size\": 37}",
                 PARE_ERR_FORMAT, "hidden_size");
    expect_error("{\"vocab_size\": 50, \"hidden_size\": 30, \"num_hidden_layers\": 2, "
                 "\"num_attention_heads\": 4, \"intermediate_size\": 37}",
                 PARE_ERR_FORMAT, "num_attention_heads");
    expect_error("{\"vocab_size\": 50, \"hidden_size\": 32, \"num_hidden_layers\": 1.5, "
                 "\"num_attention_heads\": 4, \"intermediate_size\": 37}",
                 PARE_ERR_FORMAT, "num_hidden_layers");
    expect_error("{" REQUIRED ", \"layer_norm_eps\": 0}", PARE_ERR_FORMAT, "layer_norm_eps");
    expect_error("{" REQUIRED ", \"num_labels\": 257}", PARE_ERR_FORMAT, "num_labels");
    expect_error("{" REQUIRED ", \"num_labels\": 2, \"id2label\": {\"0\": \"a\", \"7\": \"b\"}}",
                 PARE_ERR_FORMAT, "id2label entry \"7\"");
    expect_error("{" REQUIRED ", \"id2label\": {\"\": \"a\"}}", PARE_ERR_FORMAT, "id2label entry \"\"");
    expect_error("{" REQUIRED ", \"id2label\": {\"0\": 1}}", PARE_ERR_FORMAT, "id2label entry \"0\"");
    expect_error("{" REQUIRED ", \"id2label\": [\"a\"]}", PARE_ERR_FORMAT, "id2label");
    expect_error("{" REQUIRED ", \"hidden_act\": \"tanh\"}", PARE_ERR_UNSUPPORTED, "hidden_act");
    expect_error("{" REQUIRED ", \"hidden_act\": 3}", PARE_ERR_FORMAT, "hidden_act");
    expect_error("{" REQUIRED ", \"model_type\": \"a-model-type-name-longer-than-32-bytes\"}",
                 PARE_ERR_FORMAT, "model_type");
}

static void test_load_file(void **state) {
    (void)state;
    char dir[1024], path[1200];
    tu_model_dir(dir, sizeof dir, "minilm-l6");
    snprintf(path, sizeof path, "%s/config.json", dir);
    pare_err err = {0};
    tu_assert_ok(pare_bert_config_load(path, &cfg, &err), &err);
    assert_int_equal(cfg.n_layers, 6);
    assert_int_equal(cfg.hidden_size, 384);
    assert_int_equal(pare_bert_config_load("/nonexistent/config.json", &cfg, &err), PARE_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/config.json"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_load_file),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
