/* The training GEMM (pare_sgemm, pare/kernels.h): dispatch between the
 * packed AVX-512 kernel (sgemm_body.h) and cblas_sgemm, the workspace
 * sizes, and the double-precision reference. */
#include "kernels/cpu/kern_internal.h"

#include <cblas.h>
#include <stdint.h>
#include <string.h>

static int64_t panel_cols(int64_t N) { return (N + PARE_SGEMM_NR - 1) / PARE_SGEMM_NR * PARE_SGEMM_NR; }

/* + 16: the packed panels start at the first 64-byte boundary of ws */
int64_t pare_sgemm_ws_min(int64_t N) { return panel_cols(N) * 2 + 16; }
int64_t pare_sgemm_ws_full(int64_t N, int64_t K) { return panel_cols(N) * (K + 1) + 16; }
int64_t pare_sgemm_ws_threads(int n_threads) { return (int64_t)(n_threads > 0 ? n_threads : 1) * pare_sgemm_apack_avx512(); }

/* C = bias (or 0) when K is 0 */
static void fill_start(const pare_sgemm_args *g) {
    if (g->accumulate) return;
    for (int64_t i = 0; i < g->M; i++)
        for (int64_t j = 0; j < g->N; j++) g->C[i * g->ldc + j] = g->bias ? g->bias[j] : 0.0f;
}

void pare_sgemm(const pare_sgemm_args *g, pare_kernel_impl impl, float *ws, int64_t ws_floats, pare_pool *pool) {
    if (g->M <= 0 || g->N <= 0) return;
    if (g->K <= 0) {
        fill_start(g);
        return;
    }
    if (impl == PARE_KERNEL_AVX512 && ws && ws_floats >= pare_sgemm_ws_min(g->N)) {
        float *wa = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
        pare_sgemm_avx512(g, wa, ws_floats - (wa - ws), pool);
        return;
    }
    /* cblas: sizes are int; the trainer's are far below INT32_MAX */
    float beta = g->accumulate ? 1.0f : 0.0f;
    if (g->bias) {
        fill_start(g);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (int)g->M,
                (int)g->N, (int)g->K, 1.0f, g->A, (int)g->lda, g->B, (int)g->ldb, beta, g->C, (int)g->ldc);
}

void pare_sgemm_ref(const pare_sgemm_args *g) {
    for (int64_t i = 0; i < g->M; i++)
        for (int64_t j = 0; j < g->N; j++) {
            double s = g->accumulate ? g->C[i * g->ldc + j] : g->bias ? g->bias[j] : 0.0;
            for (int64_t k = 0; k < g->K; k++) {
                const double a = g->ta ? g->A[k * g->lda + i] : g->A[i * g->lda + k];
                const double b = g->tb ? g->B[j * g->ldb + k] : g->B[k * g->ldb + j];
                s += a * b;
            }
            g->C[i * g->ldc + j] = (float)s;
        }
}
