#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

const char *tu_source_dir(void) {
    const char *s = getenv("PARE_SOURCE_DIR");
    return s && *s ? s : ".";
}

const char *tu_path(char *buf, size_t cap, const char *rel) {
    snprintf(buf, cap, "%s/%s", tu_source_dir(), rel);
    return buf;
}

const char *tu_model_dir(char *buf, size_t cap, const char *name) {
    const char *root = getenv("PARE_MODELS_DIR");
    if (root && *root) snprintf(buf, cap, "%s/%s", root, name);
    else snprintf(buf, cap, "%s/.cache/models/%s", tu_source_dir(), name);
    struct stat st;
    if (stat(buf, &st) != 0) fail_msg("model %s not found at %s: run `make models`", name, buf);
    return buf;
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
