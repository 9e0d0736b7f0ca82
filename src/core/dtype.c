/* The dtype table and scalar float conversions. */
#include "pare/core.h"

#include <string.h>

static const pare_dtype_info dtype_table[PARE_DTYPE_COUNT] = {
    [PARE_DTYPE_F32] = {"f32", "F32", 1, 4, true},
    [PARE_DTYPE_F16] = {"f16", "F16", 1, 2, true},
    [PARE_DTYPE_BF16] = {"bf16", "BF16", 1, 2, true},
    [PARE_DTYPE_I8] = {"i8", "I8", 1, 1, false},
    [PARE_DTYPE_I32] = {"i32", "I32", 1, 4, false},
    [PARE_DTYPE_I64] = {"i64", "I64", 1, 8, false},
    [PARE_DTYPE_U8] = {"u8", "U8", 1, 1, false},
    [PARE_DTYPE_BOOL] = {"bool", "BOOL", 1, 1, false},
    [PARE_DTYPE_F64] = {"f64", "F64", 1, 8, true},
    [PARE_DTYPE_I16] = {"i16", "I16", 1, 2, false},
};

const pare_dtype_info *pare_dtype_get(pare_dtype t) {
    if ((unsigned)t >= PARE_DTYPE_COUNT) return NULL;
    return &dtype_table[t];
}

bool pare_dtype_nbytes(pare_dtype t, int64_t n, size_t *out) {
    const pare_dtype_info *d = pare_dtype_get(t);
    if (!d || n < 0 || n % d->block_size != 0) return false;
    return pare_mul_size((size_t)(n / d->block_size), d->block_bytes, out);
}

float pare_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) { mant <<= 1; exp--; }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t pare_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff);
    uint32_t mant = x & 0x7fffff;
    if (exp == 255) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    int32_t e = exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = 1u << (shift - 1);
        uint32_t r = mant >> shift, rem = mant & ((1u << shift) - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = (uint32_t)(e << 10) | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++; /* may carry into exp: fine */
    return (uint16_t)(sign | r);
}

float pare_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t pare_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}
