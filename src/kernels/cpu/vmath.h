/* Float math on GCC vector types, for the per-ISA kernel files. The
 * includer defines VM_LANES (floats per vm_v); make it a few native
 * registers wide: GCC splits each operation into native pieces one after
 * the other, which interleaves independent chains and hides the long
 * latency of these polynomials. No libm calls, no branches.
 * Accuracy (checked in tests/test_kernels.c against libm):
 *   vm_exp   ~2 ulp on [-87.3, 88.3]; exactly 0 below -87.3
 *   vm_erf   < 2e-7 absolute: rational near 0, erfc fit beyond 0.6
 *   vm_tanh  < 1e-7 absolute (via exp) */
#ifndef PARE_VMATH_H
#define PARE_VMATH_H

#include <stdint.h>

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

/* erf with one division: for |x| < 0.6 the Eigen/XLA rational x*P(x^2)/Q(x^2);
 * beyond, 1 - erfc(|x|) with erfc(z) = t*exp(R(t) - z^2), t = 1/(1 + z/2)
 * (Chebyshev fit with fractional error < 1.2e-7, Numerical Recipes
 * "erfcc"). Both branches are computed and selected. */
static inline vm_v vm_erf(vm_v x) {
    vm_v ax = vm_abs(x);
    vm_i small = ax < 0.6f;
    vm_v xs = vm_sel(small, x, VM_SPLAT(0.0f));
    vm_v x2 = xs * xs, x4 = x2 * x2, x8 = x4 * x4;
    vm_v p = (x2 * -2.95459980854025e-03f + -1.60960333262415e-02f) +
             (x2 * -5.69250639462346e-05f + -7.34990630326855e-04f) * x4 +
             ((x2 * 2.77068142495902e-08f + -2.10102402082508e-06f) + x4 * -2.72614225801306e-10f) * x8;
    p = p * xs;
    vm_v q = (x2 * -7.37332916720468e-03f + -1.42647390514189e-02f) +
             (x2 * -2.13374055278905e-04f + -1.68282697438203e-03f) * x4 +
             x8 * -1.45660718464996e-05f;
    vm_v z = vm_min(ax, VM_SPLAT(10.0f));
    vm_v t = vm_sel(small, p, VM_SPLAT(1.0f)) / vm_sel(small, q, 1.0f + 0.5f * z);
    vm_v t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
    vm_v r = ((t * 1.00002368f + -1.26551223f) + (t * 0.09678418f + 0.37409196f) * t2) +
             ((t * 0.27886807f + -0.18628806f) + (t * 1.48851587f + -1.13520398f) * t2) * t4 +
             (t * 0.17087277f + -0.82215223f) * t8;
    vm_v l = 1.0f - t * vm_exp(r - z * z);
    return vm_sel(small, t, vm_copysign(l, x));
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
