/* safetensors: zero-copy reader and a writer.
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then
 * the data section. The JSON maps tensor names to
 * {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} (offsets
 * relative to the data section) plus an optional "__metadata__" object of
 * strings. Validation follows the reference Rust crate: the header must
 * start with '{', the tensors must tile the data section exactly (sorted by
 * offset, no gaps, no overlaps, ending at the end of the file) and each
 * tensor's byte count must match dtype and shape. */
#include "io/tensor_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define ST_MAX_HEADER 100000000ull /* as the reference implementation */
#define ST_MAX_EXACT 9007199254740992.0 /* 2^53: JSON numbers are doubles */

typedef struct st_span {
    size_t begin, end;
    int64_t idx;
} st_span;

static int span_cmp(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static bool json_uint(const cJSON *v, double max, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d > max || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

static bool dtype_from_st(const char *s, pare_dtype *out) {
    for (int t = 0; t < PARE_DTYPE_COUNT; t++) {
        if (strcmp(pare_dtype_get((pare_dtype)t)->st_name, s) == 0) {
            *out = (pare_dtype)t;
            return true;
        }
    }
    return false;
}

static pare_status check_utf8(const uint8_t *s, size_t n, const char *name, pare_err *err) {
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: header is not valid UTF-8 at byte %zu",
                                name, 8 + i);
        i += (size_t)k;
    }
    return PARE_OK;
}

static pare_status parse_metadata(pare_tensor_file *f, const cJSON *meta, pare_err *err) {
    if (!cJSON_IsObject(meta))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: __metadata__ is not an object", f->path);
    int n = cJSON_GetArraySize(meta);
    f->meta_keys = pare_arena_alloc(f->arena, (size_t)n * sizeof(char *) + 1, 8);
    f->meta_vals = pare_arena_alloc(f->arena, (size_t)n * sizeof(char *) + 1, 8);
    if (!f->meta_keys || !f->meta_vals) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", f->path);
    const cJSON *m;
    cJSON_ArrayForEach(m, meta) {
        if (!cJSON_IsString(m))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: __metadata__ value for '%s' is not a string",
                                f->path, m->string);
        const char *k = pare_arena_strdup(f->arena, m->string, strlen(m->string));
        const char *v = pare_arena_strdup(f->arena, m->valuestring, strlen(m->valuestring));
        if (!k || !v) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", f->path);
        f->meta_keys[f->n_meta] = k;
        f->meta_vals[f->n_meta] = v;
        f->n_meta++;
    }
    return PARE_OK;
}

/* One tensor entry: fills t (name and data pointer too) and its span. */
static pare_status parse_entry(pare_tensor_file *f, const cJSON *e, const uint8_t *body,
                               size_t body_len, pare_tensor *t, st_span *sp, pare_err *err) {
    const char *name = e->string, *path = f->path;
    if (!cJSON_IsObject(e))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s': missing or non-string dtype", path, name);
    if (!dtype_from_st(dt->valuestring, &t->dtype))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: tensor '%s': dtype '%s' is not supported",
                            path, name, dt->valuestring);
    if (!cJSON_IsArray(sh))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s': missing or non-array shape", path, name);
    int nd = cJSON_GetArraySize(sh);
    if (nd > PARE_MAX_DIMS)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: tensor '%s': %d dims, more than %d",
                            path, name, nd, PARE_MAX_DIMS);
    t->n_dims = nd;
    int64_t nelem = 1;
    int d = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, sh) {
        uint64_t x;
        if (!json_uint(v, ST_MAX_EXACT, &x))
            return pare_err_set(err, PARE_ERR_FORMAT,
                                "%s: tensor '%s': shape[%d] is not a non-negative integer", path, name, d);
        t->shape[d++] = (int64_t)x;
        if (__builtin_mul_overflow(nelem, (int64_t)x, &nelem))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s': element count overflows",
                                path, name);
    }
    size_t need;
    if (!pare_dtype_nbytes(t->dtype, nelem, &need))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s': byte count overflows", path, name);
    uint64_t b, en;
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 ||
        !json_uint(cJSON_GetArrayItem(of, 0), ST_MAX_EXACT, &b) ||
        !json_uint(cJSON_GetArrayItem(of, 1), ST_MAX_EXACT, &en))
        return pare_err_set(err, PARE_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets is not [begin, end] of non-negative integers",
                            path, name);
    if (b > en)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s': data offsets [%llu, %llu) are reversed",
                            path, name, (unsigned long long)b, (unsigned long long)en);
    if (en > body_len)
        return pare_err_set(err, PARE_ERR_FORMAT,
                            "%s: tensor '%s': data offsets [%llu, %llu) run past the %zu-byte data section",
                            path, name, (unsigned long long)b, (unsigned long long)en, body_len);
    if (en - b != need) {
        char sbuf[128];
        return pare_err_set(err, PARE_ERR_FORMAT,
                            "%s: tensor '%s': data offsets [%llu, %llu) hold %llu bytes but %s %s needs %zu",
                            path, name, (unsigned long long)b, (unsigned long long)en,
                            (unsigned long long)(en - b), dt->valuestring, pare_shape_str(t, sbuf, sizeof sbuf),
                            need);
    }
    t->name = pare_arena_strdup(f->arena, name, strlen(name));
    if (!t->name) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", path);
    t->data = (void *)(body + b);
    t->nbytes = need;
    sp->begin = (size_t)b;
    sp->end = (size_t)en;
    return PARE_OK;
}

/* The tensors must tile [0, body_len) exactly, as in the reference crate. */
static pare_status check_coverage(const pare_tensor_file *f, st_span *sp, int64_t n, size_t body_len,
                                  pare_err *err) {
    qsort(sp, (size_t)n, sizeof *sp, span_cmp);
    size_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *nm = f->tensors[sp[i].idx].name;
        if (sp[i].begin < at)
            return pare_err_set(err, PARE_ERR_FORMAT,
                                "%s: tensor '%s': data offsets [%zu, %zu) overlap tensor '%s'", f->path, nm,
                                sp[i].begin, sp[i].end, f->tensors[sp[i - 1].idx].name);
        if (sp[i].begin > at)
            return pare_err_set(err, PARE_ERR_FORMAT,
                                "%s: tensor '%s': data offsets [%zu, %zu) leave a gap after byte %zu", f->path,
                                nm, sp[i].begin, sp[i].end, at);
        at = sp[i].end;
    }
    if (at != body_len)
        return pare_err_set(err, PARE_ERR_FORMAT,
                            "%s: tensors cover %zu bytes but the data section is %zu bytes", f->path, at,
                            body_len);
    return PARE_OK;
}

static pare_status parse_header(pare_tensor_file *f, const cJSON *root, const uint8_t *body,
                                size_t body_len, pare_err *err) {
    int count = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) count++;
    size_t tbytes = (size_t)count * sizeof(pare_tensor) + 1;
    f->tensors = pare_arena_calloc(f->arena, tbytes, 64);
    st_span *sp = malloc((size_t)count * sizeof *sp + 1);
    if (!f->tensors || !sp) {
        free(sp);
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory for %d tensors", f->path, count);
    }
    pare_status s = PARE_OK;
    bool seen_meta = false;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (seen_meta) {
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: duplicate __metadata__", f->path);
                break;
            }
            seen_meta = true;
            if ((s = parse_metadata(f, e, err)) != PARE_OK) break;
            continue;
        }
        sp[f->n].idx = f->n;
        s = parse_entry(f, e, body, body_len, &f->tensors[f->n], &sp[f->n], err);
        if (s != PARE_OK) break;
        f->n++;
    }
    if (s == PARE_OK) s = pare_tf_index(f, err);
    if (s == PARE_OK) s = check_coverage(f, sp, f->n, body_len, err);
    free(sp);
    return s;
}

pare_status pare_safetensors_open_memory(const void *data, size_t len, const char *name,
                                         pare_tensor_file **out, pare_err *err) {
    *out = NULL;
    if (!name) name = "(memory)";
    if (!data && len) return pare_err_set(err, PARE_ERR_INVALID, "%s: NULL buffer", name);
    const uint8_t *d = data;
    if (len < 8)
        return pare_err_set(err, PARE_ERR_FORMAT,
                            "%s: file is %zu bytes, too short for the 8-byte header length", name, len);
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = (hn << 8) | d[i];
    if (hn > ST_MAX_HEADER)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: header length %llu is more than the %llu allowed",
                            name, (unsigned long long)hn, ST_MAX_HEADER);
    if (hn > len - 8)
        return pare_err_set(err, PARE_ERR_FORMAT,
                            "%s: header length %llu runs past the end of the %zu-byte file", name,
                            (unsigned long long)hn, len);
    const uint8_t *hdr = d + 8;
    size_t n = (size_t)hn;
    if (n < 2 || hdr[0] != '{')
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: header does not start with '{'", name);
    pare_status s = check_utf8(hdr, n, name, err);
    if (s != PARE_OK) return s;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)hdr, n, &end, 0);
    if (!root) {
        /* cJSON points end at the error position on failure. */
        const char *h = (const char *)hdr;
        size_t at = end && end >= h && end <= h + n ? (size_t)(end - h) : 0;
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: header is not valid JSON (near byte %zu)", name, 8 + at);
    }
    for (const char *p = end; p && p < (const char *)hdr + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: trailing bytes after the header JSON at byte %zu",
                                name, (size_t)(8 + (p - (const char *)hdr)));
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: header is not a JSON object", name);
    }
    pare_tensor_file *f;
    s = pare_tf_create(PARE_FORMAT_SAFETENSORS, data, len, name, &f, err);
    if (s == PARE_OK) s = parse_header(f, root, hdr + n, len - 8 - n, err);
    cJSON_Delete(root);
    if (s != PARE_OK) {
        pare_tensor_file_close(f);
        return s;
    }
    *out = f;
    return PARE_OK;
}

pare_status pare_safetensors_open(const char *path, pare_tensor_file **out, pare_err *err) {
    return pare_tf_open_with(path, pare_safetensors_open_memory, out, err);
}

/* ------------------------------------------------------------------ writer */

static pare_status build_header(const pare_tensor *ts, int64_t n, const char *path, char **out,
                                pare_err *err) {
    *out = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", path);
    size_t off = 0;
    pare_status s = PARE_OK;
    for (int64_t i = 0; i < n && s == PARE_OK; i++) {
        const pare_tensor *t = &ts[i];
        const pare_dtype_info *di = pare_dtype_get(t->dtype);
        int64_t ne = pare_tensor_nelem(t);
        size_t need, end;
        if (!t->name || strcmp(t->name, "__metadata__") == 0 || !di || t->n_dims < 0 ||
            t->n_dims > PARE_MAX_DIMS || ne < 0) {
            s = pare_err_set(err, PARE_ERR_INVALID, "%s: tensor %lld ('%s') has a bad name, dtype or shape",
                             path, (long long)i, t->name ? t->name : "(null)");
            break;
        }
        if (!pare_dtype_nbytes(t->dtype, ne, &need) || need != t->nbytes || (need && !t->data)) {
            s = pare_err_set(err, PARE_ERR_INVALID, "%s: tensor '%s': nbytes %zu does not match its shape",
                             path, t->name, t->nbytes);
            break;
        }
        if (!pare_add_size(off, need, &end) || (double)end > ST_MAX_EXACT) {
            s = pare_err_set(err, PARE_ERR_INVALID, "%s: total size overflows", path);
            break;
        }
        if (cJSON_GetObjectItemCaseSensitive(root, t->name)) {
            s = pare_err_set(err, PARE_ERR_INVALID, "%s: duplicate tensor name '%s'", path, t->name);
            break;
        }
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON *sh = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *of = sh ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        bool ok = of && cJSON_AddStringToObject(e, "dtype", di->st_name);
        for (int d = 0; ok && d < t->n_dims; d++)
            ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off)) &&
             cJSON_AddItemToArray(of, cJSON_CreateNumber((double)end));
        if (!ok) s = pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", path);
        off = end;
    }
    if (s == PARE_OK && !(*out = cJSON_PrintUnformatted(root)))
        s = pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", path);
    cJSON_Delete(root);
    return s;
}

pare_status pare_safetensors_write(const char *path, const pare_tensor *tensors, int64_t n,
                                   pare_err *err) {
    if (!path || n < 0 || (n > 0 && !tensors))
        return pare_err_set(err, PARE_ERR_INVALID, "pare_safetensors_write: bad arguments");
    char *json;
    pare_status s = build_header(tensors, n, path, &json, err);
    if (s != PARE_OK) return s;
    /* Pad the header with spaces so the data section starts 8-aligned. */
    size_t jn = strlen(json), hn = (jn + 7) & ~(size_t)7;
    uint8_t lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    pare_wfile wf;
    s = pare_wfile_open(&wf, path, err);
    if (s) {
        cJSON_free(json);
        return s;
    }
    FILE *fp = wf.f;
    bool ok = fwrite(lenbuf, 1, 8, fp) == 8 && fwrite(json, 1, jn, fp) == jn;
    for (size_t i = jn; ok && i < hn; i++) ok = fputc(' ', fp) != EOF;
    for (int64_t i = 0; ok && i < n; i++)
        ok = tensors[i].nbytes == 0 || fwrite(tensors[i].data, 1, tensors[i].nbytes, fp) == tensors[i].nbytes;
    cJSON_free(json);
    if (!ok) {
        int e = errno;
        pare_wfile_abort(&wf);
        return pare_err_set(err, PARE_ERR_WRITE, "%s: write failed: %s", path, strerror(e));
    }
    return pare_wfile_commit(&wf, err);
}
