/* Whole-file reads with a size cap and clear errors. */
#include "pare/core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

pare_status pare_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len,
                           pare_err *err) {
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return pare_err_set(err, PARE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return pare_err_set(err, PARE_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: file is %lld bytes, more than the %zu allowed",
                            path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int rerr = ferror(f);
    fclose(f);
    if (got != n || rerr) {
        free(buf);
        return pare_err_set(err, PARE_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return PARE_OK;
}

pare_status pare_text_lines(const char *name, const char **text, size_t *len, pare_err *err) {
    const char *s = *text;
    size_t n = *len;
    if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) s += 3, n -= 3; /* a UTF-8 byte order mark */
    if (memchr(s, '\r', n) && !memchr(s, '\n', n))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: lines end in CR alone (classic Mac OS); save it with LF or CRLF line "
                            "ends", name);
    *text = s;
    *len = n;
    return PARE_OK;
}

char *pare_next_line(char **p) {
    char *s = *p;
    if (!s || !*s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = 0;
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    size_t n = strlen(s);
    if (n && s[n - 1] == '\r') s[n - 1] = 0;
    return s;
}

pare_status pare_mkdir_p(const char *dir, pare_err *err) {
    char d[4096];
    if (snprintf(d, sizeof d, "%s", dir) >= (int)sizeof d) return pare_err_set(err, PARE_ERR_INVALID, "%s: path too long", dir);
    for (char *p = d + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(d, 0755) != 0 && errno != EEXIST)
                return pare_err_set(err, PARE_ERR_WRITE, "%s: cannot create: %s", d, strerror(errno));
            *p = '/';
        }
    if (mkdir(d, 0755) != 0 && errno != EEXIST) return pare_err_set(err, PARE_ERR_WRITE, "%s: cannot create: %s", d, strerror(errno));
    struct stat st;
    if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) return pare_err_set(err, PARE_ERR_INVALID, "%s: exists and is not a folder", d);
    return PARE_OK;
}
