/* Branch-free float math that GCC auto-vectorises (selects, not branches;
 * no libm calls). Included by every per-ISA kernel file, so each gets its
 * own vector width. Accuracy, checked in tests/test_kernels.c:
 *   vm_exp   ~2 ulp on [-87.3, 88.3]; exactly 0 below -87.3
 *   vm_erf   < 2e-7 absolute  (rational near 0, erfc fit beyond 0.6)
 *   vm_tanh  < 2e-7 absolute  (via exp)  */
#ifndef PARE_VMATH_H
#define PARE_VMATH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Float compares may "trap" under GCC's default -ftrapping-math, which
 * stops it from if-converting the selects below into blends, and so from
 * vectorising any loop that calls these. We never rely on FP traps. */
#pragma GCC optimize("no-trapping-math")

static inline float vm_exp(float x) {
    float xc = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    /* n = round(x / ln2) with the 1.5*2^23 trick (no rintf call) */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    /* Cephes expf polynomial */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    return x < -87.3f ? 0.0f : y;
}

/* erf with one division: for |x| < 0.6 the Eigen/XLA rational x*P(x^2)/Q(x^2);
 * beyond, 1 - erfc(|x|) with erfc(z) = t*exp(R(t) - z^2), t = 1/(1 + z/2)
 * (Chebyshev fit with fractional error < 1.2e-7, Numerical Recipes
 * "erfcc"). Both branches are computed and selected, so loops vectorise. */
static inline float vm_erf(float x) {
    float ax = x < 0 ? -x : x;
    bool small = ax < 0.6f;
    float xs = small ? x : 0.0f;
    float x2 = xs * xs;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    p = p * xs;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    float z = ax > 10.0f ? 10.0f : ax;
    float t = (small ? p : 1.0f) / (small ? q : 1.0f + 0.5f * z);
    float r = 0.17087277f;
    r = r * t + -0.82215223f;
    r = r * t + 1.48851587f;
    r = r * t + -1.13520398f;
    r = r * t + 0.27886807f;
    r = r * t + -0.18628806f;
    r = r * t + 0.09678418f;
    r = r * t + 0.37409196f;
    r = r * t + 1.00002368f;
    r = r * t + -1.26551223f;
    float l = 1.0f - t * vm_exp(r - z * z);
    l = x < 0 ? -l : l;
    return small ? t : l;
}

static inline float vm_tanh(float x) {
    float ax = x < 0 ? -x : x;
    float e = vm_exp(-2.0f * ax);
    float t = (1.0f - e) / (1.0f + e);
    return x < 0 ? -t : t;
}

static inline float vm_gelu_erf(float x) { return 0.5f * x * (1.0f + vm_erf(x * 0.70710678118654752f)); }

static inline float vm_gelu_tanh(float x) {
    float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + vm_tanh(u));
}

static inline float vm_silu(float x) { return x / (1.0f + vm_exp(-x)); }

static inline float vm_relu(float x) { return x > 0.0f ? x : 0.0f; }

#endif
