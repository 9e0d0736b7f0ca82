/* Copy metadata from a GGUF reader into a writer (for tools that rewrite a
 * model: requantization keeps the tokenizer, chat template and
 * hyperparameters as they were). */
#include "pare/gguf.h"

#include <stdlib.h>
#include <string.h>

pare_status pare_gguf_writer_copy_kv(pare_gguf_writer *w, const pare_gguf *g, int64_t i, pare_err *err) {
    const char *key = pare_gguf_kv_key(g, i);
    const pare_gguf_type t = pare_gguf_kv_type(g, i);
    uint64_t raw = 0;
    switch (t) {
    case PARE_GGUF_STRING: {
        pare_gguf_str s;
        if (!pare_gguf_kv_str(g, i, &s)) break;
        return pare_gguf_writer_add_strn(w, key, s.ptr, s.len, err);
    }
    case PARE_GGUF_ARRAY: {
        pare_gguf_type elem;
        uint64_t n;
        if (!pare_gguf_kv_arr(g, i, &elem, &n)) break;
        if (elem != PARE_GGUF_STRING) return pare_gguf_writer_add_array(w, key, elem, pare_gguf_kv_arr_data(g, i), n, err);
        /* strings: NUL-terminated copies for the writer, which copies them again */
        char **s = calloc(n ? n : 1, sizeof *s);
        pare_status st = s ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
        for (uint64_t j = 0; j < n && !st; j++) {
            pare_gguf_str e;
            if (!pare_gguf_kv_arr_str(g, i, j, &e) || !(s[j] = malloc(e.len + 1)))
                st = pare_err_set(err, PARE_ERR_OOM, "%s: array %s element %llu", pare_gguf_path(g), key, (unsigned long long)j);
            else
                memcpy(s[j], e.ptr, e.len), s[j][e.len] = 0;
        }
        if (!st) st = pare_gguf_writer_add_arr_str(w, key, (const char *const *)s, n, err);
        for (uint64_t j = 0; s && j < n; j++) free(s[j]);
        free(s);
        return st;
    }
    default:
        if (!pare_gguf_kv_scalar(g, i, &raw)) break;
        if (t == PARE_GGUF_BOOL) { /* the writer takes a C bool */
            bool b = (raw & 0xff) != 0;
            return pare_gguf_writer_add_scalar(w, key, t, &b, err);
        }
        return pare_gguf_writer_add_scalar(w, key, t, &raw, err);
    }
    return pare_err_set(err, PARE_ERR_FORMAT, "%s: metadata %s cannot be read back", pare_gguf_path(g), key);
}
