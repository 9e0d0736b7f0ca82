/* WordPiece encoder with BERT normalization and pre-tokenization, matching
 * Hugging Face tokenizers id for id:
 *   1. added tokens ([CLS], [SEP], ...) are cut out of the raw text;
 *   2. each remaining piece is normalized (clean_text, CJK spacing, NFD and
 *      Mn removal, full lowercase), then normalized added tokens are cut;
 *   3. pieces split on whitespace and isolate punctuation;
 *   4. each word: greedy longest match first, "##" continuations, any miss
 *      or a word over max_input_chars_per_word gives one [UNK];
 *   5. [CLS] ... [SEP], truncated to max_len. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenize/bert_unicode.h"
#include "tokenize/wordpiece_impl.h"

/* ------------------------------------------------------------------ vocab */

static uint32_t fnv1a(uint32_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}
#define FNV_SEED 2166136261u

pare_status pare_wp_create(const pare_wordpiece_opts *opts, pare_wordpiece **out, pare_err *err) {
    *out = NULL;
    if (!opts) return pare_err_set(err, PARE_ERR_INVALID, "pare_wordpiece: options are NULL");
    size_t plen = strnlen(opts->continuing_prefix, sizeof opts->continuing_prefix);
    if (plen == sizeof opts->continuing_prefix)
        return pare_err_set(err, PARE_ERR_INVALID,
                            "pare_wordpiece: continuing_prefix is not NUL-terminated in 8 bytes");
    if (opts->max_input_chars_per_word <= 0)
        return pare_err_set(err, PARE_ERR_INVALID,
                            "pare_wordpiece: max_input_chars_per_word %d must be positive",
                            (int)opts->max_input_chars_per_word);
    if (opts->strip_accents < -1 || opts->strip_accents > 1)
        return pare_err_set(err, PARE_ERR_INVALID,
                            "pare_wordpiece: strip_accents %d is not -1, 0 or 1",
                            opts->strip_accents);
    pare_wordpiece *t = calloc(1, sizeof *t);
    if (!t) return pare_err_set(err, PARE_ERR_OOM, "pare_wordpiece: out of memory");
    t->arena = pare_arena_create(1 << 20);
    if (!t->arena) {
        free(t);
        return pare_err_set(err, PARE_ERR_OOM, "pare_wordpiece: out of memory");
    }
    t->opts = *opts;
    t->strip_accents = opts->strip_accents < 0 ? opts->lowercase : opts->strip_accents == 1;
    t->prefix_len = plen;
    t->cls_id = t->sep_id = t->pad_id = t->unk_id = -1;
    *out = t;
    return PARE_OK;
}

void pare_wordpiece_free(pare_wordpiece *t) {
    if (!t) return;
    pare_arena_free(t->arena);
    free(t);
}

int32_t pare_wp_lookup(const pare_wordpiece *t, const char *prefix, size_t plen, const char *s,
                       size_t len) {
    if (!t->slots) return -1;
    uint32_t h = fnv1a(fnv1a(FNV_SEED, prefix, plen), s, len);
    size_t total = plen + len;
    for (size_t i = h & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        uint32_t v = t->slots[i];
        if (!v) return -1;
        if (t->slot_hash[i] != h) continue;
        int32_t id = (int32_t)(v - 1);
        const char *tok = t->tokens[id];
        if (t->token_len[id] == total && memcmp(tok, prefix, plen) == 0 &&
            memcmp(tok + plen, s, len) == 0)
            return id;
    }
}

pare_status pare_wp_set_vocab(pare_wordpiece *t, const char *const *tokens, const size_t *lens,
                              const int32_t *ids, int32_t n, const char *src, pare_err *err) {
    if (n <= 0) return pare_err_set(err, PARE_ERR_FORMAT, "%s: the vocab is empty", src);
    int32_t n_ids = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t id = ids ? ids[i] : i;
        if (id < 0 || id >= (1 << 24))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: token %d has id %d outside [0, 2^24)",
                                src, (int)i, (int)id);
        if (id + 1 > n_ids) n_ids = id + 1;
    }
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    t->tokens = pare_arena_calloc(t->arena, sizeof(char *) * (size_t)n_ids, 8);
    t->token_len = pare_arena_calloc(t->arena, sizeof(uint32_t) * (size_t)n_ids, 4);
    t->slots = pare_arena_calloc(t->arena, sizeof(uint32_t) * cap, 4);
    t->slot_hash = pare_arena_calloc(t->arena, sizeof(uint32_t) * cap, 4);
    if (!t->tokens || !t->token_len || !t->slots || !t->slot_hash)
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory for %d tokens", src, (int)n);
    t->slot_mask = cap - 1;
    t->n_ids = n_ids;
    t->n_vocab = n;
    for (int32_t i = 0; i < n; i++) {
        int32_t id = ids ? ids[i] : i;
        int shown = lens[i] > 64 ? 64 : (int)lens[i]; /* tokens[i] may not be NUL-terminated */
        if (lens[i] > UINT32_MAX / 2)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: token %d is %zu bytes long", src, (int)id,
                                lens[i]);
        if (t->tokens[id])
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: id %d is given to both '%.64s' and '%.*s'",
                                src, (int)id, t->tokens[id], shown, tokens[i]);
        if (pare_wp_lookup(t, "", 0, tokens[i], lens[i]) >= 0)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: duplicate token '%.*s' (ids %d and %d)",
                                src, shown, tokens[i],
                                (int)pare_wp_lookup(t, "", 0, tokens[i], lens[i]), (int)id);
        char *copy = pare_arena_strdup(t->arena, tokens[i], lens[i]);
        if (!copy) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", src);
        t->tokens[id] = copy;
        t->token_len[id] = (uint32_t)lens[i];
        if (lens[i] > t->max_token_bytes) t->max_token_bytes = (uint32_t)lens[i];
        uint32_t h = fnv1a(FNV_SEED, tokens[i], lens[i]);
        size_t s = h & t->slot_mask;
        while (t->slots[s]) s = (s + 1) & t->slot_mask;
        t->slots[s] = (uint32_t)id + 1;
        t->slot_hash[s] = h;
    }
    return PARE_OK;
}

/* ------------------------------------------------------------------ scratch */

typedef struct cpvec {
    int32_t *p;
    size_t n, cap;
} cpvec;

static bool cv_reserve(cpvec *v, size_t extra) {
    size_t need;
    if (!pare_add_size(v->n, extra, &need)) return false;
    if (need <= v->cap) return true;
    size_t cap = v->cap ? v->cap : 256;
    while (cap < need) {
        if (!pare_mul_size(cap, 2, &cap)) return false;
    }
    size_t bytes;
    if (!pare_mul_size(cap, sizeof(int32_t), &bytes)) return false;
    int32_t *p = realloc(v->p, bytes);
    if (!p) return false;
    v->p = p;
    v->cap = cap;
    return true;
}

typedef struct wp_scratch {
    cpvec raw, a, b;
    char *word;
    uint32_t *offs; /* byte offset of each char of word, plus the end */
    size_t word_cap, offs_cap;
} wp_scratch;

static void scratch_free(wp_scratch *s) {
    free(s->raw.p);
    free(s->a.p);
    free(s->b.p);
    free(s->word);
    free(s->offs);
}

/* Output ids: stops quietly at limit. */
typedef struct wp_out {
    int32_t *ids;
    int32_t n, limit;
} wp_out;

static inline bool out_full(const wp_out *o) { return o->n >= o->limit; }
static inline void out_push(wp_out *o, int32_t id) {
    if (o->n < o->limit) o->ids[o->n++] = id;
}

/* ------------------------------------------------------------------ UTF-8 */

/* Decode text into v, validating; on error *bad_at is the byte offset. */
static pare_status decode_utf8(const char *text, size_t len, cpvec *v, size_t *bad_at) {
    if (!cv_reserve(v, len)) return PARE_ERR_OOM;
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    v->n = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            v->p[v->n++] = s[i++];
            continue;
        }
        utf8proc_int32_t cp;
        size_t rem = len - i;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, rem > 4 ? 4 : (utf8proc_ssize_t)rem, &cp);
        if (k <= 0 || cp < 0) {
            *bad_at = i;
            return PARE_ERR_INVALID;
        }
        v->p[v->n++] = cp;
        i += (size_t)k;
    }
    return PARE_OK;
}

static size_t encode_cp(int32_t cp, char *o) {
    return (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)o);
}

/* ------------------------------------------------------------------ normalizer */

/* Normalize in[0..n) into sc->b (uses sc->a). False on OOM. */
static bool normalize(const pare_wordpiece *t, const int32_t *in, size_t n, wp_scratch *sc,
                      cpvec **res) {
    const pare_wordpiece_opts *o = &t->opts;
    cpvec *a = &sc->a, *b = &sc->b;
    size_t need;
    if (!pare_mul_size(n, 3, &need)) return false;
    a->n = 0;
    if (!cv_reserve(a, need)) return false;
    for (size_t i = 0; i < n; i++) {
        int32_t c = in[i];
        if (o->clean_text) {
            if (c == 0 || pare_bert_is_removed(c)) continue;
            if (pare_bert_is_whitespace(c)) c = ' ';
        }
        if (o->handle_chinese_chars && c >= 0x3400 && pare_bert_is_chinese(c)) {
            a->p[a->n++] = ' ';
            a->p[a->n++] = c;
            a->p[a->n++] = ' ';
        } else {
            a->p[a->n++] = c;
        }
    }
    cpvec *cur = a;
    if (t->strip_accents) {
        b->n = 0;
        for (size_t i = 0; i < a->n; i++) {
            int32_t c = a->p[i];
            if (c < 0xC0) {
                if (!cv_reserve(b, 1)) return false;
                b->p[b->n++] = c;
                continue;
            }
            if (!cv_reserve(b, 8)) return false;
            int k = pare_bert_decompose(c, b->p + b->n, 8);
            if (k > 8) {
                if (!cv_reserve(b, (size_t)k)) return false;
                k = pare_bert_decompose(c, b->p + b->n, k);
            }
            if (k <= 0) b->p[b->n++] = c;
            else b->n += (size_t)k;
        }
        /* canonical ordering: stable sort of each run of non-starters by class */
        for (size_t i = 1; i < b->n; i++) {
            int32_t c = b->p[i];
            if (c < 0x300) continue;
            int cc = pare_bert_ccc(c);
            if (!cc) continue;
            size_t j = i;
            while (j > 0) {
                int pc = pare_bert_ccc(b->p[j - 1]);
                if (pc <= cc) break;
                b->p[j] = b->p[j - 1];
                j--;
            }
            b->p[j] = c;
        }
        size_t w = 0;
        for (size_t i = 0; i < b->n; i++)
            if (!pare_bert_is_mn(b->p[i])) b->p[w++] = b->p[i];
        b->n = w;
        cur = b;
    }
    if (o->lowercase) {
        cpvec *dst = cur == a ? b : a;
        dst->n = 0;
        if (!pare_mul_size(cur->n, 2, &need) || !cv_reserve(dst, need)) return false;
        for (size_t i = 0; i < cur->n; i++) {
            int32_t lo[2];
            int k = pare_bert_lower(cur->p[i], lo);
            for (int j = 0; j < k; j++) dst->p[dst->n++] = lo[j];
        }
        cur = dst;
    }
    *res = cur;
    return true;
}

/* ------------------------------------------------------------------ model */

static bool ensure_word(wp_scratch *sc, size_t chars) {
    size_t bytes, offs;
    if (!pare_mul_size(chars, 4, &bytes) || !pare_add_size(bytes, 1, &bytes)) return false;
    if (!pare_add_size(chars, 1, &offs)) return false;
    if (bytes > sc->word_cap) {
        char *p = realloc(sc->word, bytes);
        if (!p) return false;
        sc->word = p;
        sc->word_cap = bytes;
    }
    if (offs > sc->offs_cap) {
        size_t ob;
        if (!pare_mul_size(offs, sizeof(uint32_t), &ob)) return false;
        uint32_t *p = realloc(sc->offs, ob);
        if (!p) return false;
        sc->offs = p;
        sc->offs_cap = offs;
    }
    return true;
}

/* Greedy longest-match-first WordPiece of one word (code points w[0..n)). */
static bool wordpiece_word(const pare_wordpiece *t, const int32_t *w, size_t n, wp_scratch *sc,
                           wp_out *o) {
    if (n > (size_t)t->opts.max_input_chars_per_word) {
        out_push(o, t->unk_id);
        return true;
    }
    if (!ensure_word(sc, n)) return false;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        sc->offs[i] = (uint32_t)len;
        len += encode_cp(w[i], sc->word + len);
    }
    sc->offs[n] = (uint32_t)len;
    const char *s = sc->word;
    int32_t id = pare_wp_lookup(t, "", 0, s, len);
    if (id >= 0) {
        out_push(o, id);
        return true;
    }
    const char *prefix = t->opts.continuing_prefix;
    int32_t first = o->n;
    size_t ci = 0; /* char index of start */
    while (ci < n) {
        size_t start = sc->offs[ci];
        size_t plen = ci > 0 ? t->prefix_len : 0;
        /* the longest piece that could be in the vocab */
        size_t max_bytes = t->max_token_bytes > plen ? t->max_token_bytes - plen : 0;
        size_t ce = n;
        while (ce > ci && sc->offs[ce] - start > max_bytes) ce--;
        int32_t found = -1;
        for (; ce > ci; ce--) {
            found = pare_wp_lookup(t, prefix, plen, s + start, sc->offs[ce] - start);
            if (found >= 0) break;
        }
        if (found < 0) { /* the whole word becomes [UNK] */
            o->n = first;
            out_push(o, t->unk_id);
            return true;
        }
        out_push(o, found);
        ci = ce;
    }
    return true;
}

/* Split on whitespace, isolate punctuation, run the model on each word. */
static bool pretokenize(const pare_wordpiece *t, const int32_t *p, size_t n, wp_scratch *sc,
                        wp_out *o) {
    size_t start = 0;
    for (size_t i = 0; i <= n && !out_full(o); i++) {
        bool end = i == n;
        bool ws = !end && pare_bert_is_whitespace(p[i]);
        bool punct = !end && !ws && pare_bert_is_punct(p[i]);
        if (end || ws || punct) {
            if (i > start && !wordpiece_word(t, p + start, i - start, sc, o)) return false;
            if (punct && !wordpiece_word(t, p + i, 1, sc, o)) return false;
            start = i + 1;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ added tokens */

/* Rust regex \w, close enough: letters, marks, decimal digits, letter
 * numbers, connector punctuation, ZWNJ/ZWJ, circled letters. */
static bool is_word_char(int32_t c) {
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    if (c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) ||
        (c >= 0x1F130 && c <= 0x1F189))
        return true;
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ME) ||
           k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC;
}

typedef bool (*wp_piece_fn)(const pare_wordpiece *t, const int32_t *p, size_t n, wp_scratch *sc,
                            wp_out *o);

/* Cut added tokens (normalized or not, by `normalized`) out of p[0..n):
 * leftmost-longest, non-overlapping; gaps go to fn. */
static bool split_added(const pare_wordpiece *t, bool normalized, const int32_t *p, size_t n,
                        wp_scratch *sc, wp_out *o, wp_piece_fn fn) {
    size_t done = 0; /* start of the pending gap */
    size_t i = 0;
    while (i < n && !out_full(o)) {
        const wp_added *best = NULL;
        for (int32_t k = 0; k < t->n_added; k++) {
            const wp_added *a = &t->added[k];
            if (a->normalized != normalized || a->cps[0] != p[i] || (size_t)a->n_cps > n - i)
                continue;
            if (best && best->n_cps >= a->n_cps) continue;
            if (memcmp(a->cps, p + i, sizeof(int32_t) * (size_t)a->n_cps) == 0) best = a;
        }
        if (!best) {
            i++;
            continue;
        }
        size_t start = i, stop = i + (size_t)best->n_cps;
        if (best->single_word) {
            bool ok_l = start == 0 || !is_word_char(p[start - 1]);
            bool ok_r = stop == n || !is_word_char(p[stop]);
            if (!ok_l || !ok_r) {
                i = stop;
                continue;
            }
        }
        if (best->lstrip) {
            while (start > done && pare_bert_is_whitespace(p[start - 1])) start--;
        }
        if (best->rstrip) {
            while (stop < n && pare_bert_is_whitespace(p[stop])) stop++;
        }
        if (start > done && !fn(t, p + done, start - done, sc, o)) return false;
        out_push(o, best->id);
        done = i = stop;
    }
    if (done < n && !out_full(o) && !fn(t, p + done, n - done, sc, o)) return false;
    return true;
}

static bool raw_piece(const pare_wordpiece *t, const int32_t *p, size_t n, wp_scratch *sc,
                      wp_out *o) {
    cpvec *norm;
    if (!normalize(t, p, n, sc, &norm)) return false;
    /* norm lives in sc->a or sc->b; the next pieces reuse them only after
     * this one is fully consumed, except the word buffer, which is separate. */
    if (!t->has_normalized_added) return pretokenize(t, norm->p, norm->n, sc, o);
    return split_added(t, true, norm->p, norm->n, sc, o, pretokenize);
}

pare_status pare_wp_add_token(pare_wordpiece *t, const char *content, int32_t id, bool special,
                              bool single_word, bool lstrip, bool rstrip, bool normalized,
                              const char *src, pare_err *err) {
    size_t len = strlen(content);
    if (len == 0) return PARE_OK; /* tokenizers ignores empty added tokens */
    if (id < 0 || id >= (1 << 24))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: added token '%.64s' has id %d outside [0, 2^24)",
                            src, content, (int)id);
    for (int32_t k = 0; k < t->n_added; k++)
        if (strcmp(t->added[k].content, content) == 0)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: added token '%.64s' appears twice", src,
                                content);
    wp_scratch sc = {0};
    size_t bad = 0;
    pare_status s = decode_utf8(content, len, &sc.raw, &bad);
    if (s == PARE_ERR_INVALID) {
        scratch_free(&sc);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: added token '%.64s': invalid UTF-8 at byte %zu",
                            src, content, bad);
    }
    cpvec *pat = &sc.raw;
    if (s == PARE_OK && normalized && !normalize(t, sc.raw.p, sc.raw.n, &sc, &pat)) s = PARE_ERR_OOM;
    if (s == PARE_OK && pat->n == 0) { /* normalizes to nothing: can never match */
        scratch_free(&sc);
        return PARE_OK;
    }
    wp_added *grown = NULL;
    size_t bytes = 0;
    if (s == PARE_OK) {
        grown = pare_arena_alloc(t->arena, sizeof(wp_added) * (size_t)(t->n_added + 1), 8);
        int32_t *cps = pare_mul_size(pat->n, sizeof(int32_t), &bytes)
                           ? pare_arena_alloc(t->arena, bytes, 4)
                           : NULL;
        char *copy = pare_arena_strdup(t->arena, content, len);
        if (!grown || !cps || !copy) {
            s = PARE_ERR_OOM;
        } else {
            if (t->n_added) memcpy(grown, t->added, sizeof(wp_added) * (size_t)t->n_added);
            memcpy(cps, pat->p, bytes);
            grown[t->n_added] = (wp_added){copy, cps, (int32_t)pat->n, id, single_word,
                                           lstrip, rstrip, normalized, special};
            t->added = grown;
            t->n_added++;
            if (normalized) t->has_normalized_added = true;
        }
    }
    scratch_free(&sc);
    if (s != PARE_OK) return pare_err_set(err, s, "%s: out of memory adding '%.64s'", src, content);
    /* ids past the model vocab get their content as token text */
    if (id >= t->n_ids) {
        const char **tk = pare_arena_calloc(t->arena, sizeof(char *) * (size_t)(id + 1), 8);
        uint32_t *tl = pare_arena_calloc(t->arena, sizeof(uint32_t) * (size_t)(id + 1), 4);
        if (!tk || !tl) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", src);
        if (t->n_ids) {
            memcpy(tk, t->tokens, sizeof(char *) * (size_t)t->n_ids);
            memcpy(tl, t->token_len, sizeof(uint32_t) * (size_t)t->n_ids);
        }
        t->tokens = tk;
        t->token_len = tl;
        t->n_ids = id + 1;
    }
    if (!t->tokens[id]) {
        t->tokens[id] = t->added[t->n_added - 1].content;
        t->token_len[id] = (uint32_t)len;
    }
    return PARE_OK;
}

/* ------------------------------------------------------------------ public */

const pare_wordpiece_opts *pare_wordpiece_options(const pare_wordpiece *t) { return &t->opts; }
int32_t pare_wordpiece_vocab_size(const pare_wordpiece *t) { return t->n_ids; }
int32_t pare_wordpiece_cls_id(const pare_wordpiece *t) { return t->cls_id; }
int32_t pare_wordpiece_sep_id(const pare_wordpiece *t) { return t->sep_id; }
int32_t pare_wordpiece_pad_id(const pare_wordpiece *t) { return t->pad_id; }
int32_t pare_wordpiece_unk_id(const pare_wordpiece *t) { return t->unk_id; }

int32_t pare_wordpiece_token_to_id(const pare_wordpiece *t, const char *token) {
    if (!token) return -1;
    for (int32_t k = 0; k < t->n_added; k++)
        if (strcmp(t->added[k].content, token) == 0) return t->added[k].id;
    return pare_wp_lookup(t, "", 0, token, strlen(token));
}

const char *pare_wordpiece_id_to_token(const pare_wordpiece *t, int32_t id) {
    if (id < 0 || id >= t->n_ids) return NULL;
    return t->tokens[id];
}

static pare_status encode_one(const pare_wordpiece *t, const char *text, size_t len,
                              int32_t max_len, int32_t *ids, int32_t *n_ids, wp_scratch *sc,
                              pare_err *err) {
    if (!text && len) return pare_err_set(err, PARE_ERR_INVALID, "pare_wordpiece_encode: text is NULL");
    size_t bad = 0;
    pare_status s = decode_utf8(text ? text : "", len, &sc->raw, &bad);
    if (s == PARE_ERR_INVALID)
        return pare_err_set(err, s, "pare_wordpiece_encode: invalid UTF-8 at byte offset %zu (0x%02x)",
                            bad, (unsigned)(uint8_t)text[bad]);
    if (s != PARE_OK)
        return pare_err_set(err, s, "pare_wordpiece_encode: out of memory for %zu bytes", len);
    wp_out o = {ids, 0, max_len - 1};
    out_push(&o, t->cls_id);
    if (!split_added(t, false, sc->raw.p, sc->raw.n, sc, &o, raw_piece))
        return pare_err_set(err, PARE_ERR_OOM, "pare_wordpiece_encode: out of memory for %zu bytes", len);
    ids[o.n++] = t->sep_id;
    *n_ids = o.n;
    return PARE_OK;
}

static pare_status check_args(const pare_wordpiece *t, int32_t max_len, const void *ids,
                              const void *n, const char *fn, pare_err *err) {
    if (!t || !ids || !n) return pare_err_set(err, PARE_ERR_INVALID, "%s: NULL argument", fn);
    if (max_len < 2)
        return pare_err_set(err, PARE_ERR_INVALID, "%s: max_len %d leaves no room for [CLS] and [SEP]",
                            fn, (int)max_len);
    return PARE_OK;
}

pare_status pare_wordpiece_encode(const pare_wordpiece *t, const char *text, size_t len,
                                  int32_t max_len, int32_t *ids, int32_t *n_ids, pare_err *err) {
    pare_status s = check_args(t, max_len, ids, n_ids, "pare_wordpiece_encode", err);
    if (s != PARE_OK) return s;
    wp_scratch sc = {0};
    s = encode_one(t, text, len, max_len, ids, n_ids, &sc, err);
    scratch_free(&sc);
    return s;
}

pare_status pare_wordpiece_encode_batch(const pare_wordpiece *t, const char *const *texts,
                                        int32_t n, int32_t max_len, bool pad_to_max,
                                        int32_t *ids, int32_t *mask, int32_t *seq_out,
                                        pare_err *err) {
    const char *fn = "pare_wordpiece_encode_batch";
    pare_status s = check_args(t, max_len, ids, seq_out, fn, err);
    if (s != PARE_OK) return s;
    if (!mask || (n > 0 && !texts) || n < 0)
        return pare_err_set(err, PARE_ERR_INVALID, "%s: bad texts/mask/n (n = %d)", fn, (int)n);
    size_t total;
    if (!pare_mul_size((size_t)n, (size_t)max_len, &total))
        return pare_err_set(err, PARE_ERR_INVALID, "%s: %d x %d overflows", fn, (int)n, (int)max_len);
    wp_scratch sc = {0};
    int32_t seq = pad_to_max ? max_len : 0;
    /* encode row i at i * max_len, use mask rows to hold the lengths */
    for (int32_t i = 0; i < n && s == PARE_OK; i++) {
        const char *txt = texts[i] ? texts[i] : "";
        int32_t got = 0;
        s = encode_one(t, txt, strlen(txt), max_len, ids + (size_t)i * (size_t)max_len, &got, &sc, err);
        if (s != PARE_OK) pare_err_wrap(err, "%s: text %d", fn, (int)i);
        mask[(size_t)i * (size_t)max_len] = got;
        if (got > seq) seq = got;
    }
    scratch_free(&sc);
    if (s != PARE_OK) return s;
    /* compact to [n, seq] (seq <= max_len, so rows only move left) and pad */
    for (int32_t i = 0; i < n; i++) {
        int32_t got = mask[(size_t)i * (size_t)max_len];
        int32_t *dst = ids + (size_t)i * (size_t)seq;
        memmove(dst, ids + (size_t)i * (size_t)max_len, sizeof(int32_t) * (size_t)got);
        int32_t *m = mask + (size_t)i * (size_t)seq;
        for (int32_t j = 0; j < seq; j++) {
            if (j >= got) dst[j] = t->pad_id;
            m[j] = j < got;
        }
    }
    *seq_out = seq;
    return PARE_OK;
}
