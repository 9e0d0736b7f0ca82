/* int8 Linear layers (pare/qlinear.h): kernel choice, weight packing, the
 * reference kernels, input quantization and dispatch to the packed AVX2 /
 * VNNI GEMMs (int8_body.h). */
#include "kernels/cpu/int8_internal.h"
#include "kernels/cpu/kern_internal.h"

#include <math.h>
#include <string.h>

const char *pare_qisa_name(pare_qisa isa) {
    switch (isa) {
    case PARE_QISA_REF: return "ref";
    case PARE_QISA_AVX2: return "avx2-maddubs";
    case PARE_QISA_VNNI: return "avx512-vnni";
    case PARE_QISA_AMX: return "amx-int8";
    default: return "?";
    }
}

pare_qisa pare_qisa_resolve(pare_kernel_impl want) {
    pare_cpu_features f;
    pare_cpu_detect(&f);
    bool vnni = f.avx512f && f.avx512bw && f.avx512vl && f.avx512_vnni && f.avx2 && f.fma;
    bool avx2 = f.avx2 && f.fma;
    if (want == PARE_KERNEL_REF) return PARE_QISA_REF;
    if (want == PARE_KERNEL_AVX2) return avx2 ? PARE_QISA_AVX2 : PARE_QISA_REF;
    if (want != PARE_KERNEL_AVX512 && vnni && pare_amx_enable(&f)) return PARE_QISA_AMX;
    return vnni ? PARE_QISA_VNNI : avx2 ? PARE_QISA_AVX2 : PARE_QISA_REF;
}

void pare_gemm_ref_i8(const int8_t *a, const int8_t *b, int32_t *c, int64_t m, int64_t n,
                      int64_t k) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int32_t s = 0;
            for (int64_t kk = 0; kk < k; kk++) s += (int32_t)a[i * k + kk] * (int32_t)b[j * k + kk];
            c[i * n + j] = s;
        }
}

static float quant_row_ref(const float *x, int64_t k, float static_scale, int8_t *q, int64_t ldq) {
    float scale, inv;
    if (static_scale > 0.0f) {
        scale = static_scale;
        inv = 1.0f / static_scale;
    } else {
        float amax = 0.0f;
        for (int64_t i = 0; i < k; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
        scale = amax > 0.0f ? amax / 127.0f : 1.0f;
        inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    }
    for (int64_t i = 0; i < ldq; i++) {
        int v = 0;
        if (i < k) {
            float r = nearbyintf(x[i] * inv);
            v = pare_i8_clamp(r);
        }
        q[i] = (int8_t)v;
    }
    return scale;
}

void pare_quantize_rows_i8_ref(const float *x, int64_t m, int64_t k, float static_scale,
                               int8_t *q, int64_t ldq, float *scales) {
    for (int64_t r = 0; r < m; r++) scales[r] = quant_row_ref(x + r * k, k, static_scale, q + r * ldq, ldq);
}

/* packed[p][kq][j][4] = w[p*nr + j][4*kq + t], 0 past n_out and n_in;
 * scales and bias padded to n_panels * nr; comp for VNNI. */
static pare_status pack(pare_qlinear *l, const int8_t *w, const float *w_scale, const float *bias,
                        pare_arena *arena, pare_err *err) {
    const int64_t nr = l->nr, kp = l->k_pad, n_panels = (l->n_out + nr - 1) / nr;
    const int64_t cols = n_panels * nr;
    size_t wbytes;
    if (!pare_mul_size((size_t)cols, (size_t)kp, &wbytes))
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qlinear_init: packed size overflows");
    l->packed = pare_arena_alloc(arena, wbytes, 64);
    l->w_scale = pare_arena_alloc(arena, (size_t)cols * sizeof(float), 64);
    l->bias = bias ? pare_arena_alloc(arena, (size_t)cols * sizeof(float), 64) : NULL;
    l->comp = pare_i8_plus128(l->isa) ? pare_arena_alloc(arena, (size_t)cols * sizeof(int32_t), 64) : NULL;
    if (!l->packed || !l->w_scale || (bias && !l->bias) || (pare_i8_plus128(l->isa) && !l->comp))
        return pare_err_set(err, PARE_ERR_OOM, "pare_qlinear_init: no memory for %zu packed bytes", wbytes);
    for (int64_t p = 0; p < n_panels; p++) {
        int8_t *panel = l->packed + p * kp * nr;
        for (int64_t j = 0; j < nr; j++) {
            int64_t row = p * nr + j;
            int32_t sum = 0;
            for (int64_t kk = 0; kk < kp; kk++) {
                int8_t v = row < l->n_out && kk < l->n_in ? w[row * l->n_in + kk] : 0;
                panel[(kk / 4) * nr * 4 + j * 4 + kk % 4] = v;
                sum += v;
            }
            if (l->comp) l->comp[row] = 128 * sum;
        }
    }
    for (int64_t j = 0; j < cols; j++) {
        l->w_scale[j] = j < l->n_out ? w_scale[j] : 0.0f;
        if (l->bias) l->bias[j] = j < l->n_out ? bias[j] : 0.0f;
    }
    return PARE_OK;
}

pare_status pare_qlinear_init(pare_qlinear *l, const int8_t *w, const float *w_scale,
                              const float *bias, int64_t n_out, int64_t n_in, float in_scale,
                              pare_kernel_impl impl, pare_arena *arena, pare_err *err) {
    memset(l, 0, sizeof *l);
    if (!w || !w_scale || n_out <= 0 || n_in <= 0 || n_out > INT32_MAX || n_in > INT32_MAX - 4)
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qlinear_init: bad weight [%lld, %lld]",
                            (long long)n_out, (long long)n_in);
    if (!(in_scale >= 0.0f) || !isfinite(in_scale))
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qlinear_init: input scale %g is not >= 0", (double)in_scale);
    /* int32 accumulators: n_in * 127 * 255 (VNNI's u8) must not overflow */
    if (n_in > INT32_MAX / (127 * 255))
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qlinear_init: n_in %lld overflows int32 accumulators", (long long)n_in);
    for (int64_t i = 0; i < n_out * n_in; i++)
        if (w[i] == INT8_MIN)
            return pare_err_set(err, PARE_ERR_INVALID, "pare_qlinear_init: weight %lld is -128 (int8 weights must be in [-127, 127])", (long long)i);
    for (int64_t i = 0; i < n_out; i++)
        if (!(w_scale[i] > 0.0f) || !isfinite(w_scale[i]))
            return pare_err_set(err, PARE_ERR_INVALID, "pare_qlinear_init: weight scale %lld is %g, not a positive number", (long long)i, (double)w_scale[i]);
    l->n_out = n_out;
    l->n_in = n_in;
    l->in_scale = in_scale;
    l->isa = pare_qisa_resolve(impl);
    l->k_pad = l->isa == PARE_QISA_AMX ? (n_in + 63) / 64 * 64 : (n_in + 3) / 4 * 4;
    if (l->isa == PARE_QISA_REF) {
        size_t wb = (size_t)(n_out * n_in);
        int8_t *wc = pare_arena_alloc(arena, wb, 64);
        float *sc = pare_arena_alloc(arena, (size_t)n_out * sizeof(float), 64);
        float *bc = bias ? pare_arena_alloc(arena, (size_t)n_out * sizeof(float), 64) : NULL;
        if (!wc || !sc || (bias && !bc))
            return pare_err_set(err, PARE_ERR_OOM, "pare_qlinear_init: no memory for %zu weight bytes", wb);
        memcpy(wc, w, wb);
        memcpy(sc, w_scale, (size_t)n_out * sizeof(float));
        if (bc) memcpy(bc, bias, (size_t)n_out * sizeof(float));
        l->w = wc;
        l->w_scale = sc;
        l->bias = bc;
        return PARE_OK;
    }
    l->nr = pare_i8_plus128(l->isa) ? PARE_I8_VNNI_NR : PARE_I8_AVX2_NR;
    return pack(l, w, w_scale, bias, arena, err);
}

void pare_qlinear_unpack(const pare_qlinear *l, int8_t *w) {
    if (l->isa == PARE_QISA_REF) {
        memcpy(w, l->w, (size_t)(l->n_out * l->n_in));
        return;
    }
    const int64_t nr = l->nr, kp = l->k_pad;
    for (int64_t row = 0; row < l->n_out; row++) {
        const int8_t *panel = l->packed + (row / nr) * kp * nr;
        int64_t j = row % nr;
        for (int64_t kk = 0; kk < l->n_in; kk++) w[row * l->n_in + kk] = panel[(kk / 4) * nr * 4 + j * 4 + kk % 4];
    }
}

size_t pare_qlinear_bytes(const pare_qlinear *l) {
    int64_t cols = l->nr ? (l->n_out + l->nr - 1) / l->nr * l->nr : l->n_out;
    size_t b = (size_t)(cols * l->k_pad) + (size_t)cols * sizeof(float);
    if (l->isa == PARE_QISA_REF) b = (size_t)(cols * l->n_in) + (size_t)cols * sizeof(float);
    if (l->bias) b += (size_t)cols * sizeof(float);
    if (l->comp) b += (size_t)cols * sizeof(int32_t);
    return b;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Rows of quantized input the kernel reads: AMX tiles take 16 at a time. */
static int64_t input_rows(const pare_qlinear *l, int64_t m) {
    m = m > 0 ? m : 0;
    return l->isa == PARE_QISA_AMX ? (m + 15) / 16 * 16 : m;
}

size_t pare_qlinear_scratch_bytes(const pare_qlinear *l, int64_t m) {
    size_t rows = (size_t)input_rows(l, m);
    return 2 * align64(rows * (size_t)l->k_pad) + align64(rows * sizeof(float));
}

typedef struct {
    const pare_qlinear *l;
    const float *x;
    const int8_t *xq; /* pre-quantized input (gemm_i32) instead of x */
    int64_t m;
    int8_t *q;
    uint8_t *u;
    float *scale;
} quant_job;

static void quant_worker(void *ctx, int ith, int nth) {
    const quant_job *j = ctx;
    const pare_qlinear *l = j->l;
    const int64_t k = l->n_in, kp = l->k_pad;
    const bool plus128 = pare_i8_plus128(l->isa);
    int64_t r0, r1;
    pare_split_range(j->m, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int8_t *q = j->q + r * kp;
        uint8_t *u = j->u + r * kp;
        if (j->xq) {
            memcpy(q, j->xq + r * k, (size_t)k);
            memset(q + k, 0, (size_t)(kp - k));
            for (int64_t i = 0; i < kp; i++) u[i] = (uint8_t)(plus128 ? q[i] + 128 : (q[i] < 0 ? -q[i] : q[i]));
        } else {
            j->scale[r] = pare_i8_quant_row_avx2(j->x + r * k, k, kp, l->in_scale, q, u, plus128);
        }
    }
}

/* Fill the scratch with the quantized input; returns its view. */
static pare_i8_input prepare(const pare_qlinear *l, const float *x, const int8_t *xq, int64_t m,
                             void *scratch, pare_pool *pool) {
    const int64_t rows = input_rows(l, m);
    const size_t qb = align64((size_t)(rows * l->k_pad));
    quant_job j = {.l = l, .x = x, .xq = xq, .m = m, .q = scratch,
                   .u = (uint8_t *)scratch + qb, .scale = (float *)(void *)((char *)scratch + 2 * qb)};
    pare_pool_run((double)m * (double)l->n_in >= 65536.0 ? pool : NULL, quant_worker, &j);
    /* rows the AMX tiles read past m: defined bytes, results never stored */
    memset(j.u + m * l->k_pad, 0, (size_t)((rows - m) * l->k_pad));
    return (pare_i8_input){.q = j.q, .u = j.u, .ld = l->k_pad, .scale = xq ? NULL : j.scale};
}

static void gemm_dispatch(const pare_qlinear *l, const pare_i8_input *in, int64_t m, void *y,
                          pare_act act, pare_pool *pool) {
    if (l->isa == PARE_QISA_AMX && m >= 16)
        pare_i8_gemm_amx(l, in, m, y, act, pool);
    else if (pare_i8_plus128(l->isa)) /* VNNI; AMX layers with a few rows (decode) too: same panels */
        pare_i8_gemm_vnni(l, in, m, y, act, pool);
    else
        pare_i8_gemm_avx2(l, in, m, y, act, pool);
}

void pare_qlinear_forward(const pare_qlinear *l, const float *x, int64_t m, float *y, pare_act act,
                          void *scratch, pare_pool *pool) {
    if (m <= 0) return;
    if (l->isa == PARE_QISA_REF) {
        int8_t *q = scratch;
        float *sx = (float *)(void *)((char *)scratch + 2 * align64((size_t)(input_rows(l, m) * l->k_pad)));
        pare_quantize_rows_i8_ref(x, m, l->n_in, l->in_scale, q, l->n_in, sx);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < l->n_out; j++) {
                int32_t a;
                pare_gemm_ref_i8(q + i * l->n_in, l->w + j * l->n_in, &a, 1, 1, l->n_in);
                y[i * l->n_out + j] = (float)a * (sx[i] * l->w_scale[j]) + (l->bias ? l->bias[j] : 0.0f);
            }
        pare_act_ref_f32(y, m * l->n_out, act);
        return;
    }
    pare_i8_input in = prepare(l, x, NULL, m, scratch, pool);
    gemm_dispatch(l, &in, m, y, act, pool);
}

void pare_qlinear_gemm_i32(const pare_qlinear *l, const int8_t *xq, int64_t m, int32_t *acc,
                           void *scratch, pare_pool *pool) {
    if (m <= 0) return;
    if (l->isa == PARE_QISA_REF) {
        pare_gemm_ref_i8(xq, l->w, acc, m, l->n_out, l->n_in);
        return;
    }
    pare_i8_input in = prepare(l, NULL, xq, m, scratch, pool);
    gemm_dispatch(l, &in, m, acc, PARE_ACT_NONE, pool);
}

void pare_qlinear_quantize_input(const pare_qlinear *l, const float *x, int64_t m, int8_t *q,
                                 float *scales) {
    if (l->isa == PARE_QISA_REF) {
        pare_quantize_rows_i8_ref(x, m, l->n_in, l->in_scale, q, l->n_in, scales);
        return;
    }
    for (int64_t r = 0; r < m; r++)
        scales[r] = pare_i8_quant_row_avx2(x + r * l->n_in, l->n_in, l->n_in, l->in_scale, q + r * l->n_in, NULL, false);
}
