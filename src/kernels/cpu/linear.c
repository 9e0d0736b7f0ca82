/* Linear layers: implementation choice, weight packing, the reference GEMM,
 * the OpenBLAS path and dispatch to the packed AVX2/AVX-512 GEMMs.
 *
 * BLAS path: one cblas_sgemm call per forward, then the bias + activation
 * epilogue on our pool. OpenBLAS keeps its own threads (OPENBLAS_NUM_THREADS
 * or all cores); we do not call openblas_set_num_threads, which would change
 * process-wide state behind other callers' backs. */
#include "kernels/cpu/kern_internal.h"

#include <cblas.h>
#include <string.h>

static const char *const impl_names[] = {"auto", "ref", "blas", "avx2", "avx512"};

const char *pare_kernel_impl_name(pare_kernel_impl k) {
    return (unsigned)k < sizeof impl_names / sizeof impl_names[0] ? impl_names[k] : "?";
}

bool pare_kernel_impl_parse(const char *s, pare_kernel_impl *out) {
    for (unsigned i = 0; i < sizeof impl_names / sizeof impl_names[0]; i++)
        if (s && strcmp(s, impl_names[i]) == 0) {
            *out = (pare_kernel_impl)i;
            return true;
        }
    return false;
}

pare_kernel_impl pare_kernel_resolve(pare_kernel_impl want) {
    pare_cpu_features f;
    pare_cpu_detect(&f);
    bool has512 = f.avx512f && f.avx2 && f.fma, has2 = f.avx2 && f.fma;
    switch (want) {
    case PARE_KERNEL_REF:
    case PARE_KERNEL_BLAS: return want;
    case PARE_KERNEL_AVX512:
        if (has512) return want;
        /* fall through */
    case PARE_KERNEL_AVX2:
        if (has2) return PARE_KERNEL_AVX2;
        return PARE_KERNEL_BLAS;
    case PARE_KERNEL_AUTO:
    default: return has512 ? PARE_KERNEL_AVX512 : has2 ? PARE_KERNEL_AVX2 : PARE_KERNEL_BLAS;
    }
}

void pare_gemm_ref_f32(const float *a, const float *b, const float *bias, float *c, int64_t m,
                       int64_t n, int64_t k) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = bias ? bias[j] : 0.0;
            for (int64_t kk = 0; kk < k; kk++) s += (double)a[i * k + kk] * b[j * k + kk];
            c[i * n + j] = (float)s;
        }
}

/* packed[p][kk][j] = w[p*nr + j][kk] (0 past n_out), then bias[n_panels*nr]. */
static pare_status pack_panels(pare_linear *l, int64_t nr, pare_arena *arena, pare_err *err) {
    int64_t n_panels = (l->n_out + nr - 1) / nr;
    size_t cols, elems, with_bias, bytes;
    if (!pare_mul_size((size_t)n_panels, (size_t)nr, &cols) ||
        !pare_mul_size(cols, (size_t)l->n_in, &elems) ||
        !pare_add_size(elems, cols, &with_bias) ||
        !pare_mul_size(with_bias, sizeof(float), &bytes))
        return pare_err_set(err, PARE_ERR_INVALID,
                            "pare_linear_init: packed size of [%lld, %lld] overflows",
                            (long long)l->n_out, (long long)l->n_in);
    float *dst = pare_arena_alloc(arena, bytes, 64);
    if (!dst)
        return pare_err_set(err, PARE_ERR_OOM, "pare_linear_init: no memory for %zu packed bytes",
                            bytes);
    for (int64_t p = 0; p < n_panels; p++) {
        float *panel = dst + p * l->n_in * nr;
        for (int64_t j = 0; j < nr; j++) {
            int64_t row = p * nr + j;
            if (row < l->n_out) {
                const float *wr = l->w + row * l->n_in;
                for (int64_t kk = 0; kk < l->n_in; kk++) panel[kk * nr + j] = wr[kk];
            } else {
                for (int64_t kk = 0; kk < l->n_in; kk++) panel[kk * nr + j] = 0.0f;
            }
        }
    }
    float *pb = dst + elems;
    for (size_t j = 0; j < cols; j++)
        pb[j] = l->bias && (int64_t)j < l->n_out ? l->bias[j] : 0.0f;
    l->packed = dst;
    return PARE_OK;
}

pare_status pare_linear_init(pare_linear *l, const float *w, const float *bias, int64_t n_out,
                             int64_t n_in, pare_kernel_impl impl, pare_arena *arena,
                             pare_err *err) {
    memset(l, 0, sizeof *l);
    if (!w || n_out <= 0 || n_in <= 0 || n_out > INT32_MAX || n_in > INT32_MAX)
        return pare_err_set(err, PARE_ERR_INVALID,
                            "pare_linear_init: bad weight [%lld, %lld]%s", (long long)n_out,
                            (long long)n_in, w ? "" : " (NULL)");
    if ((unsigned)impl > PARE_KERNEL_AVX512)
        return pare_err_set(err, PARE_ERR_INVALID, "pare_linear_init: unknown impl %d", (int)impl);
    l->n_out = n_out;
    l->n_in = n_in;
    l->w = w;
    l->bias = bias;
    l->impl = pare_kernel_resolve(impl);
    switch (l->impl) {
    case PARE_KERNEL_AVX2: return pack_panels(l, PARE_AVX2_NR, arena, err);
    case PARE_KERNEL_AVX512: return pack_panels(l, PARE_AVX512_NR, arena, err);
    default: return PARE_OK;
    }
}

typedef struct {
    const pare_linear *l;
    float *y;
    int64_t m;
    pare_act act;
    pare_isa isa;
} epi_job;

static void epi_worker(void *ctx, int ith, int nth) {
    const epi_job *j = ctx;
    int64_t r0, r1, n = j->l->n_out;
    pare_split_range(j->m, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        float *yr = j->y + r * n;
        switch (j->isa) {
        case PARE_ISA_AVX512: pare_bias_act_avx512(yr, j->l->bias, n, j->act); break;
        case PARE_ISA_AVX2: pare_bias_act_avx2(yr, j->l->bias, n, j->act); break;
        default: pare_bias_act_generic(yr, j->l->bias, n, j->act); break;
        }
    }
}

void pare_linear_forward(const pare_linear *l, const float *x, int64_t m, float *y, pare_act act,
                         pare_pool *pool) {
    if (m <= 0) return;
    switch (l->impl) {
    case PARE_KERNEL_AVX512: pare_gemm_avx512(l, x, m, y, act, pool); return;
    case PARE_KERNEL_AVX2: pare_gemm_avx2(l, x, m, y, act, pool); return;
    case PARE_KERNEL_BLAS: {
        /* cblas takes int sizes (n_out, n_in <= INT32_MAX is checked at init) */
        for (int64_t r0 = 0; r0 < m; r0 += INT32_MAX) {
            int64_t rows = m - r0 < INT32_MAX ? m - r0 : INT32_MAX;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)l->n_out,
                        (int)l->n_in, 1.0f, x + r0 * l->n_in, (int)l->n_in, l->w, (int)l->n_in,
                        0.0f, y + r0 * l->n_out, (int)l->n_out);
        }
        if (!l->bias && act == PARE_ACT_NONE) return;
        epi_job j = {l, y, m, act, pare_pool_isa(pool)};
        pare_pool_run((double)m * (double)l->n_out >= 32768.0 ? pool : NULL, epi_worker, &j);
        return;
    }
    default:
        pare_gemm_ref_f32(x, l->w, l->bias, y, m, l->n_out, l->n_in);
        pare_act_ref_f32(y, m * l->n_out, act);
        return;
    }
}
