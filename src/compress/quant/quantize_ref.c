/* Reference quantization, bit-identical to ggml-quants.c's
 * quantize_row_*_ref (same float operations in the same order, roundf
 * rounding half away from zero, truncating casts where ggml truncates; this
 * file is built without FMA so nothing is fused). These are what model files
 * are made with; the matmul kernels quantize activations their own way. */
#include "compress/quant/quant_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

typedef void (*quant_fn)(const float *x, void *dst, int64_t nb);

#define F2H pare_f32_to_f16

static void q_f32(const float *x, void *dst, int64_t nb) {
    memcpy(dst, x, (size_t)nb * sizeof(float));
}

static void q_f16(const float *x, void *dst, int64_t nb) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < nb; i++) {
        uint16_t h = F2H(x[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

static void q_bf16(const float *x, void *dst, int64_t nb) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < nb; i++) {
        uint16_t h = pare_f32_to_bf16(x[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

/* The value of largest magnitude (the first one if tied), as ggml's
 * symmetric types pick it. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    *mn = FLT_MAX;
    *mx = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *mn) *mn = x[j];
        if (x[j] > *mx) *mx = x[j];
    }
}

static void q_q4_0(const float *x, void *dst, int64_t nb) {
    pare_block_q4_0 *y = dst;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        const float d = signed_absmax(x, 32) / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        for (int j = 0; j < 16; j++) {
            int xi0 = (int8_t)(x[j] * id + 8.5f), xi1 = (int8_t)(x[j + 16] * id + 8.5f);
            y[i].qs[j] = (uint8_t)((xi0 < 15 ? xi0 : 15) | (xi1 < 15 ? xi1 : 15) << 4);
        }
    }
}

static void q_q4_1(const float *x, void *dst, int64_t nb) {
    pare_block_q4_1 *y = dst;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float mn, mx;
        min_max(x, 32, &mn, &mx);
        const float d = (mx - mn) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        y[i].m = F2H(mn);
        for (int j = 0; j < 16; j++) {
            int xi0 = (int8_t)((x[j] - mn) * id + 0.5f);
            int xi1 = (int8_t)((x[j + 16] - mn) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((xi0 < 15 ? xi0 : 15) | (xi1 < 15 ? xi1 : 15) << 4);
        }
    }
}

/* Pack 32 5-bit values into the low nibbles and the qh bit mask. */
static void q5_pack(const int v[32], uint8_t qs[16], uint8_t qh_bytes[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((v[j] & 15) | (v[j + 16] & 15) << 4);
        qh |= (uint32_t)((v[j] & 0x10) >> 4) << j;
        qh |= (uint32_t)((v[j + 16] & 0x10) >> 4) << (j + 16);
    }
    memcpy(qh_bytes, &qh, 4);
}

static void q_q5_0(const float *x, void *dst, int64_t nb) {
    pare_block_q5_0 *y = dst;
    int v[32];
    for (int64_t i = 0; i < nb; i++, x += 32) {
        const float d = signed_absmax(x, 32) / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        for (int j = 0; j < 32; j++) {
            int xi = (int8_t)(x[j] * id + 16.5f);
            v[j] = xi < 31 ? xi : 31;
        }
        q5_pack(v, y[i].qs, y[i].qh);
    }
}

static void q_q5_1(const float *x, void *dst, int64_t nb) {
    pare_block_q5_1 *y = dst;
    int v[32];
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float mn, mx;
        min_max(x, 32, &mn, &mx);
        const float d = (mx - mn) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        y[i].m = F2H(mn);
        for (int j = 0; j < 32; j++) v[j] = (uint8_t)((x[j] - mn) * id + 0.5f);
        q5_pack(v, y[i].qs, y[i].qh);
    }
}

/* d = amax / 127 and qs = roundf(x / d); returns sum(qs). */
static int q8_block(const float *x, int8_t qs[32], float *d_out) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        qs[j] = (int8_t)roundf(x[j] * id);
        sum += qs[j];
    }
    *d_out = d;
    return sum;
}

static void q_q8_0(const float *x, void *dst, int64_t nb) {
    pare_block_q8_0 *y = dst;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float d;
        q8_block(x, y[i].qs, &d);
        y[i].d = F2H(d);
    }
}

static void q_q8_1(const float *x, void *dst, int64_t nb) {
    pare_block_q8_1 *y = dst;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float d;
        int sum = q8_block(x, y[i].qs, &d);
        y[i].d = F2H(d);
        y[i].s = F2H((float)sum * d);
    }
}

/* ggml's nearest_int: round half to even through the float mantissa. */
static int nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static void q_q8_k(const float *x, void *dst, int64_t nb) {
    pare_block_q8_K *y = dst;
    for (int64_t i = 0; i < nb; i++, x += PARE_QK_K) {
        const float max = signed_absmax(x, PARE_QK_K);
        memset(&y[i], 0, sizeof y[i]); /* ggml leaves bsums unset for a zero block */
        if (max == 0.0f) continue;
        const float iscale = -127.f / max;
        for (int j = 0; j < PARE_QK_K; j++) {
            int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < PARE_QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

static const quant_fn quant_table[PARE_Q_COUNT] = {
    [PARE_Q_F32] = q_f32,   [PARE_Q_F16] = q_f16,   [PARE_Q_BF16] = q_bf16,
    [PARE_Q_Q4_0] = q_q4_0, [PARE_Q_Q4_1] = q_q4_1, [PARE_Q_Q5_0] = q_q5_0,
    [PARE_Q_Q5_1] = q_q5_1, [PARE_Q_Q8_0] = q_q8_0, [PARE_Q_Q8_1] = q_q8_1,
    [PARE_Q_Q8_K] = q_q8_k,
};

pare_status pare_quantize_row_ref(pare_qtype type, const float *src, void *dst, int64_t n,
                                  pare_err *err) {
    int64_t nb;
    bool have = (unsigned)type < PARE_Q_COUNT && quant_table[type];
    pare_status s = pare_quant_check_row("pare_quantize_row_ref", type, have, n, &nb, err);
    if (s) return s;
    if (nb > 0) quant_table[type](src, dst, nb);
    return PARE_OK;
}
