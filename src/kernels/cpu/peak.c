/* FMA peak: every pool thread runs independent FMA chains on registers
 * (12 with 16 ymm registers, 24 with 32 zmm: more than FMA latency x pipes
 * on current x86 cores, and no spills) for the given time; the sum of their
 * rates is the pool's GFLOP/s. Each thread's rate is taken over its own
 * CPU time, so that other processes sharing the cores do not lower the
 * estimate of what the hardware can do. */
#include "kernels/cpu/kern_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double peak_cpu_now(void) {
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) return pare_time_now();
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define PEAK_INNER 4096

#define PEAK_LOOP(vec_t, vl, PEAK_CHAINS)                                                                \
    vec_t acc[PEAK_CHAINS];                                                                   \
    for (int c = 0; c < PEAK_CHAINS; c++) acc[c] = (vec_t){0} + (float)c * 1e-3f;             \
    vec_t mul = (vec_t){0} + 0.999999f, add = (vec_t){0} + 1e-7f;                             \
    int64_t rounds = 0;                                                                       \
    double t0 = peak_cpu_now(), t1;                                                          \
    do {                                                                                      \
        for (int it = 0; it < PEAK_INNER; it++) {                                             \
            _Pragma("GCC unroll 32") for (int c = 0; c < PEAK_CHAINS; c++) acc[c] =           \
                acc[c] * mul + add;                                                           \
            __asm__ volatile("" : "+v"(mul));                                                 \
        }                                                                                     \
        rounds++;                                                                             \
        t1 = peak_cpu_now();                                                                 \
    } while (t1 - t0 < seconds);                                                              \
    float sink = 0;                                                                           \
    for (int c = 0; c < PEAK_CHAINS; c++) sink += acc[c][0];                                  \
    __asm__ volatile("" ::"g"(sink));                                                         \
    return (double)rounds * PEAK_INNER * PEAK_CHAINS * (vl) * 2.0 / (t1 - t0) * 1e-9;

#if defined(__x86_64__)
typedef float peak_v16 __attribute__((vector_size(64)));
typedef float peak_v8 __attribute__((vector_size(32)));

__attribute__((target("avx512f"))) static double peak_avx512(double seconds) {
    PEAK_LOOP(peak_v16, 16, 24)
}
__attribute__((target("avx2,fma"))) static double peak_avx2(double seconds) {
    PEAK_LOOP(peak_v8, 8, 12)
}
#endif
typedef float peak_v4 __attribute__((vector_size(16)));
static double peak_generic(double seconds) { PEAK_LOOP(peak_v4, 4, 12) }

typedef struct {
    double seconds;
    pare_isa isa;
    double gflops[1024];
} peak_job;

static void peak_worker(void *ctx, int ith, int nth) {
    peak_job *j = ctx;
    double r;
    switch (j->isa) {
#if defined(__x86_64__)
    case PARE_ISA_AVX512: r = peak_avx512(j->seconds); break;
    case PARE_ISA_AVX2: r = peak_avx2(j->seconds); break;
#endif
    default: r = peak_generic(j->seconds); break;
    }
    if (ith < 1024) j->gflops[ith] = r;
}

double pare_measure_fma_peak(pare_pool *pool, double seconds) {
    static const double min_s = 1e-3;
    peak_job j = {.seconds = seconds > min_s ? seconds : min_s, .isa = pare_rowops_isa()};
    pare_pool_run(pool, peak_worker, &j);
    double total = 0;
    int n = pare_pool_size(pool);
    for (int i = 0; i < n && i < 1024; i++) total += j.gflops[i];
    return total;
}

/* ---- memory read bandwidth: each pool thread sums its slice of a buffer
 * far larger than the caches (4 independent vector sums, so the loads, not
 * the adds, set the pace), prefetching 2 KB ahead as the decode kernels do
 * (without it this VM's hardware prefetchers gave 14 GB/s while decode
 * streamed 24); the rate of one pass is bytes over the wall time of the
 * whole pool, the best of reps passes is kept. */
typedef float bw_v __attribute__((vector_size(32)));

typedef struct {
    const bw_v *buf;
    int64_t nvec;
    float sink[1024];
} bw_job;

static void bw_worker(void *ctx, int ith, int nth) {
    bw_job *j = ctx;
    int64_t lo, hi;
    pare_split_range(j->nvec / 4, ith, nth, &lo, &hi);
    bw_v a = {0}, b = {0}, c = {0}, d = {0};
    for (int64_t i = 4 * lo; i < 4 * hi; i += 4) {
        __builtin_prefetch(j->buf + i + 64, 0, 3); /* 2 KB ahead, as the decode kernels read */
        __builtin_prefetch(j->buf + i + 66, 0, 3);
        a += j->buf[i];
        b += j->buf[i + 1];
        c += j->buf[i + 2];
        d += j->buf[i + 3];
    }
    a += b + c + d;
    if (ith < 1024) j->sink[ith] = a[0] + a[7];
}

pare_status pare_measure_read_bandwidth(pare_pool *pool, size_t bytes, int reps, double *gbps,
                                        pare_err *err) {
    bytes &= ~(size_t)127;
    if (bytes < 4096 || reps < 1)
        return pare_err_set(err, PARE_ERR_INVALID,
                            "pare_measure_read_bandwidth: %zu bytes, %d passes", bytes, reps);
    bw_v *buf = aligned_alloc(64, bytes);
    if (!buf)
        return pare_err_set(err, PARE_ERR_OOM, "pare_measure_read_bandwidth: no memory for %zu bytes",
                            bytes);
    memset(buf, 1, bytes); /* map every page before timing */
    bw_job j = {.buf = buf, .nvec = (int64_t)(bytes / sizeof(bw_v))};
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = pare_time_now();
        pare_pool_run(pool, bw_worker, &j);
        double t = pare_time_now() - t0;
        if (t > 0 && (double)bytes / t > best) best = (double)bytes / t;
    }
    free(buf);
    *gbps = best * 1e-9;
    return PARE_OK;
}
