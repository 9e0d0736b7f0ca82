/* Float math on GCC vector types, for the per-ISA kernel files. The
 * includer defines VM_LANES (floats per vm_v): the native register width
 * (wider types are not kept in registers by GCC). No libm calls, no
 * branches.
 * Accuracy (checked in tests/test_kernels.c against libm):
 *   vm_exp   ~2 ulp on [-87.3, 88.3]; exactly 0 below -87.3
 *   vm_erf   < 1e-7 absolute: piecewise polynomial, table by permute
 *   vm_tanh  < 1e-7 absolute (via exp) */
#ifndef PARE_VMATH_H
#define PARE_VMATH_H

#include <stdint.h>
#include <string.h>

/* Wide vector values only pass between static inline functions here, so
 * the "vector return changes the ABI" note does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float vm_v __attribute__((vector_size(VM_LANES * 4)));
typedef int32_t vm_i __attribute__((vector_size(VM_LANES * 4)));
typedef float vm_uv __attribute__((vector_size(VM_LANES * 4), aligned(4)));

#define VM_SPLAT(c) ((vm_v){0} + (float)(c))
/* m ? a : b for a lane mask m (all ones / all zeros per lane) */
static inline vm_v vm_sel(vm_i m, vm_v a, vm_v b) { return (vm_v)(((vm_i)a & m) | ((vm_i)b & ~m)); }
static inline vm_v vm_min(vm_v a, vm_v b) { return vm_sel(a < b, a, b); }
static inline vm_v vm_max(vm_v a, vm_v b) { return vm_sel(a > b, a, b); }
static inline vm_v vm_abs(vm_v a) { return (vm_v)((vm_i)a & 0x7fffffff); }
/* copy the sign of s onto a (a >= 0) */
static inline vm_v vm_copysign(vm_v a, vm_v s) {
    return (vm_v)((vm_i)a | ((vm_i)s & (int32_t)0x80000000u));
}

/* Polynomials use Estrin's scheme: these loops are bound by the latency of
 * one element's chain (the out-of-order window holds only a few
 * iterations), so a shallower tree beats Horner's fewer operations. */
static inline vm_v vm_exp(vm_v x) {
    vm_v xc = vm_min(vm_max(x, VM_SPLAT(-87.3f)), VM_SPLAT(88.3f));
    /* n = round(x / ln2) with the 1.5*2^23 trick */
    vm_v n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    vm_v r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    /* Cephes expf: 1 + r + r^2 (c0 + c1 r + ... + c5 r^5) */
    vm_v r2 = r * r, r4 = r2 * r2;
    vm_v e01 = r * 1.6666665459e-1f + 5.0000001201e-1f;
    vm_v e23 = r * 8.3334519073e-3f + 4.1665795894e-2f;
    vm_v e45 = r * 1.9875691500e-4f + 1.3981999507e-3f;
    vm_v p = (e01 + e23 * r2) + e45 * r4;
    p = p * r2 + (r + 1.0f);
    vm_i bits = (__builtin_convertvector(n, vm_i) + 127) << 23;
    return vm_sel(x < -87.3f, VM_SPLAT(0.0f), p * (vm_v)bits);
}

/* erf: |x| clamped to 4 (erf(4) = 1 - 1.5e-8) and cut into 8 intervals of
 * 0.5; on each a degree-7 polynomial in the offset from the interval's
 * centre (least-squares fit on Chebyshev nodes, max error 7e-8 in float).
 * The coefficients are picked per lane with a permute (vpermps). */
static const float vm_erf_tab[8][16] __attribute__((aligned(64))) = {
    {2.763263881e-01f, 7.111556530e-01f, 9.229001403e-01f, 9.866716862e-01f, 9.985373020e-01f, 9.998993874e-01f, 9.999957085e-01f, 9.999998808e-01f,
     2.763263881e-01f, 7.111556530e-01f, 9.229001403e-01f, 9.866716862e-01f, 9.985373020e-01f, 9.998993874e-01f, 9.999957085e-01f, 9.999998808e-01f},
    {1.060014129e+00f, 6.429310441e-01f, 2.365211248e-01f, 5.277499557e-02f, 7.142319344e-03f, 5.862772814e-04f, 2.918901191e-05f, 8.814288321e-07f,
     1.060014129e+00f, 6.429310441e-01f, 2.365211248e-01f, 5.277499557e-02f, 7.142319344e-03f, 5.862772814e-04f, 2.918901191e-05f, 8.814288321e-07f},
    {-2.650029659e-01f, -4.821981490e-01f, -2.956517339e-01f, -9.235620499e-02f, -1.607015729e-02f, -1.612267457e-03f, -9.486933413e-05f, -3.306070994e-06f,
     -2.650029659e-01f, -4.821981490e-01f, -2.956517339e-01f, -9.235620499e-02f, -1.607015729e-02f, -1.612267457e-03f, -9.486933413e-05f, -3.306070994e-06f},
    {-3.091704845e-01f, 2.678835019e-02f, 1.675358862e-01f, 9.015738964e-02f, 2.172451280e-02f, 2.760380274e-03f, 1.958126231e-04f, 7.970327715e-06f,
     -3.091704845e-01f, 2.678835019e-02f, 1.675358862e-01f, 9.015738964e-02f, 2.172451280e-02f, 2.760380274e-03f, 1.958126231e-04f, 7.970327715e-06f},
    {1.269345582e-01f, 1.506756246e-01f, -6.132035051e-03f, -4.810552299e-02f, -1.908825710e-02f, -3.257710487e-03f, -2.861694375e-04f, -1.378540946e-05f,
     1.269345582e-01f, 1.506756246e-01f, -6.132035051e-03f, -4.810552299e-02f, -1.908825710e-02f, -3.257710487e-03f, -2.861694375e-04f, -1.378540946e-05f},
    {8.003626764e-02f, -5.321709067e-02f, -4.718655348e-02f, 6.618473213e-03f, 1.066005975e-02f, 2.756291069e-03f, 3.136288433e-04f, 1.833005808e-05f,
     8.003626764e-02f, -5.321709067e-02f, -4.718655348e-02f, 6.618473213e-03f, 1.066005975e-02f, 2.756291069e-03f, 3.136288433e-04f, 1.833005808e-05f},
    {-3.934079409e-02f, -2.658282965e-02f, 2.059773728e-02f, 9.049494751e-03f, -2.779565053e-03f, -1.667850534e-03f, -2.737584291e-04f, -2.069241782e-05f,
     -3.934079409e-02f, -2.658282965e-02f, 2.059773728e-02f, 9.049494751e-03f, -2.779565053e-03f, -1.667850534e-03f, -2.737584291e-04f, -2.069241782e-05f},
    {-1.580337062e-02f, 1.788549498e-02f, 3.745110473e-03f, -5.933099426e-03f, -7.215269725e-04f, 6.358154351e-04f, 1.735965197e-04f, 1.714473728e-05f,
     -1.580337062e-02f, 1.788549498e-02f, 3.745110473e-03f, -5.933099426e-03f, -7.215269725e-04f, 6.358154351e-04f, 1.735965197e-04f, 1.714473728e-05f},
};

/* entry k[lane] of row j of the table (k in [0, 8)) */
static inline vm_v vm_erf_coef(int j, vm_i k) {
#if defined(__clang__) /* no __builtin_shuffle; k == 8 wraps to 0 as GCC's does */
    vm_v r;
    for (int l = 0; l < VM_LANES; l++) r[l] = vm_erf_tab[j][k[l] & 7];
    return r;
#elif VM_LANES == 4
    vm_v lo, hi;
    memcpy(&lo, vm_erf_tab[j], sizeof lo);
    memcpy(&hi, vm_erf_tab[j] + 4, sizeof hi);
    return __builtin_shuffle(lo, hi, k);
#elif VM_LANES == 8 || VM_LANES == 16
    vm_v t;
    memcpy(&t, vm_erf_tab[j], sizeof t);
    return __builtin_shuffle(t, k);
#else
#error "vmath.h: VM_LANES must be 4, 8 or 16"
#endif
}

static inline vm_v vm_erf(vm_v x) {
    vm_v ax = vm_min(vm_abs(x), VM_SPLAT(4.0f));
    vm_i k = __builtin_convertvector(ax * 2.0f, vm_i); /* ax >= 0: truncation = floor */
    k += (k > 7) & (7 - k);
    vm_v u = ax - (__builtin_convertvector(k, vm_v) * 0.5f + 0.25f);
    vm_v r = vm_erf_coef(7, k);
    for (int j = 6; j >= 0; j--) r = r * u + vm_erf_coef(j, k);
    return vm_copysign(r, x);
}

static inline vm_v vm_tanh(vm_v x) {
    vm_v e = vm_exp(-2.0f * vm_abs(x));
    return vm_copysign((1.0f - e) / (1.0f + e), x);
}

static inline vm_v vm_gelu_erf(vm_v x) { return 0.5f * x * (1.0f + vm_erf(x * 0.70710678118654752f)); }

static inline vm_v vm_gelu_tanh(vm_v x) {
    vm_v u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + vm_tanh(u));
}

static inline vm_v vm_silu(vm_v x) { return x / (1.0f + vm_exp(-x)); }

static inline vm_v vm_relu(vm_v x) { return vm_max(x, VM_SPLAT(0.0f)); }

#endif
