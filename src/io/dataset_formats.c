/* Readers of TSV, CSV (RFC 4180) and JSON Lines datasets (see
 * dataset_formats.h). TSV and CSV fields are cut in place; JSONL values
 * are decoded by cJSON into the reader's out buffer, sized up front so
 * pointers into it stay valid. */
#include "io/dataset_formats.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pare_status pare_ds_reader_init(pare_ds_reader *r, const char *name, pare_data_format fmt, char *buf, size_t len,
                                pare_err *err) {
    memset(r, 0, sizeof *r);
    r->name = name;
    r->fmt = fmt;
    r->p = buf;
    r->end = buf + len;
    r->lineno = 1;
    if (fmt != PARE_DATA_JSONL) return PARE_OK;
    /* every decoded key or value is at most its JSON text (escapes only
     * shrink) or, for numbers and booleans, 24 bytes; each one has a ':' */
    size_t colons = 0;
    for (size_t i = 0; i < len; i++) colons += buf[i] == ':';
    if (colons > (SIZE_MAX - len - 64) / 64)
        return pare_err_set(err, PARE_ERR_INVALID, "%s: too large to index", name);
    r->out_cap = len + 64 * colons + 64;
    if (!(r->out = malloc(r->out_cap))) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    return PARE_OK;
}

void pare_ds_reader_free(pare_ds_reader *r) {
    free(r->out);
    r->out = NULL;
}

/* ---- TSV: a record is a line, fields split at tabs */

static char *next_line(pare_ds_reader *r) {
    for (;;) {
        char *line = pare_next_line(&r->p);
        if (!line) return NULL;
        r->lineno++;
        if (*line) return line;
    }
}

static int split_tabs(char *line, char **f) {
    int n = 0;
    while (n < PARE_DS_MAX_COLS) {
        f[n++] = line;
        char *t = strchr(line, '\t');
        if (!t) break;
        *t = 0;
        line = t + 1;
    }
    return n;
}

/* ---- CSV: fields split at commas outside double quotes; a quoted field
 * may hold commas, line breaks and "" for a quote */

static bool blank_line(const char *p, const char *end) {
    while (p < end && *p == '\r') p++;
    return p == end || *p == '\n';
}

/* p past any blank lines, counting them into *lineno */
static char *skip_blank(char *p, const char *end, int64_t *lineno) {
    while (p < end && blank_line(p, end)) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        *lineno += nl != NULL;
        p = nl ? nl + 1 : (char *)end;
    }
    return p;
}

static int next_csv(pare_ds_reader *r, char **f, int64_t *lineno, pare_err *err) {
    r->p = skip_blank(r->p, r->end, &r->lineno);
    if (r->p >= r->end) return 0;
    *lineno = r->lineno;
    char *rd = r->p, *w = r->p;
    int n = 0;
    for (;;) {
        if (n == PARE_DS_MAX_COLS) {
            pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: more than %d fields", r->name, (long long)*lineno, PARE_DS_MAX_COLS);
            return -1;
        }
        f[n++] = w;
        if (rd < r->end && *rd == '"') {
            rd++;
            for (;;) {
                if (rd >= r->end) {
                    pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: a quoted field is not closed", r->name, (long long)*lineno);
                    return -1;
                }
                if (*rd == '"') {
                    if (rd + 1 < r->end && rd[1] == '"') {
                        *w++ = '"';
                        rd += 2;
                        continue;
                    }
                    rd++;
                    break;
                }
                if (*rd == '\n') r->lineno++;
                *w++ = *rd++;
            }
            if (rd < r->end && *rd == '\r' && (rd + 1 == r->end || rd[1] == '\n')) rd++;
            if (rd < r->end && *rd != ',' && *rd != '\n') {
                pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: '%c' after a closing quote; expected a comma or a line end",
                             r->name, (long long)*lineno, *rd);
                return -1;
            }
        } else {
            while (rd < r->end && *rd != ',' && *rd != '\n') {
                if (*rd == '"') {
                    pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: a quote inside an unquoted field", r->name,
                                 (long long)*lineno);
                    return -1;
                }
                *w++ = *rd++;
            }
            if (w > f[n - 1] && w[-1] == '\r' && (rd == r->end || *rd == '\n')) w--;
        }
        const char sep = rd < r->end ? *rd : '\n';
        *w++ = 0; /* w <= rd: the separator (or a quote) made room */
        rd = rd < r->end ? rd + 1 : rd;
        if (sep == '\n') break;
    }
    r->lineno++;
    r->p = rd;
    return n;
}

/* ---- JSONL: one object per line */

static char *out_put(pare_ds_reader *r, const char *s, size_t n) {
    if (r->out_cap - r->out_len < n + 1) return NULL; /* cannot happen with the sizing above */
    char *d = r->out + r->out_len;
    memcpy(d, s, n);
    d[n] = 0;
    r->out_len += n + 1;
    return d;
}

static cJSON *parse_object(pare_ds_reader *r, const char *line, size_t len, int64_t lineno, pare_err *err) {
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: expected one JSON object per line", r->name, (long long)lineno);
        return NULL;
    }
    return o;
}

/* The keys of the first object, without consuming its line. */
static int jsonl_header(pare_ds_reader *r, char **h, pare_err *err) {
    int64_t lineno = r->lineno;
    const char *p = skip_blank(r->p, r->end, &lineno);
    if (p >= r->end) {
        pare_err_set(err, PARE_ERR_FORMAT, "%s: empty file, expected JSON objects", r->name);
        return -1;
    }
    const char *nl = memchr(p, '\n', (size_t)(r->end - p));
    cJSON *o = parse_object(r, p, (size_t)((nl ? nl : r->end) - p), lineno, err);
    if (!o) return -1;
    int n = 0;
    for (cJSON *it = o->child; it; it = it->next) {
        if (n == PARE_DS_MAX_COLS) {
            cJSON_Delete(o);
            pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: more than %d fields", r->name, (long long)lineno, PARE_DS_MAX_COLS);
            return -1;
        }
        h[n] = r->keys[n] = out_put(r, it->string, strlen(it->string));
        n++;
    }
    cJSON_Delete(o);
    r->nkeys = n;
    return n;
}

static int next_jsonl(pare_ds_reader *r, char **f, int64_t *lineno, pare_err *err) {
    char *line = next_line(r);
    if (!line) return 0;
    *lineno = r->lineno - 1;
    cJSON *o = parse_object(r, line, strlen(line), *lineno, err);
    if (!o) return -1;
    for (int k = 0; k < r->nkeys; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, r->keys[k]);
        char num[32];
        const char *s = NULL;
        if (!v) {
            pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: no field '%.40s' (the first line has it)", r->name,
                         (long long)*lineno, r->keys[k]);
        } else if (cJSON_IsString(v)) {
            s = v->valuestring;
        } else if (cJSON_IsBool(v)) {
            s = cJSON_IsTrue(v) ? "1" : "0";
        } else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15) {
            snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
            s = num;
        } else {
            pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: field '%.40s' is not text, an integer or true/false", r->name,
                         (long long)*lineno, r->keys[k]);
        }
        if (!s || !(f[k] = out_put(r, s, strlen(s)))) {
            if (s) pare_err_set(err, PARE_ERR_INTERNAL, "%s:%lld: decoded fields overflow", r->name, (long long)*lineno);
            cJSON_Delete(o);
            return -1;
        }
    }
    cJSON_Delete(o);
    return r->nkeys;
}

int pare_ds_header(pare_ds_reader *r, char **h, pare_err *err) {
    int64_t line;
    switch (r->fmt) {
    case PARE_DATA_JSONL: return jsonl_header(r, h, err);
    case PARE_DATA_CSV: {
        const int n = next_csv(r, h, &line, err);
        if (n == 0) pare_err_set(err, PARE_ERR_FORMAT, "%s: empty file, expected a header row", r->name);
        return n > 0 ? n : -1;
    }
    default: {
        char *hdr = next_line(r);
        if (!hdr) {
            pare_err_set(err, PARE_ERR_FORMAT, "%s: empty file, expected a header row", r->name);
            return -1;
        }
        return split_tabs(hdr, h);
    }
    }
}

int pare_ds_next(pare_ds_reader *r, char **f, int64_t *lineno, pare_err *err) {
    switch (r->fmt) {
    case PARE_DATA_JSONL: return next_jsonl(r, f, lineno, err);
    case PARE_DATA_CSV: return next_csv(r, f, lineno, err);
    default: {
        char *line = next_line(r);
        if (!line) return 0;
        *lineno = r->lineno - 1;
        return split_tabs(line, f);
    }
    }
}
