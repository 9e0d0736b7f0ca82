/* The table of block-quantized types (ids and layouts from ggml). */
#include "compress/quant/quant_internal.h"

#include <strings.h>

#define T(id, nm, bs, ts) [id] = {nm, bs, ts}
static const pare_qtype_info qtype_table[PARE_Q_COUNT] = {
    T(PARE_Q_F32, "F32", 1, 4),
    T(PARE_Q_F16, "F16", 1, 2),
    T(PARE_Q_Q4_0, "Q4_0", PARE_QK4_0, sizeof(pare_block_q4_0)),
    T(PARE_Q_Q4_1, "Q4_1", PARE_QK4_1, sizeof(pare_block_q4_1)),
    T(PARE_Q_Q5_0, "Q5_0", PARE_QK5_0, sizeof(pare_block_q5_0)),
    T(PARE_Q_Q5_1, "Q5_1", PARE_QK5_1, sizeof(pare_block_q5_1)),
    T(PARE_Q_Q8_0, "Q8_0", PARE_QK8_0, sizeof(pare_block_q8_0)),
    T(PARE_Q_Q8_1, "Q8_1", PARE_QK8_1, sizeof(pare_block_q8_1)),
    T(PARE_Q_Q2_K, "Q2_K", PARE_QK_K, sizeof(pare_block_q2_K)),
    T(PARE_Q_Q3_K, "Q3_K", PARE_QK_K, sizeof(pare_block_q3_K)),
    T(PARE_Q_Q4_K, "Q4_K", PARE_QK_K, sizeof(pare_block_q4_K)),
    T(PARE_Q_Q5_K, "Q5_K", PARE_QK_K, sizeof(pare_block_q5_K)),
    T(PARE_Q_Q6_K, "Q6_K", PARE_QK_K, sizeof(pare_block_q6_K)),
    T(PARE_Q_Q8_K, "Q8_K", PARE_QK_K, sizeof(pare_block_q8_K)),
    T(PARE_Q_I8, "I8", 1, 1),
    T(PARE_Q_I16, "I16", 1, 2),
    T(PARE_Q_I32, "I32", 1, 4),
    T(PARE_Q_I64, "I64", 1, 8),
    T(PARE_Q_F64, "F64", 1, 8),
    T(PARE_Q_BF16, "BF16", 1, 2),
};
#undef T

const pare_qtype_info *pare_qtype_get(uint32_t type) {
    if (type >= PARE_Q_COUNT || qtype_table[type].block_size == 0) return 0;
    return &qtype_table[type];
}

bool pare_qtype_row_size(pare_qtype type, int64_t n, size_t *out) {
    const pare_qtype_info *t = pare_qtype_get((uint32_t)type);
    if (!t || n < 0 || n % t->block_size != 0) return false;
    return pare_mul_size((size_t)(n / t->block_size), (size_t)t->type_size, out);
}

pare_status pare_quant_check_row(const char *who, pare_qtype type, bool have, int64_t n,
                                 int64_t *nb, pare_err *err) {
    const pare_qtype_info *t = pare_qtype_get((uint32_t)type);
    if (!t || !have)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: type %s (id %u) is not supported", who,
                            t ? t->name : "unknown", (unsigned)type);
    if (n < 0 || n % t->block_size != 0)
        return pare_err_set(err, PARE_ERR_INVALID,
                            "%s: %lld elements is not a whole number of %s blocks of %d", who,
                            (long long)n, t->name, (int)t->block_size);
    *nb = n / t->block_size;
    return PARE_OK;
}

pare_qtype pare_qtype_by_name(const char *name) {
    for (uint32_t i = 0; name && i < PARE_Q_COUNT; i++) {
        const pare_qtype_info *q = pare_qtype_get(i);
        if (q && !strcasecmp(q->name, name)) return (pare_qtype)i;
    }
    return PARE_Q_COUNT;
}
