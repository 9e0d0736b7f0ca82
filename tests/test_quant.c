/* Reference (de)quantization against tests/golden/qtypes.bin (written by
 * tools/make_qtypes_golden.py from the gguf package's ports of
 * ggml-quants.c). Quantized bytes must be identical (memcmp); dequantized
 * floats must be bit-identical (memcmp, so NaN payloads and -0 count too).
 * Plus the error paths: unknown types, types without a routine, ragged n. */
#include "testutil.h"
#include "pare/quant.h"

#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void test_golden(void **state) {
    (void)state;
    char path[4096];
    char *buf = NULL;
    size_t len = 0;
    pare_err err = {0};
    tu_assert_ok(pare_read_file(tu_path(path, sizeof path, "tests/golden/qtypes.bin"), 1 << 24,
                                &buf, &len, &err),
                 &err);
    assert_true(len >= 8 && memcmp(buf, "PQG1", 4) == 0);
    uint32_t count = rd32(buf + 4);
    size_t off = 8;
    int seen[2][PARE_Q_COUNT] = {{0}};
    for (uint32_t r = 0; r < count; r++) {
        assert_true(off + 20 <= len);
        uint32_t kind = rd32(buf + off), type = rd32(buf + off + 4), n = rd32(buf + off + 8);
        uint32_t in_bytes = rd32(buf + off + 12), out_bytes = rd32(buf + off + 16);
        off += 20;
        assert_true(off + in_bytes + out_bytes <= len && kind < 2 && type < PARE_Q_COUNT);
        const char *in = buf + off, *want = in + in_bytes;
        off += (size_t)in_bytes + out_bytes;
        size_t row;
        assert_true(pare_qtype_row_size((pare_qtype)type, n, &row));
        void *got = malloc(out_bytes);
        void *src = malloc(in_bytes); /* aligned copy */
        assert_non_null(got);
        assert_non_null(src);
        memcpy(src, in, in_bytes);
        const char *name = pare_qtype_get(type)->name;
        if (kind == 0) {
            assert_int_equal(out_bytes, row);
            assert_int_equal(in_bytes, (size_t)n * 4);
            tu_assert_ok(pare_quantize_row_ref((pare_qtype)type, src, got, n, &err), &err);
        } else {
            assert_int_equal(in_bytes, row);
            assert_int_equal(out_bytes, (size_t)n * 4);
            tu_assert_ok(pare_dequantize_row((pare_qtype)type, src, got, n, &err), &err);
        }
        if (memcmp(got, want, out_bytes) != 0) {
            size_t i = 0;
            while (((const char *)got)[i] == want[i]) i++;
            fail_msg("%s %s (record %u, n %u): first difference at byte %zu",
                     kind ? "dequantize" : "quantize", name, r, n, i);
        }
        seen[kind][type]++;
        free(got);
        free(src);
    }
    assert_int_equal(off, len);
    free(buf);
    /* every type the brief names is covered */
    const pare_qtype quant[] = {PARE_Q_F16, PARE_Q_BF16, PARE_Q_Q4_0, PARE_Q_Q4_1, PARE_Q_Q5_0,
                                PARE_Q_Q5_1, PARE_Q_Q8_0, PARE_Q_Q8_1, PARE_Q_Q8_K};
    const pare_qtype deq[] = {PARE_Q_F16,  PARE_Q_BF16, PARE_Q_Q4_0, PARE_Q_Q4_1, PARE_Q_Q5_0,
                              PARE_Q_Q5_1, PARE_Q_Q8_0, PARE_Q_Q8_1, PARE_Q_Q2_K, PARE_Q_Q3_K,
                              PARE_Q_Q4_K, PARE_Q_Q5_K, PARE_Q_Q6_K, PARE_Q_Q8_K};
    for (size_t i = 0; i < sizeof quant / sizeof quant[0]; i++) assert_true(seen[0][quant[i]] > 0);
    for (size_t i = 0; i < sizeof deq / sizeof deq[0]; i++) assert_true(seen[1][deq[i]] > 0);
}

/* Quantize then dequantize stays within half a step of the block scale. */
static void test_roundtrip(void **state) {
    (void)state;
    enum { N = 1024 };
    static float x[N], y[N];
    static uint8_t q[N * 4];
    uint64_t st = 7;
    for (int i = 0; i < N; i++) x[i] = tu_randf(&st, -1, 1);
    const struct {
        pare_qtype t;
        double tol; /* max |x - y| for |x| <= 1 */
    } cases[] = {{PARE_Q_F32, 0},         {PARE_Q_F16, 1.0 / 2048},   {PARE_Q_BF16, 1.0 / 256},
                 {PARE_Q_Q8_0, 1.0 / 254 + 1e-3}, {PARE_Q_Q8_1, 1.0 / 254 + 1e-3},
                 {PARE_Q_Q5_0, 1.0 / 16 + 1e-3}, {PARE_Q_Q5_1, 2.0 / 62 + 2e-3},
                 {PARE_Q_Q4_0, 1.0 / 8 + 1e-3},  {PARE_Q_Q4_1, 2.0 / 30 + 2e-3},
                 {PARE_Q_Q8_K, 1.0 / 254 + 1e-6}};
    pare_err err = {0};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tu_assert_ok(pare_quantize_row_ref(cases[c].t, x, q, N, &err), &err);
        tu_assert_ok(pare_dequantize_row(cases[c].t, q, y, N, &err), &err);
        double d = tu_max_abs_diff(x, y, N);
        if (d > cases[c].tol)
            fail_msg("%s: max |x - deq(q(x))| %g > %g", pare_qtype_get(cases[c].t)->name, d,
                     cases[c].tol);
    }
}

static void test_errors(void **state) {
    (void)state;
    float x[64] = {0};
    uint8_t q[512] = {0};
    pare_err err = {0};
    assert_int_equal(pare_dequantize_row((pare_qtype)4, q, x, 32, &err), PARE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "pare_dequantize_row"));
    assert_int_equal(pare_dequantize_row((pare_qtype)1000, q, x, 32, &err), PARE_ERR_UNSUPPORTED);
    assert_int_equal(pare_dequantize_row(PARE_Q_I32, q, x, 32, &err), PARE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "I32"));
    assert_int_equal(pare_quantize_row_ref(PARE_Q_Q4_K, x, q, 256, &err), PARE_ERR_UNSUPPORTED);
    assert_int_equal(pare_dequantize_row(PARE_Q_Q4_0, q, x, 48, &err), PARE_ERR_INVALID);
    assert_non_null(strstr(err.msg, "48"));
    assert_int_equal(pare_quantize_row_ref(PARE_Q_Q8_0, x, q, -32, &err), PARE_ERR_INVALID);
    assert_int_equal(pare_dequantize_row(PARE_Q_Q6_K, q, x, 64, NULL), PARE_ERR_INVALID);
    tu_assert_ok(pare_dequantize_row(PARE_Q_Q6_K, q, x, 0, &err), &err);
    size_t bytes = 0;
    assert_true(pare_qtype_row_size(PARE_Q_Q4_1, 2048, &bytes) && bytes == 64 * 20);
    assert_false(pare_qtype_row_size(PARE_Q_Q4_1, 2047, &bytes));
    assert_false(pare_qtype_row_size((pare_qtype)5, 32, &bytes));
    assert_false(pare_qtype_row_size(PARE_Q_F32, INT64_MAX, &bytes)); /* overflow */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_errors),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
