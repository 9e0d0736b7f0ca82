/* GGUF reader and writer: writer -> reader round trips, files written by
 * llama.cpp's Python package checked against summaries it made
 * (tools/make_gguf_golden.py), one corrupt input per validation rule,
 * every truncation and bit flips of a small file. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- summary */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#define FNV0 0xcbf29ce484222325ull

/* The line tools/make_gguf_golden.py writes for kv i. */
static void kv_line(const pare_gguf *g, int64_t i, char *buf, size_t cap) {
    pare_gguf_type t = pare_gguf_kv_type(g, i);
    int n = snprintf(buf, cap, "kv\t%s\t%s\t", pare_gguf_kv_key(g, i), pare_gguf_type_name(t));
    char *p = buf + n;
    size_t room = cap - (size_t)n;
    pare_gguf_str s;
    float f;
    double d;
    bool b;
    int64_t v;
    uint64_t u, len;
    pare_gguf_type et;
    if (pare_gguf_kv_str(g, i, &s)) {
        snprintf(p, room, "len=%zu fnv=%016llx", s.len, (unsigned long long)fnv(FNV0, s.ptr, s.len));
    } else if (pare_gguf_kv_arr(g, i, &et, &len)) {
        uint64_t h = FNV0;
        if (et == PARE_GGUF_STRING) {
            for (uint64_t j = 0; j < len; j++) {
                assert_true(pare_gguf_kv_arr_str(g, i, j, &s));
                uint8_t l8[8];
                for (int k = 0; k < 8; k++) l8[k] = (uint8_t)((uint64_t)s.len >> (8 * k));
                h = fnv(fnv(h, l8, 8), s.ptr, s.len);
            }
            assert_false(pare_gguf_kv_arr_str(g, i, len, &s));
        } else if (len) {
            h = fnv(h, pare_gguf_kv_arr_data(g, i), (size_t)len * pare_gguf_type_size(et));
        }
        snprintf(p, room, "%s n=%llu fnv=%016llx", pare_gguf_type_name(et), (unsigned long long)len,
                 (unsigned long long)h);
    } else if (pare_gguf_kv_f32(g, i, &f)) {
        uint32_t bits;
        memcpy(&bits, &f, 4);
        snprintf(p, room, "0x%08x", bits);
    } else if (pare_gguf_kv_f64(g, i, &d)) {
        memcpy(&u, &d, 8);
        snprintf(p, room, "0x%016llx", (unsigned long long)u);
    } else if (pare_gguf_kv_bool(g, i, &b)) {
        snprintf(p, room, "%d", b ? 1 : 0);
    } else if (pare_gguf_kv_u64(g, i, &u)) {
        snprintf(p, room, "%llu", (unsigned long long)u);
    } else if (pare_gguf_kv_int(g, i, &v)) {
        snprintf(p, room, "%lld", (long long)v);
    } else {
        fail_msg("kv %lld: no getter accepts type %d", (long long)i, (int)t);
    }
}

static void tensor_line(const pare_gguf *g, const pare_gguf_tensor *t, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "tensor\t%s\t%u\t", t->name, t->type);
    for (int d = 0; d < t->n_dims; d++) n += snprintf(buf + n, cap - (size_t)n, "%s%lld", d ? "," : "", (long long)t->ne[d]);
    snprintf(buf + n, cap - (size_t)n, "\t%zu\t%zu", (size_t)((const uint8_t *)t->data - pare_gguf_base(g)), t->nbytes);
}

/* Compare the reader's view of path with the golden summary, line by line. */
static void check_summary(const char *path, const char *golden) {
    pare_err err = {0};
    pare_gguf *g;
    tu_assert_ok(pare_gguf_open(path, &g, &err), &err);
    FILE *fp = fopen(golden, "r");
    if (!fp) fail_msg("cannot open %s (run make references)", golden);
    char want[8192], got[8192];
    int64_t ikv = 0, it = 0, lines = 0;
    while (fgets(want, sizeof want, fp)) {
        want[strcspn(want, "\n")] = 0;
        if (want[0] == '#' || !want[0]) continue;
        if (!strncmp(want, "header\t", 7)) {
            snprintf(got, sizeof got, "header\t%u\t%u\t%zu\t%lld\t%lld\t%zu", pare_gguf_version(g),
                     pare_gguf_alignment(g), pare_gguf_data_offset(g), (long long)pare_gguf_kv_count(g),
                     (long long)pare_gguf_tensor_count(g), pare_gguf_file_size(g));
        } else if (!strncmp(want, "kv\t", 3)) {
            assert_true(ikv < pare_gguf_kv_count(g));
            kv_line(g, ikv, got, sizeof got);
            assert_int_equal(pare_gguf_find_key(g, pare_gguf_kv_key(g, ikv)), ikv);
            ikv++;
        } else {
            const pare_gguf_tensor *t = pare_gguf_tensor_get(g, it++);
            assert_non_null(t);
            tensor_line(g, t, got, sizeof got);
            assert_ptr_equal(pare_gguf_tensor_find(g, t->name), t);
            assert_int_equal((size_t)((const uint8_t *)t->data - pare_gguf_base(g)) % pare_gguf_alignment(g), 0);
        }
        if (strcmp(want, got) != 0) fail_msg("%s line %lld:\n want %s\n got  %s", golden, (long long)lines, want, got);
        lines++;
    }
    fclose(fp);
    assert_int_equal(ikv, pare_gguf_kv_count(g));
    assert_int_equal(it, pare_gguf_tensor_count(g));
    pare_gguf_close(g);
}

static void test_tiny_fixture(void **state) {
    (void)state;
    char path[512], golden[512];
    tu_path(path, sizeof path, "tests/golden/fixtures/tiny.gguf");
    tu_path(golden, sizeof golden, "tests/golden/fixtures/tiny.gguf.txt");
    check_summary(path, golden);
}

static void test_smollm2(void **state) {
    (void)state;
    char path[4096], golden[512];
    tu_model_dir(path, sizeof path, "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    check_summary(path, tu_path(golden, sizeof golden, "tests/golden/smollm2-q4_1.gguf.txt"));
    /* the getters a Llama loader will use */
    pare_err err = {0};
    pare_gguf *g;
    tu_assert_ok(pare_gguf_open(path, &g, &err), &err);
    char arch[32];
    uint32_t n_layer, n_embd, n_head, n_head_kv;
    float eps;
    tu_assert_ok(pare_gguf_get_str(g, "general.architecture", NULL, arch, sizeof arch, &err), &err);
    assert_string_equal(arch, "llama");
    tu_assert_ok(pare_gguf_get_u32(g, "llama.block_count", 0, &n_layer, &err), &err);
    tu_assert_ok(pare_gguf_get_u32(g, "llama.embedding_length", 0, &n_embd, &err), &err);
    tu_assert_ok(pare_gguf_get_u32(g, "llama.attention.head_count", 0, &n_head, &err), &err);
    tu_assert_ok(pare_gguf_get_u32(g, "llama.attention.head_count_kv", 0, &n_head_kv, &err), &err);
    tu_assert_ok(pare_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", 0, &eps, &err), &err);
    assert_int_equal(n_layer, 30);
    assert_int_equal(n_embd, 576);
    assert_int_equal(n_head, 9);
    assert_int_equal(n_head_kv, 3);
    assert_true(eps > 0 && eps < 1e-3f);
    int64_t ti;
    uint64_t n_tok;
    tu_assert_ok(pare_gguf_get_arr(g, "tokenizer.ggml.tokens", PARE_GGUF_STRING, &ti, &n_tok, &err), &err);
    assert_int_equal(n_tok, 49152);
    const pare_gguf_tensor *emb = pare_gguf_tensor_find(g, "token_embd.weight");
    assert_non_null(emb);
    assert_int_equal(emb->ne[0], 576);
    assert_int_equal(emb->ne[1], 49152);
    pare_gguf_close(g);
}

/* ---------------------------------------------------------------- round trip */

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "/tmp/pare_test_gguf_%s_%d.gguf", tag, (int)getpid());
}

static void test_round_trip(void **state) {
    (void)state;
    pare_err err = {0};
    pare_gguf_writer *w = pare_gguf_writer_create();
    assert_non_null(w);
    uint8_t u8 = 250;
    int8_t i8 = -7;
    uint16_t u16 = 65535;
    int16_t i16 = -32768;
    uint32_t u32 = 4000000000u;
    int32_t i32 = -5;
    uint64_t u64 = UINT64_MAX;
    int64_t i64 = INT64_MIN;
    float f32 = -0.15625f;
    double f64 = 1e300;
    bool bl = true;
    tu_assert_ok(pare_gguf_writer_add_scalar(w, "s.u8", PARE_GGUF_U8, &u8, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_scalar(w, "s.i8", PARE_GGUF_I8, &i8, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_scalar(w, "s.u16", PARE_GGUF_U16, &u16, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_scalar(w, "s.i16", PARE_GGUF_I16, &i16, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_u32(w, "s.u32", u32, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_i32(w, "s.i32", i32, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_scalar(w, "s.u64", PARE_GGUF_U64, &u64, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_scalar(w, "s.i64", PARE_GGUF_I64, &i64, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_f32(w, "s.f32", f32, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_scalar(w, "s.f64", PARE_GGUF_F64, &f64, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_bool(w, "s.bool", bl, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_str(w, "s.str", "hello", &err), &err);
    tu_assert_ok(pare_gguf_writer_add_strn(w, "s.nul", "a\0b", 3, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_u32(w, "general.alignment", 64, &err), &err);
    const char *strs[] = {"x", "", "yz"};
    int32_t ai[] = {1, -2, INT32_MAX};
    float af[] = {0.5f, -2.0f};
    bool ab[] = {true, false, true};
    int16_t ai16[] = {-1, 2};
    double ad[] = {3.25};
    tu_assert_ok(pare_gguf_writer_add_arr_str(w, "a.str", strs, 3, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_arr_i32(w, "a.i32", ai, 3, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_arr_f32(w, "a.f32", af, 2, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_array(w, "a.bool", PARE_GGUF_BOOL, ab, 3, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_array(w, "a.i16", PARE_GGUF_I16, ai16, 2, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_array(w, "a.f64", PARE_GGUF_F64, ad, 1, &err), &err);
    tu_assert_ok(pare_gguf_writer_add_array(w, "a.empty", PARE_GGUF_U32, NULL, 0, &err), &err);
    /* writer refusals */
    assert_int_equal(pare_gguf_writer_add_u32(w, "s.u32", 1, &err), PARE_ERR_INVALID);
    assert_non_null(strstr(err.msg, "duplicate key 's.u32'"));
    assert_int_equal(pare_gguf_writer_add_scalar(w, "x", PARE_GGUF_STRING, "a", &err), PARE_ERR_INVALID);
    assert_int_equal(pare_gguf_writer_add_array(w, "x", PARE_GGUF_ARRAY, ai, 1, &err), PARE_ERR_INVALID);

    /* tensors: plain and block types; data sized by type and shape */
    float tf[2 * 3];
    for (int i = 0; i < 6; i++) tf[i] = (float)i - 2.5f;
    uint16_t th[32];
    for (int i = 0; i < 32; i++) th[i] = pare_f32_to_f16((float)i);
    uint8_t q40[2 * 2 * 18], q80[34], qk[144 * 2], ti8[7];
    for (size_t i = 0; i < sizeof q40; i++) q40[i] = (uint8_t)(i * 13);
    for (size_t i = 0; i < sizeof q80; i++) q80[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof qk; i++) qk[i] = (uint8_t)(i * 3);
    for (size_t i = 0; i < sizeof ti8; i++) ti8[i] = (uint8_t)i;
    struct {
        const char *name;
        uint32_t type;
        int32_t nd;
        int64_t ne[4];
        const void *data;
        size_t nbytes;
    } ts[] = {
        {"t.f32", PARE_Q_F32, 2, {3, 2}, tf, sizeof tf},
        {"t.f16", PARE_Q_F16, 3, {4, 4, 2}, th, sizeof th},
        {"t.q4_0", PARE_Q_Q4_0, 2, {64, 2}, q40, sizeof q40},
        {"t.q8_0", PARE_Q_Q8_0, 1, {32}, q80, sizeof q80},
        {"t.q4_k", PARE_Q_Q4_K, 4, {256, 1, 2, 1}, qk, sizeof qk},
        {"t.i8", PARE_Q_I8, 1, {7}, ti8, sizeof ti8},
        {"t.scalar", PARE_Q_F32, 0, {0}, tf, 4},
    };
    int nt = (int)(sizeof ts / sizeof *ts);
    for (int i = 0; i < nt; i++)
        tu_assert_ok(pare_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].nd, ts[i].ne, ts[i].data, ts[i].nbytes, &err), &err);
    assert_int_equal(pare_gguf_writer_add_tensor(w, "t.f32", PARE_Q_F32, 1, (int64_t[]){1}, tf, 4, &err), PARE_ERR_INVALID);
    assert_int_equal(pare_gguf_writer_add_tensor(w, "bad", PARE_Q_Q4_0, 1, (int64_t[]){16}, q40, 9, &err), PARE_ERR_INVALID);
    assert_int_equal(pare_gguf_writer_add_tensor(w, "bad", PARE_Q_F32, 1, (int64_t[]){2}, tf, 4, &err), PARE_ERR_INVALID);
    assert_int_equal(pare_gguf_writer_add_tensor(w, "bad", 99, 1, (int64_t[]){2}, tf, 8, &err), PARE_ERR_INVALID);

    char path[256];
    tmp_path(path, sizeof path, "rt");
    tu_assert_ok(pare_gguf_writer_write(w, path, &err), &err);
    pare_gguf_writer_free(w);

    pare_gguf *g;
    tu_assert_ok(pare_gguf_open(path, &g, &err), &err);
    assert_int_equal(pare_gguf_version(g), 3);
    assert_int_equal(pare_gguf_alignment(g), 64);
    assert_int_equal(pare_gguf_kv_count(g), 21);
    uint8_t r8;
    int8_t ri8;
    uint16_t r16;
    int16_t ri16;
    uint32_t r32;
    int32_t ri32;
    uint64_t r64;
    int64_t ri64;
    float rf;
    double rd;
    bool rb;
    pare_gguf_str rs;
    assert_true(pare_gguf_kv_u8(g, pare_gguf_find_key(g, "s.u8"), &r8) && r8 == u8);
    assert_true(pare_gguf_kv_i8(g, pare_gguf_find_key(g, "s.i8"), &ri8) && ri8 == i8);
    assert_true(pare_gguf_kv_u16(g, pare_gguf_find_key(g, "s.u16"), &r16) && r16 == u16);
    assert_true(pare_gguf_kv_i16(g, pare_gguf_find_key(g, "s.i16"), &ri16) && ri16 == i16);
    assert_true(pare_gguf_kv_u32(g, pare_gguf_find_key(g, "s.u32"), &r32) && r32 == u32);
    assert_true(pare_gguf_kv_i32(g, pare_gguf_find_key(g, "s.i32"), &ri32) && ri32 == i32);
    assert_true(pare_gguf_kv_u64(g, pare_gguf_find_key(g, "s.u64"), &r64) && r64 == u64);
    assert_true(pare_gguf_kv_i64(g, pare_gguf_find_key(g, "s.i64"), &ri64) && ri64 == i64);
    assert_true(pare_gguf_kv_f32(g, pare_gguf_find_key(g, "s.f32"), &rf) && rf == f32);
    assert_true(pare_gguf_kv_f64(g, pare_gguf_find_key(g, "s.f64"), &rd) && rd == f64);
    assert_true(pare_gguf_kv_bool(g, pare_gguf_find_key(g, "s.bool"), &rb) && rb);
    assert_true(pare_gguf_kv_str(g, pare_gguf_find_key(g, "s.str"), &rs));
    assert_true(rs.len == 5 && !memcmp(rs.ptr, "hello", 5));
    assert_true(pare_gguf_kv_str(g, pare_gguf_find_key(g, "s.nul"), &rs) && rs.len == 3 && rs.ptr[1] == 0);
    /* type checks by index */
    int64_t k32 = pare_gguf_find_key(g, "s.u32");
    assert_false(pare_gguf_kv_i32(g, k32, &ri32));
    assert_false(pare_gguf_kv_str(g, k32, &rs));
    assert_false(pare_gguf_kv_u32(g, -1, &r32));
    assert_false(pare_gguf_kv_u32(g, 999, &r32));
    assert_int_equal(pare_gguf_find_key(g, "nope"), -1);
    assert_null(pare_gguf_kv_key(g, 21));
    assert_false(pare_gguf_kv_int(g, pare_gguf_find_key(g, "s.u64"), &ri64)); /* > INT64_MAX */
    assert_true(pare_gguf_kv_int(g, pare_gguf_find_key(g, "s.i16"), &ri64) && ri64 == -32768);
    /* arrays */
    pare_gguf_type et;
    uint64_t n;
    int64_t ka = pare_gguf_find_key(g, "a.str");
    assert_true(pare_gguf_kv_arr(g, ka, &et, &n) && et == PARE_GGUF_STRING && n == 3);
    assert_null(pare_gguf_kv_arr_data(g, ka));
    for (int j = 0; j < 3; j++) {
        assert_true(pare_gguf_kv_arr_str(g, ka, (uint64_t)j, &rs));
        assert_true(rs.len == strlen(strs[j]) && !memcmp(rs.ptr, strs[j], rs.len));
        assert_true(pare_gguf_kv_arr_strs(g, ka)[j].len == rs.len);
    }
    ka = pare_gguf_find_key(g, "a.i32");
    assert_true(pare_gguf_kv_arr(g, ka, &et, &n) && et == PARE_GGUF_I32 && n == 3);
    assert_memory_equal(pare_gguf_kv_arr_data(g, ka), ai, sizeof ai);
    assert_false(pare_gguf_kv_arr_str(g, ka, 0, &rs));
    assert_memory_equal(pare_gguf_kv_arr_data(g, pare_gguf_find_key(g, "a.f32")), af, sizeof af);
    static const uint8_t bools[] = {1, 0, 1};
    assert_memory_equal(pare_gguf_kv_arr_data(g, pare_gguf_find_key(g, "a.bool")), bools, 3);
    assert_memory_equal(pare_gguf_kv_arr_data(g, pare_gguf_find_key(g, "a.i16")), ai16, sizeof ai16);
    assert_memory_equal(pare_gguf_kv_arr_data(g, pare_gguf_find_key(g, "a.f64")), ad, sizeof ad);
    ka = pare_gguf_find_key(g, "a.empty");
    assert_true(pare_gguf_kv_arr(g, ka, &et, &n) && et == PARE_GGUF_U32 && n == 0);
    assert_false(pare_gguf_kv_arr(g, k32, &et, &n));

    /* getters by key */
    int64_t iv;
    tu_assert_ok(pare_gguf_get_u32(g, "s.u8", 0, &r32, &err), &err);
    assert_int_equal(r32, 250);
    tu_assert_ok(pare_gguf_get_u32(g, "absent", 17, &r32, &err), &err);
    assert_int_equal(r32, 17);
    assert_int_equal(pare_gguf_get_u32(g, "s.str", 0, &r32, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "'s.str' is a string"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(pare_gguf_get_i32(g, "s.u32", 0, &ri32, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "outside"));
    assert_int_equal(pare_gguf_get_int(g, "a.i32", 0, 0, 10, &iv, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "array of i32"));
    tu_assert_ok(pare_gguf_get_f32(g, "s.f64", 0, &rf, &err), &err);
    assert_true(rf == (float)f64);
    assert_int_equal(pare_gguf_get_f32(g, "s.u8", 0, &rf, &err), PARE_ERR_FORMAT);
    tu_assert_ok(pare_gguf_get_bool(g, "s.bool", false, &rb, &err), &err);
    assert_true(rb);
    assert_int_equal(pare_gguf_get_bool(g, "s.u8", false, &rb, &err), PARE_ERR_FORMAT);
    char sbuf[6];
    tu_assert_ok(pare_gguf_get_str(g, "s.str", NULL, sbuf, sizeof sbuf, &err), &err);
    assert_string_equal(sbuf, "hello");
    assert_int_equal(pare_gguf_get_str(g, "s.str", NULL, sbuf, 5, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "too long"));
    assert_int_equal(pare_gguf_get_str(g, "s.nul", NULL, sbuf, sizeof sbuf, &err), PARE_ERR_FORMAT);
    tu_assert_ok(pare_gguf_get_str(g, "absent", "dflt", sbuf, sizeof sbuf, &err), &err);
    assert_string_equal(sbuf, "dflt");
    int64_t idx;
    tu_assert_ok(pare_gguf_get_arr(g, "a.f32", PARE_GGUF_F32, &idx, &n, &err), &err);
    assert_true(idx >= 0 && n == 2);
    assert_int_equal(pare_gguf_get_arr(g, "a.f32", PARE_GGUF_I32, &idx, &n, &err), PARE_ERR_FORMAT);
    tu_assert_ok(pare_gguf_get_arr(g, "absent", PARE_GGUF_I32, &idx, &n, &err), &err);
    assert_true(idx == -1 && n == 0);
    char small[3];
    assert_false(pare_gguf_str_copy((pare_gguf_str){"abc", 3}, small, sizeof small));
    assert_string_equal(small, "ab");

    /* tensors */
    assert_int_equal(pare_gguf_tensor_count(g), nt);
    for (int i = 0; i < nt; i++) {
        const pare_gguf_tensor *t = pare_gguf_tensor_get(g, i);
        assert_string_equal(t->name, ts[i].name);
        assert_ptr_equal(pare_gguf_tensor_find(g, ts[i].name), t);
        assert_int_equal(t->type, ts[i].type);
        assert_int_equal(t->n_dims, ts[i].nd);
        for (int d = 0; d < 4; d++) assert_int_equal(t->ne[d], d < ts[i].nd ? ts[i].ne[d] : 1);
        assert_int_equal(t->nbytes, ts[i].nbytes);
        assert_memory_equal(t->data, ts[i].data, t->nbytes);
        assert_int_equal(t->offset % 64, 0);
        assert_int_equal((uintptr_t)t->data % 64, 0); /* the mapping is page-aligned */
    }
    assert_int_equal(pare_gguf_tensor_nelem(pare_gguf_tensor_get(g, 1)), 32);
    assert_null(pare_gguf_tensor_get(g, nt));
    assert_null(pare_gguf_tensor_find(g, "nope"));
    pare_gguf_close(g);

    /* the same bytes as version 2 read the same */
    char *buf;
    size_t len;
    tu_assert_ok(pare_read_file(path, 1 << 20, &buf, &len, &err), &err);
    buf[4] = 2;
    tu_assert_ok(pare_gguf_open_memory(buf, len, "v2.gguf", &g, &err), &err);
    assert_int_equal(pare_gguf_version(g), 2);
    assert_int_equal(pare_gguf_tensor_count(g), nt);
    pare_gguf_close(g);
    free(buf);
    remove(path);

    /* an empty writer gives a valid empty file */
    w = pare_gguf_writer_create();
    tu_assert_ok(pare_gguf_writer_write(w, path, &err), &err);
    pare_gguf_writer_free(w);
    tu_assert_ok(pare_gguf_open(path, &g, &err), &err);
    assert_int_equal(pare_gguf_kv_count(g), 0);
    assert_int_equal(pare_gguf_tensor_count(g), 0);
    pare_gguf_close(g);
    remove(path);
}

/* ---------------------------------------------------------------- corrupt */

typedef struct bb {
    uint8_t b[1024];
    size_t n;
} bb;

static void put_le(bb *b, uint64_t v, int n) {
    assert_true(b->n + (size_t)n <= sizeof b->b);
    for (int i = 0; i < n; i++) b->b[b->n++] = (uint8_t)(v >> (8 * i));
}
static void put_str(bb *b, const char *s, size_t n) {
    put_le(b, n, 8);
    assert_true(b->n + n <= sizeof b->b);
    memcpy(b->b + b->n, s, n);
    b->n += n;
}
static void hdr(bb *b, uint32_t version, uint64_t nt, uint64_t nkv) {
    b->n = 0;
    memcpy(b->b, "GGUF", 4);
    b->n = 4;
    put_le(b, version, 4);
    put_le(b, nt, 8);
    put_le(b, nkv, 8);
}
static void kv_u32(bb *b, const char *key, uint32_t v) {
    put_str(b, key, strlen(key));
    put_le(b, PARE_GGUF_U32, 4);
    put_le(b, v, 4);
}
static void tinfo(bb *b, const char *name, uint32_t nd, const int64_t *ne, uint32_t type, uint64_t off) {
    put_str(b, name, strlen(name));
    put_le(b, nd, 4);
    for (uint32_t d = 0; d < nd; d++) put_le(b, (uint64_t)ne[d], 8);
    put_le(b, type, 4);
    put_le(b, off, 8);
}
/* Pad to 32 and append n data bytes. */
static void data(bb *b, size_t n) {
    assert_true(b->n + 32 + n <= sizeof b->b);
    while (b->n % 32) b->b[b->n++] = 0;
    for (size_t i = 0; i < n; i++) b->b[b->n++] = (uint8_t)i;
}

static void expect_fail(const bb *b, pare_status code, const char *needle) {
    pare_err err = {0};
    pare_gguf *g = (pare_gguf *)1;
    pare_status s = pare_gguf_open_memory(b->b, b->n, "bad.gguf", &g, &err);
    if (s != code || !strstr(err.msg, needle) || !strstr(err.msg, "bad.gguf"))
        fail_msg("want status %d with '%s', got %d: %s", (int)code, needle, (int)s, err.msg);
    assert_null(g);
}

static void expect_ok(const bb *b) {
    pare_err err = {0};
    pare_gguf *g;
    tu_assert_ok(pare_gguf_open_memory(b->b, b->n, "ok.gguf", &g, &err), &err);
    pare_gguf_close(g);
}

static void test_corrupt(void **state) {
    (void)state;
    bb b;
    const int64_t ne32[] = {32}, ne2[] = {32, 2};
    /* the baseline passes */
    hdr(&b, 3, 1, 1);
    kv_u32(&b, "k", 1);
    tinfo(&b, "t", 1, ne32, PARE_Q_F32, 0);
    data(&b, 128);
    expect_ok(&b);

    b.n = 3;
    expect_fail(&b, PARE_ERR_FORMAT, "not a GGUF file");
    hdr(&b, 3, 0, 0);
    b.b[0] = 'X';
    expect_fail(&b, PARE_ERR_FORMAT, "not a GGUF file");
    hdr(&b, 1, 0, 0);
    expect_fail(&b, PARE_ERR_UNSUPPORTED, "GGUF v1 is not supported");
    hdr(&b, 3u << 24, 0, 0);
    expect_fail(&b, PARE_ERR_UNSUPPORTED, "big-endian");
    hdr(&b, 4, 0, 0);
    expect_fail(&b, PARE_ERR_UNSUPPORTED, "version 4");
    hdr(&b, 3, 0, 0);
    b.n = 20;
    expect_fail(&b, PARE_ERR_FORMAT, "metadata count");
    /* lying counts fail before any allocation */
    hdr(&b, 3, UINT64_MAX / 2, 0);
    expect_fail(&b, PARE_ERR_FORMAT, "cannot fit");
    hdr(&b, 3, 0, 1ull << 62);
    expect_fail(&b, PARE_ERR_FORMAT, "cannot fit");
    hdr(&b, 3, 0, 1);
    put_str(&b, "k", 1);
    put_le(&b, PARE_GGUF_U32, 4);
    put_le(&b, 0, 2);
    expect_fail(&b, PARE_ERR_FORMAT, "value at byte 37 needs 4 bytes but the 39-byte file ends first");
    /* strings */
    hdr(&b, 3, 0, 1);
    put_le(&b, UINT64_MAX - 3, 8);
    data(&b, 32);
    expect_fail(&b, PARE_ERR_FORMAT, "past the end");
    hdr(&b, 3, 0, 1);
    put_str(&b, "a\0b", 3);
    put_le(&b, PARE_GGUF_U8, 4);
    put_le(&b, 0, 1);
    expect_fail(&b, PARE_ERR_FORMAT, "NUL byte");
    hdr(&b, 3, 0, 1);
    put_str(&b, "k", 1);
    put_le(&b, PARE_GGUF_STRING, 4);
    put_le(&b, 1000, 8);
    data(&b, 20);
    expect_fail(&b, PARE_ERR_FORMAT, "string value at byte");
    /* value types and arrays */
    hdr(&b, 3, 0, 1);
    put_str(&b, "k", 1);
    put_le(&b, 13, 4);
    data(&b, 32);
    expect_fail(&b, PARE_ERR_FORMAT, "unknown value type 13");
    hdr(&b, 3, 0, 1);
    put_str(&b, "k", 1);
    put_le(&b, PARE_GGUF_ARRAY, 4);
    put_le(&b, PARE_GGUF_ARRAY, 4);
    put_le(&b, 1, 8);
    data(&b, 32);
    expect_fail(&b, PARE_ERR_FORMAT, "nested arrays");
    hdr(&b, 3, 0, 1);
    put_str(&b, "k", 1);
    put_le(&b, PARE_GGUF_ARRAY, 4);
    put_le(&b, 77, 4);
    put_le(&b, 1, 8);
    data(&b, 32);
    expect_fail(&b, PARE_ERR_FORMAT, "unknown array element type 77");
    for (int et = 0; et < 2; et++) {
        hdr(&b, 3, 0, 1);
        put_str(&b, "k", 1);
        put_le(&b, PARE_GGUF_ARRAY, 4);
        put_le(&b, et ? PARE_GGUF_STRING : PARE_GGUF_U64, 4);
        put_le(&b, 1ull << 61, 8);
        data(&b, 64);
        expect_fail(&b, PARE_ERR_FORMAT, "cannot fit");
    }
    hdr(&b, 3, 0, 2);
    kv_u32(&b, "dup", 1);
    kv_u32(&b, "dup", 2);
    expect_fail(&b, PARE_ERR_FORMAT, "duplicate metadata key 'dup'");
    /* alignment */
    hdr(&b, 3, 0, 1);
    kv_u32(&b, "general.alignment", 48);
    expect_fail(&b, PARE_ERR_FORMAT, "not a power of two");
    hdr(&b, 3, 0, 1);
    kv_u32(&b, "general.alignment", 0);
    expect_fail(&b, PARE_ERR_FORMAT, "not a power of two");
    hdr(&b, 3, 0, 1);
    put_str(&b, "general.alignment", 17);
    put_le(&b, PARE_GGUF_U64, 4);
    put_le(&b, 32, 8);
    expect_fail(&b, PARE_ERR_FORMAT, "not a u32");
    /* tensor infos */
    hdr(&b, 3, 1, 0);
    tinfo(&b, "t", 5, (int64_t[]){32, 1, 1, 1, 1}, PARE_Q_F32, 0);
    data(&b, 128);
    expect_fail(&b, PARE_ERR_FORMAT, "5 dims");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "t", 2, (int64_t[]){32, 0}, PARE_Q_F32, 0);
    data(&b, 128);
    expect_fail(&b, PARE_ERR_FORMAT, "ne[1] = 0 is not positive");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "t", 1, (int64_t[]){-4}, PARE_Q_F32, 0);
    data(&b, 128);
    expect_fail(&b, PARE_ERR_FORMAT, "not positive");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "weird", 1, ne32, 99, 0);
    data(&b, 128);
    expect_fail(&b, PARE_ERR_FORMAT, "tensor 'weird': ggml type id 99 is unknown");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "iq", 1, ne32, 16, 0);
    data(&b, 128);
    expect_fail(&b, PARE_ERR_UNSUPPORTED, "tensor 'iq': ggml type id 16 is not supported");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "q", 1, (int64_t[]){48}, PARE_Q_Q4_0, 0);
    data(&b, 128);
    expect_fail(&b, PARE_ERR_FORMAT, "not a multiple of the Q4_0 block size 32");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "big", 2, (int64_t[]){1ll << 40, 1ll << 40}, PARE_Q_F32, 0);
    data(&b, 128);
    expect_fail(&b, PARE_ERR_FORMAT, "overflows");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "t", 1, ne32, PARE_Q_F32, 16);
    data(&b, 256);
    expect_fail(&b, PARE_ERR_FORMAT, "not a multiple of the alignment 32");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "t", 1, ne32, PARE_Q_F32, 0);
    data(&b, 127);
    expect_fail(&b, PARE_ERR_FORMAT, "run past the end");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "t", 1, ne32, PARE_Q_F32, UINT64_MAX - 31);
    data(&b, 128);
    expect_fail(&b, PARE_ERR_FORMAT, "run past the end");
    hdr(&b, 3, 1, 0);
    tinfo(&b, "t", 1, ne32, PARE_Q_F32, 0);
    expect_fail(&b, PARE_ERR_FORMAT, "data section would start at byte 64, past the end");
    hdr(&b, 3, 2, 0);
    tinfo(&b, "a", 2, ne2, PARE_Q_F32, 0);
    tinfo(&b, "b", 1, ne32, PARE_Q_F32, 224);
    data(&b, 352);
    expect_fail(&b, PARE_ERR_FORMAT, "tensor 'b' at data offset 224 overlaps tensor 'a'");
    hdr(&b, 3, 2, 0);
    tinfo(&b, "a", 1, ne32, PARE_Q_F32, 0);
    tinfo(&b, "a", 1, ne32, PARE_Q_F32, 128);
    data(&b, 256);
    expect_fail(&b, PARE_ERR_FORMAT, "duplicate tensor name 'a'");
    /* not overlapping, out of order, with a gap: fine */
    hdr(&b, 3, 2, 0);
    tinfo(&b, "a", 1, ne32, PARE_Q_F32, 256);
    tinfo(&b, "b", 1, ne32, PARE_Q_F32, 0);
    data(&b, 384);
    expect_ok(&b);
}

/* Every truncation of the fixture fails cleanly until the last tensor is
 * complete; bit flips anywhere before the data either parse or fail with a
 * message naming the file (ASan/UBSan watch for the rest). */
static void test_truncations_and_flips(void **state) {
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "tests/golden/fixtures/tiny.gguf");
    pare_err err = {0};
    char *buf;
    size_t len;
    tu_assert_ok(pare_read_file(path, 1 << 20, &buf, &len, &err), &err);
    pare_gguf *g;
    tu_assert_ok(pare_gguf_open_memory(buf, len, "tiny.gguf", &g, &err), &err);
    size_t end = 0, data_off = pare_gguf_data_offset(g);
    for (int64_t i = 0; i < pare_gguf_tensor_count(g); i++) {
        const pare_gguf_tensor *t = pare_gguf_tensor_get(g, i);
        size_t e = (size_t)((const uint8_t *)t->data - (const uint8_t *)buf) + t->nbytes;
        if (e > end) end = e;
    }
    pare_gguf_close(g);
    for (size_t n = 0; n <= len; n++) {
        char *cut = malloc(n ? n : 1); /* exact size, so ASan sees overreads */
        memcpy(cut, buf, n);
        pare_status s = pare_gguf_open_memory(cut, n, "cut.gguf", &g, &err);
        if (n < end) {
            if (s != PARE_ERR_FORMAT || !strstr(err.msg, "cut.gguf")) fail_msg("truncated to %zu: %d %s", n, (int)s, err.msg);
        } else {
            if (s != PARE_OK) fail_msg("truncated to %zu (data ends at %zu): %s", n, end, err.msg);
            pare_gguf_close(g);
        }
        free(cut);
    }
    int n_ok = 0, n_bad = 0;
    for (size_t off = 0; off < data_off; off++) {
        for (int bit = 0; bit < 8; bit++) {
            char *f = malloc(len);
            memcpy(f, buf, len);
            f[off] ^= (char)(1 << bit);
            pare_status s = pare_gguf_open_memory(f, len, "flip.gguf", &g, &err);
            if (s == PARE_OK) {
                n_ok++;
                pare_gguf_close(g);
            } else {
                n_bad++;
                if (!strstr(err.msg, "flip.gguf")) fail_msg("flip at %zu bit %d: %s", off, bit, err.msg);
            }
            free(f);
        }
    }
    assert_true(n_ok > 0 && n_bad > 0);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_tiny_fixture),
        cmocka_unit_test(test_truncations_and_flips),
        cmocka_unit_test(test_smollm2),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
