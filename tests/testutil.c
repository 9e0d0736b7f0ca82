#include "testutil.h"

#include <utf8proc.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *tu_source_dir(void) {
    const char *s = getenv("PARE_SOURCE_DIR");
    return s && *s ? s : ".";
}

const char *tu_path(char *buf, size_t cap, const char *rel) {
    snprintf(buf, cap, "%s/%s", tu_source_dir(), rel);
    return buf;
}

static int n_skipped; /* tests skipped for something missing (tu_result) */

void tu_missing(const char *what, const char *path, const char *hint) {
    const char *ci = getenv("CI");
    if (ci && !strcmp(ci, "true")) fail_msg("%s is missing: %s (%s; under CI=true a missing input is a failure)", what, path, hint);
    print_message("SKIP: %s is missing: %s (%s)\n", what, path, hint);
    n_skipped++;
    skip();
}

enum { TU_MAX_FAMILIES = 64 };
static struct {
    char name[64];
    double ratio, err;
} tu_fam[TU_MAX_FAMILIES];
static int tu_n_fam;

bool tu_err(const char *family, double err, double tol) {
    int i = 0;
    while (i < tu_n_fam && strcmp(tu_fam[i].name, family)) i++;
    if (i == tu_n_fam && tu_n_fam < TU_MAX_FAMILIES) snprintf(tu_fam[tu_n_fam++].name, sizeof tu_fam[0].name, "%s", family);
    const double r = tol > 0 ? err / tol : (err > 0 ? INFINITY : 0);
    if (i < tu_n_fam && (r > tu_fam[i].ratio || isnan(r))) tu_fam[i].ratio = r, tu_fam[i].err = err;
    return err <= tol;
}

void tu_err_report(void) {
    for (int i = 0; i < tu_n_fam; i++)
        print_message("error budget %-28s largest error / tolerance %.3f (error %.3g)\n", tu_fam[i].name, tu_fam[i].ratio,
                      tu_fam[i].err);
}

void tu_skip(const char *why) {
    print_message("SKIP: %s\n", why);
    n_skipped++;
    skip();
}

int tu_result(int failed) {
    tu_err_report();
    if (failed) return failed;
    if (n_skipped) {
        print_message("%d test(s) skipped: reported to ctest as skipped (exit 77), not passed\n", n_skipped);
        return 77;
    }
    return 0;
}

/* $env/rel if the variable is set, else <source>/fallback/rel; a missing
 * path skips the test (fails it under CI=true) with hint. */
static const char *resolve(char *buf, size_t cap, const char *env, const char *fallback,
                           const char *rel, const char *hint) {
    const char *root = getenv(env);
    if (root && *root) snprintf(buf, cap, "%s/%s", root, rel);
    else snprintf(buf, cap, "%s/%s/%s", tu_source_dir(), fallback, rel);
    struct stat st;
    if (stat(buf, &st) != 0) tu_missing(rel, buf, hint);
    return buf;
}

int tu_kernel_paths(pare_kernel_impl out[4]) {
    static const pare_kernel_impl all[4] = {PARE_KERNEL_REF, PARE_KERNEL_BLAS, PARE_KERNEL_AVX2, PARE_KERNEL_AVX512};
    int n = 0;
    for (int i = 0; i < 4; i++) {
        if (pare_kernel_resolve(all[i]) == all[i]) out[n++] = all[i];
        else print_message("kernel path %s: not run (this CPU cannot run it)\n", pare_kernel_impl_name(all[i]));
    }
    return n;
}

const char *tu_model_dir(char *buf, size_t cap, const char *name) {
    return resolve(buf, cap, "PARE_MODELS_DIR", ".cache/models", name, "run `make models`");
}

const char *tu_data_path(char *buf, size_t cap, const char *rel) {
    return resolve(buf, cap, "PARE_DATA_DIR", "../shared/data", rel, "set PARE_DATA_DIR");
}

char **tu_semeval_tweets(const int64_t *lines, int64_t n) {
    char path[4096], *buf;
    size_t len;
    pare_err err = {0};
    tu_data_path(path, sizeof path, "semeval2018-ec/2018-E-c-En-train.txt");
    if (pare_read_file(path, 64u << 20, &buf, &len, &err)) fail_msg("%s", err.msg);
    char **out = calloc((size_t)n, sizeof *out);
    int64_t lineno = 0; /* header is line 0 */
    for (char *p = buf; *p;) {
        char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll && p[ll - 1] == '\r') ll--;
        if (lineno >= 1) {
            for (int64_t i = 0; i < n; i++) {
                if (lines[i] != lineno) continue;
                const char *t1 = memchr(p, '\t', ll);
                const char *t2 = t1 ? memchr(t1 + 1, '\t', ll - (size_t)(t1 + 1 - p)) : NULL;
                if (!t2) fail_msg("%s: line %lld has no tweet column", path, (long long)lineno);
                out[i] = strndup(t1 + 1, (size_t)(t2 - t1 - 1));
            }
        }
        lineno++;
        if (!nl) break;
        p = nl + 1;
    }
    free(buf);
    for (int64_t i = 0; i < n; i++)
        if (!out[i]) fail_msg("%s: no data line %lld", path, (long long)lines[i]);
    return out;
}

void tu_free_strings(char **s, int64_t n) {
    for (int64_t i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

double tu_max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

float tu_randf(uint64_t *state, float lo, float hi) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return lo + (hi - lo) * (float)((*state >> 40) * (1.0 / 16777216.0));
}

char *tu_slurp(const char *path, size_t *len) {
    char *buf = NULL;
    pare_err err = {0};
    size_t n = 0;
    if (pare_read_file(path, (size_t)1 << 30, &buf, &n, &err) != PARE_OK) fail_msg("%s", err.msg);
    if (len) *len = n;
    return buf;
}

uint64_t tu_fnv1a64_ids(const int32_t *ids, int32_t n) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (int32_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)ids[i];
        for (int b = 0; b < 4; b++) h = (h ^ ((v >> (8 * b)) & 0xFF)) * 0x100000001B3ull;
    }
    return h;
}

char *tu_next_line(char **cur) {
    if (!*cur || !**cur) return NULL;
    char *line = *cur, *nl = strchr(line, '\n');
    if (nl) {
        *nl = 0;
        *cur = nl + 1;
    } else {
        *cur = line + strlen(line);
    }
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r') line[n - 1] = 0;
    return line;
}

int tu_parse_ids(const char *s, int32_t *ids, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) break;
        ids[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

size_t tu_unescape(const char *s, char *out) {
    size_t n = 0;
    while (*s) {
        if (s[0] == '\\' && s[1] == '\\') {
            out[n++] = '\\';
            s += 2;
        } else if (s[0] == '\\' && (s[1] == 'u' || s[1] == 'U')) {
            int digits = s[1] == 'u' ? 4 : 8;
            char hex[9] = {0};
            memcpy(hex, s + 2, (size_t)digits);
            long cp = strtol(hex, NULL, 16);
            n += (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out + n);
            s += 2 + digits;
        } else if (s[0] == '\\' && s[1] == 'x') { /* one raw byte (invalid UTF-8 too) */
            char hex[3] = {s[2], s[3], 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            s += 4;
        } else {
            out[n++] = *s++;
        }
    }
    return n;
}
