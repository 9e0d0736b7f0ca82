/* safetensors reader and writer: round trips, the real model, and one
 * corrupt input per validation rule. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 8-byte length + json + data_len bytes of pattern data. */
static uint8_t *mk(const char *json, size_t data_len, size_t *out_len) {
    size_t jn = strlen(json);
    uint8_t *b = malloc(8 + jn + data_len + 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)jn >> (8 * i));
    memcpy(b + 8, json, jn);
    for (size_t i = 0; i < data_len; i++) b[8 + jn + i] = (uint8_t)(i * 7 + 1);
    *out_len = 8 + jn + data_len;
    return b;
}

static void expect_fail(const char *json, size_t data_len, pare_status code, const char *needle) {
    size_t n;
    uint8_t *b = mk(json, data_len, &n);
    pare_err err = {0};
    pare_tensor_file *f = (pare_tensor_file *)1;
    pare_status s = pare_safetensors_open_memory(b, n, "t.st", &f, &err);
    if (s != code || !strstr(err.msg, needle))
        fail_msg("json %s: want status %d with '%s', got %d: %s", json, (int)code, needle, (int)s, err.msg);
    assert_null(f);
    assert_non_null(strstr(err.msg, "t.st"));
    free(b);
}

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "/tmp/pare_test_%s_%d.safetensors", tag, (int)getpid());
}

static void test_round_trip(void **state) {
    (void)state;
    float a[6] = {1, -2, 3.5f, 4, 5, 6};
    int64_t b[4] = {-1, 0, 1, INT64_MAX};
    uint16_t c[3] = {pare_f32_to_bf16(1.0f), pare_f32_to_bf16(-0.5f), 0};
    uint8_t d = 200;
    pare_tensor ts[5] = {
        {.name = "layer.0.w", .dtype = PARE_DTYPE_F32, .n_dims = 2, .shape = {2, 3}, .data = a, .nbytes = 24},
        {.name = "ids", .dtype = PARE_DTYPE_I64, .n_dims = 1, .shape = {4}, .data = b, .nbytes = 32},
        {.name = "empty", .dtype = PARE_DTYPE_F16, .n_dims = 2, .shape = {0, 5}, .data = NULL, .nbytes = 0},
        {.name = "bf", .dtype = PARE_DTYPE_BF16, .n_dims = 1, .shape = {3}, .data = c, .nbytes = 6},
        {.name = "scalar", .dtype = PARE_DTYPE_U8, .n_dims = 0, .data = &d, .nbytes = 1},
    };
    char path[256];
    tmp_path(path, sizeof path, "rt");
    pare_err err = {0};
    tu_assert_ok(pare_safetensors_write(path, ts, 5, &err), &err);
    for (int way = 0; way < 2; way++) {
        pare_tensor_file *f;
        tu_assert_ok(way ? pare_tensor_file_open(path, &f, &err) : pare_safetensors_open(path, &f, &err), &err);
        assert_int_equal(pare_tensor_file_format(f), PARE_FORMAT_SAFETENSORS);
        assert_int_equal(pare_tensor_file_count(f), 5);
        assert_string_equal(pare_tensor_file_path(f), path);
        assert_null(pare_tensor_file_metadata(f, "format"));
        for (int i = 0; i < 5; i++) {
            const pare_tensor *t = pare_tensor_file_get(f, i);
            assert_string_equal(t->name, ts[i].name);
            assert_ptr_equal(pare_tensor_file_find(f, ts[i].name), t);
            assert_int_equal(t->dtype, ts[i].dtype);
            assert_true(pare_tensor_has_shape(t, ts[i].n_dims, ts[i].shape));
            assert_int_equal(t->nbytes, ts[i].nbytes);
            if (t->nbytes) assert_memory_equal(t->data, ts[i].data, t->nbytes);
        }
        /* the writer aligns the data section to 8 bytes */
        assert_int_equal((uintptr_t)pare_tensor_file_get(f, 0)->data % 8, 0);
        assert_null(pare_tensor_file_find(f, "nope"));
        assert_null(pare_tensor_file_get(f, 5));
        assert_null(pare_tensor_file_get(f, -1));
        pare_tensor_file_close(f);
    }
    remove(path);
    /* writer rejects bad input */
    pare_tensor bad = ts[0];
    bad.nbytes = 20;
    assert_int_equal(pare_safetensors_write(path, &bad, 1, &err), PARE_ERR_INVALID);
    pare_tensor dup[2] = {ts[0], ts[0]};
    assert_int_equal(pare_safetensors_write(path, dup, 2, &err), PARE_ERR_INVALID);
    assert_non_null(strstr(err.msg, "duplicate"));
    assert_int_equal(access(path, F_OK), -1);
    /* empty file set */
    tu_assert_ok(pare_safetensors_write(path, NULL, 0, &err), &err);
    pare_tensor_file *f;
    tu_assert_ok(pare_safetensors_open(path, &f, &err), &err);
    assert_int_equal(pare_tensor_file_count(f), 0);
    assert_null(pare_tensor_file_find(f, "x"));
    pare_tensor_file_close(f);
    remove(path);
}

static void test_real_model(void **state) {
    (void)state;
    char dir[512], path[600];
    tu_model_dir(dir, sizeof dir, "minilm-l6");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    pare_err err = {0};
    pare_tensor_file *f;
    tu_assert_ok(pare_tensor_file_open(path, &f, &err), &err);
    assert_int_equal(pare_tensor_file_count(f), 104);
    assert_int_equal(pare_tensor_file_size(f), 90868376);
    assert_string_equal(pare_tensor_file_metadata(f, "format"), "pt");
    const pare_tensor *t = pare_tensor_file_find(f, "embeddings.word_embeddings.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, PARE_DTYPE_F32);
    assert_true(pare_tensor_has_shape(t, 2, (int64_t[]){30522, 384}));
    assert_int_equal(t->nbytes, (size_t)30522 * 384 * 4);
    t = pare_tensor_file_find(f, "encoder.layer.0.attention.self.query.weight");
    assert_non_null(t);
    assert_true(pare_tensor_has_shape(t, 2, (int64_t[]){384, 384}));
    t = pare_tensor_file_find(f, "embeddings.position_ids");
    assert_non_null(t);
    assert_int_equal(t->dtype, PARE_DTYPE_I64);
    int64_t pos[2];
    memcpy(pos, (const char *)t->data + 8, 16);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 2);
    pare_tensor_file_close(f);
}

static void test_metadata(void **state) {
    (void)state;
    size_t n;
    uint8_t *b = mk("{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},"
                    "\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}   ",
                    2, &n);
    pare_err err = {0};
    pare_tensor_file *f;
    tu_assert_ok(pare_safetensors_open_memory(b, n, "m", &f, &err), &err);
    assert_string_equal(pare_tensor_file_metadata(f, "k"), "v");
    assert_string_equal(pare_tensor_file_metadata(f, "format"), "pt");
    assert_null(pare_tensor_file_metadata(f, "x"));
    assert_int_equal(pare_tensor_file_count(f), 1);
    assert_ptr_equal(pare_tensor_file_get(f, 0)->data, b + n - 2);
    pare_tensor_file_close(f);
    free(b);
}

#define E(x) "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," x "}"
static void test_corrupt(void **state) {
    (void)state;
    pare_err err = {0};
    pare_tensor_file *f;
    /* truncated: shorter than the length prefix */
    assert_int_equal(pare_safetensors_open_memory("\x10\0\0", 3, "t.st", &f, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "too short"));
    /* header length past the end, and huge */
    uint8_t h[16] = {0xff, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    assert_int_equal(pare_safetensors_open_memory(h, 10, "t.st", &f, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "runs past"));
    memset(h, 0xff, 8);
    assert_int_equal(pare_safetensors_open_memory(h, 10, "t.st", &f, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "more than"));
    /* a file shortened by a byte loses the end of the data section */
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7, PARE_ERR_FORMAT, "run past");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 9, PARE_ERR_FORMAT, "cover 8 bytes");
    expect_fail("{\"a\":", 0, PARE_ERR_FORMAT, "not valid JSON");
    expect_fail("[1,2]", 0, PARE_ERR_FORMAT, "start with '{'");
    expect_fail("{} x", 0, PARE_ERR_FORMAT, "trailing");
    expect_fail("{\"a\xff\":1}", 0, PARE_ERR_FORMAT, "UTF-8");
    expect_fail("{\"a\":[]}", 0, PARE_ERR_FORMAT, "not an object");
    expect_fail(E("\"b\":{\"dtype\":\"F8_E4M3\",\"shape\":[],\"data_offsets\":[8,9]}"), 9, PARE_ERR_UNSUPPORTED,
                "dtype 'F8_E4M3'");
    expect_fail(E("\"b\":{\"dtype\":1,\"shape\":[],\"data_offsets\":[8,9]}"), 9, PARE_ERR_FORMAT, "dtype");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"data_offsets\":[8,9]}"), 9, PARE_ERR_FORMAT, "shape");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[8,9]}"), 9, PARE_ERR_FORMAT,
                "shape[0] is not a non-negative integer");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[8,9]}"), 9, PARE_ERR_FORMAT, "shape[0]");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[1e300],\"data_offsets\":[8,9]}"), 9, PARE_ERR_FORMAT, "shape[0]");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[8,9]}"), 9,
                PARE_ERR_FORMAT, "overflows");
    expect_fail(E("\"b\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[8,9]}"), 9,
                PARE_ERR_FORMAT, "shape[0]");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[8,9]}"), 9,
                PARE_ERR_UNSUPPORTED, "9 dims");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9,8]}"), 9, PARE_ERR_FORMAT, "reversed");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8,10]}"), 9, PARE_ERR_FORMAT, "run past");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8]}"), 9, PARE_ERR_FORMAT, "data_offsets");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8,-9]}"), 9, PARE_ERR_FORMAT, "data_offsets");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[7,9]}"), 9, PARE_ERR_FORMAT, "overlap");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9,10]}"), 10, PARE_ERR_FORMAT, "gap");
    expect_fail(E("\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,9]}"), 9, PARE_ERR_FORMAT,
                "hold 1 bytes but U8 [2] needs 2");
    expect_fail(E("\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8,9]}"), 9, PARE_ERR_FORMAT,
                "duplicate tensor name 'a'");
    expect_fail(E("\"__metadata__\":[]"), 8, PARE_ERR_FORMAT, "__metadata__ is not an object");
    expect_fail(E("\"__metadata__\":{\"x\":1}"), 8, PARE_ERR_FORMAT, "'x' is not a string");
    expect_fail(E("\"__metadata__\":{},\"__metadata__\":{}"), 8, PARE_ERR_FORMAT, "duplicate __metadata__");
    /* content sniffing: neither format, or empty */
    char path[256];
    tmp_path(path, sizeof path, "sniff");
    const char *junk[2] = {"hello, world", ""};
    for (int i = 0; i < 2; i++) {
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        fputs(junk[i], fp);
        fclose(fp);
        assert_int_equal(pare_tensor_file_open(path, &f, &err), PARE_ERR_UNSUPPORTED);
        assert_non_null(strstr(err.msg, "not a safetensors file or PyTorch zip"));
        assert_null(f);
    }
    remove(path);
    /* the file API reports missing files as I/O errors */
    assert_int_equal(pare_tensor_file_open("/nonexistent/x.safetensors", &f, &err), PARE_ERR_IO);
    assert_null(f);
}

/* Every single-byte corruption of a small valid file's header, and every
 * truncation: no crash, and either success or a clean error. */
static void test_mutations(void **state) {
    (void)state;
    size_t n;
    uint8_t *b = mk("{\"__metadata__\":{\"k\":\"v\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
                    "\"z\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]}}",
                    10, &n);
    uint8_t *c = malloc(n);
    size_t hdr_end = n - 10, ok = 0, bad = 0;
    int step = getenv("PARE_TEST_QUICK") ? 7 : 1;
    for (size_t pos = 0; pos < hdr_end; pos++) {
        for (int v = 0; v < 256; v += (v % step == 0 ? 1 : step)) {
            memcpy(c, b, n);
            c[pos] = (uint8_t)v;
            pare_err err = {0};
            pare_tensor_file *f;
            pare_status s = pare_safetensors_open_memory(c, n, "m", &f, &err);
            if (s == PARE_OK) {
                for (int64_t i = 0; i < pare_tensor_file_count(f); i++) {
                    const pare_tensor *t = pare_tensor_file_get(f, i);
                    assert_true((const uint8_t *)t->data >= c + 8 && (const uint8_t *)t->data + t->nbytes <= c + n);
                }
                pare_tensor_file_close(f);
                ok++;
            } else {
                assert_true(s == PARE_ERR_FORMAT || s == PARE_ERR_UNSUPPORTED);
                assert_non_null(strstr(err.msg, "m:"));
                assert_null(f);
                bad++;
            }
        }
    }
    for (size_t len = 0; len < n; len++) {
        uint8_t *t = malloc(len + 1);
        memcpy(t, b, len);
        pare_err err = {0};
        pare_tensor_file *f;
        assert_int_equal(pare_safetensors_open_memory(t, len, "m", &f, &err), PARE_ERR_FORMAT);
        free(t);
    }
    assert_true(ok > 0 && bad > 0);
    free(c);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_real_model),
        cmocka_unit_test(test_metadata),   cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_mutations),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
