/* Golden files from llama.cpp itself, for tests/test_bpe.c and
 * tests/test_llama_gguf.c: built against the llama.cpp that
 * tools/build-llama-cpp.sh makes (never part of pare), by
 * tools/make_llamacpp_golden.sh.
 *
 *   llamacpp_golden tokenize MODEL.gguf TEXTS OUT
 *       TEXTS: one text a line, escaped as tests/golden/bpe_edge_cases.txt
 *       (\\, \uXXXX, \UXXXXXXXX) or, with the first line "#tsv", the
 *       SemEval TSV (the tweet column); OUT: the ids of each text on one
 *       line (escaped form), or "line<TAB>n<TAB>fnv1a64" per tweet (TSV).
 *       No BOS; special tokens in the text are parsed, as HF does.
 *   llamacpp_golden logits MODEL.gguf IDS OUT.safetensors
 *       IDS: the prompt's ids, comma-separated. Writes top_ids/top_logits
 *       (the 64 best logits of every prompt position, llama.cpp's order),
 *       last_logits (every logit of the last position), greedy_ids (64
 *       greedy tokens after the prompt, one decode step each) and the two
 *       best ids and logits of each step (greedy_top2_*), all f32 / i32, on
 *       1 thread (llama.cpp's CPU backend: Q4_1 x Q8_1 activations). */
#include "llama.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NTOP = 64, NGEN = 64, MAXTOK = 1 << 16 };

static void die(const char *m) {
    fprintf(stderr, "llamacpp_golden: %s\n", m);
    exit(1);
}

static uint64_t fnv1a64_ids(const int32_t *ids, int n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) {
            h ^= (uint8_t)((uint32_t)ids[i] >> (8 * b));
            h *= 1099511628211ull;
        }
    return h;
}

static int put_utf8(uint32_t cp, char *o) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000) return o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 63)), o[2] = (char)(0x80 | (cp & 63)), 3;
    o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 63)), o[2] = (char)(0x80 | (cp >> 6 & 63));
    o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* the golden escapes back to UTF-8 */
static size_t unescape(const char *s, char *out) {
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '\\' && s[1] == '\\') out[n++] = '\\', s++;
        else if (*s == '\\' && (s[1] == 'u' || s[1] == 'U')) {
            const int w = s[1] == 'u' ? 4 : 8;
            char hex[9] = {0};
            memcpy(hex, s + 2, (size_t)w);
            n += (size_t)put_utf8((uint32_t)strtoul(hex, NULL, 16), out + n);
            s += 1 + w;
        } else if (*s == '\\' && s[1] == 'x') { /* a raw byte */
            char hex[3] = {s[2], s[3], 0};
            out[n++] = (char)strtoul(hex, NULL, 16);
            s += 3;
        } else out[n++] = *s;
    }
    out[n] = 0;
    return n;
}

static int tokenize(const struct llama_vocab *v, const char *text, size_t len, int32_t *ids) {
    int n = llama_tokenize(v, text, (int32_t)len, ids, MAXTOK, false, true);
    if (n < 0) die("text too long");
    return n;
}

static int cmd_tokenize(const struct llama_vocab *v, const char *in, const char *out_path) {
    FILE *f = fopen(in, "rb"), *o = fopen(out_path, "w");
    if (!f || !o) die("cannot open the texts or the output");
    static char line[1 << 20], text[1 << 20];
    static int32_t ids[MAXTOK];
    bool tsv = false;
    long lineno = 0;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
        if (lineno == 0 && !strcmp(line, "#tsv")) {
            tsv = true;
            continue;
        }
        if (tsv) {
            /* the SemEval file: a header, then ID<TAB>Tweet<TAB>labels */
            if (lineno++ == 0) continue;
            char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
            if (!t2) die("a TSV line without a tweet column");
            const int n = tokenize(v, t1 + 1, (size_t)(t2 - t1 - 1), ids);
            fprintf(o, "%ld\t%d\t%016llx\n", lineno, n, (unsigned long long)fnv1a64_ids(ids, n));
        } else {
            lineno++;
            const size_t tl = unescape(line, text);
            const int n = tokenize(v, text, tl, ids);
            for (int i = 0; i < n; i++) fprintf(o, "%s%d", i ? " " : "", ids[i]);
            fputc('\n', o);
        }
    }
    fclose(f);
    return fclose(o) == 0 ? 0 : 1;
}

typedef struct stensor {
    const char *name, *dtype;
    int64_t d0, d1; /* d1 = 0: 1-D */
    const void *data;
    size_t bytes;
} stensor;

static void write_safetensors(const char *path, const stensor *t, int n) {
    char hdr[4096];
    size_t off = 0, h = 0;
    h += (size_t)snprintf(hdr + h, sizeof hdr - h, "{\"__metadata__\": {\"source\": \"llama.cpp (tools/llamacpp_golden.c)\"}");
    for (int i = 0; i < n; i++) {
        h += (size_t)snprintf(hdr + h, sizeof hdr - h, ", \"%s\": {\"dtype\": \"%s\", \"shape\": [%lld", t[i].name, t[i].dtype,
                              (long long)t[i].d0);
        if (t[i].d1) h += (size_t)snprintf(hdr + h, sizeof hdr - h, ", %lld", (long long)t[i].d1);
        h += (size_t)snprintf(hdr + h, sizeof hdr - h, "], \"data_offsets\": [%zu, %zu]}", off, off + t[i].bytes);
        off += t[i].bytes;
    }
    h += (size_t)snprintf(hdr + h, sizeof hdr - h, "}");
    while (h % 8) hdr[h++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write the safetensors file");
    uint64_t hl = h;
    fwrite(&hl, 8, 1, f);
    fwrite(hdr, 1, h, f);
    for (int i = 0; i < n; i++) fwrite(t[i].data, 1, t[i].bytes, f);
    if (fclose(f) != 0) die("write failed");
}

static int cmd_logits(struct llama_model *model, const struct llama_vocab *v, const char *ids_arg, const char *out) {
    static int32_t prompt[4096];
    int np = 0;
    for (const char *p = ids_arg; *p && np < 4096;) {
        prompt[np++] = (int32_t)strtol(p, (char **)&p, 10);
        if (*p == ',') p++;
    }
    const int nv = llama_vocab_n_tokens(v);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(np + NGEN + 8);
    cp.n_batch = cp.n_ubatch = (uint32_t)np;
    cp.n_threads = cp.n_threads_batch = 1;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) die("cannot make a context");
    struct llama_batch b = llama_batch_init(np, 0, 1);
    for (int i = 0; i < np; i++) {
        b.token[i] = prompt[i];
        b.pos[i] = i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = 1;
    }
    b.n_tokens = np;
    if (llama_decode(ctx, b)) die("decode of the prompt failed");
    int32_t *top_ids = malloc(sizeof(int32_t) * (size_t)(np * NTOP));
    float *top = malloc(sizeof(float) * (size_t)(np * NTOP)), *last = malloc(sizeof(float) * (size_t)nv);
    char *taken = malloc((size_t)nv);
    for (int i = 0; i < np; i++) {
        const float *l = llama_get_logits_ith(ctx, i);
        memset(taken, 0, (size_t)nv);
        for (int k = 0; k < NTOP; k++) { /* the k-th best, lowest id on ties */
            int best = -1;
            for (int t = 0; t < nv; t++)
                if (!taken[t] && (best < 0 || l[t] > l[best])) best = t;
            taken[best] = 1;
            top_ids[i * NTOP + k] = best;
            top[i * NTOP + k] = l[best];
        }
        if (i == np - 1) memcpy(last, l, sizeof(float) * (size_t)nv);
    }
    int32_t greedy[NGEN], top2_ids[NGEN * 2];
    float top2[NGEN * 2];
    const float *l = llama_get_logits_ith(ctx, np - 1);
    for (int g = 0; g < NGEN; g++) {
        int best = 0, second = -1;
        for (int t = 1; t < nv; t++)
            if (l[t] > l[best]) best = t;
        for (int t = 0; t < nv; t++)
            if (t != best && (second < 0 || l[t] > l[second])) second = t;
        greedy[g] = best;
        top2_ids[2 * g] = best, top2_ids[2 * g + 1] = second;
        top2[2 * g] = l[best], top2[2 * g + 1] = l[second];
        struct llama_batch one = llama_batch_get_one(&greedy[g], 1);
        if (llama_decode(ctx, one)) die("decode failed");
        l = llama_get_logits_ith(ctx, -1);
    }
    const stensor t[] = {
        {"prompt_ids", "I32", np, 0, prompt, sizeof(int32_t) * (size_t)np},
        {"top_ids", "I32", np, NTOP, top_ids, sizeof(int32_t) * (size_t)(np * NTOP)},
        {"top_logits", "F32", np, NTOP, top, sizeof(float) * (size_t)(np * NTOP)},
        {"last_logits", "F32", nv, 0, last, sizeof(float) * (size_t)nv},
        {"greedy_ids", "I32", NGEN, 0, greedy, sizeof greedy},
        {"greedy_top2_ids", "I32", NGEN, 2, top2_ids, sizeof top2_ids},
        {"greedy_top2_logits", "F32", NGEN, 2, top2, sizeof top2},
    };
    write_safetensors(out, t, 7);
    llama_batch_free(b);
    llama_free(ctx);
    free(top_ids), free(top), free(last), free(taken);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) die("usage: llamacpp_golden tokenize MODEL TEXTS OUT | logits MODEL IDS OUT");
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[2], mp);
    if (!model) die("cannot load the model");
    const struct llama_vocab *v = llama_model_get_vocab(model);
    int rc = !strcmp(argv[1], "tokenize") ? cmd_tokenize(v, argv[3], argv[4])
           : !strcmp(argv[1], "logits")   ? cmd_logits(model, v, argv[3], argv[4])
                                          : (die("unknown command"), 1);
    llama_model_free(model);
    llama_backend_free();
    return rc;
}
