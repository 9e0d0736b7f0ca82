/* Core: errors, dtypes, arena, thread pool. */
#include "testutil.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

static void test_err(void **state) {
    (void)state;
    pare_err err = {0};
    assert_int_equal(pare_err_set(&err, PARE_ERR_FORMAT, "file %s: bad %d", "x.bin", 3),
                     PARE_ERR_FORMAT);
    assert_string_equal(err.msg, "file x.bin: bad 3");
    pare_err_wrap(&err, "loading %s", "m");
    assert_string_equal(err.msg, "loading m: file x.bin: bad 3");
    assert_int_equal(pare_status_exit_code(PARE_ERR_FORMAT), 2);
    assert_int_equal(pare_status_exit_code(PARE_OK), 0);
    assert_int_equal(pare_err_set(NULL, PARE_ERR_IO, "no err"), PARE_ERR_IO);
}

static void test_dtype(void **state) {
    (void)state;
    size_t n;
    assert_true(pare_dtype_nbytes(PARE_DTYPE_F32, 10, &n));
    assert_int_equal(n, 40);
    assert_false(pare_dtype_nbytes(PARE_DTYPE_F32, INT64_MAX, &n));
    assert_null(pare_dtype_get((pare_dtype)99));
    /* f16 round trips for every finite half value */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        float f = pare_f16_to_f32((uint16_t)h);
        assert_int_equal(pare_f32_to_f16(f), h);
    }
    assert_true(fabsf(pare_f16_to_f32(pare_f32_to_f16(0.1f)) - 0.1f) < 1e-4f);
    assert_true(pare_bf16_to_f32(pare_f32_to_bf16(1.5f)) == 1.5f);
}

static void test_arena(void **state) {
    (void)state;
    pare_arena *a = pare_arena_create(128);
    assert_non_null(a);
    char *p = pare_arena_alloc(a, 10, 1);
    float *q = pare_arena_alloc(a, 100 * sizeof(float), 64);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % 64, 0);
    memset(q, 0, 400);
    assert_null(pare_arena_alloc(a, SIZE_MAX - 8, 16)); /* overflow is refused */
    assert_null(pare_arena_alloc(a, 8, 3));             /* bad alignment */
    char *s = pare_arena_strdup(a, "hello", 5);
    assert_string_equal(s, "hello");
    pare_arena_reset(a);
    assert_int_equal(pare_arena_used(a), 0);
    assert_non_null(pare_arena_alloc(a, 64, 8));
    pare_arena_free(a);
}

typedef struct {
    atomic_int hits[8];
    int64_t sum;
} pool_ctx;

static void pool_fn(void *ctx_, int ith, int nth) {
    pool_ctx *ctx = ctx_;
    atomic_fetch_add(&ctx->hits[ith], 1);
    (void)nth;
}

static void test_pool(void **state) {
    (void)state;
    pare_err err = {0};
    pare_pool *p = pare_pool_create(4, &err);
    assert_non_null(p);
    assert_int_equal(pare_pool_size(p), 4);
    pool_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    for (int r = 0; r < 1000; r++) pare_pool_run(p, pool_fn, &ctx);
    for (int i = 0; i < 4; i++) assert_int_equal(atomic_load(&ctx.hits[i]), 1000);
    pare_pool_free(p);
    int64_t lo, hi, total = 0;
    for (int i = 0; i < 3; i++) {
        pare_split_range(10, i, 3, &lo, &hi);
        total += hi - lo;
    }
    assert_int_equal(total, 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_dtype),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_pool),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
