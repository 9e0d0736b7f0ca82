/* GELU (erf form) forward and backward for AVX-512, on vmath.h's
 * polynomials (erf < 1e-7 absolute, exp ~2 ulp) instead of libm calls. */
#include "train/train_avx512.h"

#define VM_LANES 16
#include "kernels/cpu/vmath.h"

static inline vm_v cdf(vm_v x) { return 0.5f * (1.0f + vm_erf(x * 0.70710678118654752f)); }
static inline vm_v pdf(vm_v x) { return vm_exp(-0.5f * x * x) * 0.39894228040143267794f; }

void pare_train_gelu_fwd_avx512(float *y, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        vm_v v = *(const vm_uv *)(x + i);
        *(vm_uv *)(y + i) = v * cdf(v);
    }
    if (i < n) {
        float xb[16] = {0}, yb[16];
        memcpy(xb, x + i, sizeof(float) * (size_t)(n - i));
        vm_v v = *(const vm_uv *)xb;
        *(vm_uv *)yb = v * cdf(v);
        memcpy(y + i, yb, sizeof(float) * (size_t)(n - i));
    }
}

void pare_train_gelu_bwd_avx512(float *dx, const float *x, const float *dy, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        vm_v v = *(const vm_uv *)(x + i);
        *(vm_uv *)(dx + i) += *(const vm_uv *)(dy + i) * (cdf(v) + v * pdf(v));
    }
    if (i < n) {
        float xb[16] = {0}, gb[16] = {0}, db[16];
        memcpy(xb, x + i, sizeof(float) * (size_t)(n - i));
        memcpy(gb, dy + i, sizeof(float) * (size_t)(n - i));
        vm_v v = *(const vm_uv *)xb;
        *(vm_uv *)db = *(const vm_uv *)gb * (cdf(v) + v * pdf(v));
        for (int64_t t = 0; t < n - i; t++) dx[i + t] += db[t];
    }
}
