/* TSV datasets of labelled texts and deterministic splits (see
 * include/pare/dataset.h). The file is read whole; texts point into it. */
#include "pare/dataset.h"

#include <stdlib.h>
#include <string.h>


/* Split a line at tabs in place: up to cap fields, returns their count. */
static int split_tabs(char *line, char **f, int cap) {
    int n = 0;
    while (n < cap) {
        f[n++] = line;
        char *t = strchr(line, '\t');
        if (!t) break;
        *t = 0;
        line = t + 1;
    }
    return n;
}

#define MAX_COLS 256

static int find_col(char **h, int nh, const char *name) {
    for (int i = 0; i < nh; i++)
        if (!strcmp(h[i], name)) return i;
    return -1;
}

pare_status pare_dataset_load_tsv(const char *path, const pare_dataset_opts *o, pare_dataset *d,
                                  pare_err *err) {
    memset(d, 0, sizeof *d);
    const char *text_col = o && o->text_column ? o->text_column : "Tweet";
    size_t len;
    pare_status s = pare_read_file(path, (size_t)1 << 31, &d->buf_, &len, err);
    if (s) return s;
    if (memchr(d->buf_, 0, len)) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: contains NUL bytes; expected UTF-8 TSV text", path);
        goto fail;
    }
    char *p = d->buf_, *hdr = pare_next_line(&p), *h[MAX_COLS];
    if (!hdr) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: empty file, expected a header row", path);
        goto fail;
    }
    int nh = split_tabs(hdr, h, MAX_COLS), tc = find_col(h, nh, text_col);
    if (tc < 0) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no column named '%s' in the header row", path, text_col);
        goto fail;
    }
    int lc[PARE_DATASET_MAX_LABELS], nl = 0;
    if (o && o->label_columns && o->n_label_columns > 0) {
        if (o->n_label_columns > PARE_DATASET_MAX_LABELS) {
            s = pare_err_set(err, PARE_ERR_INVALID, "%s: %lld label columns, at most %d", path,
                             (long long)o->n_label_columns, PARE_DATASET_MAX_LABELS);
            goto fail;
        }
        for (int64_t i = 0; i < o->n_label_columns; i++) {
            if ((lc[nl] = find_col(h, nh, o->label_columns[i])) < 0) {
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no label column named '%s' in the header row", path,
                                 o->label_columns[i]);
                goto fail;
            }
            nl++;
        }
    } else {
        for (int i = 0; i < nh; i++) {
            if (i == tc || !strcmp(h[i], "ID") || !strcmp(h[i], "id")) continue;
            if (nl == PARE_DATASET_MAX_LABELS) {
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: more than %d label columns", path, PARE_DATASET_MAX_LABELS);
                goto fail;
            }
            lc[nl++] = i;
        }
    }
    if (nl == 0) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no label columns besides '%s'", path, text_col);
        goto fail;
    }
    bool single = o && o->single_label;
    if (single && nl != 1) {
        s = pare_err_set(err, PARE_ERR_INVALID, "%s: a single-label dataset takes one label column, not %d", path, nl);
        goto fail;
    }
    d->multi_label = !single;
    if (!single) {
        d->n_labels = nl;
        for (int i = 0; i < nl; i++) snprintf(d->label_names[i], sizeof d->label_names[i], "%s", h[lc[i]]);
    }
    /* count rows for the arrays */
    int64_t rows = 0;
    for (const char *q = p; *q; q++) rows += *q == '\n';
    rows++;
    if (o && o->limit > 0 && rows > o->limit) rows = o->limit;
    d->texts = calloc((size_t)rows, sizeof *d->texts);
    int64_t cap_labels = single ? PARE_DATASET_MAX_LABELS : nl;
    d->labels = calloc((size_t)rows * (size_t)cap_labels, 1);
    if (!d->texts || !d->labels) {
        s = pare_err_set(err, PARE_ERR_OOM, "%s: out of memory for %lld rows", path, (long long)rows);
        goto fail;
    }
    char *line, *f[MAX_COLS];
    for (int64_t lineno = 2; d->n < rows && (line = pare_next_line(&p)); lineno++) {
        if (!*line) continue;
        int nf = split_tabs(line, f, MAX_COLS);
        if (nf != nh) {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: %d fields, the header has %d", path,
                             (long long)lineno, nf, nh);
            goto fail;
        }
        uint8_t *y = d->labels + d->n * cap_labels;
        if (single) {
            const char *v = f[lc[0]];
            int64_t k = 0;
            while (k < d->n_labels && strcmp(d->label_names[k], v)) k++;
            if (k == d->n_labels) {
                if (k == PARE_DATASET_MAX_LABELS) {
                    s = pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: more than %d classes", path,
                                     (long long)lineno, PARE_DATASET_MAX_LABELS);
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
                                     path, (long long)lineno, h[lc[i]], v);
                    goto fail;
                }
                y[i] = v[0] == '1';
            }
        }
        d->texts[d->n++] = f[tc];
    }
    if (d->n == 0) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no data rows", path);
        goto fail;
    }
    if (single) { /* compact the one-hot rows to n_labels columns */
        for (int64_t r = 0; r < d->n; r++)
            memmove(d->labels + r * d->n_labels, d->labels + r * cap_labels, (size_t)d->n_labels);
    }
    return PARE_OK;
fail:
    pare_dataset_free(d);
    return s;
}

void pare_dataset_free(pare_dataset *d) {
    free(d->texts);
    free(d->labels);
    free(d->buf_);
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
