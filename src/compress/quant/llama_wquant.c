/* Weight quantization of a Llama-family GGUF model onto a grid by round to
 * nearest, GPTQ or AWQ (include/pare/wquant.h): the methods as callbacks
 * of the layer-by-layer calibration (pare_llama_calibrate), then the GGUF
 * written with the quantized rows, the rescaled norms (AWQ) and everything
 * else copied. */
#include "pare/gguf.h"
#include "pare/llama.h"
#include "pare/quant.h"
#include "pare/wquant.h"
#include "compress/hessian.h"
#include "compress/llama_rewrite.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pare_wq_method_name(pare_wq_method m) {
    switch (m) {
    case PARE_WQ_GPTQ: return "gptq";
    case PARE_WQ_AWQ: return "awq";
    case PARE_WQ_SMOOTHQUANT: return "smoothquant";
    case PARE_WQ_LLM_INT8: return "llm-int8";
    case PARE_WQ_NF4: return "nf4";
    case PARE_WQ_FP4: return "fp4";
    default: return "rtn";
    }
}

static bool is_w8a8(pare_wq_method m) { return m == PARE_WQ_SMOOTHQUANT || m == PARE_WQ_LLM_INT8; }
static bool is_w4(pare_wq_method m) { return m == PARE_WQ_NF4 || m == PARE_WQ_FP4; }

bool pare_wq_method_calibrates(pare_wq_method m) { return m != PARE_WQ_RTN && !is_w4(m); }

bool pare_wq_method_parse(const char *name, pare_wq_method *out) {
    for (int m = PARE_WQ_RTN; m <= PARE_WQ_FP4; m++)
        if (!strcmp(name, pare_wq_method_name((pare_wq_method)m))) {
            *out = (pare_wq_method)m;
            return true;
        }
    return false;
}

typedef struct wq_state {
    const pare_llama_wq_opts *o;
    const pare_llama_config *c;
    uint8_t **bytes;   /* [n_layers * 4]: the ggml rows of each stacked linear */
    float **norms;     /* [n_layers]: attn_norm then mlp_norm when rescaled, else NULL */
    /* GPTQ: sums of x x^T (upper triangle), per linear */
    double *h[PARE_LIN_COUNT];
    float *hx;         /* [kmax * kmax] one sequence's product */
    /* AWQ: sampled input rows and sums of |x| per channel */
    float *xs[PARE_LIN_COUNT];
    int64_t xs_n[PARE_LIN_COUNT], rows_per_seq;
    double *xabs[PARE_LIN_COUNT];
    int64_t xabs_n[PARE_LIN_COUNT];
    /* SmoothQuant, LLM.int8: max |x| per input channel; LLM.int8's outlier
     * columns per (layer, linear) */
    float *xmax[PARE_LIN_COUNT];
    int32_t **outl;
    int64_t *n_outl, outl_total;
    double err_rtn, err_method; /* summed over the model (GPTQ: H-weighted; AWQ: output MSE) */
} wq_state;

static void observe(void *ud, pare_llama_lin l, const float *x, int64_t n, int64_t k) {
    wq_state *ws = ud;
    if (ws->o->method == PARE_WQ_GPTQ) {
        pare_hessian_add(ws->h[l], ws->hx, x, n, k);
        return;
    }
    if (is_w8a8(ws->o->method)) {
        float *xm = ws->xmax[l];
        for (int64_t r = 0; r < n; r++)
            for (int64_t j = 0; j < k; j++) xm[j] = fmaxf(xm[j], fabsf(x[r * k + j]));
        return;
    }
    /* AWQ */
    double *xa = ws->xabs[l];
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < k; j++) xa[j] += fabsf(x[r * k + j]);
    ws->xabs_n[l] += n;
    const int64_t take = ws->rows_per_seq < n ? ws->rows_per_seq : n;
    for (int64_t t = 0; t < take; t++)
        memcpy(ws->xs[l] + (ws->xs_n[l]++) * k, x + (t * n / take) * k, sizeof(float) * (size_t)k);
}

/* Quantize linear l of the layer onto the grid by RTN (w gets the grid
 * values) or GPTQ, and keep its ggml rows. */
static pare_status finish_linear(wq_state *ws, pare_llama_calib_layer *L, int l, pare_err *err) {
    const int64_t R = L->n_out[l], C = L->n_in[l];
    if (is_w4(ws->o->method)) { /* the 4-bit values, written as F16 rows */
        pare_status s = pare_w4_roundtrip(ws->o->method == PARE_WQ_FP4, L->w[l], R, C, err);
        uint8_t *b = s ? NULL : malloc(sizeof(uint16_t) * (size_t)(R * C));
        if (!s && !b) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
        for (int64_t i = 0; !s && i < R * C; i++) ((uint16_t *)(void *)b)[i] = pare_f32_to_f16(L->w[l][i]);
        if (!s) ws->bytes[L->index * PARE_LIN_COUNT + l] = b;
        return s;
    }
    pare_qmat q;
    pare_status s = pare_qmat_init(&q, &ws->o->grid, R, C, err);
    if (s) return s;
    if (ws->o->method == PARE_WQ_GPTQ) {
        double *h = ws->h[l];
        pare_hessian_mirror(h, C);
        pare_gptq_stats st;
        s = pare_gptq(&q, L->w[l], h, &ws->o->gptq, &st, err);
        memset(h, 0, sizeof(double) * (size_t)(C * C));
        if (!s) {
            ws->err_rtn += st.err_rtn;
            ws->err_method += st.err_gptq;
            if (ws->o->verbose)
                fprintf(stderr, "  layer %2lld %-7s  H-weighted error: rtn %.4g  gptq %.4g  (%.2fx)\n", (long long)L->index,
                        (const char *[]){"qkv", "o", "gate_up", "down"}[l], st.err_rtn, st.err_gptq,
                        st.err_gptq > 0 ? st.err_rtn / st.err_gptq : 0.0);
        }
    } else {
        pare_qmat_rtn(&q, L->w[l], L->w[l]);
    }
    uint8_t *b = NULL;
    if (!s && !(b = malloc(pare_qmat_bytes(&q)))) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    if (!s) {
        pare_qmat_encode(&q, b);
        ws->bytes[L->index * PARE_LIN_COUNT + l] = b;
    }
    pare_qmat_free(&q);
    return s;
}

/* Linear l's weights times s[l] per input channel, and the producer of its
 * input divided by s[l]: the RMSNorm weights (q/k/v, gate/up), the up rows
 * (down: mid = silu(gate) * up) or the v rows (o). s[l] NULL: untouched. */
static void fold_scales(const pare_llama_config *c, pare_llama_calib_layer *L, float *const *s) {
    const int64_t H = c->hidden_size, D = c->head_dim, QD = c->n_heads * D, KD = c->n_kv_heads * D, F = c->intermediate_size;
    for (int l = 0; l < PARE_LIN_COUNT; l++) {
        if (!s[l]) continue;
        const int64_t R = L->n_out[l], C = L->n_in[l];
        for (int64_t r = 0; r < R; r++)
            for (int64_t j = 0; j < C; j++) L->w[l][r * C + j] *= s[l][j];
        if (l == PARE_LIN_QKV || l == PARE_LIN_GATE_UP) {
            float *norm = l == PARE_LIN_QKV ? L->attn_norm : L->mlp_norm;
            for (int64_t j = 0; j < C; j++) norm[j] /= s[l][j];
        } else if (l == PARE_LIN_DOWN) {
            for (int64_t j = 0; j < C; j++)
                for (int64_t k = 0; k < H; k++) L->w[PARE_LIN_GATE_UP][(F + j) * H + k] /= s[l][j];
        } else {
            for (int64_t j = 0; j < C; j++)
                for (int64_t k = 0; k < H; k++) L->w[PARE_LIN_QKV][(QD + KD + j) * H + k] /= s[l][j];
        }
    }
}

/* The layer's rescaled norms, for the rewrite. */
static pare_status keep_norms(wq_state *ws, const pare_llama_calib_layer *L, pare_err *err) {
    const int64_t H = ws->c->hidden_size;
    float *norms = malloc(sizeof(float) * (size_t)(2 * H));
    if (!norms) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    memcpy(norms, L->attn_norm, sizeof(float) * (size_t)H);
    memcpy(norms + H, L->mlp_norm, sizeof(float) * (size_t)H);
    ws->norms[L->index] = norms;
    return PARE_OK;
}

/* SmoothQuant: s_j = max|x_j|^a / max_r |w_rj|^(1-a) for every linear
 * whose input can absorb it (o only when each query head has its own kv
 * head), clamped to [1e-5, 1e5]; channels never active keep s = 1. */
static pare_status smooth_layer(wq_state *ws, pare_llama_calib_layer *L, pare_err *err) {
    const double a = ws->o->smooth_alpha > 0 ? ws->o->smooth_alpha : 0.5;
    const bool mha = ws->c->n_heads == ws->c->n_kv_heads;
    float *s[PARE_LIN_COUNT] = {0};
    pare_status st = PARE_OK;
    for (int l = 0; l < PARE_LIN_COUNT && !st; l++) {
        const int64_t R = L->n_out[l], C = L->n_in[l];
        if (l == PARE_LIN_O && !mha) continue;
        if (!(s[l] = malloc(sizeof(float) * (size_t)C))) {
            st = pare_err_set(err, PARE_ERR_OOM, "out of memory");
            break;
        }
        for (int64_t j = 0; j < C; j++) {
            float wmax = 0;
            for (int64_t r = 0; r < R; r++) wmax = fmaxf(wmax, fabsf(L->w[l][r * C + j]));
            const double xm = ws->xmax[l][j];
            double v = xm > 0 && wmax > 0 ? pow(xm, a) / pow(wmax, 1 - a) : 1.0;
            s[l][j] = (float)(v < 1e-5 ? 1e-5 : v > 1e5 ? 1e5 : v);
        }
    }
    if (!st) fold_scales(ws->c, L, s);
    for (int l = 0; l < PARE_LIN_COUNT; l++) free(s[l]);
    return st;
}

/* LLM.int8: the input columns of each linear whose calibration max|x|
 * reaches the threshold. */
static pare_status outlier_layer(wq_state *ws, pare_llama_calib_layer *L, pare_err *err) {
    const double thr = ws->o->outlier_threshold > 0 ? ws->o->outlier_threshold : 6.0;
    for (int l = 0; l < PARE_LIN_COUNT; l++) {
        const int64_t C = L->n_in[l], at = L->index * PARE_LIN_COUNT + l;
        int64_t n = 0;
        for (int64_t j = 0; j < C; j++) n += ws->xmax[l][j] >= thr;
        int32_t *idx = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
        if (!idx) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        n = 0;
        for (int64_t j = 0; j < C; j++)
            if (ws->xmax[l][j] >= thr) idx[n++] = (int32_t)j;
        ws->outl[at] = idx;
        ws->n_outl[at] = n;
        ws->outl_total += n;
        if (ws->o->verbose)
            fprintf(stderr, "  layer %2lld %-7s  %lld outlier input columns (max|x| >= %g)\n", (long long)L->index,
                    (const char *[]){"qkv", "o", "gate_up", "down"}[l], (long long)n, thr);
    }
    return PARE_OK;
}

/* AWQ: find the scales of every linear whose input can absorb them, fold
 * them in, then round every linear to nearest. */
static pare_status awq_layer(wq_state *ws, pare_llama_calib_layer *L, pare_err *err) {
    const pare_llama_config *c = ws->c;
    const bool mha = c->n_heads == c->n_kv_heads;
    float *s[PARE_LIN_COUNT] = {0};
    int64_t kmax = 0;
    for (int l = 0; l < PARE_LIN_COUNT; l++) kmax = L->n_in[l] > kmax ? L->n_in[l] : kmax;
    float *xmean = malloc(sizeof(float) * (size_t)kmax);
    pare_status st = xmean ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int l = 0; l < PARE_LIN_COUNT && !st; l++) {
        const int64_t C = L->n_in[l];
        if (l == PARE_LIN_O && !mha) continue; /* GQA: a v row feeds several heads' o inputs */
        if (!(s[l] = malloc(sizeof(float) * (size_t)C))) {
            st = pare_err_set(err, PARE_ERR_OOM, "out of memory");
            break;
        }
        for (int64_t j = 0; j < C; j++) xmean[j] = (float)(ws->xabs[l][j] / (double)ws->xabs_n[l]);
        double alpha, lb, lp;
        st = pare_awq_search(&ws->o->grid, L->w[l], L->n_out[l], C, ws->xs[l], ws->xs_n[l], xmean, &ws->o->awq, s[l],
                             &alpha, &lb, &lp, err);
        if (st) break;
        ws->err_rtn += lp;
        ws->err_method += lb;
        if (ws->o->verbose)
            fprintf(stderr, "  layer %2lld %-7s  alpha %.2f  output mse: rtn %.4g  awq %.4g (%.2fx)\n", (long long)L->index,
                    (const char *[]){"qkv", "o", "gate_up", "down"}[l], alpha, lp, lb, lb > 0 ? lp / lb : 0.0);
    }
    if (!st) fold_scales(ws->c, L, s);
    for (int l = 0; l < PARE_LIN_COUNT; l++) {
        free(s[l]);
        ws->xs_n[l] = ws->xabs_n[l] = 0;
        memset(ws->xabs[l], 0, sizeof(double) * (size_t)L->n_in[l]);
    }
    free(xmean);
    return st ? st : keep_norms(ws, L, err);
}

static pare_status layer_done(void *ud, pare_llama_calib_layer *L, pare_err *err) {
    wq_state *ws = ud;
    pare_status s = PARE_OK;
    if (ws->o->method == PARE_WQ_AWQ) s = awq_layer(ws, L, err);
    if (ws->o->method == PARE_WQ_SMOOTHQUANT) s = smooth_layer(ws, L, err);
    if (ws->o->method == PARE_WQ_LLM_INT8) s = outlier_layer(ws, L, err);
    if (!s && is_w8a8(ws->o->method)) {
        for (int l = 0; l < PARE_LIN_COUNT; l++) memset(ws->xmax[l], 0, sizeof(float) * (size_t)L->n_in[l]);
        if (ws->o->method == PARE_WQ_SMOOTHQUANT) s = keep_norms(ws, L, err);
    }
    for (int l = 0; l < PARE_LIN_COUNT && !s; l++) s = finish_linear(ws, L, l, err);
    return s;
}

pare_status pare_llama_wquantize(const char *in, const char *out, const pare_llama_wq_opts *o, pare_progress *prog,
                                 pare_err *err) {
    pare_llama_wq_opts w8 = *o;
    if (is_w8a8(o->method)) { /* int8, one scale per row (a group longer than any row) */
        w8.grid = (pare_grid){.type = PARE_Q_Q8_0, .group = 1 << 20};
        o = &w8;
    }
    const char *why = is_w4(o->method) ? NULL : pare_grid_check(&o->grid);
    if (why) return pare_err_set(err, PARE_ERR_INVALID, "quantize: %s", why);
    const bool calib = pare_wq_method_calibrates(o->method);
    if (calib && (!o->tokens || o->n_seq <= 0 || o->seq_len <= 0))
        return pare_err_set(err, PARE_ERR_INVALID, "quantize: %s needs calibration text", pare_wq_method_name(o->method));
    pare_llama_params p = pare_llama_default_params();
    p.n_threads = o->n_threads;
    p.calib_only = true; /* the layers' weights are read from the file; only norms and biases are used */
    pare_llama *m = NULL;
    pare_status s = pare_llama_load(in, &p, &m, err);
    if (s) return s;
    const pare_llama_config *c = pare_llama_get_config(m);
    wq_state ws = {.o = o, .c = c};
    const int64_t ks[PARE_LIN_COUNT] = {c->hidden_size, c->n_heads * c->head_dim, c->hidden_size, c->intermediate_size};
    int64_t kmax = 0;
    for (int l = 0; l < PARE_LIN_COUNT; l++) kmax = ks[l] > kmax ? ks[l] : kmax;
    ws.bytes = calloc((size_t)(c->n_layers * PARE_LIN_COUNT), sizeof *ws.bytes);
    ws.norms = calloc((size_t)c->n_layers, sizeof *ws.norms);
    bool ok = ws.bytes && ws.norms;
    if (o->method == PARE_WQ_GPTQ) {
        ok = ok && (ws.hx = malloc(sizeof(float) * (size_t)(kmax * kmax)));
        for (int l = 0; l < PARE_LIN_COUNT; l++) ok = ok && (ws.h[l] = calloc((size_t)(ks[l] * ks[l]), sizeof(double)));
    } else if (o->method == PARE_WQ_AWQ) {
        const int64_t want = o->awq_rows > 0 ? o->awq_rows : 2048;
        ws.rows_per_seq = (want + o->n_seq - 1) / o->n_seq;
        if (ws.rows_per_seq > o->seq_len) ws.rows_per_seq = o->seq_len;
        for (int l = 0; l < PARE_LIN_COUNT; l++) {
            ok = ok && (ws.xs[l] = malloc(sizeof(float) * (size_t)(ws.rows_per_seq * o->n_seq * ks[l])));
            ok = ok && (ws.xabs[l] = calloc((size_t)ks[l], sizeof(double)));
        }
    } else if (is_w8a8(o->method)) {
        for (int l = 0; l < PARE_LIN_COUNT; l++) ok = ok && (ws.xmax[l] = calloc((size_t)ks[l], sizeof(float)));
        if (o->method == PARE_WQ_LLM_INT8) {
            ok = ok && (ws.outl = calloc((size_t)(c->n_layers * PARE_LIN_COUNT), sizeof *ws.outl));
            ok = ok && (ws.n_outl = calloc((size_t)(c->n_layers * PARE_LIN_COUNT), sizeof *ws.n_outl));
        }
    }
    if (!ok) s = pare_err_set(err, PARE_ERR_OOM, "quantize: out of memory for the calibration statistics");
    const pare_llama_calib_method meth = {.ud = &ws, .needs_inputs = calib, .observe = observe, .layer = layer_done};
    if (!s) s = pare_llama_calibrate(m, o->tokens, o->n_seq, o->seq_len, &meth, prog, err);
    if (!s && calib && o->verbose)
        fprintf(stderr, "quantize: %s over the model: error %.4g vs round to nearest %.4g (%.2fx lower)\n",
                pare_wq_method_name(o->method), ws.err_method, ws.err_rtn, ws.err_method > 0 ? ws.err_rtn / ws.err_method : 0.0);
    if (!s && o->method == PARE_WQ_LLM_INT8)
        fprintf(stderr, "quantize: llm-int8: %lld outlier input columns over %lld linears (max|x| >= %g)\n",
                (long long)ws.outl_total, (long long)(c->n_layers * PARE_LIN_COUNT),
                o->outlier_threshold > 0 ? o->outlier_threshold : 6.0);
    const llama_rewrite_kv kv = {.w8a8 = is_w8a8(o->method) ? "dynamic" : NULL, .outl = ws.outl, .n_outl = ws.n_outl};
    if (!s) s = llama_gguf_rewrite(pare_llama_gguf(m), c, is_w4(o->method) ? PARE_Q_F16 : o->grid.type, ws.bytes, ws.norms,
                                   true, &kv, out, err);
    for (int64_t i = 0; ws.bytes && i < c->n_layers * PARE_LIN_COUNT; i++) free(ws.bytes[i]);
    for (int64_t i = 0; ws.norms && i < c->n_layers; i++) free(ws.norms[i]);
    for (int64_t i = 0; ws.outl && i < c->n_layers * PARE_LIN_COUNT; i++) free(ws.outl[i]);
    free(ws.outl);
    free(ws.n_outl);
    for (int l = 0; l < PARE_LIN_COUNT; l++) {
        free(ws.xmax[l]);
        free(ws.h[l]);
        free(ws.xs[l]);
        free(ws.xabs[l]);
    }
    free(ws.hx);
    free(ws.bytes);
    free(ws.norms);
    pare_llama_free(m);
    return s;
}
