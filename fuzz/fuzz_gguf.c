/* libFuzzer target: the GGUF reader. Every kv goes through every typed
 * getter and every tensor byte is read, so ASan sees any overread; the
 * lookups must agree with the index. */
#include "pare/gguf.h"

#include <string.h>

static void walk_kv(const pare_gguf *g, int64_t i, volatile uint8_t *sink) {
    union {
        uint8_t u8;
        uint64_t u64;
        double f64;
        float f32;
        bool b;
    } v;
    pare_gguf_str s;
    pare_gguf_type et;
    uint64_t n;
    int64_t iv;
    char buf[16];
    const char *key = pare_gguf_kv_key(g, i);
    if (!key || pare_gguf_find_key(g, key) != i) __builtin_trap();
    int hits = pare_gguf_kv_u8(g, i, &v.u8) + pare_gguf_kv_i8(g, i, (int8_t *)&v.u8) +
               pare_gguf_kv_u16(g, i, (uint16_t *)&v.u64) + pare_gguf_kv_i16(g, i, (int16_t *)&v.u64) +
               pare_gguf_kv_u32(g, i, (uint32_t *)&v.u64) + pare_gguf_kv_i32(g, i, (int32_t *)&v.u64) +
               pare_gguf_kv_u64(g, i, &v.u64) + pare_gguf_kv_i64(g, i, (int64_t *)&v.u64) +
               pare_gguf_kv_f32(g, i, &v.f32) + pare_gguf_kv_f64(g, i, &v.f64) + pare_gguf_kv_bool(g, i, &v.b) +
               pare_gguf_kv_str(g, i, &s) + pare_gguf_kv_arr(g, i, &et, &n);
    if (hits != 1) __builtin_trap(); /* exactly one typed getter accepts a value */
    (void)pare_gguf_kv_int(g, i, &iv);
    if (pare_gguf_kv_str(g, i, &s)) {
        for (size_t k = 0; k < s.len; k++) *sink ^= (uint8_t)s.ptr[k];
        (void)pare_gguf_str_copy(s, buf, sizeof buf);
    }
    if (pare_gguf_kv_arr(g, i, &et, &n)) {
        if (et == PARE_GGUF_STRING) {
            for (uint64_t j = 0; j < n; j++) {
                if (!pare_gguf_kv_arr_str(g, i, j, &s)) __builtin_trap();
                for (size_t k = 0; k < s.len; k++) *sink ^= (uint8_t)s.ptr[k];
            }
        } else if (n) {
            const uint8_t *d = pare_gguf_kv_arr_data(g, i);
            if (!d) __builtin_trap();
            for (size_t k = 0; k < n * pare_gguf_type_size(et); k++) *sink ^= d[k];
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pare_err err;
    pare_gguf *g;
    if (pare_gguf_open_memory(data, size, "fuzz.gguf", &g, &err) != PARE_OK) {
        if (g != NULL || err.msg[0] == 0) __builtin_trap();
        return 0;
    }
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < pare_gguf_kv_count(g); i++) walk_kv(g, i, &sink);
    for (int64_t i = 0; i < pare_gguf_tensor_count(g); i++) {
        const pare_gguf_tensor *t = pare_gguf_tensor_get(g, i);
        size_t want;
        if (pare_gguf_tensor_find(g, t->name) != t) __builtin_trap();
        if (!pare_gguf_tensor_nbytes(t->type, t->n_dims, t->ne, &want) || want != t->nbytes) __builtin_trap();
        const uint8_t *p = t->data;
        if (p < data + pare_gguf_data_offset(g) || t->nbytes > (size_t)(data + size - p)) __builtin_trap();
        for (size_t b = 0; b < t->nbytes; b++) sink ^= p[b];
    }
    char s[64];
    uint32_t u;
    float f;
    bool b;
    (void)pare_gguf_get_str(g, "general.architecture", "", s, sizeof s, &err);
    (void)pare_gguf_get_u32(g, "llama.block_count", 0, &u, &err);
    (void)pare_gguf_get_f32(g, "llama.rope.freq_base", 0, &f, &err);
    (void)pare_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", false, &b, &err);
    pare_gguf_close(g);
    (void)sink;
    return 0;
}
