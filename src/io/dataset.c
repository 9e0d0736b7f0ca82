/* Datasets of labelled texts (TSV, CSV, JSONL through dataset_formats.c)
 * and deterministic splits (see include/pare/dataset.h). The file is read
 * whole; texts point into its copy, or into the JSONL reader's buffer. */
#include "pare/dataset.h"
#include "io/dataset_formats.h"

#include <strings.h>
#include <stdlib.h>
#include <string.h>


static int find_col(char **h, int nh, const char *name) {
    for (int i = 0; i < nh; i++)
        if (!strcmp(h[i], name)) return i;
    return -1;
}

pare_data_format pare_data_format_of(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return PARE_DATA_TSV;
    if (!strcasecmp(dot, ".csv")) return PARE_DATA_CSV;
    if (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".ndjson") || !strcasecmp(dot, ".json")) return PARE_DATA_JSONL;
    return PARE_DATA_TSV;
}

pare_status pare_dataset_load(const char *path, const pare_dataset_opts *o, pare_dataset *d, pare_err *err) {
    memset(d, 0, sizeof *d);
    char *buf;
    size_t len;
    pare_status s = pare_read_file(path, (size_t)1 << 31, &buf, &len, err);
    if (s) return s;
    s = pare_dataset_parse(path, buf, len, o && o->format ? o->format : pare_data_format_of(path), o, d, err);
    free(buf);
    return s;
}

static const char *const format_names[] = {"auto", "TSV", "CSV", "JSONL"};

pare_status pare_dataset_parse(const char *name, const char *data, size_t len, pare_data_format fmt,
                               const pare_dataset_opts *o, pare_dataset *d, pare_err *err) {
    memset(d, 0, sizeof *d);
    const char *text_col = o && o->text_column ? o->text_column : "Tweet";
    if ((unsigned)fmt > PARE_DATA_JSONL) return pare_err_set(err, PARE_ERR_INVALID, "%s: unknown format %d", name, (int)fmt);
    if (fmt == PARE_DATA_AUTO) fmt = PARE_DATA_TSV;
    pare_status s = pare_text_lines(name, &data, &len, err);
    if (s) return s;
    if (memchr(data, 0, len))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: contains NUL bytes; expected UTF-8 %s text", name, format_names[fmt]);
    if (!(d->buf_ = malloc(len + 1))) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    memcpy(d->buf_, data, len);
    d->buf_[len] = 0;
    pare_ds_reader r;
    s = pare_ds_reader_init(&r, name, fmt, d->buf_, len, err);
    if (s) goto fail;
    char *h[PARE_DS_MAX_COLS];
    int nh = pare_ds_header(&r, h, err), tc = nh > 0 ? find_col(h, nh, text_col) : -1;
    if (nh < 0) {
        s = err ? err->code : PARE_ERR_FORMAT;
        goto fail;
    }
    if (tc < 0) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no column named '%s' in the %s", name, text_col,
                         fmt == PARE_DATA_JSONL ? "first object" : "header row");
        goto fail;
    }
    int lc[PARE_DATASET_MAX_LABELS], nl = 0;
    if (o && o->label_columns && o->n_label_columns > 0) {
        if (o->n_label_columns > PARE_DATASET_MAX_LABELS) {
            s = pare_err_set(err, PARE_ERR_INVALID, "%s: %lld label columns, at most %d", name,
                             (long long)o->n_label_columns, PARE_DATASET_MAX_LABELS);
            goto fail;
        }
        for (int64_t i = 0; i < o->n_label_columns; i++) {
            if ((lc[nl] = find_col(h, nh, o->label_columns[i])) < 0) {
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no label column named '%s'", name, o->label_columns[i]);
                goto fail;
            }
            nl++;
        }
    } else {
        for (int i = 0; i < nh; i++) {
            if (i == tc || !strcmp(h[i], "ID") || !strcmp(h[i], "id")) continue;
            if (nl == PARE_DATASET_MAX_LABELS) {
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: more than %d label columns", name, PARE_DATASET_MAX_LABELS);
                goto fail;
            }
            lc[nl++] = i;
        }
    }
    if (nl == 0) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no label columns besides '%s'", name, text_col);
        goto fail;
    }
    bool single = o && o->single_label;
    if (single && nl != 1) {
        s = pare_err_set(err, PARE_ERR_INVALID, "%s: a single-label dataset takes one label column, not %d", name, nl);
        goto fail;
    }
    d->multi_label = !single;
    if (!single) {
        d->n_labels = nl;
        for (int i = 0; i < nl; i++) snprintf(d->label_names[i], sizeof d->label_names[i], "%s", h[lc[i]]);
    }
    /* rows: at most one per line */
    int64_t rows = 1;
    for (size_t i = 0; i < len; i++) rows += data[i] == '\n';
    if (o && o->limit > 0 && rows > o->limit) rows = o->limit;
    d->texts = calloc((size_t)rows, sizeof *d->texts);
    int64_t cap_labels = single ? PARE_DATASET_MAX_LABELS : nl;
    d->labels = calloc((size_t)rows * (size_t)cap_labels, 1);
    if (!d->texts || !d->labels) {
        s = pare_err_set(err, PARE_ERR_OOM, "%s: out of memory for %lld rows", name, (long long)rows);
        goto fail;
    }
    char *f[PARE_DS_MAX_COLS];
    int64_t lineno = 0;
    for (int nf; d->n < rows && (nf = pare_ds_next(&r, f, &lineno, err)) != 0;) {
        if (nf < 0) {
            s = err ? err->code : PARE_ERR_FORMAT;
            goto fail;
        }
        if (nf != nh) {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: %d fields, the header has %d", name, (long long)lineno, nf, nh);
            goto fail;
        }
        uint8_t *y = d->labels + d->n * cap_labels;
        if (single) {
            const char *v = f[lc[0]];
            int64_t k = 0;
            while (k < d->n_labels && strcmp(d->label_names[k], v)) k++;
            if (k == d->n_labels) {
                if (k == PARE_DATASET_MAX_LABELS) {
                    s = pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: more than %d classes", name, (long long)lineno,
                                     PARE_DATASET_MAX_LABELS);
                    goto fail;
                }
                snprintf(d->label_names[k], sizeof d->label_names[k], "%s", v);
                d->n_labels++;
            }
            y[k] = 1;
        } else {
            for (int i = 0; i < nl; i++) {
                const char *v = f[lc[i]];
                if ((v[0] != '0' && v[0] != '1') || v[1]) {
                    s = pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: label column '%s' holds '%.20s', expected 0 or 1",
                                     name, (long long)lineno, h[lc[i]], v);
                    goto fail;
                }
                y[i] = v[0] == '1';
            }
        }
        d->texts[d->n++] = f[tc];
    }
    if (d->n == 0) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no data rows", name);
        goto fail;
    }
    if (single) { /* compact the one-hot rows to n_labels columns */
        for (int64_t i = 0; i < d->n; i++)
            memmove(d->labels + i * d->n_labels, d->labels + i * cap_labels, (size_t)d->n_labels);
    }
    d->buf2_ = r.out; /* JSONL's decoded texts */
    return PARE_OK;
fail:
    pare_ds_reader_free(&r);
    pare_dataset_free(d);
    return s;
}

void pare_dataset_free(pare_dataset *d) {
    free(d->texts);
    free(d->labels);
    free(d->buf_);
    free(d->buf2_);
    memset(d, 0, sizeof *d);
}

void pare_dataset_split(int64_t n, uint64_t seed, const double frac[3], uint8_t *part) {
    int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
    if (!perm) { /* degrade to a contiguous cut rather than fail */
        for (int64_t i = 0; i < n; i++)
            part[i] = (uint8_t)(i < (int64_t)(frac[0] * n) ? 0 : i < (int64_t)((frac[0] + frac[1]) * n) ? 1 : 2);
        return;
    }
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    uint64_t st = seed;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(pare_splitmix64(&st) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int64_t c0 = (int64_t)(frac[0] * (double)n + 0.5), c1 = (int64_t)((frac[0] + frac[1]) * (double)n + 0.5);
    for (int64_t i = 0; i < n; i++) part[perm[i]] = (uint8_t)(i < c0 ? 0 : i < c1 ? 1 : 2);
    free(perm);
}
