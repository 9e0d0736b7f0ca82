/* Element-wise and row kernels: references (libm, double sums), the
 * generic-C instance of rowops_body.h, and dispatch to the AVX2/AVX-512
 * instances. The ISA is read from libgcc's cpuid cache
 * (__builtin_cpu_supports), which is process-wide read-only data, not ours. */
#define RB_VL 4
#define RB_SFX generic
#include "kernels/cpu/rowops_body.h"

pare_isa pare_rowops_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return PARE_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return PARE_ISA_AVX2;
#endif
    return PARE_ISA_GENERIC;
}

pare_isa pare_pool_isa(const pare_pool *pool) {
    const pare_isa cpu = pare_rowops_isa();
    const int cap = pare_pool_isa_cap(pool); /* a pare_isa + 1 */
    return cap > 0 && (pare_isa)(cap - 1) < cpu ? (pare_isa)(cap - 1) : cpu;
}

void pare_pool_cap_kernels(pare_pool *pool, pare_kernel_impl impl) {
    switch (impl) {
    case PARE_KERNEL_REF: pare_pool_set_isa_cap(pool, PARE_ISA_GENERIC + 1); break;
    case PARE_KERNEL_AVX2: pare_pool_set_isa_cap(pool, PARE_ISA_AVX2 + 1); break;
    case PARE_KERNEL_AVX512: pare_pool_set_isa_cap(pool, PARE_ISA_AVX512 + 1); break;
    default: pare_pool_set_isa_cap(pool, 0); break;
    }
}

bool pare_cpu_vnni(void) {
#if defined(__x86_64__)
    /* libgcc's cached cpuid (cpuid itself traps to the hypervisor in a VM) */
    return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

/* ---- references */

/* The activations from their definitions, in double with libm: no
 * constant here is shared with the fast paths (vmath.h), so a wrong digit
 * there shows as a difference, not as agreement. */
static double act_ref_one(double v, pare_act act) {
    switch (act) {
    case PARE_ACT_NONE: return v;
    case PARE_ACT_GELU_ERF: return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    case PARE_ACT_GELU_TANH: /* GELU's tanh approximation (Hendrycks & Gimpel), sqrt(2/pi) and 0.044715 */
        return 0.5 * v * (1.0 + tanh(sqrt(2.0 / acos(-1.0)) * (v + 0.044715 * v * v * v)));
    case PARE_ACT_RELU: return v > 0.0 ? v : 0.0;
    case PARE_ACT_SILU: return v / (1.0 + exp(-v));
    }
    return v;
}

void pare_act_ref_f32(float *x, int64_t n, pare_act act) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)act_ref_one((double)x[i], act);
}

static void layernorm_ref(const float *x, const float *res, const float *gamma, const float *beta,
                          float *y, int64_t rows, int64_t dim, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim, *rr = res ? res + r * dim : NULL;
#define IN(i) (double)(rr ? xr[i] + rr[i] : xr[i]) /* the sum rounded to float, as PyTorch */
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < dim; i++) sum += IN(i);
        double mean = sum / (double)dim;
        for (int64_t i = 0; i < dim; i++) sq += (IN(i) - mean) * (IN(i) - mean);
        double rstd = 1.0 / sqrt(sq / (double)dim + eps);
        for (int64_t i = 0; i < dim; i++)
            y[r * dim + i] = (float)((IN(i) - mean) * rstd * gamma[i] + beta[i]);
#undef IN
    }
}

void pare_layernorm_ref_f32(const float *x, const float *gamma, const float *beta, float *y,
                            int64_t rows, int64_t dim, float eps) {
    layernorm_ref(x, NULL, gamma, beta, y, rows, dim, eps);
}

void pare_add_layernorm_ref_f32(const float *x, const float *res, const float *gamma,
                                const float *beta, float *y, int64_t rows, int64_t dim,
                                float eps) {
    layernorm_ref(x, res, gamma, beta, y, rows, dim, eps);
}

/* ---- dispatch */

void pare_act_f32(float *x, int64_t n, pare_act act) {
    switch (pare_rowops_isa()) {
    case PARE_ISA_AVX512: pare_act_avx512(x, n, act); break;
    case PARE_ISA_AVX2: pare_act_avx2(x, n, act); break;
    default: pare_act_generic(x, n, act); break;
    }
}

void pare_add_f32(float *x, const float *y, int64_t n) {
    switch (pare_rowops_isa()) {
    case PARE_ISA_AVX512: pare_add_avx512(x, y, n); break;
    case PARE_ISA_AVX2: pare_add_avx2(x, y, n); break;
    default: pare_add_generic(x, y, n); break;
    }
}

typedef struct {
    const float *x, *res, *gamma, *beta;
    float *y;
    int64_t rows, dim;
    float eps;
    pare_isa isa;
} ln_job;

static void ln_worker(void *ctx, int ith, int nth) {
    const ln_job *j = ctx;
    int64_t r0, r1;
    pare_split_range(j->rows, ith, nth, &r0, &r1);
    switch (j->isa) {
    case PARE_ISA_AVX512:
        pare_layernorm_rows_avx512(j->x, j->res, j->gamma, j->beta, j->y, r0, r1, j->dim, j->eps);
        break;
    case PARE_ISA_AVX2:
        pare_layernorm_rows_avx2(j->x, j->res, j->gamma, j->beta, j->y, r0, r1, j->dim, j->eps);
        break;
    default:
        pare_layernorm_rows_generic(j->x, j->res, j->gamma, j->beta, j->y, r0, r1, j->dim, j->eps);
        break;
    }
}

void pare_add_layernorm_f32(const float *x, const float *res, const float *gamma,
                            const float *beta, float *y, int64_t rows, int64_t dim, float eps,
                            pare_pool *pool) {
    ln_job j = {x, res, gamma, beta, y, rows, dim, eps, pare_pool_isa(pool)};
    /* Waking the pool costs a few microseconds: only worth it for big inputs. */
    if (rows < 2 || rows * dim < 32768) pool = NULL;
    pare_pool_run(pool, ln_worker, &j);
}

void pare_layernorm_f32(const float *x, const float *gamma, const float *beta, float *y,
                        int64_t rows, int64_t dim, float eps, pare_pool *pool) {
    pare_add_layernorm_f32(x, NULL, gamma, beta, y, rows, dim, eps, pool);
}
