/* Byte-level BPE: vocabulary and merge tables, pre-tokenizer regexes,
 * encode and decode (see include/pare/bpe.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenize/bpe_impl.h"
#include "pare/gguf.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_USER = 4, TOKEN_UNUSED = 5, TOKEN_BYTE = 6 };
enum { MAX_REGEX = 4 };

typedef struct str_slot {
    const char *s; /* NULL: empty */
    uint32_t len;
    int32_t id;
} str_slot;

typedef struct merge_slot {
    uint64_t key; /* left << 32 | right, UINT64_MAX: empty */
    int32_t rank, id;
} merge_slot;

typedef struct special {
    const char *s;
    size_t len;
    int32_t id;
} special;

struct pare_bpe {
    pare_arena *arena;
    int64_t n_vocab;
    const char **text;      /* [n_vocab] token strings as in the vocabulary (NUL-terminated) */
    uint32_t *text_len;
    const char **bytes;     /* [n_vocab] decoded bytes */
    uint32_t *bytes_len;
    uint8_t *type;          /* [n_vocab] */
    str_slot *vocab;        /* open addressing, cap_vocab slots */
    uint64_t cap_vocab;
    merge_slot *merges;
    uint64_t cap_merges;
    int32_t byte_id[256];   /* id of the one-symbol token of each byte */
    char byte_chr[256][2];  /* each byte in GPT-2's alphabet (UTF-8, 1 or 2 bytes) */
    uint8_t byte_chr_len[256];
    special *specials;      /* longest first */
    int64_t n_specials;
    bool special_first[256];/* bytes a special token can start with */
    pcre2_code *re[MAX_REGEX];
    int n_re;
    int32_t bos, eos;
    bool add_bos;
    bool nfc;           /* NFC-normalise text outside special tokens (Qwen2's normalizer) */
    bool ignore_merges; /* a piece that is a whole vocabulary token is emitted as it is (Llama 3) */
};

/* ------------------------------------------------------------ tables */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static int32_t vocab_find(const pare_bpe *t, const char *s, size_t n) {
    uint64_t mask = t->cap_vocab - 1;
    for (uint64_t i = pare_fnv1a64(s, n) & mask;; i = (i + 1) & mask) {
        const str_slot *e = &t->vocab[i];
        if (!e->s) return -1;
        if (e->len == n && memcmp(e->s, s, n) == 0) return e->id;
    }
}

static bool vocab_insert(pare_bpe *t, const char *s, uint32_t n, int32_t id) {
    uint64_t mask = t->cap_vocab - 1;
    for (uint64_t i = pare_fnv1a64(s, n) & mask;; i = (i + 1) & mask) {
        str_slot *e = &t->vocab[i];
        if (!e->s) {
            *e = (str_slot){s, n, id};
            return true;
        }
        if (e->len == n && memcmp(e->s, s, n) == 0) return false; /* duplicate: the first id wins, as in HF */
    }
}

static const merge_slot *merge_find(const pare_bpe *t, int32_t a, int32_t b) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b, mask = t->cap_merges - 1;
    for (uint64_t i = mix64(key) & mask;; i = (i + 1) & mask) {
        const merge_slot *e = &t->merges[i];
        if (e->key == UINT64_MAX) return NULL;
        if (e->key == key) return e;
    }
}

static void merge_insert(pare_bpe *t, int32_t a, int32_t b, int32_t rank, int32_t id) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b, mask = t->cap_merges - 1;
    for (uint64_t i = mix64(key) & mask;; i = (i + 1) & mask) {
        merge_slot *e = &t->merges[i];
        if (e->key == key) return; /* a repeated merge keeps its first (best) rank */
        if (e->key == UINT64_MAX) {
            *e = (merge_slot){key, rank, id};
            return;
        }
    }
}

static uint64_t pow2_at_least(uint64_t n) {
    uint64_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

/* GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to
 * 256, 257, ... in byte order. */
static uint32_t byte_to_cp(int b) {
    static const struct { int lo, hi; } keep[] = {{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}};
    int extra = 0;
    for (int x = 0; x < 256; x++) {
        bool kept = false;
        for (int k = 0; k < 3; k++) kept = kept || (x >= keep[k].lo && x <= keep[k].hi);
        if (x == b) return kept ? (uint32_t)x : (uint32_t)(256 + extra);
        if (!kept) extra++;
    }
    return 0;
}

static int put_utf8(uint32_t cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 63));
    o[2] = (char)(0x80 | (cp & 63));
    return 3;
}

/* Token string (byte alphabet) -> raw bytes; false when a character is not
 * in the alphabet (the token then decodes to its text). */
static bool unmap_bytes(const char *s, size_t n, const int16_t *cp_to_byte, char *out, size_t *out_len) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint8_t c = (uint8_t)s[i];
        uint32_t cp;
        int w;
        if (c < 0x80) { cp = c; w = 1; }
        else if ((c & 0xE0) == 0xC0 && i + 1 < n) { cp = (uint32_t)(c & 31) << 6 | ((uint8_t)s[i + 1] & 63); w = 2; }
        else return false;
        if (cp >= 324 || cp_to_byte[cp] < 0) return false;
        out[k++] = (char)cp_to_byte[cp];
        i += (size_t)w;
    }
    *out_len = k;
    return true;
}

/* ------------------------------------------------------------ regexes */

typedef struct pre_def {
    const char *name;
    const char *re[MAX_REGEX];
} pre_def;

#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLAMA3_RE                                                                                               \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "      \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE                                                                                                \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "          \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* llama.cpp's table (src/llama-vocab.cpp), for the names pare knows. */
static const pre_def PRE_DEFS[] = {
    {"default", {GPT2_RE}},
    {"gpt2", {GPT2_RE}},
    {"mpt", {GPT2_RE}},
    {"olmo", {GPT2_RE}},
    {"smollm", {"\\p{N}", GPT2_RE}},
    {"codeshell", {"\\p{N}", GPT2_RE}},
    {"llama-bpe", {LLAMA3_RE}},
    {"llama3", {LLAMA3_RE}},
    {"qwen2", {QWEN2_RE}},
    {"stablelm2", {QWEN2_RE}},
};

pare_status bpe_set_regexes(pare_bpe *t, const char *const *re, int n, const char *path, pare_err *err) {
    if (n > MAX_REGEX) return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: %d pre-tokenizer regexes, pare takes %d", path, n, MAX_REGEX);
    for (int i = 0; i < n; i++) {
        int code;
        PCRE2_SIZE off;
        t->re[i] = pcre2_compile((PCRE2_SPTR)re[i], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
        if (!t->re[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: pre-tokenizer regex %d does not compile at offset %zu: %s", path, i,
                                (size_t)off, (const char *)msg);
        }
        pcre2_jit_compile(t->re[i], PCRE2_JIT_COMPLETE); /* if JIT is unavailable, the interpreter runs */
        t->n_re = i + 1;
    }
    return PARE_OK;
}

const char *bpe_gpt2_regex(void) { return GPT2_RE; }

int bpe_pre_regexes(const char *pre, const char **re) {
    for (size_t i = 0; i < sizeof PRE_DEFS / sizeof PRE_DEFS[0]; i++)
        if (!strcmp(PRE_DEFS[i].name, pre)) {
            int n = 0;
            while (n < MAX_REGEX && PRE_DEFS[i].re[n]) re[n] = PRE_DEFS[i].re[n], n++;
            return n;
        }
    return -1;
}

static pare_status compile_pre(pare_bpe *t, const char *pre, const char *path, pare_err *err) {
    const pre_def *d = NULL;
    for (size_t i = 0; i < sizeof PRE_DEFS / sizeof PRE_DEFS[0]; i++)
        if (!strcmp(PRE_DEFS[i].name, pre)) d = &PRE_DEFS[i];
    if (!d)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED,
                            "%s: pre-tokenizer '%s' is not one pare knows (default, gpt2, smollm, llama-bpe, qwen2, ...)",
                            path, pre);
    int n = 0;
    while (n < MAX_REGEX && d->re[n]) n++;
    t->ignore_merges = !strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3");
    return bpe_set_regexes(t, d->re, n, path, err);
}

/* ------------------------------------------------------------ loading */

static int cmp_special(const void *a, const void *b) {
    const special *x = a, *y = b;
    return x->len != y->len ? (x->len < y->len ? 1 : -1) : (x->id > y->id) - (x->id < y->id);
}

void pare_bpe_free(pare_bpe *t) {
    if (!t) return;
    for (int i = 0; i < t->n_re; i++) pcre2_code_free(t->re[i]);
    free(t->vocab);
    free(t->merges);
    pare_arena_free(t->arena);
    free(t);
}

pare_status bpe_build(pare_bpe *t, const bpe_src *src, const char *path, pare_err *err) {
    const uint64_t n = (uint64_t)src->n_tokens, nm = (uint64_t)src->n_merges;
    if (src->n_tokens <= 0 || src->n_tokens > INT32_MAX)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: the vocabulary is missing or has %lld entries", path, (long long)src->n_tokens);
    if (src->n_merges < 0 || src->n_merges > INT32_MAX)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: %lld merges", path, (long long)src->n_merges);
    t->n_vocab = (int64_t)n;
    t->text = pare_arena_alloc(t->arena, n * sizeof *t->text, 8);
    t->text_len = pare_arena_alloc(t->arena, n * sizeof *t->text_len, 8);
    t->bytes = pare_arena_alloc(t->arena, n * sizeof *t->bytes, 8);
    t->bytes_len = pare_arena_alloc(t->arena, n * sizeof *t->bytes_len, 8);
    t->type = pare_arena_alloc(t->arena, n, 8);
    t->cap_vocab = pow2_at_least(2 * n);
    t->vocab = calloc(t->cap_vocab, sizeof *t->vocab);
    t->specials = pare_arena_alloc(t->arena, n * sizeof *t->specials, 8);
    if (!t->text || !t->text_len || !t->bytes || !t->bytes_len || !t->type || !t->vocab || !t->specials)
        return pare_err_set(err, PARE_ERR_OOM, "out of memory for %llu tokens", (unsigned long long)n);
    int16_t cp_to_byte[324];
    memset(cp_to_byte, 0xff, sizeof cp_to_byte);
    for (int b = 0; b < 256; b++) cp_to_byte[byte_to_cp(b)] = (int16_t)b;
    for (uint64_t i = 0; i < n; i++) {
        const char *sp;
        size_t sl;
        int type;
        if (!src->token(src->ctx, (int64_t)i, &sp, &sl, &type) || sl > UINT32_MAX)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: token %llu unreadable", path, (unsigned long long)i);
        char *txt = pare_arena_alloc(t->arena, sl + 1, 1), *raw = pare_arena_alloc(t->arena, sl + 1, 1);
        if (!txt || !raw) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        memcpy(txt, sp, sl);
        txt[sl] = 0;
        t->text[i] = txt;
        t->text_len[i] = (uint32_t)sl;
        t->type[i] = (uint8_t)type;
        size_t rl;
        bool mapped = t->type[i] != TOKEN_CONTROL && t->type[i] != TOKEN_USER && unmap_bytes(sp, sl, cp_to_byte, raw, &rl);
        t->bytes[i] = mapped ? raw : txt;
        t->bytes_len[i] = mapped ? (uint32_t)rl : (uint32_t)sl;
        vocab_insert(t, txt, (uint32_t)sl, (int32_t)i);
        if ((t->type[i] == TOKEN_CONTROL || t->type[i] == TOKEN_USER) && sl > 0)
            t->specials[t->n_specials++] = (special){txt, sl, (int32_t)i};
    }
    qsort(t->specials, (size_t)t->n_specials, sizeof *t->specials, cmp_special);
    for (int64_t k = 0; k < t->n_specials; k++) t->special_first[(uint8_t)t->specials[k].s[0]] = true;
    for (int b = 0; b < 256; b++) {
        char u[4];
        int w = put_utf8(byte_to_cp(b), u);
        t->byte_id[b] = vocab_find(t, u, (size_t)w);
        memcpy(t->byte_chr[b], u, (size_t)w);
        t->byte_chr_len[b] = (uint8_t)w;
    }
    t->cap_merges = pow2_at_least(2 * nm + 1);
    t->merges = malloc(t->cap_merges * sizeof *t->merges);
    if (!t->merges) return pare_err_set(err, PARE_ERR_OOM, "out of memory for %llu merges", (unsigned long long)nm);
    memset(t->merges, 0xff, t->cap_merges * sizeof *t->merges);
    char buf[1024];
    for (uint64_t r = 0; r < nm; r++) {
        const char *pa, *pb;
        size_t la, lb;
        if (!src->merge(src->ctx, (int64_t)r, &pa, &la, &pb, &lb) || la + lb >= sizeof buf)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: merge %llu is not a pair of tokens ('left right' or [left, right])",
                                path, (unsigned long long)r);
        int32_t a = vocab_find(t, pa, la), b = vocab_find(t, pb, lb);
        memcpy(buf, pa, la);
        memcpy(buf + la, pb, lb);
        int32_t ab = vocab_find(t, buf, la + lb);
        if (a < 0 || b < 0 || ab < 0)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: merge %llu ('%.*s' + '%.*s') names a token not in the vocabulary", path,
                                (unsigned long long)r, (int)(la > 40 ? 40 : la), pa, (int)(lb > 40 ? 40 : lb), pb);
        merge_insert(t, a, b, (int32_t)r, ab);
    }
    return PARE_OK;
}

/* GGUF metadata as a source: tokenizer.ggml.tokens / token_type / merges */
typedef struct gguf_src {
    const pare_gguf *g;
    int64_t ti, mi;
    const int32_t *types;
} gguf_src;

static bool gguf_token(const void *ctx, int64_t i, const char **s, size_t *len, int *type) {
    const gguf_src *c = ctx;
    pare_gguf_str st;
    if (!pare_gguf_kv_arr_str(c->g, c->ti, (uint64_t)i, &st)) return false;
    *s = st.ptr, *len = st.len;
    *type = c->types ? c->types[i] : TOKEN_NORMAL;
    return true;
}

static bool gguf_merge(const void *ctx, int64_t r, const char **a, size_t *la, const char **b, size_t *lb) {
    const gguf_src *c = ctx;
    pare_gguf_str st;
    if (!pare_gguf_kv_arr_str(c->g, c->mi, (uint64_t)r, &st)) return false;
    const char *sp = st.len ? memchr(st.ptr + 1, ' ', st.len - 1) : NULL;
    if (!sp) return false;
    *a = st.ptr, *la = (size_t)(sp - st.ptr);
    *b = sp + 1, *lb = st.len - *la - 1;
    return true;
}

static pare_status load_tables(pare_bpe *t, const pare_gguf *g, pare_err *err) {
    const char *path = pare_gguf_path(g);
    int64_t ti, yi, mi;
    uint64_t n, ny, nm;
    pare_status s;
    if ((s = pare_gguf_get_arr(g, "tokenizer.ggml.tokens", PARE_GGUF_STRING, &ti, &n, err)) ||
        (s = pare_gguf_get_arr(g, "tokenizer.ggml.token_type", PARE_GGUF_I32, &yi, &ny, err)) ||
        (s = pare_gguf_get_arr(g, "tokenizer.ggml.merges", PARE_GGUF_STRING, &mi, &nm, err)))
        return s;
    if (n == 0 || n > INT32_MAX) return pare_err_set(err, PARE_ERR_FORMAT, "%s: tokenizer.ggml.tokens is missing or has %llu entries", path, (unsigned long long)n);
    if (yi >= 0 && ny != n)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tokenizer.ggml.token_type has %llu entries for %llu tokens", path,
                            (unsigned long long)ny, (unsigned long long)n);
    if (nm > INT32_MAX) return pare_err_set(err, PARE_ERR_FORMAT, "%s: %llu merges", path, (unsigned long long)nm);
    gguf_src c = {.g = g, .ti = ti, .mi = mi, .types = yi >= 0 ? pare_gguf_kv_arr_data(g, yi) : NULL};
    bpe_src src = {.n_tokens = (int64_t)n, .token = gguf_token, .n_merges = mi >= 0 ? (int64_t)nm : 0, .merge = gguf_merge, .ctx = &c};
    return bpe_build(t, &src, path, err);
}

pare_status bpe_new(pare_bpe **out, pare_err *err) {
    pare_bpe *t = calloc(1, sizeof *t);
    if (t) t->arena = pare_arena_create(1u << 20);
    if (!t || !t->arena) {
        free(t);
        return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    t->bos = t->eos = -1;
    *out = t;
    return PARE_OK;
}

void bpe_set_special_ids(pare_bpe *t, int32_t bos, int32_t eos, bool add_bos) {
    t->bos = bos;
    t->eos = eos;
    t->add_bos = add_bos && bos >= 0;
}

void bpe_set_flags(pare_bpe *t, bool nfc, bool ignore_merges) {
    t->nfc = nfc;
    t->ignore_merges = ignore_merges;
}

int32_t bpe_find(const pare_bpe *t, const char *s, size_t n) { return vocab_find(t, s, n); }

pare_status pare_bpe_from_gguf(const pare_gguf *g, pare_bpe **out, pare_err *err) {
    *out = NULL;
    const char *path = pare_gguf_path(g);
    char model[32], pre[64];
    pare_status s;
    if ((s = pare_gguf_get_str(g, "tokenizer.ggml.model", "", model, sizeof model, err))) return s;
    if (strcmp(model, "gpt2") != 0)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model is '%s'; pare's BPE reads 'gpt2' (byte-level BPE)", path, model);
    if ((s = pare_gguf_get_str(g, "tokenizer.ggml.pre", "default", pre, sizeof pre, err))) return s;
    pare_bpe *t = NULL;
    if ((s = bpe_new(&t, err))) return s;
    int64_t bos, eos;
    bool add_bos = false;
    s = compile_pre(t, pre, path, err);
    if (!s) s = load_tables(t, g, err);
    if (!s) s = pare_gguf_get_int(g, "tokenizer.ggml.bos_token_id", -1, -1, t->n_vocab - 1, &bos, err);
    if (!s) s = pare_gguf_get_int(g, "tokenizer.ggml.eos_token_id", -1, -1, t->n_vocab - 1, &eos, err);
    if (!s) s = pare_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", false, &add_bos, err);
    if (s) {
        pare_bpe_free(t);
        return s;
    }
    bpe_set_special_ids(t, (int32_t)bos, (int32_t)eos, add_bos);
    *out = t;
    return PARE_OK;
}

int64_t pare_bpe_vocab_size(const pare_bpe *t) { return t->n_vocab; }
int32_t pare_bpe_bos(const pare_bpe *t) { return t->bos; }
int32_t pare_bpe_eos(const pare_bpe *t) { return t->eos; }
bool pare_bpe_add_bos(const pare_bpe *t) { return t->add_bos; }
bool pare_bpe_is_control(const pare_bpe *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->type[id] == TOKEN_CONTROL;
}

const char *pare_bpe_token_bytes(const pare_bpe *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    *len = t->bytes_len[id];
    return t->bytes[id];
}

/* ------------------------------------------------------------ encoding */

typedef struct merge_cand {
    int32_t rank, pos; /* heap order: lowest rank, then leftmost */
    int32_t left, right; /* the ids it joins, to tell a stale entry */
} merge_cand;

typedef struct ids_buf {
    int32_t *v;
    int64_t n, cap;
    /* scratch for one piece: symbols as a linked list, the candidate heap */
    int32_t *sym, *next, *prev;
    merge_cand *heap;
    int64_t sym_cap, n_heap;
    int64_t dropped; /* bytes without a token, left out */
    pcre2_match_data *md;
} ids_buf;

static bool push(ids_buf *o, int32_t id) {
    if (o->n == o->cap) {
        int64_t c = o->cap ? 2 * o->cap : 64;
        int32_t *v = realloc(o->v, (size_t)c * sizeof *v);
        if (!v) return false;
        o->v = v;
        o->cap = c;
    }
    o->v[o->n++] = id;
    return true;
}

static bool cand_less(const merge_cand *a, const merge_cand *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(ids_buf *o, merge_cand c) {
    int64_t i = o->n_heap++;
    while (i > 0 && cand_less(&c, &o->heap[(i - 1) / 2])) {
        o->heap[i] = o->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    o->heap[i] = c;
}

static merge_cand heap_pop(ids_buf *o) {
    merge_cand top = o->heap[0], last = o->heap[--o->n_heap];
    int64_t i = 0, n = o->n_heap;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_less(&o->heap[c + 1], &o->heap[c])) c++;
        if (!cand_less(&o->heap[c], &last)) break;
        o->heap[i] = o->heap[c];
        i = c;
    }
    if (n) o->heap[i] = last;
    return top;
}

static void offer(const pare_bpe *t, ids_buf *o, int32_t pos) {
    if (pos < 0) return;
    const int32_t r = o->next[pos];
    if (r < 0) return;
    const merge_slot *m = merge_find(t, o->sym[pos], o->sym[r]);
    if (m) heap_push(o, (merge_cand){m->rank, pos, o->sym[pos], o->sym[r]});
}

/* Merge the byte symbols sym[0..k) by rank (lowest first, leftmost on
 * ties, as HF tokenizers' heap does) in O(k log k), and append the ids. */
static pare_status merge_run(const pare_bpe *t, ids_buf *o, int32_t k, pare_err *err) {
    o->n_heap = 0;
    for (int32_t i = 0; i < k; i++) o->prev[i] = i - 1, o->next[i] = i + 1 < k ? i + 1 : -1;
    for (int32_t i = 0; i + 1 < k; i++) offer(t, o, i);
    while (o->n_heap) {
        const merge_cand c = heap_pop(o);
        const int32_t r = o->next[c.pos];
        if (o->sym[c.pos] != c.left || r < 0 || o->sym[r] != c.right) continue; /* stale */
        o->sym[c.pos] = merge_find(t, c.left, c.right)->id;
        o->next[c.pos] = o->next[r];
        if (o->next[r] >= 0) o->prev[o->next[r]] = c.pos;
        o->sym[r] = -1;
        offer(t, o, o->prev[c.pos]);
        offer(t, o, c.pos);
    }
    for (int32_t i = k ? 0 : -1; i >= 0; i = o->next[i])
        if (!push(o, o->sym[i])) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    return PARE_OK;
}

/* BPE of one pre-token: bytes -> byte symbols -> merges -> ids appended to
 * o. A byte the vocabulary has no token for is dropped, and the symbols on
 * either side are merged apart (llama.cpp does the same); o->dropped
 * counts them. */
static pare_status bpe_piece(const pare_bpe *t, const char *s, size_t n, ids_buf *o, pare_err *err) {
    if (n > INT32_MAX / 4) return pare_err_set(err, PARE_ERR_UNSUPPORTED, "a word of %zu bytes is too long", n);
    if ((int64_t)n > o->sym_cap) {
        int32_t *a = realloc(o->sym, n * sizeof *a), *b = a ? realloc(o->next, n * sizeof *b) : NULL;
        if (a) o->sym = a;
        if (b) o->next = b;
        int32_t *c = b ? realloc(o->prev, n * sizeof *c) : NULL;
        if (c) o->prev = c;
        merge_cand *h = c ? realloc(o->heap, 2 * n * sizeof *h) : NULL;
        if (!h) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        o->heap = h;
        o->sym_cap = (int64_t)n;
    }
    if (t->ignore_merges && n <= 256) { /* the whole piece as one token, if it is one */
        char w[512];
        size_t wl = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(w + wl, t->byte_chr[(uint8_t)s[i]], t->byte_chr_len[(uint8_t)s[i]]);
            wl += t->byte_chr_len[(uint8_t)s[i]];
        }
        int32_t id = vocab_find(t, w, wl);
        if (id >= 0) return push(o, id) ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[(uint8_t)s[i]];
        if (id >= 0) {
            o->sym[k++] = id;
            continue;
        }
        o->dropped++;
        pare_status st = merge_run(t, o, k, err);
        if (st) return st;
        k = 0;
    }
    return merge_run(t, o, k, err);
}

static pare_status split_span_valid(const pare_bpe *t, const char *s, size_t n, ids_buf *o, pare_err *err);

/* Split s by regex level (matches and the gaps between them are pieces)
 * and recurse; past the last regex, run BPE. */
static pare_status split(const pare_bpe *t, int level, const char *s, size_t n, ids_buf *o, pare_err *err) {
    if (n == 0) return PARE_OK;
    if (level == t->n_re) return bpe_piece(t, s, n, o, err);
    size_t at = 0, gap = 0;
    pare_status st;
    while (at < n) {
        int rc = pcre2_match(t->re[level], (PCRE2_SPTR)s, n, at, 0, o->md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(o->md);
        size_t b = ov[0], e = ov[1];
        if (e == b) { /* an empty match cannot happen with these regexes; step over one byte */
            at = b + 1;
            continue;
        }
        if ((st = split(t, level + 1, s + gap, b - gap, o, err)) || (st = split(t, level + 1, s + b, e - b, o, err)))
            return st;
        gap = at = e;
    }
    return split(t, level + 1, s + gap, n - gap, o, err);
}

/* Invalid UTF-8: each byte that does not start a valid sequence becomes
 * U+FFFD, as llama.cpp's unicode_cpts_from_utf8 does before its
 * pre-tokenizer (tokenizers refuses such text). NULL when s is valid
 * (nothing to copy), else a malloc'd copy in *out (length *out_n). */
static pare_status fix_utf8(const char *s, size_t n, char **out, size_t *out_n, pare_err *err) {
    *out = NULL;
    size_t i = 0;
    utf8proc_int32_t cp;
    while (i < n) {
        const utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) break;
        i += (size_t)k;
    }
    if (i == n) return PARE_OK;
    char *d = malloc(3 * n + 1);
    if (!d) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    memcpy(d, s, i);
    size_t m = i;
    while (i < n) {
        const utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k > 0) {
            memcpy(d + m, s + i, (size_t)k);
            m += (size_t)k, i += (size_t)k;
        } else {
            memcpy(d + m, "\xef\xbf\xbd", 3); /* U+FFFD for this byte, then on from the next */
            m += 3, i++;
        }
    }
    *out = d;
    *out_n = m;
    return PARE_OK;
}

/* A span between special tokens: invalid UTF-8 replaced, then NFC when the
 * tokenizer says so. */
static pare_status split_span(const pare_bpe *t, const char *s, size_t n, ids_buf *o, pare_err *err) {
    char *fixed;
    size_t fixed_n;
    pare_status fs = fix_utf8(s, n, &fixed, &fixed_n, err);
    if (fs) return fs;
    if (fixed) {
        s = fixed;
        n = fixed_n;
    }
    pare_status st = split_span_valid(t, s, n, o, err);
    free(fixed);
    return st;
}

static pare_status split_span_valid(const pare_bpe *t, const char *s, size_t n, ids_buf *o, pare_err *err) {
    utf8proc_uint8_t *nfc = NULL;
    if (t->nfc && n > 0 &&
        utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE) >= 0) {
        pare_status st = split(t, 0, (const char *)nfc, strlen((const char *)nfc), o, err);
        free(nfc);
        return st;
    }
    return split(t, 0, s, n, o, err);
}

pare_status pare_bpe_encode(const pare_bpe *t, const char *text, size_t len, bool add_special, int32_t **ids,
                            int64_t *n, pare_err *err) {
    return pare_bpe_encode_ex(t, text, len, add_special, ids, n, NULL, err);
}

pare_status pare_bpe_encode_ex(const pare_bpe *t, const char *text, size_t len, bool add_special, int32_t **ids,
                               int64_t *n, int64_t *n_dropped, pare_err *err) {
    *ids = NULL;
    *n = 0;
    if (n_dropped) *n_dropped = 0;
    ids_buf o = {0};
    o.md = pcre2_match_data_create(4, NULL);
    if (!o.md) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    pare_status st = PARE_OK;
    if (add_special && t->add_bos && !push(&o, t->bos)) st = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    size_t start = 0;
    for (size_t i = 0; i <= len && !st;) {
        const special *hit = NULL;
        if (i < len && t->special_first[(uint8_t)text[i]])
            for (int64_t k = 0; k < t->n_specials; k++) {
                const special *sp = &t->specials[k];
                if (sp->len <= len - i && text[i] == sp->s[0] && memcmp(text + i, sp->s, sp->len) == 0) {
                    hit = sp;
                    break;
                }
            }
        if (!hit && i < len) {
            i++;
            continue;
        }
        st = split_span(t, text + start, i - start, &o, err);
        if (!st && hit && !push(&o, hit->id)) st = pare_err_set(err, PARE_ERR_OOM, "out of memory");
        if (!hit) break;
        i += hit->len;
        start = i;
    }
    pcre2_match_data_free(o.md);
    free(o.sym), free(o.next), free(o.prev), free(o.heap);
    if (n_dropped) *n_dropped = o.dropped;
    if (st) {
        free(o.v);
        return st;
    }
    if (!o.v && !(o.v = malloc(sizeof *o.v))) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    *ids = o.v; /* never NULL, also for an empty text */
    *n = o.n;
    return PARE_OK;
}

/* ------------------------------------------------------------ decoding */

/* Length of the longest prefix of s[0..n) that ends on a UTF-8 boundary
 * (an incomplete sequence at the end is left out). */
static size_t complete_utf8(const char *s, size_t n) {
    size_t i = n, back = 0;
    while (i > 0 && back < 4 && ((uint8_t)s[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0) return n;
    uint8_t lead = (uint8_t)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return need > back + 1 ? i - 1 : n;
}

void pare_bpe_stream_put(const pare_bpe *t, pare_bpe_stream *s, int32_t id, char *out, size_t cap, size_t *out_len) {
    size_t len = 0, k = 0;
    const char *b = pare_bpe_token_bytes(t, id, &len);
    if (!b) len = 0;
    for (size_t i = 0; i < s->held && k < cap; i++) out[k++] = s->buf[i];
    for (size_t i = 0; i < len && k < cap; i++) out[k++] = b[i];
    size_t done = complete_utf8(out, k);
    s->held = k - done <= sizeof s->buf ? k - done : 0;
    memcpy(s->buf, out + done, s->held);
    *out_len = done;
}
