/* Timing of repeated runs (an adaptive warm-up, the CPU time of other
 * processes watched) and their statistics: nearest-rank percentiles (p50,
 * p90, p99), mean and standard deviation, min and max. */
#include "experiment/exp_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static bool settled(const double *last, int n) {
    if (n < EXP_SETTLE) return false;
    double lo = last[0], hi = last[0];
    for (int i = 1; i < EXP_SETTLE; i++) {
        if (last[i] < lo) lo = last[i];
        if (last[i] > hi) hi = last[i];
    }
    return hi <= 1.10 * lo;
}

pare_status exp_time(exp_timing *t, pare_err *err) {
    double ms[2], last[EXP_SETTLE];
    const double t0 = pare_time_now();
    pare_status s = PARE_OK;
    int n_last = 0;
    t->warmup = 0;
    while (!s) {
        const bool min_done = t->warmup >= t->warmup_min;
        if (min_done && (settled(last, n_last) || t->warmup >= EXP_WARMUP_MAX || pare_time_now() - t0 > EXP_WARMUP_S)) break;
        if ((s = t->fn(t->ctx, ms, err))) break;
        t->warmup++;
        memmove(last, last + (n_last == EXP_SETTLE), sizeof(double) * (size_t)(n_last - (n_last == EXP_SETTLE)));
        if (n_last < EXP_SETTLE) n_last++;
        last[n_last - 1] = ms[0];
    }
    exp_cpu_mark_t mark;
    exp_cpu_mark(&mark);
    for (int64_t r = 0; r < t->reps && !s; r++) {
        s = t->fn(t->ctx, ms, err);
        for (int k = 0; k < t->n_values; k++) t->samples[k][r] = ms[k];
    }
    t->others_cpu = exp_cpu_others(&mark);
    return s;
}
