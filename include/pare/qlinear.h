/* int8 Linear layers (W8A8): y = act((x_q . W_q^T) * sx * sw + bias).
 *
 * Weights: int8, symmetric, one scale per output channel (row of W), values
 * in [-127, 127] (-128 is never produced, see below). Activations: int8
 * symmetric, quantized on the fly from fp32, either with one scale per
 * token (row of x, "dynamic") or with one fixed per-tensor scale found by
 * calibration ("static"). Accumulation is exact in int32.
 *
 * Kernels (chosen at init from cpuid, stored in the layer):
 *   REF   plain C loops, the truth in tests.
 *   AVX2  vpmaddubsw with the sign trick: u8 = |x|, s8 = sign(x) * w, so
 *         each int16 pair sum is at most 2 * 127 * 127 = 32258 and never
 *         saturates (the u8 = x + 128 form would reach 2 * 255 * 127); then
 *         vpmaddwd with ones widens to int32. Exact for the full 8-bit
 *         symmetric range; about 1.5x the fp32 FMA rate on Zen 3.
 *   VNNI  AVX-512 VNNI vpdpbusd on u8 = x + 128 (int32 accumulation, no
 *         saturation), minus a per-column 128 * sum_k w compensation.
 *   AMX   tdpbusd on tiles of the same u8 input and VNNI-packed weights
 *         (k padded to 64), the same compensation; about 8x VNNI's rate.
 * The weights are packed at init into panels of NR output columns, k in
 * groups of 4 bytes per column (the vpmaddubsw/vpdpbusd operand layout).
 */
#ifndef PARE_QLINEAR_H
#define PARE_QLINEAR_H

#include "pare/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pare_qisa {
    PARE_QISA_REF = 0,
    PARE_QISA_AVX2 = 1, /* AVX2 vpmaddubsw + sign trick */
    PARE_QISA_VNNI = 2, /* AVX-512 VNNI vpdpbusd */
    PARE_QISA_AMX = 3,  /* AMX tdpbusd on 16 x 64 tiles, VNNI's packing */
} pare_qisa;

const char *pare_qisa_name(pare_qisa isa);
/* What this CPU runs for a requested kernel: REF -> REF; AVX2 -> AVX2;
 * AVX512 -> VNNI if present; anything else -> the best available (AMX when
 * the OS grants the tile state, VNNI, AVX2, else REF). */
pare_qisa pare_qisa_resolve(pare_kernel_impl want);

/* How a layer quantizes its input. */
typedef enum pare_qact_mode {
    PARE_QACT_DYNAMIC = 0, /* one scale per token: max|x_row| / 127 */
    PARE_QACT_STATIC = 1,  /* one calibrated scale for the tensor */
} pare_qact_mode;

typedef struct pare_qlinear {
    int64_t n_out, n_in;
    int64_t k_pad;      /* n_in rounded up to 4 (AMX: to 64) */
    int64_t nr;         /* panel width of the packed layout (0: REF) */
    pare_qisa isa;
    float in_scale;     /* > 0: static input scale; 0: dynamic per token */
    const int8_t *w;    /* [n_out, n_in] (REF), copied into the arena */
    int8_t *packed;     /* panels [n_panels][k_pad/4][nr][4] */
    float *w_scale;     /* [n_panels * nr] (padded with 0) */
    float *bias;        /* [n_panels * nr] (padded with 0) or NULL */
    int32_t *comp;      /* VNNI, AMX: 128 * sum_k w[j][k] per padded column */
} pare_qlinear;

/* w: int8 [n_out, n_in] in [-127, 127] (checked), w_scale [n_out] > 0,
 * bias [n_out] or NULL; all copied (packed) into arena. in_scale > 0 makes
 * the input static, 0 dynamic. */
pare_status pare_qlinear_init(pare_qlinear *l, const int8_t *w, const float *w_scale,
                              const float *bias, int64_t n_out, int64_t n_in, float in_scale,
                              pare_kernel_impl impl, pare_arena *arena, pare_err *err);
/* Bytes of weights the layer holds (packed int8, scales, bias). */
size_t pare_qlinear_bytes(const pare_qlinear *l);
/* Scratch bytes pare_qlinear_forward needs for m rows (quantized input). */
size_t pare_qlinear_scratch_bytes(const pare_qlinear *l, int64_t m);
/* y[m, n_out] = act(quant(x)[m, n_in] . W_q^T * sx * sw + bias). scratch:
 * pare_qlinear_scratch_bytes(l, m) bytes, 64-byte aligned. */
void pare_qlinear_forward(const pare_qlinear *l, const float *x, int64_t m, float *y, pare_act act,
                          void *scratch, pare_pool *pool);

/* The int8 weights back in [n_out, n_in] layout (scales: l->w_scale). */
void pare_qlinear_unpack(const pare_qlinear *l, int8_t *w);

/* The int32 accumulators alone: acc[m, n_out] = xq[m, n_in] . W_q^T, with
 * xq in [-127, 127]; same tiles and threads as the forward (for tests).
 * scratch as for pare_qlinear_forward. */
void pare_qlinear_gemm_i32(const pare_qlinear *l, const int8_t *xq, int64_t m, int32_t *acc,
                           void *scratch, pare_pool *pool);

/* Sustained int8 multiply-add rate of the whole pool in GOP/s (2 ops per
 * MAC) for the int8 GEMM's inner step on this CPU (*isa receives which:
 * AVX2 vpmaddubsw or VNNI vpdpbusd; 0 for REF), registers only, over each
 * thread's CPU time, for about `seconds`. */
double pare_measure_int8_peak(pare_pool *pool, double seconds, pare_qisa *isa);

/* ---- reference kernels (plain loops) */

/* c[m, n] = a[m, k] . b[n, k]^T in int32. */
void pare_gemm_ref_i8(const int8_t *a, const int8_t *b, int32_t *c, int64_t m, int64_t n,
                      int64_t k);
/* Quantize rows of x[m, k] to q[m, ldq] (k values, the rest up to ldq
 * zeroed) and scales[m]: static_scale > 0 uses it for every row, else
 * max|row| / 127 (1 for an all-zero row). q = clamp(rint(x / s), -127, 127),
 * computed as rint(x * (1 / s)) in float (the fast kernels match this
 * bit for bit). */
void pare_quantize_rows_i8_ref(const float *x, int64_t m, int64_t k, float static_scale,
                               int8_t *q, int64_t ldq, float *scales);
/* Quantize rows of x with the layer's activation quantizer (as the forward
 * does), to q[m, n_in] and scales[m]; for tests. */
void pare_qlinear_quantize_input(const pare_qlinear *l, const float *x, int64_t m, int8_t *q,
                                 float *scales);

/* ---- weight quantization (src/compress/quant/int8_rtn.c) */

/* Round-to-nearest, symmetric, per output channel: scale[r] = max|w_r| / 127
 * (1 for an all-zero row), q = clamp(rint(w / scale), -127, 127). */
void pare_quantize_int8_rows(const float *w, int64_t n_out, int64_t n_in, int8_t *q,
                             float *scale);
/* w = q * scale[row] */
void pare_dequantize_int8_rows(const int8_t *q, const float *scale, int64_t n_out, int64_t n_in,
                               float *w);

/* Static activation ranges. An observer is fed the inputs of one layer over
 * calibration batches and gives the per-tensor scale: min-max (max |x| over
 * everything seen) or a percentile of |x| (per batch, averaged over the
 * batches, as in TensorRT/ORT calibrators without the histogram). */
typedef enum pare_calib_method {
    PARE_CALIB_MINMAX = 0,
    PARE_CALIB_PERCENTILE = 1,
} pare_calib_method;

typedef struct pare_act_observer {
    pare_calib_method method;
    double percentile; /* e.g. 99.99 */
    double amax;       /* max |x| so far */
    double pct_sum;    /* sum over batches of the batch percentile */
    int64_t n_batches;
} pare_act_observer;

/* Feed n values; tmp: n floats of scratch for the percentile (may be NULL
 * for MINMAX). */
void pare_act_observer_add(pare_act_observer *o, const float *x, int64_t n, float *tmp);
/* The int8 scale: range / 127 (1 if nothing non-zero was seen). */
float pare_act_observer_scale(const pare_act_observer *o);

#ifdef __cplusplus
}
#endif
#endif
