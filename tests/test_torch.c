/* PyTorch zip checkpoints: fixtures from tools/make_torch_fixtures.py are
 * compared with their safetensors twins; hand-built zips and pickles test
 * each refusal; truncations and byte flips must fail cleanly. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *slurp(const char *rel, size_t *n) {
    char path[1024];
    char *buf;
    pare_err err = {0};
    tu_assert_ok(pare_read_file(tu_path(path, sizeof path, rel), 1u << 20, &buf, n, &err), &err);
    return (uint8_t *)buf;
}

static void compare_with_twin(const char *stem) {
    char a[256], b[256];
    snprintf(a, sizeof a, "tests/golden/fixtures/%s.pt", stem);
    snprintf(b, sizeof b, "tests/golden/fixtures/%s.safetensors", stem);
    char pa[1024], pb[1024];
    pare_err err = {0};
    pare_tensor_file *t, *s;
    tu_assert_ok(pare_tensor_file_open(tu_path(pa, sizeof pa, a), &t, &err), &err);
    tu_assert_ok(pare_tensor_file_open(tu_path(pb, sizeof pb, b), &s, &err), &err);
    assert_int_equal(pare_tensor_file_format(t), PARE_FORMAT_TORCH_ZIP);
    assert_int_equal(pare_tensor_file_count(t), pare_tensor_file_count(s));
    for (int64_t i = 0; i < pare_tensor_file_count(t); i++) {
        const pare_tensor *x = pare_tensor_file_get(t, i);
        const pare_tensor *y = pare_tensor_file_find(s, x->name);
        if (!y) fail_msg("%s: tensor '%s' missing from the twin", stem, x->name);
        assert_int_equal(x->dtype, y->dtype);
        assert_true(pare_tensor_has_shape(x, y->n_dims, y->shape));
        assert_int_equal(x->nbytes, y->nbytes);
        if (x->nbytes) assert_memory_equal(x->data, y->data, x->nbytes);
    }
    pare_tensor_file_close(t);
    pare_tensor_file_close(s);
}

static void test_fixtures(void **state) {
    (void)state;
    compare_with_twin("dtypes");
    compare_with_twin("views");
    compare_with_twin("state_dict");
    compare_with_twin("nested");
}

static void test_views_zero_copy(void **state) {
    (void)state;
    size_t n;
    uint8_t *buf = slurp("tests/golden/fixtures/views.pt", &n);
    pare_err err = {0};
    pare_tensor_file *f;
    tu_assert_ok(pare_torch_open_memory(buf, n, "views.pt", &f, &err), &err);
    const pare_tensor *base = pare_tensor_file_find(f, "base");
    const pare_tensor *rows = pare_tensor_file_find(f, "row_slice");
    const pare_tensor *tr = pare_tensor_file_find(f, "transposed");
    assert_non_null(base);
    assert_non_null(rows);
    assert_non_null(tr);
    /* contiguous tensors point into the buffer, sharing the storage */
    assert_true((uint8_t *)base->data > buf && (uint8_t *)base->data + base->nbytes <= buf + n);
    assert_ptr_equal(rows->data, (const float *)base->data + 8);
    /* the transposed view is materialised: tr[j][i] == base[i][j] */
    assert_false((uint8_t *)tr->data >= buf && (uint8_t *)tr->data < buf + n);
    const float *bd = base->data, *td = tr->data;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++) assert_true(td[j * 6 + i] == bd[i * 4 + j]);
    assert_int_equal(pare_tensor_file_size(f), n);
    pare_tensor_file_close(f);
    free(buf);
}

static void expect_file_fail(const char *rel, pare_status code, const char *needle) {
    char path[1024];
    pare_err err = {0};
    pare_tensor_file *f = (pare_tensor_file *)1;
    pare_status s = pare_torch_open(tu_path(path, sizeof path, rel), &f, &err);
    if (s != code || !strstr(err.msg, needle))
        fail_msg("%s: want %d with '%s', got %d: %s", rel, (int)code, needle, (int)s, err.msg);
    assert_null(f);
}

static void test_refusals(void **state) {
    (void)state;
    expect_file_fail("tests/golden/fixtures/malicious.pt", PARE_ERR_UNSUPPORTED,
                     "pickle global 'os.system' is not allowed");
    expect_file_fail("tests/golden/fixtures/compressed.pt", PARE_ERR_UNSUPPORTED, "is compressed (method 8)");
    expect_file_fail("tests/golden/fixtures/dtypes.safetensors", PARE_ERR_FORMAT, "end-of-central-directory");
}

/* ---------------------------------------------------------- hand-built zips */

typedef struct zbuf {
    uint8_t b[1 << 21]; /* static instances only */
    size_t n;
} zbuf;

static void put(zbuf *z, uint64_t v, int w) {
    for (int i = 0; i < w; i++) z->b[z->n++] = (uint8_t)(v >> (8 * i));
}
static void put_bytes(zbuf *z, const void *p, size_t n) {
    memcpy(z->b + z->n, p, n);
    z->n += n;
}

/* A stored zip with entries "a/data.pkl" = pkl and "a/data/0" = 16 bytes. */
/* zip64: central offsets and the EOCD fields go through ZIP64 records. */
static void mkzip64(zbuf *z, const uint8_t *pkl, size_t pn, uint16_t method, bool zip64) {
    const char *names[2] = {"a/data.pkl", "a/data/0"};
    const uint8_t store[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const uint8_t *datas[2] = {pkl, store};
    size_t sizes[2] = {pn, 16}, offs[2];
    z->n = 0;
    for (int i = 0; i < 2; i++) {
        offs[i] = z->n;
        put(z, 0x04034b50, 4); put(z, 20, 2); put(z, 0, 2); put(z, method, 2); put(z, 0, 4);
        put(z, 0, 4); put(z, sizes[i], 4); put(z, sizes[i], 4);
        put(z, strlen(names[i]), 2); put(z, 0, 2);
        put_bytes(z, names[i], strlen(names[i]));
        put_bytes(z, datas[i], sizes[i]);
    }
    size_t cd = z->n;
    for (int i = 0; i < 2; i++) {
        put(z, 0x02014b50, 4); put(z, 20, 2); put(z, 20, 2); put(z, 0, 2); put(z, method, 2);
        put(z, 0, 4); put(z, 0, 4); put(z, sizes[i], 4); put(z, sizes[i], 4);
        put(z, strlen(names[i]), 2); put(z, zip64 ? 12 : 0, 2); put(z, 0, 2); put(z, 0, 2); put(z, 0, 2);
        put(z, 0, 4); put(z, zip64 ? 0xffffffff : offs[i], 4);
        put_bytes(z, names[i], strlen(names[i]));
        if (zip64) { put(z, 1, 2); put(z, 8, 2); put(z, offs[i], 8); }
    }
    size_t cdn = z->n - cd;
    if (zip64) {
        size_t rec = z->n;
        put(z, 0x06064b50, 4); put(z, 44, 8); put(z, 45, 2); put(z, 45, 2); put(z, 0, 4); put(z, 0, 4);
        put(z, 2, 8); put(z, 2, 8); put(z, cdn, 8); put(z, cd, 8);
        put(z, 0x07064b50, 4); put(z, 0, 4); put(z, rec, 8); put(z, 1, 4);
    }
    put(z, 0x06054b50, 4); put(z, 0, 2); put(z, 0, 2); put(z, zip64 ? 0xffff : 2, 2); put(z, zip64 ? 0xffff : 2, 2);
    put(z, cdn, 4); put(z, zip64 ? 0xffffffff : cd, 4); put(z, 0, 2);
}

static void mkzip(zbuf *z, const uint8_t *pkl, size_t pn, uint16_t method) { mkzip64(z, pkl, pn, method, false); }

static pare_status open_pickle(const char *pkl, size_t pn, pare_tensor_file **f, pare_err *err) {
    static zbuf z; /* test-only scratch; tests run sequentially */
    mkzip(&z, (const uint8_t *)pkl, pn, 0);
    return pare_torch_open_memory(z.b, z.n, "h.pt", f, err);
}

#define PK(s) s, sizeof(s) - 1
/* {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 4), OFF, SIZE, STRIDE, False, OrderedDict())} */
#define HEAD "\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
#define TAIL "\x89" "ccollections\nOrderedDict\n)RtRs."

static void expect_pickle(const char *pkl, size_t pn, pare_status code, const char *needle) {
    pare_err err = {0};
    pare_tensor_file *f = NULL;
    pare_status s = open_pickle(pkl, pn, &f, &err);
    if (s != code || (needle && !strstr(err.msg, needle)))
        fail_msg("want %d with '%s', got %d: %s", (int)code, needle ? needle : "", (int)s, err.msg);
    if (s == PARE_OK) pare_tensor_file_close(f);
    else assert_null(f);
}

static void test_hand_pickles(void **state) {
    (void)state;
    pare_err err = {0};
    pare_tensor_file *f;
    /* a valid one: w = storage[1:3] as [2] */
    tu_assert_ok(open_pickle(PK(HEAD "K\x01K\x02\x85K\x01\x85" TAIL), &f, &err), &err);
    const pare_tensor *t = pare_tensor_file_find(f, "w");
    assert_non_null(t);
    assert_true(pare_tensor_has_shape(t, 1, (int64_t[]){2}));
    assert_int_equal(((const uint8_t *)t->data)[0], 5);
    pare_tensor_file_close(f);
    /* the same through ZIP64 records */
    static zbuf z64;
    mkzip64(&z64, (const uint8_t *)HEAD "K\x01K\x02\x85K\x01\x85" TAIL, sizeof(HEAD "K\x01K\x02\x85K\x01\x85" TAIL) - 1, 0, true);
    tu_assert_ok(pare_torch_open_memory(z64.b, z64.n, "z64.pt", &f, &err), &err);
    assert_int_equal(((const uint8_t *)pare_tensor_file_find(f, "w")->data)[0], 5);
    pare_tensor_file_close(f);
    z64.b[z64.n - 22 - 20 - 56 + 48] ^= 1; /* corrupt the ZIP64 central directory offset */
    assert_int_equal(pare_torch_open_memory(z64.b, z64.n, "z64.pt", &f, &err), PARE_ERR_FORMAT);
    /* stride 0 (an expanded view) is copied */
    tu_assert_ok(open_pickle(PK(HEAD "K\x03K\x05\x85K\x00\x85" TAIL), &f, &err), &err);
    t = pare_tensor_file_find(f, "w");
    for (int i = 0; i < 5; i++) assert_int_equal(((const uint8_t *)t->data)[4 * i], 13);
    pare_tensor_file_close(f);
    expect_pickle(PK(HEAD "K\x01K\x04\x85K\x01\x85" TAIL), PARE_ERR_FORMAT, "reaches element 4 of a 4-element storage");
    expect_pickle(PK(HEAD "K\x00K\x02K\x02\x86K\x01\x85" TAIL), PARE_ERR_FORMAT, "size has 2 dims but stride has 1");
    expect_pickle(PK(HEAD "K\x00J\xff\xff\xff\xff\x85K\x01\x85" TAIL), PARE_ERR_FORMAT, "size[0] is not a non-negative");
    expect_pickle(PK(HEAD "K\x00\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40\x85\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40\x85" TAIL),
                  PARE_ERR_FORMAT, "overflow");
    expect_pickle(PK("\x80\x02}."), PARE_OK, NULL);
    expect_pickle(PK("\x80\x02}"), PARE_ERR_FORMAT, "ends without STOP");
    expect_pickle(PK("\x80\x02."), PARE_ERR_FORMAT, "empty stack");
    expect_pickle(PK("\x80\x02s."), PARE_ERR_FORMAT, "underflow");
    expect_pickle(PK("\x80\x02h\x05."), PARE_ERR_FORMAT, "memo index 5 was never set");
    expect_pickle(PK("\x80\x02r\x00\x00\x00\x10."), PARE_ERR_FORMAT, "empty stack");
    expect_pickle(PK("\x80\x02}r\x00\x00\x00\x10."), PARE_ERR_UNSUPPORTED, "memo index");
    expect_pickle(PK("\x80\x02}t."), PARE_ERR_FORMAT, "no MARK");
    expect_pickle(PK("\x80\x02X\xff\x00\x00\x00" "ab."), PARE_ERR_FORMAT, "runs past the end");
    expect_pickle(PK("\x80\x02\x8c\x05posix\x8c\x06system\x93."), PARE_ERR_UNSUPPORTED,
                  "pickle global 'posix.system' is not allowed");
    expect_pickle(PK("\x80\x02" "cbuiltins\neval\n."), PARE_ERR_UNSUPPORTED, "'builtins.eval'");
    expect_pickle(PK("\x80\x02" "ctorch\nFloatStorage\n)R."), PARE_ERR_UNSUPPORTED, "cannot be called");
    expect_pickle(PK("\x80\x02]\x81."), PARE_ERR_UNSUPPORTED, "opcode 0x81");
    expect_pickle(PK("\x80\x02]]b."), PARE_ERR_UNSUPPORTED, "BUILD");
    expect_pickle(PK("\x80\x02]Q."), PARE_ERR_FORMAT, "5-tuple");
    expect_pickle(PK("\x80\x09}."), PARE_ERR_UNSUPPORTED, "protocol 9");
    /* a storage key with no data entry */
    expect_pickle(PK("\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "9X\x03\x00\x00\x00" "cpuK\x04tQK\x00K\x01\x85K\x01\x85" TAIL),
                  PARE_ERR_FORMAT, "storage '9' has no data entry");
    /* numel that does not match the entry's 16 bytes */
    expect_pickle(PK("\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x05tQK\x00K\x01\x85K\x01\x85" TAIL),
                  PARE_ERR_FORMAT, "has 16 bytes but 5 f32 elements need 20");
    /* a self-referencing list is walked without looping */
    expect_pickle(PK("\x80\x02]q\x00h\x00" "a."), PARE_OK, NULL);
    /* a dict holding itself under two keys: bounded walk */
    expect_pickle(PK("\x80\x02}q\x00(X\x01\x00\x00\x00" "ah\x00X\x01\x00\x00\x00" "bh\x00u."), PARE_ERR_UNSUPPORTED, "deeper");
    /* a compressed entry */
    static zbuf z;
    mkzip(&z, (const uint8_t *)"\x80\x02}.", 4, 8);
    assert_int_equal(pare_torch_open_memory(z.b, z.n, "h.pt", &f, &err), PARE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "compressed"));
}

/* Dicts shared by many parents (a DAG): 2^24 paths to one dict of 100k
 * entries. Bounding the visits alone let this run for minutes; the walk's
 * work is bounded now. */
static void test_shared_dicts(void **state) {
    (void)state;
    enum { K = 100000, DEPTH = 24 };
    size_t cap = 32 + (size_t)K * 16 + DEPTH * 32, n = 0;
    char *p = malloc(cap);
    assert_non_null(p);
    memcpy(p, "\x80\x02}q\x00(", 6), n = 6; /* PROTO 2, EMPTY_DICT, BINPUT 0, MARK */
    for (int k = 0; k < K; k++) {
        n += (size_t)sprintf(p + n, "X\x07%c%c%ck%06dK\x01", 0, 0, 0, k); /* BINUNICODE key, BININT1 1 */
        if (k % 1000 == 999) memcpy(p + n, "u(", 2), n += 2; /* SETITEMS, MARK: the stack stays short */
    }
    p[n++] = 'u'; /* SETITEMS */
    for (int d = 0; d < DEPTH; d++) {
        /* EMPTY_DICT BINPUT d+1 MARK 'a' BINGET d 'b' BINGET d SETITEMS */
        n += (size_t)sprintf(p + n, "}q%c(X\x01%c%c%cah%cX\x01%c%c%cbh%cu", d + 1, 0, 0, 0, d, 0, 0, 0, d);
    }
    p[n++] = '.';
    double t0 = pare_time_now();
    expect_pickle(p, n, PARE_ERR_UNSUPPORTED, "takes more than");
    assert_true(pare_time_now() - t0 < 20); /* about 0.1 s; minutes before the fix */
    free(p);
}

/* Every truncation and a byte flip at every offset of a real fixture:
 * no crash, clean error or success. */
static void test_mutations(void **state) {
    (void)state;
    size_t n;
    uint8_t *buf = slurp("tests/golden/fixtures/state_dict.pt", &n);
    for (size_t len = 0; len < n; len++) {
        uint8_t *t = malloc(len + 1);
        memcpy(t, buf, len);
        pare_err err = {0};
        pare_tensor_file *f;
        pare_status s = pare_torch_open_memory(t, len, "s.pt", &f, &err);
        assert_true(s == PARE_ERR_FORMAT || s == PARE_ERR_UNSUPPORTED);
        assert_null(f);
        free(t);
    }
    uint8_t *c = malloc(n);
    size_t ok = 0;
    const uint8_t flips[] = {0xff, 0x01, 0x80};
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(c, buf, n);
            c[pos] ^= flips[k];
            pare_err err = {0};
            pare_tensor_file *f;
            pare_status s = pare_torch_open_memory(c, n, "s.pt", &f, &err);
            if (s == PARE_OK) {
                for (int64_t i = 0; i < pare_tensor_file_count(f); i++) {
                    const pare_tensor *t = pare_tensor_file_get(f, i);
                    volatile uint8_t sum = 0;
                    for (size_t b = 0; b < t->nbytes; b++) sum ^= ((const uint8_t *)t->data)[b];
                    (void)sum;
                }
                pare_tensor_file_close(f);
                ok++;
            } else {
                assert_true(s == PARE_ERR_FORMAT || s == PARE_ERR_UNSUPPORTED);
            }
        }
    }
    assert_true(ok > 0);
    free(c);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),     cmocka_unit_test(test_views_zero_copy),
        cmocka_unit_test(test_refusals),     cmocka_unit_test(test_hand_pickles),
        cmocka_unit_test(test_mutations),    cmocka_unit_test(test_shared_dicts),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
