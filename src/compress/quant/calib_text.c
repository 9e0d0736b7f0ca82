/* Calibration sequences from a text file (include/pare/wquant.h). */
#include "pare/bpe.h"
#include "pare/gguf.h"
#include "pare/wquant.h"

#include <stdlib.h>
#include <string.h>

/* Offset of the first byte that breaks UTF-8 (or is NUL), or len. */
static size_t utf8_bad_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (c == 0 || n == 0 || (n == 2 && c < 0xC2) || i + n > len) return i;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += n;
    }
    return len;
}

/* Windows of seq_len over the n ids (takes ids): as for text. */
static pare_status windows(int32_t *ids, int64_t n, int64_t n_seq, int64_t seq_len, int32_t bos, const char *path,
                           int32_t **out, int64_t *n_got, pare_err *err) {
    if (n < seq_len) {
        free(ids);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: the calibration text is too short: %lld tokens, a sequence needs %lld",
                            path, (long long)n, (long long)seq_len);
    }
    int64_t k = n / seq_len < n_seq ? n / seq_len : n_seq;
    int32_t *dst = malloc(sizeof(int32_t) * (size_t)(k * seq_len));
    if (!dst) {
        free(ids);
        return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    const int64_t step = n / k; /* >= seq_len */
    for (int64_t q = 0; q < k; q++) {
        memcpy(dst + q * seq_len, ids + q * step, sizeof(int32_t) * (size_t)seq_len);
        if (bos >= 0) dst[q * seq_len] = bos;
    }
    free(ids);
    *out = dst;
    *n_got = k;
    return PARE_OK;
}

static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Token ids written as decimal numbers separated by white space, each
 * below n_vocab. */
static pare_status read_ids(const char *path, int64_t n_vocab, int32_t **out, int64_t *n_out, pare_err *err) {
    char *text;
    size_t len;
    pare_status s = pare_read_file(path, (size_t)1 << 30, &text, &len, err);
    if (s) return s;
    int64_t n = 0, cap = 0;
    int32_t *ids = NULL;
    for (size_t i = 0; i < len;) {
        if (is_space(text[i])) {
            i++;
            continue;
        }
        int64_t v = 0;
        size_t j = i;
        for (; j < len && text[j] >= '0' && text[j] <= '9'; j++)
            if (v <= n_vocab) v = v * 10 + (text[j] - '0'); /* past the vocabulary: stop growing */
        bool end = j == len || is_space(text[j]);
        if (j == i || !end || v >= n_vocab) {
            free(text);
            free(ids);
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: byte %zu: %s", path, i,
                                j == i || !end ? "not a token id (decimal numbers separated by white space)"
                                               : "token id beyond the vocabulary");
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            int32_t *p = realloc(ids, sizeof(int32_t) * (size_t)cap);
            if (!p) {
                free(text);
                free(ids);
                return pare_err_set(err, PARE_ERR_OOM, "out of memory");
            }
            ids = p;
        }
        ids[n++] = (int32_t)v;
        i = j;
    }
    free(text);
    if (n == 0) {
        free(ids);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: the calibration file is empty", path);
    }
    *out = ids;
    *n_out = n;
    return PARE_OK;
}

pare_status pare_calib_text_tokens(const pare_bpe *tok, const char *path, int64_t n_seq, int64_t seq_len,
                                   int32_t **out, int64_t *n_got, pare_err *err) {
    *out = NULL;
    *n_got = 0;
    if (n_seq <= 0 || seq_len < 2)
        return pare_err_set(err, PARE_ERR_INVALID, "calibration: %lld sequences of %lld tokens is not a calibration set",
                            (long long)n_seq, (long long)seq_len);
    char *text;
    size_t len;
    pare_status s = pare_read_file(path, (size_t)1 << 31, &text, &len, err);
    if (s) return s;
    size_t bad = utf8_bad_at((const unsigned char *)text, len);
    if (len == 0) {
        free(text);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: the calibration file is empty", path);
    }
    if (bad < len) {
        const bool nul = text[bad] == 0;
        free(text);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: not a text file: byte %zu is %s", path, bad,
                            nul ? "NUL" : "not valid UTF-8");
    }
    /* ~4 bytes a token: tokenize only the part the windows can use, cut at a line end */
    size_t use = len;
    const double need = 8.0 * (double)n_seq * (double)seq_len;
    if ((double)use > need) {
        use = (size_t)need;
        while (use < len && text[use] != '\n') use++;
    }
    int32_t *ids = NULL;
    int64_t n = 0;
    s = pare_bpe_encode(tok, text, use, false, &ids, &n, err);
    free(text);
    if (s) return pare_err_wrap(err, "%s", path);
    return windows(ids, n, n_seq, seq_len, pare_bpe_add_bos(tok) ? pare_bpe_bos(tok) : -1, path, out, n_got, err);
}

pare_status pare_calib_gguf_tokens(const char *model, const char *path, int64_t n_seq, int64_t seq_len, int32_t **out,
                                   int64_t *n_got, pare_err *err) {
    *out = NULL;
    *n_got = 0;
    pare_gguf *g = NULL;
    pare_bpe *tok = NULL;
    pare_status s = pare_gguf_open(model, &g, err);
    const size_t pl = strlen(path);
    if (!s && pl > 4 && !strcmp(path + pl - 4, ".ids")) { /* pre-tokenized */
        int64_t at;
        uint64_t n_vocab = 0;
        int32_t *ids = NULL;
        int64_t n = 0, bos = -1;
        bool add_bos = false;
        if (n_seq <= 0 || seq_len < 2)
            s = pare_err_set(err, PARE_ERR_INVALID, "calibration: %lld sequences of %lld tokens is not a calibration set",
                             (long long)n_seq, (long long)seq_len);
        if (!s) s = pare_gguf_get_arr(g, "tokenizer.ggml.tokens", PARE_GGUF_STRING, &at, &n_vocab, err);
        if (!s && n_vocab == 0) s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no tokenizer.ggml.tokens", model);
        if (!s) s = pare_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", false, &add_bos, err);
        if (!s) s = pare_gguf_get_int(g, "tokenizer.ggml.bos_token_id", -1, -1, (int64_t)n_vocab - 1, &bos, err);
        if (!s) s = read_ids(path, (int64_t)n_vocab, &ids, &n, err);
        if (!s) s = windows(ids, n, n_seq, seq_len, add_bos ? (int32_t)bos : -1, path, out, n_got, err);
        pare_gguf_close(g);
        return s;
    }
    if (!s) s = pare_bpe_from_gguf(g, &tok, err);
    if (!s) s = pare_calib_text_tokens(tok, path, n_seq, seq_len, out, n_got, err);
    pare_bpe_free(tok);
    pare_gguf_close(g);
    return s;
}
