/* int8 peak: every pool thread runs independent chains of the int8 GEMM's
 * inner step on registers for the given time, over its own CPU time (as
 * the FMA peak in peak.c): on AVX2 vpsignb + vpmaddubsw + vpmaddwd + vpaddd
 * (32 MACs per step, 8 chains), with VNNI vpdpbusd on zmm (64 MACs, 20
 * chains). Reported in GOP/s, 2 ops per multiply-add. */
#include "kernels/cpu/int8_internal.h"

#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double i8_cpu_now(void) {
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) return pare_time_now();
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define I8_PEAK_INNER 4096

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static double i8_peak_avx2(double seconds) {
    __m256i acc[8];
    for (int c = 0; c < 8; c++) acc[c] = _mm256_set1_epi32(c);
    __m256i u = _mm256_set1_epi8(3), w = _mm256_set1_epi8(-2);
    const __m256i ones = _mm256_set1_epi16(1);
    int64_t rounds = 0;
    double t0 = i8_cpu_now(), t1;
    do {
        for (int it = 0; it < I8_PEAK_INNER; it++) {
#pragma GCC unroll 8
            for (int c = 0; c < 8; c++)
                acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(w, u)), ones));
            __asm__ volatile("" : "+x"(u), "+x"(w));
        }
        rounds++;
        t1 = i8_cpu_now();
    } while (t1 - t0 < seconds);
    __m256i s = acc[0];
    for (int c = 1; c < 8; c++) s = _mm256_add_epi32(s, acc[c]);
    __asm__ volatile("" ::"x"(s));
    return (double)rounds * I8_PEAK_INNER * 8 * 32 * 2.0 / (t1 - t0) * 1e-9;
}

/* 20 independent vpdpbusd chains (latency 5, two ports) written in asm: as
 * C, gcc kept the accumulators in memory and the probe read about a third
 * of the rate the GEMM itself reaches. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static double i8_peak_vnni(double seconds) {
    int64_t rounds = 0;
    double t0 = i8_cpu_now(), t1;
    const __m512i u = _mm512_set1_epi8(3), w = _mm512_set1_epi8(-2);
    do {
        for (int it = 0; it < I8_PEAK_INNER; it++)
            __asm__ volatile(
#define I8_DP(r) "vpdpbusd %1, %0, %%zmm" #r "\n\t"
                I8_DP(8) I8_DP(9) I8_DP(10) I8_DP(11) I8_DP(12) I8_DP(13) I8_DP(14) I8_DP(15)
                I8_DP(16) I8_DP(17) I8_DP(18) I8_DP(19) I8_DP(20) I8_DP(21) I8_DP(22) I8_DP(23)
                I8_DP(24) I8_DP(25) I8_DP(26) I8_DP(27)
#undef I8_DP
                :
                : "v"(u), "v"(w)
                : "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",
                      "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",
                      "xmm26", "xmm27");
        rounds++;
        t1 = i8_cpu_now();
    } while (t1 - t0 < seconds);
    return (double)rounds * I8_PEAK_INNER * 20 * 64 * 2.0 / (t1 - t0) * 1e-9;
}
#endif

typedef struct {
    double seconds;
    pare_qisa isa;
    double gops[1024];
} i8_peak_job;

static void i8_peak_worker(void *ctx, int ith, int nth) {
    (void)nth;
    i8_peak_job *j = ctx;
    double r = 0;
#if defined(__x86_64__)
    r = j->isa == PARE_QISA_VNNI ? i8_peak_vnni(j->seconds) : j->isa == PARE_QISA_AVX2 ? i8_peak_avx2(j->seconds) : 0;
#endif
    if (ith < 1024) j->gops[ith] = r;
}

double pare_measure_int8_peak(pare_pool *pool, double seconds, pare_qisa *isa) {
    i8_peak_job j = {.seconds = seconds > 1e-3 ? seconds : 1e-3, .isa = pare_qisa_resolve(PARE_KERNEL_AVX512)};
    if (isa) *isa = j.isa;
    if (j.isa == PARE_QISA_REF) return 0;
    pare_pool_run(pool, i8_peak_worker, &j);
    double total = 0;
    for (int i = 0; i < pare_pool_size(pool) && i < 1024; i++) total += j.gops[i];
    return total;
}
