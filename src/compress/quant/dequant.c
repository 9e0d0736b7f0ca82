/* Reference dequantization of ggml block types: one routine per type,
 * bit-identical to ggml-quants.c's dequantize_row_* (same float operations
 * in the same order; this file is built without FMA, so a*b + c is rounded
 * twice, as in the reference). */
#include "compress/quant/quant_internal.h"

#include <string.h>

typedef void (*dequant_fn)(const void *src, float *y, int64_t nb);

#define H2F pare_f16_to_f32

static void dq_f32(const void *src, float *y, int64_t nb) {
    memcpy(y, src, (size_t)nb * sizeof(float));
}

static void dq_f16(const void *src, float *y, int64_t nb) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < nb; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        y[i] = H2F(h);
    }
}

static void dq_bf16(const void *src, float *y, int64_t nb) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < nb; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        y[i] = pare_bf16_to_f32(h);
    }
}

static void dq_q4_0(const void *src, float *y, int64_t nb) {
    const pare_block_q4_0 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = H2F(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[i].qs[j] & 15) - 8) * d;
            y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dq_q4_1(const void *src, float *y, int64_t nb) {
    const pare_block_q4_1 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = H2F(x[i].d), m = H2F(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[i].qs[j] & 15) * d + m;
            y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

/* The 5-bit values of a Q5 block (0..31), from its low nibbles and qh. */
static void q5_values(const uint8_t qs[16], const uint8_t qh_bytes[4], int v[32]) {
    uint32_t qh;
    memcpy(&qh, qh_bytes, 4);
    for (int j = 0; j < 16; j++) {
        v[j] = (qs[j] & 15) | (int)(((qh >> j) << 4) & 0x10);
        v[j + 16] = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
    }
}

static void dq_q5_0(const void *src, float *y, int64_t nb) {
    const pare_block_q5_0 *x = src;
    int v[32];
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = H2F(x[i].d);
        q5_values(x[i].qs, x[i].qh, v);
        for (int j = 0; j < 32; j++) y[j] = (float)(v[j] - 16) * d;
    }
}

static void dq_q5_1(const void *src, float *y, int64_t nb) {
    const pare_block_q5_1 *x = src;
    int v[32];
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = H2F(x[i].d), m = H2F(x[i].m);
        q5_values(x[i].qs, x[i].qh, v);
        for (int j = 0; j < 32; j++) y[j] = (float)v[j] * d + m;
    }
}

static void dq_q8_0(const void *src, float *y, int64_t nb) {
    const pare_block_q8_0 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = H2F(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

static void dq_q8_1(const void *src, float *y, int64_t nb) {
    const pare_block_q8_1 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = H2F(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

static void dq_q2_k(const void *src, float *y, int64_t nb) {
    const pare_block_q2_K *x = src;
    for (int64_t i = 0; i < nb; i++) {
        const float d = H2F(x[i].d), min = H2F(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int n = 0; n < PARE_QK_K; n += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2)
                for (int half = 0; half < 2; half++) { /* 16 values each */
                    uint8_t sc = x[i].scales[is++];
                    const float dl = d * (float)(sc & 15), ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++)
                        *y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
                }
    }
}

/* The 16 6-bit scales of a Q3_K block, as ggml unpacks them (biased by 32). */
static void q3k_scales(const uint8_t packed[12], int8_t sc[16]) {
    uint32_t aux[4];
    const uint32_t km1 = 0x03030303, km2 = 0x0f0f0f0f;
    memcpy(aux, packed, 12);
    uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & km2) | (((tmp >> 4) & km1) << 4);
    aux[3] = ((aux[1] >> 4) & km2) | (((tmp >> 6) & km1) << 4);
    aux[0] = (aux[0] & km2) | (((tmp >> 0) & km1) << 4);
    aux[1] = (aux[1] & km2) | (((tmp >> 2) & km1) << 4);
    memcpy(sc, aux, 16);
}

static void dq_q3_k(const void *src, float *y, int64_t nb) {
    const pare_block_q3_K *x = src;
    int8_t sc[16];
    for (int64_t i = 0; i < nb; i++) {
        const float d_all = H2F(x[i].d);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        uint8_t m = 1;
        q3k_scales(x[i].scales, sc);
        int is = 0;
        for (int n = 0; n < PARE_QK_K; n += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1))
                for (int half = 0; half < 2; half++) {
                    const float dl = d_all * (float)(sc[is++] - 32);
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        *y++ = dl * (float)(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                }
    }
}

/* Scale and min j (0..7) of a Q4_K/Q5_K block (6 bits each, packed). */
static void k4_scale_min(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q4_K and Q5_K: 4 chunks of 64 = two sub-blocks of 32 (low, high nibbles)
 * with their own scale and min; Q5_K adds a fifth bit from qh. */
static void dq_k45(const uint16_t dd, const uint16_t dmin, const uint8_t *scales,
                   const uint8_t *ql, const uint8_t *qh, float *y) {
    const float d = H2F(dd), min = H2F(dmin);
    uint8_t u1 = 1, u2 = 2, sc, m;
    for (int j = 0, is = 0; j < PARE_QK_K; j += 64, ql += 32, is += 2) {
        k4_scale_min(is, scales, &sc, &m);
        const float d1 = d * (float)sc, m1 = min * (float)m;
        k4_scale_min(is + 1, scales, &sc, &m);
        const float d2 = d * (float)sc, m2 = min * (float)m;
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)((ql[l] & 15) + (qh && (qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)((ql[l] >> 4) + (qh && (qh[l] & u2) ? 16 : 0)) - m2;
        u1 = (uint8_t)(u1 << 2);
        u2 = (uint8_t)(u2 << 2);
    }
}

static void dq_q4_k(const void *src, float *y, int64_t nb) {
    const pare_block_q4_K *x = src;
    for (int64_t i = 0; i < nb; i++, y += PARE_QK_K)
        dq_k45(x[i].d, x[i].dmin, x[i].scales, x[i].qs, NULL, y);
}

static void dq_q5_k(const void *src, float *y, int64_t nb) {
    const pare_block_q5_K *x = src;
    for (int64_t i = 0; i < nb; i++, y += PARE_QK_K)
        dq_k45(x[i].d, x[i].dmin, x[i].scales, x[i].qs, x[i].qh, y);
}

static void dq_q6_k(const void *src, float *y, int64_t nb) {
    const pare_block_q6_K *x = src;
    for (int64_t i = 0; i < nb; i++) {
        const float d = H2F(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < PARE_QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
    }
}

static void dq_q8_k(const void *src, float *y, int64_t nb) {
    const pare_block_q8_K *x = src;
    for (int64_t i = 0; i < nb; i++, y += PARE_QK_K) {
        float d;
        memcpy(&d, &x[i].d, sizeof d);
        for (int j = 0; j < PARE_QK_K; j++) y[j] = d * (float)x[i].qs[j];
    }
}

static const dequant_fn dequant_table[PARE_Q_COUNT] = {
    [PARE_Q_F32] = dq_f32,   [PARE_Q_F16] = dq_f16,   [PARE_Q_BF16] = dq_bf16,
    [PARE_Q_Q4_0] = dq_q4_0, [PARE_Q_Q4_1] = dq_q4_1, [PARE_Q_Q5_0] = dq_q5_0,
    [PARE_Q_Q5_1] = dq_q5_1, [PARE_Q_Q8_0] = dq_q8_0, [PARE_Q_Q8_1] = dq_q8_1,
    [PARE_Q_Q2_K] = dq_q2_k, [PARE_Q_Q3_K] = dq_q3_k, [PARE_Q_Q4_K] = dq_q4_k,
    [PARE_Q_Q5_K] = dq_q5_k, [PARE_Q_Q6_K] = dq_q6_k, [PARE_Q_Q8_K] = dq_q8_k,
};

pare_status pare_dequantize_row(pare_qtype type, const void *src, float *dst, int64_t n,
                                pare_err *err) {
    int64_t nb;
    bool have = (unsigned)type < PARE_Q_COUNT && dequant_table[type];
    pare_status s = pare_quant_check_row("pare_dequantize_row", type, have, n, &nb, err);
    if (s) return s;
    if (nb > 0) dequant_table[type](src, dst, nb);
    return PARE_OK;
}
