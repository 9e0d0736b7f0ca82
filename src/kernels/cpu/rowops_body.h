/* Row kernels written once, compiled per ISA: the including file defines
 * RB_VL (floats per vector register) and RB_SFX (name suffix) and gets its
 * own flags from CMake (_avx2.c, _avx512.c). Activations run on vm_v
 * (4 registers wide, see vmath.h); reductions use vector partial sums. */
#include "kernels/cpu/kern_internal.h"

#define VM_LANES RB_VL
#include "kernels/cpu/vmath.h"

#include <math.h>
#include <string.h>

#define RB_CAT2(a, b) a##b
#define RB_CAT(a, b) RB_CAT2(a, b)
#define RB_NAME(base) RB_CAT(base, RB_SFX)

typedef float rb_vec __attribute__((vector_size(RB_VL * 4), aligned(4)));

/* rows x cols block at stride ld, y = f(y); row tails go through a
 * zero-padded vector. One call per block keeps the constants of f in
 * registers across rows (the GEMM calls this once per output tile). */
#define RB_ACT_LOOP(f)                                                                        \
    for (int64_t r = 0; r < rows; r++) {                                                      \
        float *x = y + r * ld;                                                                \
        int64_t i = 0;                                                                        \
        for (; i + VM_LANES <= cols; i += VM_LANES) *(vm_uv *)(x + i) = f(*(vm_uv *)(x + i)); \
        if (i < cols) {                                                                       \
            vm_v t = {0};                                                                     \
            memcpy(&t, x + i, (size_t)(cols - i) * sizeof(float));                            \
            t = f(t);                                                                         \
            memcpy(x + i, &t, (size_t)(cols - i) * sizeof(float));                            \
        }                                                                                     \
    }

void RB_NAME(pare_act_2d_)(float *y, int64_t ld, int64_t rows, int64_t cols, pare_act act) {
    switch (act) {
    case PARE_ACT_NONE: break;
    case PARE_ACT_GELU_ERF: RB_ACT_LOOP(vm_gelu_erf) break;
    case PARE_ACT_GELU_TANH: RB_ACT_LOOP(vm_gelu_tanh) break;
    case PARE_ACT_RELU: RB_ACT_LOOP(vm_relu) break;
    case PARE_ACT_SILU: RB_ACT_LOOP(vm_silu) break;
    }
}

void RB_NAME(pare_act_)(float *x, int64_t n, pare_act act) { RB_NAME(pare_act_2d_)(x, n, 1, n, act); }

void RB_NAME(pare_bias_act_)(float *y, const float *bias, int64_t n, pare_act act) {
    if (bias)
        for (int64_t i = 0; i < n; i++) y[i] += bias[i];
    RB_NAME(pare_act_)(y, n, act);
}

void RB_NAME(pare_add_)(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

static float RB_NAME(rb_hsum_)(rb_vec v) {
    float s = 0;
    for (int i = 0; i < RB_VL; i++) s += v[i];
    return s;
}

/* Rows [r0, r1) of (x + r)[rows, dim] (r may be NULL: x alone). Two
 * passes in fp32: mean, then the mean of squared deviations (biased
 * variance), as PyTorch does; the sum x + r is formed in each pass (the rows
 * are in L1) rather than stored. y may equal x or r. */
void RB_NAME(pare_layernorm_rows_)(const float *x, const float *res, const float *gamma,
                                   const float *beta, float *y, int64_t r0, int64_t r1,
                                   int64_t dim, float eps) {
#define RB_IN(i) (rr ? xr[i] + rr[i] : xr[i])
#define RB_INV(i) (rr ? *(const rb_vec *)(xr + (i)) + *(const rb_vec *)(rr + (i)) \
                      : *(const rb_vec *)(xr + (i)))
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = x + r * dim, *rr = res ? res + r * dim : NULL;
        float *yr = y + r * dim;
        rb_vec s0 = {0}, s1 = {0};
        int64_t i = 0;
        for (; i + 2 * RB_VL <= dim; i += 2 * RB_VL) {
            s0 += RB_INV(i);
            s1 += RB_INV(i + RB_VL);
        }
        float sum = RB_NAME(rb_hsum_)(s0 + s1);
        for (; i < dim; i++) sum += RB_IN(i);
        float mean = sum / (float)dim;
        rb_vec q0 = {0}, q1 = {0};
        i = 0;
        for (; i + 2 * RB_VL <= dim; i += 2 * RB_VL) {
            rb_vec d0 = RB_INV(i) - mean;
            rb_vec d1 = RB_INV(i + RB_VL) - mean;
            q0 += d0 * d0;
            q1 += d1 * d1;
        }
        float sq = RB_NAME(rb_hsum_)(q0 + q1);
        for (; i < dim; i++) sq += (RB_IN(i) - mean) * (RB_IN(i) - mean);
        float rstd = 1.0f / sqrtf(sq / (float)dim + eps);
        for (i = 0; i < dim; i++) yr[i] = (RB_IN(i) - mean) * rstd * gamma[i] + beta[i];
    }
#undef RB_IN
#undef RB_INV
}
