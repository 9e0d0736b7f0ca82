/* pare info FILE.gguf: architecture, hyperparameters, type mix, sizes and
 * a metadata listing of a GGUF file. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* <arch>.KEY hyperparameters shown on the shape line, in order. */
static const struct {
    const char *key, *label;
} HPARAMS[] = {
    {"block_count", "blocks"},
    {"embedding_length", "embedding"},
    {"feed_forward_length", "feed-forward"},
    {"attention.head_count", "heads"},
    {"attention.head_count_kv", "kv heads"},
    {"attention.key_length", "head dim"},
    {"context_length", "context"},
    {"vocab_size", "vocab"},
    {"rope.dimension_count", "rope dims"},
    {"rope.freq_base", "rope base"},
    {"attention.layer_norm_rms_epsilon", "rms eps"},
    {"attention.layer_norm_epsilon", "norm eps"},
    {"expert_count", "experts"},
    {"expert_used_count", "experts used"},
};
enum { N_HPARAMS = sizeof HPARAMS / sizeof *HPARAMS, ARR_SHOWN = 8, STR_SHOWN = 60 };

typedef struct type_mix {
    int64_t tensors[PARE_Q_COUNT];
    int64_t params[PARE_Q_COUNT];
    int64_t total;
    size_t data_bytes;
} type_mix;

static void count_types(const pare_gguf *g, type_mix *m) {
    memset(m, 0, sizeof *m);
    for (int64_t i = 0; i < pare_gguf_tensor_count(g); i++) {
        const pare_gguf_tensor *t = pare_gguf_tensor_get(g, i);
        int64_t n = pare_gguf_tensor_nelem(t); /* the reader checked it fits */
        m->tensors[t->type]++;
        m->params[t->type] += n;
        m->total += n;
        m->data_bytes += t->nbytes;
    }
}

/* A string as JSON, or quoted text cut at max bytes (max 0: whole). */
static void put_str(FILE *f, pare_gguf_str s, size_t max) {
    size_t n = max && s.len > max ? max : s.len;
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
    if (n < s.len) fprintf(f, "... (%zu bytes)", s.len);
}

/* JSON has no NaN or infinity: null there. */
static void put_float(FILE *f, double v, int digits, bool json) {
    if (json && !isfinite(v)) fputs("null", f);
    else if (json) fprintf(f, "%.*g", digits, v);
    else fprintf(f, "%g", v);
}

/* One numeric or bool value at p (unaligned is fine). */
static void put_num(FILE *f, pare_gguf_type t, const void *p, bool json) {
    const uint8_t *b = p;
    switch (t) {
    case PARE_GGUF_U8: fprintf(f, "%u", b[0]); break;
    case PARE_GGUF_I8: fprintf(f, "%d", (int8_t)b[0]); break;
    case PARE_GGUF_BOOL: fputs(b[0] ? "true" : "false", f); break;
    case PARE_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); fprintf(f, "%u", v); break; }
    case PARE_GGUF_I16: { int16_t v; memcpy(&v, p, 2); fprintf(f, "%d", v); break; }
    case PARE_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); fprintf(f, "%u", v); break; }
    case PARE_GGUF_I32: { int32_t v; memcpy(&v, p, 4); fprintf(f, "%d", v); break; }
    case PARE_GGUF_U64: { uint64_t v; memcpy(&v, p, 8); fprintf(f, "%llu", (unsigned long long)v); break; }
    case PARE_GGUF_I64: { int64_t v; memcpy(&v, p, 8); fprintf(f, "%lld", (long long)v); break; }
    case PARE_GGUF_F32: { float v; memcpy(&v, p, 4); put_float(f, v, 9, json); break; }
    case PARE_GGUF_F64: { double v; memcpy(&v, p, 8); put_float(f, v, 17, json); break; }
    default: fputs("null", f);
    }
}

/* Metadata value i; arrays longer than ARR_SHOWN are summarised. */
static void put_value(FILE *f, const pare_gguf *g, int64_t i, bool json) {
    pare_gguf_type t = pare_gguf_kv_type(g, i), et;
    pare_gguf_str s;
    uint64_t n;
    uint8_t raw[8] = {0};
    if (pare_gguf_kv_str(g, i, &s)) {
        put_str(f, s, json ? 0 : STR_SHOWN);
    } else if (pare_gguf_kv_arr(g, i, &et, &n)) {
        if (n > ARR_SHOWN) {
            fprintf(f, json ? "{\"array\": \"%s\", \"n\": %llu}" : "[%s x %llu]", pare_gguf_type_name(et),
                    (unsigned long long)n);
            return;
        }
        const uint8_t *d = pare_gguf_kv_arr_data(g, i);
        fputc('[', f);
        for (uint64_t j = 0; j < n; j++) {
            if (j) fputs(", ", f);
            if (et == PARE_GGUF_STRING) put_str(f, pare_gguf_kv_arr_strs(g, i)[j], json ? 0 : STR_SHOWN);
            else put_num(f, et, d + j * pare_gguf_type_size(et), json);
        }
        fputc(']', f);
    } else {
        /* scalars: fetch through the typed getter of their type */
        bool ok = false;
        switch (t) {
        case PARE_GGUF_U8: ok = pare_gguf_kv_u8(g, i, raw); break;
        case PARE_GGUF_I8: ok = pare_gguf_kv_i8(g, i, (int8_t *)raw); break;
        case PARE_GGUF_U16: ok = pare_gguf_kv_u16(g, i, (uint16_t *)raw); break;
        case PARE_GGUF_I16: ok = pare_gguf_kv_i16(g, i, (int16_t *)raw); break;
        case PARE_GGUF_U32: ok = pare_gguf_kv_u32(g, i, (uint32_t *)raw); break;
        case PARE_GGUF_I32: ok = pare_gguf_kv_i32(g, i, (int32_t *)raw); break;
        case PARE_GGUF_U64: ok = pare_gguf_kv_u64(g, i, (uint64_t *)raw); break;
        case PARE_GGUF_I64: ok = pare_gguf_kv_i64(g, i, (int64_t *)raw); break;
        case PARE_GGUF_F32: ok = pare_gguf_kv_f32(g, i, (float *)raw); break;
        case PARE_GGUF_F64: ok = pare_gguf_kv_f64(g, i, (double *)raw); break;
        case PARE_GGUF_BOOL: {
            bool b;
            ok = pare_gguf_kv_bool(g, i, &b);
            raw[0] = b;
            break;
        }
        default: break;
        }
        if (ok) put_num(f, t, raw, json);
        else fputs("null", f);
    }
}

static void put_shape(const pare_gguf_tensor *t) {
    fputc('[', stdout);
    for (int d = 0; d < t->n_dims; d++) printf("%s%lld", d ? ", " : "", (long long)t->ne[d]);
    fputc(']', stdout);
}

static void print_mix(const type_mix *m, bool json) {
    bool first = true;
    for (uint32_t q = 0; q < PARE_Q_COUNT; q++) {
        if (!m->tensors[q]) continue;
        const char *nm = pare_qtype_get(q)->name;
        if (json) printf("%s\"%s\": {\"tensors\": %lld, \"params\": %lld}", first ? "" : ", ", nm,
                         (long long)m->tensors[q], (long long)m->params[q]);
        else printf("%s%s %lld tensors / %.2fM params", first ? "" : ", ", nm, (long long)m->tensors[q],
                    (double)m->params[q] / 1e6);
        first = false;
    }
}

static void print_tensors(const pare_gguf *g, bool json) {
    for (int64_t i = 0; i < pare_gguf_tensor_count(g); i++) {
        const pare_gguf_tensor *t = pare_gguf_tensor_get(g, i);
        const char *tn = pare_qtype_get(t->type)->name;
        if (json) {
            printf("%s{\"name\": ", i ? ", " : "");
            cli_json_string(stdout, t->name);
            printf(", \"type\": \"%s\", \"ne\": ", tn);
            put_shape(t);
            printf(", \"offset\": %llu, \"bytes\": %zu}", (unsigned long long)t->offset, t->nbytes);
        } else {
            printf("  %-48s %-5s ", t->name, tn);
            put_shape(t);
            printf("  %zu bytes\n", t->nbytes);
        }
    }
}

static const char *human_bytes(size_t n, char *buf, size_t cap) {
    if (n >= 1000000) snprintf(buf, cap, "%.2f MB", (double)n / 1e6);
    else if (n >= 1000) snprintf(buf, cap, "%.2f KB", (double)n / 1e3);
    else snprintf(buf, cap, "%zu bytes", n);
    return buf;
}

/* The <arch>.* key for an HPARAMS row, or -1. */
static int64_t hparam(const pare_gguf *g, const char *arch, int k) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, HPARAMS[k].key);
    return pare_gguf_find_key(g, key);
}

/* Exact zeros among the layers' linear weights (blk.N.*.weight, 2-D) stored
 * in a type where zero is exact (f32, f16, bf16, q8_0), per layer in
 * zeros[]/counts[] (n_layers entries, NULL: totals only). False if none. */
static bool linear_sparsity(const pare_gguf *g, int64_t n_layers, int64_t *zeros, int64_t *counts, double *total) {
    int64_t z_all = 0, n_all = 0;
    float *row = NULL;
    for (int64_t i = 0; i < pare_gguf_tensor_count(g); i++) {
        const pare_gguf_tensor *t = pare_gguf_tensor_get(g, i);
        long long layer;
        char part[64], rest[16];
        if (t->n_dims != 2 || sscanf(t->name, "blk.%lld.%63[^.].%15s", &layer, part, rest) != 3 || strcmp(rest, "weight"))
            continue;
        if (t->type != PARE_Q_F32 && t->type != PARE_Q_F16 && t->type != PARE_Q_BF16 && t->type != PARE_Q_Q8_0) continue;
        const int64_t k = t->ne[0];
        size_t rb;
        float *r2 = realloc(row, sizeof(float) * (size_t)k);
        if (!r2 || !pare_qtype_row_size((pare_qtype)t->type, k, &rb)) break;
        row = r2;
        int64_t z = 0;
        for (int64_t r = 0; r < t->ne[1]; r++) {
            if (pare_dequantize_row((pare_qtype)t->type, (const uint8_t *)t->data + (size_t)r * rb, row, k, NULL)) break;
            for (int64_t c = 0; c < k; c++) z += row[c] == 0;
        }
        z_all += z;
        n_all += k * t->ne[1];
        if (zeros && layer >= 0 && layer < n_layers) {
            zeros[layer] += z;
            counts[layer] += k * t->ne[1];
        }
    }
    free(row);
    *total = n_all ? (double)z_all / (double)n_all : 0;
    return n_all > 0;
}

static void print_sparsity(const pare_gguf *g, const char *arch) {
    int64_t n_layers = 0;
    char key[96];
    snprintf(key, sizeof key, "%s.block_count", arch);
    if (pare_gguf_get_int(g, key, 0, 0, 4096, &n_layers, NULL)) n_layers = 0;
    int64_t *z = calloc((size_t)(n_layers + 1), sizeof *z), *n = calloc((size_t)(n_layers + 1), sizeof *n);
    double total;
    if (z && n && linear_sparsity(g, n_layers, z, n, &total) && total > 0) {
        printf("linear sparsity: %.4f (exact zeros of the layers' linear weights); per layer:", total);
        for (int64_t l = 0; l < n_layers; l++)
            if (n[l]) printf(" %.2f", (double)z[l] / (double)n[l]);
        printf("\n");
    }
    free(z);
    free(n);
}

static void print_text(const pare_gguf *g, const char *path, const char *arch, const type_mix *m, bool tensors) {
    char name[256];
    printf("file:         %s (GGUF v%u, alignment %u)\n", path, pare_gguf_version(g), pare_gguf_alignment(g));
    printf("architecture: %s\n", arch[0] ? arch : "(no general.architecture)");
    if (pare_gguf_get_str(g, "general.name", "", name, sizeof name, NULL) == PARE_OK && name[0])
        printf("name:         %s\n", name);
    printf("shape:       ");
    int shown = 0;
    for (int k = 0; k < N_HPARAMS; k++) {
        int64_t i = hparam(g, arch, k);
        if (i < 0) continue;
        printf("%s %s ", shown++ ? "," : "", HPARAMS[k].label);
        put_value(stdout, g, i, false);
    }
    printf("%s\n", shown ? "" : " (no <arch>.* hyperparameters)");
    printf("tensors:      %lld\n", (long long)pare_gguf_tensor_count(g));
    printf("parameters:   %lld (%.2fM)\n", (long long)m->total, (double)m->total / 1e6);
    printf("types:        ");
    print_mix(m, false);
    char disk[32], data[32];
    printf("\nsize:         %s on disk, mapped whole (zero-copy); %s of tensor data from byte %zu\n",
           human_bytes(pare_gguf_file_size(g), disk, sizeof disk), human_bytes(m->data_bytes, data, sizeof data),
           pare_gguf_data_offset(g));
    print_sparsity(g, arch);
    printf("metadata:     %lld keys\n", (long long)pare_gguf_kv_count(g));
    for (int64_t i = 0; i < pare_gguf_kv_count(g); i++) {
        printf("  %-44s %-6s ", pare_gguf_kv_key(g, i), pare_gguf_type_name(pare_gguf_kv_type(g, i)));
        put_value(stdout, g, i, false);
        fputc('\n', stdout);
    }
    if (tensors) {
        printf("tensor list (ne in ggml order: ne[0] is the contiguous row):\n");
        print_tensors(g, false);
    }
}

static void print_json(const pare_gguf *g, const char *path, const char *arch, const type_mix *m, bool tensors) {
    char name[256];
    printf("{\"path\": ");
    cli_json_string(stdout, path);
    printf(", \"format\": \"gguf\", \"version\": %u, \"alignment\": %u, \"architecture\": ", pare_gguf_version(g),
           pare_gguf_alignment(g));
    cli_json_string(stdout, arch);
    if (pare_gguf_get_str(g, "general.name", "", name, sizeof name, NULL) != PARE_OK) name[0] = 0;
    printf(", \"name\": ");
    cli_json_string(stdout, name);
    printf(", \"hparams\": {");
    int shown = 0;
    for (int k = 0; k < N_HPARAMS; k++) {
        int64_t i = hparam(g, arch, k);
        if (i < 0) continue;
        printf("%s\"%s\": ", shown++ ? ", " : "", HPARAMS[k].key);
        put_value(stdout, g, i, true);
    }
    printf("}, \"tensors\": %lld, \"params\": %lld, \"disk_bytes\": %zu, \"data_bytes\": %zu, \"data_offset\": %zu, "
           "\"types\": {",
           (long long)pare_gguf_tensor_count(g), (long long)m->total, pare_gguf_file_size(g), m->data_bytes,
           pare_gguf_data_offset(g));
    print_mix(m, true);
    printf("}, \"metadata\": {");
    for (int64_t i = 0; i < pare_gguf_kv_count(g); i++) {
        printf("%s", i ? ", " : "");
        cli_json_string(stdout, pare_gguf_kv_key(g, i));
        printf(": ");
        put_value(stdout, g, i, true);
    }
    printf("}");
    if (tensors) {
        printf(", \"tensor_list\": [");
        print_tensors(g, true);
        printf("]");
    }
    printf("}\n");
}

int cli_info_gguf(const char *path, bool json, bool tensors) {
    pare_err err = {0};
    pare_gguf *g = NULL;
    if (pare_gguf_open(path, &g, &err)) return cli_fail("info", &err);
    char arch[64];
    if (pare_gguf_get_str(g, "general.architecture", "", arch, sizeof arch, &err)) {
        pare_gguf_close(g);
        return cli_fail("info", &err);
    }
    type_mix m;
    count_types(g, &m);
    if (json) print_json(g, path, arch, &m, tensors);
    else print_text(g, path, arch, &m, tensors);
    pare_gguf_close(g);
    return CLI_OK;
}
