/* pare_json: typed, range-checked getters and error messages. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pare_json *parse(const char *text) {
    pare_json *j;
    pare_err err = {0};
    tu_assert_ok(pare_json_parse(text, strlen(text), "c.json", &j, &err), &err);
    return j;
}

static void test_getters(void **state) {
    (void)state;
    pare_json *j = parse("{\"n\": 6, \"neg\": -3, \"f\": 1e-12, \"b\": true, \"s\": \"gelu\", "
                         "\"z\": null, \"half\": 2.5, \"big\": 1e30, \"arr\": [1]}");
    pare_err err = {0};
    int64_t i;
    double d;
    bool b;
    char buf[8];
    tu_assert_ok(pare_json_get_int(j, "n", 0, 1, 100, &i, &err), &err);
    assert_int_equal(i, 6);
    tu_assert_ok(pare_json_get_int(j, "neg", 0, -10, 10, &i, &err), &err);
    assert_int_equal(i, -3);
    tu_assert_ok(pare_json_get_int(j, "missing", 42, 0, 1, &i, &err), &err);
    assert_int_equal(i, 42);
    tu_assert_ok(pare_json_get_int(j, "z", 7, 0, 10, &i, &err), &err); /* null = absent */
    assert_int_equal(i, 7);
    assert_int_equal(pare_json_get_int(j, "n", 0, 7, 100, &i, &err), PARE_ERR_FORMAT);
    assert_string_equal(err.msg, "c.json: 'n' is 6, outside [7, 100]");
    assert_int_equal(pare_json_get_int(j, "half", 0, 0, 10, &i, &err), PARE_ERR_FORMAT);
    assert_string_equal(err.msg, "c.json: 'half' is not an integer");
    assert_int_equal(pare_json_get_int(j, "big", 0, INT64_MIN, INT64_MAX, &i, &err), PARE_ERR_FORMAT);
    assert_int_equal(pare_json_get_int(j, "s", 0, 0, 1, &i, &err), PARE_ERR_FORMAT);
    assert_int_equal(pare_json_get_int(j, "arr", 0, 0, 1, &i, &err), PARE_ERR_FORMAT);
    tu_assert_ok(pare_json_get_float(j, "f", 0, &d, &err), &err);
    assert_true(d == 1e-12);
    tu_assert_ok(pare_json_get_float(j, "n", 0, &d, &err), &err);
    assert_true(d == 6.0);
    tu_assert_ok(pare_json_get_float(j, "missing", 0.5, &d, &err), &err);
    assert_true(d == 0.5);
    assert_int_equal(pare_json_get_float(j, "b", 0, &d, &err), PARE_ERR_FORMAT);
    assert_string_equal(err.msg, "c.json: 'b' is not a finite number");
    tu_assert_ok(pare_json_get_bool(j, "b", false, &b, &err), &err);
    assert_true(b);
    tu_assert_ok(pare_json_get_bool(j, "missing", true, &b, &err), &err);
    assert_true(b);
    assert_int_equal(pare_json_get_bool(j, "n", false, &b, &err), PARE_ERR_FORMAT);
    tu_assert_ok(pare_json_get_str(j, "s", "x", buf, sizeof buf, &err), &err);
    assert_string_equal(buf, "gelu");
    tu_assert_ok(pare_json_get_str(j, "missing", "relu", buf, sizeof buf, &err), &err);
    assert_string_equal(buf, "relu");
    assert_int_equal(pare_json_get_str(j, "s", "x", buf, 4, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "'s' is 4 bytes long"));
    assert_int_equal(pare_json_get_str(j, "n", "x", buf, sizeof buf, &err), PARE_ERR_FORMAT);
    assert_true(pare_json_has(j, "n"));
    assert_false(pare_json_has(j, "z"));
    assert_false(pare_json_has(j, "missing"));
    assert_non_null(pare_json_root(j));
    assert_string_equal(pare_json_name(j), "c.json");
    pare_json_free(j);
}

static void test_bad(void **state) {
    (void)state;
    const char *bad[] = {"", "{", "[1]", "3", "{\"a\":1} x", "{\"a\":}", "{\"a\":1,}", "\n\n{\"a\" 1}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pare_json *j = (pare_json *)1;
        pare_err err = {0};
        assert_int_equal(pare_json_parse(bad[i], strlen(bad[i]), "c.json", &j, &err), PARE_ERR_FORMAT);
        assert_null(j);
        assert_non_null(strstr(err.msg, "c.json: "));
    }
    pare_json *j;
    pare_err err = {0};
    assert_int_equal(pare_json_parse("\n\n{\"a\" 1}", 9, "c.json", &j, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "line 3"));
    /* length is honoured: no NUL terminator needed */
    tu_assert_ok(pare_json_parse("{\"a\":1}garbage", 7, "c.json", &j, &err), &err);
    pare_json_free(j);
    assert_int_equal(pare_json_open("/nonexistent/config.json", &j, &err), PARE_ERR_IO);
}

static void test_real_config(void **state) {
    (void)state;
    char dir[512], path[600];
    tu_model_dir(dir, sizeof dir, "minilm-l6");
    snprintf(path, sizeof path, "%s/config.json", dir);
    pare_json *j;
    pare_err err = {0};
    tu_assert_ok(pare_json_open(path, &j, &err), &err);
    int64_t h, v;
    double eps;
    char act[16];
    tu_assert_ok(pare_json_get_int(j, "hidden_size", 0, 1, 1 << 16, &h, &err), &err);
    tu_assert_ok(pare_json_get_int(j, "vocab_size", 0, 1, 1 << 24, &v, &err), &err);
    tu_assert_ok(pare_json_get_float(j, "layer_norm_eps", 0, &eps, &err), &err);
    tu_assert_ok(pare_json_get_str(j, "hidden_act", "", act, sizeof act, &err), &err);
    assert_int_equal(h, 384);
    assert_int_equal(v, 30522);
    assert_true(eps == 1e-12);
    assert_string_equal(act, "gelu");
    pare_json_free(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_real_config),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
