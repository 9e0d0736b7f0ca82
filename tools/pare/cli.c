#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

const char *cli_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "pare: option %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

bool cli_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "pare: %s wants a whole number in [%lld, %lld], got '%s'\n", opt,
                (long long)lo, (long long)hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_float(const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(v)) {
        fprintf(stderr, "pare: %s wants a finite number, got '%s'\n", opt, s);
        return false;
    }
    *out = v;
    return true;
}

int cli_common_option(cli_common *c, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
        const char *v = cli_value(argc, argv, i);
        int64_t n;
        if (!v || !cli_parse_int("--threads", v, 1, 1024, &n)) return -1;
        c->n_threads = (int)n;
        return 1;
    }
    if (!strcmp(a, "--kernel")) {
        const char *v = cli_value(argc, argv, i);
        if (!v) return -1;
        if (!pare_kernel_impl_parse(v, &c->kernel)) {
            fprintf(stderr, "pare: --kernel wants auto, ref, blas, avx2 or avx512, got '%s'\n", v);
            return -1;
        }
        return 1;
    }
    if (!strcmp(a, "--json")) {
        c->json = true;
        return 1;
    }
    if (!strcmp(a, "--force")) {
        c->force = true;
        return 1;
    }
    if (!strcmp(a, "--no-sparse")) {
        c->no_sparse = true;
        return 1;
    }
    if (!strcmp(a, "--sparse-min")) {
        const char *v = cli_value(argc, argv, i);
        if (!v || !cli_parse_float("--sparse-min", v, &c->sparse_min)) return -1;
        if (!(c->sparse_min > 0 && c->sparse_min <= 1)) {
            fprintf(stderr, "pare: --sparse-min wants a fraction in (0, 1], got '%s'\n", v);
            return -1;
        }
        return 1;
    }
    return 0;
}

int cli_texts_add(cli_texts *t, const char *s) {
    if (t->n == t->cap) {
        int64_t cap = t->cap ? t->cap * 2 : 16;
        char **items = realloc(t->items, sizeof *items * (size_t)cap);
        if (!items) return -1;
        t->items = items;
        t->cap = cap;
    }
    t->items[t->n++] = (char *)s;
    return 0;
}


/* Field k (0-based) of a TSV line, cut in place; NULL if absent. */
static char *tsv_field(char *line, int k) {
    for (int i = 0; i < k; i++) {
        line = strchr(line, '\t');
        if (!line) return NULL;
        line++;
    }
    char *tab = strchr(line, '\t');
    if (tab) *tab = 0;
    return line;
}

pare_status cli_texts_load_file(cli_texts *t, const char *path, const char *column, int64_t limit,
                                pare_err *err) {
    char *buf;
    size_t len;
    pare_status s = pare_read_file(path, (size_t)1 << 31, &buf, &len, err);
    if (s) return s;
    const char *start = buf;
    if ((s = pare_text_lines(path, &start, &len, err))) {
        free(buf);
        return s;
    }
    if (memchr(start, 0, len)) {
        free(buf);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: contains NUL bytes; expected UTF-8 text", path);
    }
    t->file_buf = buf;
    char *p = buf + (start - buf), *line;
    int col = -1;
    int64_t lineno = 0;
    if (column) {
        line = pare_next_line(&p);
        lineno++;
        if (!line) return pare_err_set(err, PARE_ERR_FORMAT, "%s: empty file, expected a header row", path);
        for (int k = 0; ; k++) {
            char *end = strchr(line, '\t');
            size_t n = end ? (size_t)(end - line) : strlen(line);
            if (n == strlen(column) && !strncmp(line, column, n)) { col = k; break; }
            if (!end) break;
            line = end + 1;
        }
        if (col < 0) return pare_err_set(err, PARE_ERR_FORMAT, "%s: no column named '%s' in the header row", path, column);
    }
    while ((line = pare_next_line(&p)) && (limit <= 0 || t->n < limit)) {
        lineno++;
        if (!*line) continue;
        char *text = col >= 0 ? tsv_field(line, col) : line;
        if (!text) return pare_err_set(err, PARE_ERR_FORMAT, "%s:%lld: row has no column %d", path, (long long)lineno, col + 1);
        if (cli_texts_add(t, text)) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    return PARE_OK;
}

void cli_texts_free(cli_texts *t) {
    free(t->items);
    free(t->file_buf);
    memset(t, 0, sizeof *t);
}

void cli_json_string(FILE *f, const char *s) {
    cJSON *j = cJSON_CreateString(s);
    char *out = j ? cJSON_PrintUnformatted(j) : NULL;
    fputs(out ? out : "null", f);
    free(out);
    cJSON_Delete(j);
}

int cli_fail(const char *cmd, const pare_err *err) {
    fprintf(stderr, "pare %s: %s\n", cmd, err->msg[0] ? err->msg : pare_status_name(err->code));
    return pare_status_exit_code(err->code);
}

pare_status cli_load_bert(const char *dir, const cli_common *c, pare_bert **out, pare_err *err) {
    pare_bert_params p = pare_bert_default_params();
    p.n_threads = c->n_threads;
    p.kernel = c->kernel;
    p.no_sparse = c->no_sparse;
    p.sparse_min = c->sparse_min;
    return pare_bert_load(dir, &p, out, err);
}

void cli_warn_dropped(const char *cmd, const char *what, int64_t n) {
    if (n > 0)
        fprintf(stderr, "pare %s: warning: %lld byte%s of %s %s no token in the vocabulary and %s left out (as llama.cpp "
                        "does)\n", cmd, (long long)n, n == 1 ? "" : "s", what, n == 1 ? "has" : "have", n == 1 ? "was" : "were");
}

bool cli_output_ok(const char *cmd, const char *out, const cli_common *c) {
    if (c->force || !pare_output_exists(out)) return true;
    fprintf(stderr, "pare %s: %s exists; add --force to replace it (the new one is written beside it and renamed "
                    "into place, so the old one stays whole until then)\n", cmd, out);
    return false;
}

int cli_take_arg(cli_common *c, int argc, char **argv, int *i, const char *help) {
    int r = cli_common_option(c, argc, argv, i);
    if (r < 0) return CLI_ARG_BAD;
    if (r > 0) return CLI_ARG_NEXT;
    if (!strcmp(argv[*i], "--help") || !strcmp(argv[*i], "-h")) {
        fputs(help, stdout);
        return CLI_ARG_HELP;
    }
    return 0;
}
