/* Block-quantized weight types, byte-compatible with ggml/GGUF.
 *
 * The type ids are GGUF's (ggml_type), so a tensor's type field in a GGUF
 * file is used as is. Block structs are packed the way ggml lays them out;
 * the static asserts pin every size. Which ids pare understands, their
 * block sizes and names are in the table behind pare_qtype_info().
 *
 * One struct per type, one idea per field (ggml names kept so that the
 * reference definitions in ggml-quants.c read across):
 *   d      block scale (f16 unless noted)
 *   m/dmin block minimum (f16), subtracted or added as the type says
 *   qs     low bits of the quants, two 4-bit values per byte where packed
 *   qh     high bits (5-bit and K types)
 *   scales per-sub-block scales (K types, packed 6-bit for Q3_K..Q5_K)
 */
#ifndef PARE_QTYPES_H
#define PARE_QTYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pare_qtype {
    PARE_Q_F32 = 0,
    PARE_Q_F16 = 1,
    PARE_Q_Q4_0 = 2,
    PARE_Q_Q4_1 = 3,
    /* 4 and 5 were Q4_2 and Q4_3, removed from ggml */
    PARE_Q_Q5_0 = 6,
    PARE_Q_Q5_1 = 7,
    PARE_Q_Q8_0 = 8,
    PARE_Q_Q8_1 = 9,
    PARE_Q_Q2_K = 10,
    PARE_Q_Q3_K = 11,
    PARE_Q_Q4_K = 12,
    PARE_Q_Q5_K = 13,
    PARE_Q_Q6_K = 14,
    PARE_Q_Q8_K = 15,
    PARE_Q_I8 = 24,
    PARE_Q_I16 = 25,
    PARE_Q_I32 = 26,
    PARE_Q_I64 = 27,
    PARE_Q_F64 = 28,
    PARE_Q_BF16 = 30,
    PARE_Q_COUNT = 40, /* ids below this are looked up in the table */
} pare_qtype;

#define PARE_QK4_0 32
#define PARE_QK4_1 32
#define PARE_QK5_0 32
#define PARE_QK5_1 32
#define PARE_QK8_0 32
#define PARE_QK8_1 32
#define PARE_QK_K 256
#define PARE_K_SCALE_SIZE 12

typedef struct {
    uint16_t d;
    uint8_t qs[PARE_QK4_0 / 2]; /* x[j] = (qs[j] & 15) - 8, x[j+16] = (qs[j] >> 4) - 8 */
} pare_block_q4_0;

typedef struct {
    uint16_t d, m;
    uint8_t qs[PARE_QK4_1 / 2]; /* x = d * q + m */
} pare_block_q4_1;

typedef struct {
    uint16_t d;
    uint8_t qh[4]; /* bit j = 5th bit of element j */
    uint8_t qs[PARE_QK5_0 / 2];
} pare_block_q5_0;

typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[PARE_QK5_1 / 2];
} pare_block_q5_1;

typedef struct {
    uint16_t d;
    int8_t qs[PARE_QK8_0];
} pare_block_q8_0;

typedef struct {
    uint16_t d, s; /* s = d * sum(qs) */
    int8_t qs[PARE_QK8_1];
} pare_block_q8_1;

typedef struct {
    uint8_t scales[PARE_QK_K / 16]; /* low 4 bits scale, high 4 bits min */
    uint8_t qs[PARE_QK_K / 4];
    uint16_t d, dmin;
} pare_block_q2_K;

typedef struct {
    uint8_t hmask[PARE_QK_K / 8];
    uint8_t qs[PARE_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} pare_block_q3_K;

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[PARE_K_SCALE_SIZE];
    uint8_t qs[PARE_QK_K / 2];
} pare_block_q4_K;

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[PARE_K_SCALE_SIZE];
    uint8_t qh[PARE_QK_K / 8];
    uint8_t qs[PARE_QK_K / 2];
} pare_block_q5_K;

typedef struct {
    uint8_t ql[PARE_QK_K / 2];
    uint8_t qh[PARE_QK_K / 4];
    int8_t scales[PARE_QK_K / 16];
    uint16_t d;
} pare_block_q6_K;

typedef struct {
    float d;
    int8_t qs[PARE_QK_K];
    int16_t bsums[PARE_QK_K / 16];
} pare_block_q8_K;

_Static_assert(sizeof(pare_block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(pare_block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(pare_block_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(pare_block_q5_1) == 24, "q5_1 block");
_Static_assert(sizeof(pare_block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(pare_block_q8_1) == 36, "q8_1 block");
_Static_assert(sizeof(pare_block_q2_K) == 84, "q2_K block");
_Static_assert(sizeof(pare_block_q3_K) == 110, "q3_K block");
_Static_assert(sizeof(pare_block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(pare_block_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(pare_block_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(pare_block_q8_K) == 292, "q8_K block");

typedef struct pare_qtype_info {
    const char *name;   /* GGUF/ggml spelling: "F16", "Q4_0", "Q6_K" */
    int32_t block_size; /* elements per block; 1 for plain types; 0 = unknown id */
    int32_t type_size;  /* bytes per block */
} pare_qtype_info;

/* NULL for ids pare does not know (including ids >= PARE_Q_COUNT). */
const pare_qtype_info *pare_qtype_get(uint32_t type);
/* The type of a ggml name, any case ("q4_0", "F16"); PARE_Q_COUNT if none. */
pare_qtype pare_qtype_by_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
