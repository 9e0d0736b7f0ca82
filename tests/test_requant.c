/* pare_gguf_requantize on SmolLM2: every key copied (general.file_type
 * updated), 1-D tensors byte-identical, each 2-D tensor equal to the
 * reference quantizer applied to the source's dequantized rows (Q8_0 for
 * token_embd below 8 bits), and the result loads as a Llama model. */
#include "testutil.h"
#include "pare/gguf.h"
#include "pare/llama.h"
#include "pare/quant.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check_type(const char *src_path, pare_qtype type) {
    char out[128];
    snprintf(out, sizeof out, "/tmp/pare-test-requant-%d.gguf", (int)getpid());
    pare_err err = {0};
    tu_assert_ok(pare_gguf_requantize(src_path, out, type, NULL, &err), &err);
    pare_gguf *a, *b;
    tu_assert_ok(pare_gguf_open(src_path, &a, &err), &err);
    tu_assert_ok(pare_gguf_open(out, &b, &err), &err);
    assert_int_equal(pare_gguf_kv_count(b), pare_gguf_kv_count(a) + (pare_gguf_find_key(a, "general.file_type") < 0));
    int64_t ft;
    tu_assert_ok(pare_gguf_get_int(b, "general.file_type", -1, 0, 1000, &ft, &err), &err);
    assert_int_equal(ft, type == PARE_Q_Q8_0 ? 7 : 2);
    assert_int_equal(pare_gguf_tensor_count(b), pare_gguf_tensor_count(a));
    int checked = 0;
    for (int64_t i = 0; i < pare_gguf_tensor_count(a); i++) {
        const pare_gguf_tensor *ta = pare_gguf_tensor_get(a, i), *tb = pare_gguf_tensor_find(b, ta->name);
        assert_non_null(tb);
        if (ta->n_dims != 2) {
            assert_int_equal(tb->type, ta->type);
            assert_memory_equal(ta->data, tb->data, ta->nbytes);
            continue;
        }
        const bool embed = !strcmp(ta->name, "token_embd.weight") || !strcmp(ta->name, "output.weight");
        const pare_qtype want = embed && type != PARE_Q_Q8_0 ? PARE_Q_Q8_0 : type;
        assert_int_equal(tb->type, want);
        if (checked++ % 7) continue; /* every 7th matrix, row by row */
        size_t ra, rb;
        assert_true(pare_qtype_row_size((pare_qtype)ta->type, ta->ne[0], &ra));
        assert_true(pare_qtype_row_size(want, ta->ne[0], &rb));
        float *row = malloc(sizeof(float) * (size_t)ta->ne[0]);
        uint8_t *q = malloc(rb);
        for (int64_t r = 0; r < ta->ne[1]; r++) {
            tu_assert_ok(pare_dequantize_row((pare_qtype)ta->type, (const uint8_t *)ta->data + (size_t)r * ra, row, ta->ne[0], &err), &err);
            if (ta->type == (uint32_t)want) {
                assert_memory_equal((const uint8_t *)ta->data + (size_t)r * ra, (const uint8_t *)tb->data + (size_t)r * rb, rb);
                continue;
            }
            tu_assert_ok(pare_quantize_row_ref(want, row, q, ta->ne[0], &err), &err);
            assert_memory_equal(q, (const uint8_t *)tb->data + (size_t)r * rb, rb);
        }
        free(row);
        free(q);
    }
    pare_gguf_close(a);
    pare_gguf_close(b);
    pare_llama *m;
    pare_llama_params p = pare_llama_default_params();
    tu_assert_ok(pare_llama_load(out, &p, &m, &err), &err);
    pare_llama_free(m);
    remove(out);
}

static void test_requant(void **state) {
    (void)state;
    char path[4096];
    tu_model_dir(path, sizeof path, "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    check_type(path, PARE_Q_Q8_0);
    check_type(path, PARE_Q_Q4_0);
    pare_err err = {0};
    assert_int_equal(pare_gguf_requantize(path, "/tmp/x.gguf", PARE_Q_Q6_K, NULL, &err), PARE_ERR_UNSUPPORTED);
    assert_int_not_equal(pare_gguf_requantize(path, "/nonexistent/dir/x.gguf", PARE_Q_Q8_0, NULL, &err), PARE_OK);
    assert_int_equal(pare_gguf_requantize("/nonexistent.gguf", "/tmp/x.gguf", PARE_Q_Q8_0, NULL, &err), PARE_ERR_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_requant)};
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
