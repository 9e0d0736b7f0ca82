/* Loading a WordPiece tokenizer: tokenizer.json (Hugging Face tokenizers),
 * or vocab.txt (one token per line, id = line index) with the options of
 * tokenizer_config.json (transformers' BertTokenizer). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "pare/io.h"
#include "tokenize/bert_unicode.h"
#include "tokenize/wordpiece_impl.h"

#define WP_MAX_FILE ((size_t)512 << 20)

static pare_wordpiece_opts default_opts(void) {
    pare_wordpiece_opts o = {.clean_text = true,
                             .handle_chinese_chars = true,
                             .strip_accents = -1,
                             .lowercase = true,
                             .max_input_chars_per_word = 100};
    strcpy(o.continuing_prefix, "##");
    return o;
}

/* ------------------------------------------------------------------ vocab.txt */

typedef struct special_names {
    const char *cls, *sep, *pad, *unk, *mask;
} special_names;

/* Length of s[0..len) without trailing White_Space (Rust str::trim_end). */
static size_t trim_end(const char *s, size_t len) {
    while (len > 0) {
        size_t st = len - 1;
        while (st > 0 && ((uint8_t)s[st] & 0xC0) == 0x80 && len - st < 4) st--;
        utf8proc_int32_t cp;
        if (utf8proc_iterate((const uint8_t *)s + st, (utf8proc_ssize_t)(len - st), &cp) !=
                (utf8proc_ssize_t)(len - st) ||
            !pare_bert_is_whitespace(cp))
            break;
        len = st;
    }
    return len;
}

static bool valid_utf8(const char *s, size_t len, size_t *bad) {
    size_t i = 0;
    while (i < len) {
        if ((uint8_t)s[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        size_t rem = len - i;
        utf8proc_ssize_t k =
            utf8proc_iterate((const uint8_t *)s + i, rem > 4 ? 4 : (utf8proc_ssize_t)rem, &cp);
        if (k <= 0) {
            *bad = i;
            return false;
        }
        i += (size_t)k;
    }
    return true;
}

static pare_status add_special(pare_wordpiece *t, const char *name, const char *key, bool required,
                               int32_t *id_out, const char *src, pare_err *err) {
    int32_t id = pare_wp_lookup(t, "", 0, name, strlen(name));
    if (id < 0) {
        if (!required) return PARE_OK;
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: special token %s '%s' is not in the vocab", src,
                            key, name);
    }
    if (id_out) *id_out = id;
    return pare_wp_add_token(t, name, id, true, false, false, false, false, src, err);
}

static pare_status from_vocab_txt(const char *vocab, size_t len, const pare_wordpiece_opts *opts,
                                  const special_names *sn, const char *src, pare_wordpiece **out,
                                  pare_err *err) {
    *out = NULL;
    if (!vocab && len) return pare_err_set(err, PARE_ERR_INVALID, "%s: vocab buffer is NULL", src);
    size_t n_lines = 0;
    for (size_t i = 0; i < len; i++) n_lines += vocab[i] == '\n';
    if (len && vocab[len - 1] != '\n') n_lines++;
    if (n_lines == 0) return pare_err_set(err, PARE_ERR_FORMAT, "%s: the vocab is empty", src);
    if (n_lines >= (1u << 24))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: %zu lines, more than 2^24 tokens", src, n_lines);
    const char **toks = malloc(sizeof(char *) * n_lines);
    size_t *lens = malloc(sizeof(size_t) * n_lines);
    pare_wordpiece *t = NULL;
    pare_status s = PARE_OK;
    if (!toks || !lens) {
        s = pare_err_set(err, PARE_ERR_OOM, "%s: out of memory for %zu lines", src, n_lines);
        goto done;
    }
    size_t n = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(vocab + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - vocab) : len;
        size_t bad = 0;
        if (!valid_utf8(vocab + pos, end - pos, &bad)) {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: line %zu: invalid UTF-8 at byte offset %zu", src,
                             n + 1, pos + bad);
            goto done;
        }
        toks[n] = vocab + pos;
        lens[n] = trim_end(vocab + pos, end - pos);
        n++;
        pos = end + 1;
    }
    s = pare_wp_create(opts, &t, err);
    if (s == PARE_OK) s = pare_wp_set_vocab(t, toks, lens, NULL, (int32_t)n, src, err);
    if (s == PARE_OK) s = add_special(t, sn->pad, "pad_token", true, &t->pad_id, src, err);
    if (s == PARE_OK) s = add_special(t, sn->unk, "unk_token", true, &t->unk_id, src, err);
    if (s == PARE_OK) s = add_special(t, sn->cls, "cls_token", true, &t->cls_id, src, err);
    if (s == PARE_OK) s = add_special(t, sn->sep, "sep_token", true, &t->sep_id, src, err);
    if (s == PARE_OK) s = add_special(t, sn->mask, "mask_token", false, NULL, src, err);
done:
    free(toks);
    free(lens);
    if (s != PARE_OK) {
        pare_wordpiece_free(t);
        return s;
    }
    *out = t;
    return PARE_OK;
}

pare_status pare_wordpiece_from_vocab(const char *vocab, size_t len,
                                      const pare_wordpiece_opts *opts, pare_wordpiece **out,
                                      pare_err *err) {
    if (!out) return pare_err_set(err, PARE_ERR_INVALID, "pare_wordpiece_from_vocab: out is NULL");
    special_names sn = {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"};
    pare_wordpiece_opts o = opts ? *opts : default_opts();
    return from_vocab_txt(vocab, len, &o, &sn, "vocab.txt", out, err);
}

/* ------------------------------------------------------------------ JSON helpers */

/* Optional bool: missing keeps *v; null sets *is_null when given. */
static pare_status json_bool(const cJSON *obj, const char *key, bool *v, bool *is_null,
                             const char *src, const char *where, pare_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) return PARE_OK;
    if (cJSON_IsBool(it)) {
        *v = cJSON_IsTrue(it);
        if (is_null) *is_null = false;
        return PARE_OK;
    }
    if (cJSON_IsNull(it) && is_null) {
        *is_null = true;
        return PARE_OK;
    }
    return pare_err_set(err, PARE_ERR_FORMAT, "%s: %s%s is not a boolean", src, where, key);
}

/* Optional string; a {"content": "..."} object is accepted too. */
static pare_status json_str(const cJSON *obj, const char *key, const char **v, const char *src,
                            const char *where, pare_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return PARE_OK;
    if (cJSON_IsObject(it)) it = cJSON_GetObjectItemCaseSensitive(it, "content");
    if (!cJSON_IsString(it))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: %s%s is not a string", src, where, key);
    *v = it->valuestring;
    return PARE_OK;
}

static bool json_int(const cJSON *it, int64_t lo, int64_t hi, int64_t *v) {
    if (!cJSON_IsNumber(it)) return false;
    double d = it->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d) return false;
    *v = (int64_t)d;
    return true;
}

/* ------------------------------------------------------------------ tokenizer.json */

static pare_status json_normalizer(const cJSON *root, pare_wordpiece_opts *o, const char *src,
                                   pare_err *err) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (!n || cJSON_IsNull(n)) {
        o->clean_text = o->handle_chinese_chars = o->lowercase = false;
        o->strip_accents = 0;
        return PARE_OK;
    }
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(n, "type");
    if (!cJSON_IsObject(n) || !cJSON_IsString(ty))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: normalizer.type is missing", src);
    if (strcmp(ty->valuestring, "BertNormalizer") != 0)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: normalizer.type '%s' is not supported "
                            "(only BertNormalizer)", src, ty->valuestring);
    bool strip = false, strip_null = true;
    pare_status s = json_bool(n, "clean_text", &o->clean_text, NULL, src, "normalizer.", err);
    if (!s) s = json_bool(n, "handle_chinese_chars", &o->handle_chinese_chars, NULL, src, "normalizer.", err);
    if (!s) s = json_bool(n, "lowercase", &o->lowercase, NULL, src, "normalizer.", err);
    if (!s) s = json_bool(n, "strip_accents", &strip, &strip_null, src, "normalizer.", err);
    o->strip_accents = strip_null ? -1 : strip;
    return s;
}

static pare_status json_model(const cJSON *root, pare_wordpiece_opts *o, const char **unk,
                              const cJSON **vocab, const char *src, pare_err *err) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(m)) return pare_err_set(err, PARE_ERR_FORMAT, "%s: model is missing", src);
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(m, "type");
    if (ty && (!cJSON_IsString(ty) || strcmp(ty->valuestring, "WordPiece") != 0))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: model.type '%s' is not supported (only WordPiece)",
                            src, cJSON_IsString(ty) ? ty->valuestring : "?");
    *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if (!cJSON_IsObject(*vocab))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: model.vocab is missing or not an object", src);
    pare_status s = json_str(m, "unk_token", unk, src, "model.", err);
    const char *prefix = "##";
    if (!s) s = json_str(m, "continuing_subword_prefix", &prefix, src, "model.", err);
    if (s) return s;
    if (strlen(prefix) >= sizeof o->continuing_prefix)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: model.continuing_subword_prefix '%.32s' is "
                            "longer than 7 bytes", src, prefix);
    strcpy(o->continuing_prefix, prefix);
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(m, "max_input_chars_per_word");
    if (mx) {
        int64_t v;
        if (!json_int(mx, 1, INT64_MAX / 2, &v))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: model.max_input_chars_per_word is not a "
                                "positive integer", src);
        o->max_input_chars_per_word = v > INT32_MAX ? INT32_MAX : (int32_t)v;
    }
    return PARE_OK;
}

static pare_status json_vocab(pare_wordpiece *t, const cJSON *vocab, const char *src, pare_err *err) {
    int n = cJSON_GetArraySize(vocab);
    if (n <= 0) return pare_err_set(err, PARE_ERR_FORMAT, "%s: model.vocab is empty", src);
    const char **toks = malloc(sizeof(char *) * (size_t)n);
    size_t *lens = malloc(sizeof(size_t) * (size_t)n);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    pare_status s = PARE_OK;
    if (!toks || !lens || !ids) {
        s = pare_err_set(err, PARE_ERR_OOM, "%s: out of memory for %d tokens", src, n);
        goto done;
    }
    int i = 0;
    for (const cJSON *it = vocab->child; it && i < n; it = it->next, i++) {
        int64_t id;
        size_t bad = 0;
        if (!json_int(it, 0, (1 << 24) - 1, &id)) {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: model.vocab['%.64s'] is not an id in [0, 2^24)",
                             src, it->string);
            goto done;
        }
        if (!valid_utf8(it->string, strlen(it->string), &bad)) {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: model.vocab key %d is not valid UTF-8", src, i);
            goto done;
        }
        toks[i] = it->string;
        lens[i] = strlen(it->string);
        ids[i] = (int32_t)id;
    }
    s = pare_wp_set_vocab(t, toks, lens, ids, i, src, err);
done:
    free(toks);
    free(lens);
    free(ids);
    return s;
}

static pare_status json_added(pare_wordpiece *t, const cJSON *root, const char *src, pare_err *err) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!arr || cJSON_IsNull(arr)) return PARE_OK;
    if (!cJSON_IsArray(arr)) return pare_err_set(err, PARE_ERR_FORMAT, "%s: added_tokens is not an array", src);
    int k = 0;
    for (const cJSON *a = arr->child; a; a = a->next, k++) {
        char where[48];
        snprintf(where, sizeof where, "added_tokens[%d].", k);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(a, "content");
        int64_t id;
        if (!cJSON_IsString(c))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: %scontent is not a string", src, where);
        if (!json_int(cJSON_GetObjectItemCaseSensitive(a, "id"), 0, (1 << 24) - 1, &id))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: %sid is not an id in [0, 2^24)", src, where);
        bool special = false, single = false, ls = false, rs = false, norm;
        pare_status s = json_bool(a, "special", &special, NULL, src, where, err);
        norm = !special;
        if (!s) s = json_bool(a, "single_word", &single, NULL, src, where, err);
        if (!s) s = json_bool(a, "lstrip", &ls, NULL, src, where, err);
        if (!s) s = json_bool(a, "rstrip", &rs, NULL, src, where, err);
        if (!s) s = json_bool(a, "normalized", &norm, NULL, src, where, err);
        if (!s) s = pare_wp_add_token(t, c->valuestring, (int32_t)id, special, single, ls, rs, norm, src, err);
        if (s) return s;
    }
    return PARE_OK;
}

/* Id of a special token named in the post-processor. */
static pare_status template_special(const cJSON *pp, const cJSON *piece, int32_t *id, const char *src,
                                    const char *which, pare_err *err) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(piece, "SpecialToken");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(st, "id");
    if (!cJSON_IsString(name))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: post_processor.single: the %s piece is not a "
                            "SpecialToken", src, which);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(pp, "special_tokens"), name->valuestring);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(sp, "ids");
    int64_t v;
    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) != 1 ||
        !json_int(cJSON_GetArrayItem(ids, 0), 0, (1 << 24) - 1, &v))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: post_processor.special_tokens['%.64s'].ids is not "
                            "one id", src, name->valuestring);
    *id = (int32_t)v;
    return PARE_OK;
}

static pare_status json_post(pare_wordpiece *t, const cJSON *root, const char *src, pare_err *err) {
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pp, "type");
    if (!cJSON_IsString(ty))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: post_processor is missing: no [CLS]/[SEP]", src);
    if (strcmp(ty->valuestring, "TemplateProcessing") == 0) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
        if (!cJSON_IsArray(single) || cJSON_GetArraySize(single) != 3 ||
            !cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(single, 1), "Sequence"))
            return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: post_processor.single is not "
                                "[special, sequence, special]", src);
        pare_status s = template_special(pp, cJSON_GetArrayItem(single, 0), &t->cls_id, src, "first", err);
        if (!s) s = template_special(pp, cJSON_GetArrayItem(single, 2), &t->sep_id, src, "last", err);
        return s;
    }
    if (strcmp(ty->valuestring, "BertProcessing") == 0) {
        const char *keys[2] = {"cls", "sep"};
        int32_t *dst[2] = {&t->cls_id, &t->sep_id};
        for (int i = 0; i < 2; i++) {
            const cJSON *pair = cJSON_GetObjectItemCaseSensitive(pp, keys[i]);
            int64_t v;
            if (!cJSON_IsArray(pair) || !json_int(cJSON_GetArrayItem(pair, 1), 0, (1 << 24) - 1, &v))
                return pare_err_set(err, PARE_ERR_FORMAT, "%s: post_processor.%s is not [token, id]", src,
                                    keys[i]);
            *dst[i] = (int32_t)v;
        }
        return PARE_OK;
    }
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: post_processor.type '%s' is not supported", src,
                        ty->valuestring);
}

static pare_status tokenizer_from_root(const cJSON *root, const char *src, pare_wordpiece **out,
                                       pare_err *err) {
    pare_wordpiece *t = NULL;
    pare_wordpiece_opts o = default_opts();
    const char *unk = "[UNK]";
    const cJSON *vocab = NULL;
    pare_status s = json_normalizer(root, &o, src, err);
    if (!s) {
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pt, "type");
        if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "BertPreTokenizer") != 0)
            s = pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: pre_tokenizer.type '%s' is not supported "
                             "(only BertPreTokenizer)", src, cJSON_IsString(ty) ? ty->valuestring : "null");
    }
    if (!s) s = json_model(root, &o, &unk, &vocab, src, err);
    if (!s) s = pare_wp_create(&o, &t, err);
    if (!s) s = json_vocab(t, vocab, src, err);
    if (!s) s = json_added(t, root, src, err);
    if (!s) s = json_post(t, root, src, err);
    if (!s) {
        t->unk_id = pare_wp_lookup(t, "", 0, unk, strlen(unk));
        if (t->unk_id < 0)
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: model.unk_token '%.64s' is not in model.vocab", src, unk);
    }
    if (!s) {
        int64_t v;
        const cJSON *pad = cJSON_GetObjectItemCaseSensitive(root, "padding");
        if (json_int(cJSON_GetObjectItemCaseSensitive(pad, "pad_id"), 0, (1 << 24) - 1, &v))
            t->pad_id = (int32_t)v;
        else
            t->pad_id = pare_wordpiece_token_to_id(t, "[PAD]");
        if (t->pad_id < 0)
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no padding.pad_id and no [PAD] token", src);
    }
    if (!s) {
        const int32_t ids[4] = {t->cls_id, t->sep_id, t->pad_id, t->unk_id};
        const char *names[4] = {"[CLS] (post_processor)", "[SEP] (post_processor)",
                                "[PAD] (padding.pad_id)", "[UNK] (model.unk_token)"};
        for (int i = 0; i < 4 && !s; i++)
            if (!pare_wordpiece_id_to_token(t, ids[i]))
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: %s id %d is not a token", src, names[i],
                                 (int)ids[i]);
    }
    if (s) {
        pare_wordpiece_free(t);
        return s;
    }
    *out = t;
    return PARE_OK;
}

pare_status pare_wordpiece_from_json(const char *json, size_t len, const char *name,
                                     pare_wordpiece **out, pare_err *err) {
    if (!out) return pare_err_set(err, PARE_ERR_INVALID, "pare_wordpiece_from_json: out is NULL");
    *out = NULL;
    if (!name) name = "tokenizer.json";
    pare_json *j = NULL;
    pare_status s = pare_json_parse(json, len, name, &j, err);
    if (s) return s;
    s = tokenizer_from_root(pare_json_root(j), name, out, err);
    pare_json_free(j);
    return s;
}

static pare_status load_tokenizer_json(const char *path, pare_wordpiece **out, pare_err *err) {
    char *buf = NULL;
    size_t len = 0;
    pare_status s = pare_read_file(path, WP_MAX_FILE, &buf, &len, err);
    if (s) return s;
    s = pare_wordpiece_from_json(buf, len, path, out, err);
    free(buf);
    return s;
}

/* ------------------------------------------------------------------ vocab.txt + config */

static pare_status load_vocab_dir(const char *vocab_path, const char *config_path,
                                  pare_wordpiece **out, pare_err *err) {
    pare_wordpiece_opts o = default_opts();
    special_names sn = {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"};
    pare_json *j = NULL;
    const cJSON *cfg = NULL;
    struct stat st;
    pare_status s = PARE_OK;
    if (config_path && stat(config_path, &st) == 0) {
        s = pare_json_open(config_path, &j, err);
        if (s) return s;
        cfg = pare_json_root(j);
        bool strip = false, strip_null = true;
        s = json_bool(cfg, "do_lower_case", &o.lowercase, NULL, config_path, "", err);
        if (!s) s = json_bool(cfg, "tokenize_chinese_chars", &o.handle_chinese_chars, NULL, config_path, "", err);
        if (!s) s = json_bool(cfg, "strip_accents", &strip, &strip_null, config_path, "", err);
        o.strip_accents = strip_null ? -1 : strip;
        if (!s) s = json_str(cfg, "cls_token", &sn.cls, config_path, "", err);
        if (!s) s = json_str(cfg, "sep_token", &sn.sep, config_path, "", err);
        if (!s) s = json_str(cfg, "pad_token", &sn.pad, config_path, "", err);
        if (!s) s = json_str(cfg, "unk_token", &sn.unk, config_path, "", err);
        if (!s) s = json_str(cfg, "mask_token", &sn.mask, config_path, "", err);
    }
    char *buf = NULL;
    size_t len = 0;
    if (!s) s = pare_read_file(vocab_path, WP_MAX_FILE, &buf, &len, err);
    if (!s) s = from_vocab_txt(buf, len, &o, &sn, vocab_path, out, err);
    free(buf);
    pare_json_free(j);
    return s;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

pare_status pare_wordpiece_load(const char *path, pare_wordpiece **out, pare_err *err) {
    if (!path || !out) return pare_err_set(err, PARE_ERR_INVALID, "pare_wordpiece_load: NULL argument");
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return pare_err_set(err, PARE_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    char a[4096], b[4096];
    if (S_ISDIR(st.st_mode)) {
        snprintf(a, sizeof a, "%s/tokenizer.json", path);
        if (stat(a, &st) == 0) return load_tokenizer_json(a, out, err);
        snprintf(a, sizeof a, "%s/vocab.txt", path);
        snprintf(b, sizeof b, "%s/tokenizer_config.json", path);
        if (stat(a, &st) != 0)
            return pare_err_set(err, PARE_ERR_IO, "%s: no tokenizer.json or vocab.txt in the folder", path);
        return load_vocab_dir(a, b, out, err);
    }
    if (ends_with(path, ".json")) return load_tokenizer_json(path, out, err);
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(b, sizeof b, "%.*s/tokenizer_config.json", (int)(slash - path), path);
    else snprintf(b, sizeof b, "tokenizer_config.json");
    return load_vocab_dir(path, b, out, err);
}
