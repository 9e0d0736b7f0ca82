/* Latency statistics of repeated runs: nearest-rank percentiles (p50, p90,
 * p99), mean and standard deviation, min and max. */
#include "experiment/exp_internal.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double rank(const double *sorted, int64_t n, double q) {
    int64_t k = (int64_t)ceil(q * (double)n) - 1;
    return sorted[k < 0 ? 0 : k >= n ? n - 1 : k];
}

void exp_latency_stats(double *samples_ms, int64_t n, exp_latency *o) {
    o->n = n;
    o->samples = samples_ms;
    if (n <= 0) return;
    double *s = malloc((size_t)n * sizeof *s), sum = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) sum += samples_ms[i];
    o->mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++) ss += (samples_ms[i] - o->mean) * (samples_ms[i] - o->mean);
    o->std = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
    if (!s) { /* no memory for the sorted copy: mean stands in */
        o->p50 = o->p90 = o->p99 = o->min = o->max = o->mean;
    } else {
        for (int64_t i = 0; i < n; i++) s[i] = samples_ms[i];
        qsort(s, (size_t)n, sizeof *s, cmp_double);
        o->p50 = rank(s, n, 0.5), o->p90 = rank(s, n, 0.9), o->p99 = rank(s, n, 0.99);
        o->min = s[0], o->max = s[n - 1];
        free(s);
    }
    o->throughput = o->p50 > 0 ? (double)o->batch * 1000.0 / o->p50 : 0;
}
