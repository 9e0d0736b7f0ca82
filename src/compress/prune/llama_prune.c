/* Pruning a Llama-family GGUF model layer by layer (include/pare/prune.h,
 * pare_llama_prune): magnitude, Wanda or SparseGPT as callbacks of
 * pare_llama_calibrate, then the file rewritten with F16 linear weights. */
#include "compress/hessian.h"
#include "compress/llama_rewrite.h"
#include "pare/llama.h"
#include "pare/prune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pare_prune_method_name(pare_prune_method m) {
    return m == PARE_PRUNE_WANDA ? "wanda" : m == PARE_PRUNE_SPARSEGPT ? "sparsegpt" : "magnitude";
}

bool pare_prune_method_parse(const char *name, pare_prune_method *out) {
    for (int m = PARE_PRUNE_MAGNITUDE; m <= PARE_PRUNE_SPARSEGPT; m++)
        if (!strcmp(name, pare_prune_method_name((pare_prune_method)m))) {
            *out = (pare_prune_method)m;
            return true;
        }
    return false;
}

typedef struct pr_state {
    const pare_llama_prune_opts *o;
    uint8_t **rows;              /* [n_layers * 4] F16 rows */
    double *h[PARE_LIN_COUNT];   /* SparseGPT: sum x x^T; Wanda: sum x^2 per input (k values) */
    float *tmp;
    int64_t zeros, total;
} pr_state;

static void observe(void *ud, pare_llama_lin l, const float *x, int64_t n, int64_t k) {
    pr_state *ps = ud;
    if (ps->o->method == PARE_PRUNE_SPARSEGPT) {
        pare_hessian_add(ps->h[l], ps->tmp, x, n, k);
        return;
    }
    double *s = ps->h[l];
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < k; j++) s[j] += (double)x[r * k + j] * x[r * k + j];
}

static pare_status layer_done(void *ud, pare_llama_calib_layer *L, pare_err *err) {
    pr_state *ps = ud;
    const pare_llama_prune_opts *o = ps->o;
    const pare_prune_group g = o->m > 0 ? PARE_PRUNE_NM : o->method == PARE_PRUNE_WANDA ? PARE_PRUNE_ROW : PARE_PRUNE_MATRIX;
    for (int l = 0; l < PARE_LIN_COUNT; l++) {
        const int64_t R = L->n_out[l], C = L->n_in[l];
        float *w = L->w[l];
        pare_status s = PARE_OK;
        if (o->method == PARE_PRUNE_SPARSEGPT) {
            pare_hessian_mirror(ps->h[l], C);
            s = pare_sparsegpt(w, R, C, ps->h[l], o->sparsity, o->n, o->m, o->damp > 0 ? o->damp : 0.01, err);
            memset(ps->h[l], 0, sizeof(double) * (size_t)(C * C));
        } else {
            float *score = malloc(sizeof(float) * (size_t)(R * C));
            if (!score) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
            for (int64_t r = 0; r < R; r++)
                for (int64_t j = 0; j < C; j++)
                    score[r * C + j] = fabsf(w[r * C + j]) * (o->method == PARE_PRUNE_WANDA ? (float)sqrt(ps->h[l][j]) : 1.0f);
            if (pare_prune_by_score(w, score, R, C, g, o->sparsity, o->n, o->m) < 0)
                s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
            free(score);
            if (o->method == PARE_PRUNE_WANDA) memset(ps->h[l], 0, sizeof(double) * (size_t)C);
        }
        if (s) return s;
        uint16_t *f = malloc(sizeof(uint16_t) * (size_t)(R * C));
        if (!f) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        int64_t z = 0;
        for (int64_t i = 0; i < R * C; i++) {
            f[i] = pare_f32_to_f16(w[i]);
            w[i] = pare_f16_to_f32(f[i]); /* the next layers see what is stored */
            z += w[i] == 0;
        }
        ps->zeros += z;
        ps->total += R * C;
        ps->rows[L->index * PARE_LIN_COUNT + l] = (uint8_t *)f;
        if (o->verbose)
            fprintf(stderr, "  layer %2lld %-7s  sparsity %.4f\n", (long long)L->index,
                    (const char *[]){"qkv", "o", "gate_up", "down"}[l], (double)z / (double)(R * C));
    }
    return PARE_OK;
}

pare_status pare_llama_prune(const char *in, const char *out, const pare_llama_prune_opts *o, pare_progress *prog,
                             pare_err *err) {
    if (o->m > 0 ? (o->n <= 0 || o->n >= o->m || o->m > 64) : !(o->sparsity >= 0 && o->sparsity < 1))
        return pare_err_set(err, PARE_ERR_INVALID, "prune: sparsity must be in [0, 1), or n:m with 0 < n < m <= 64");
    const bool calib = o->method != PARE_PRUNE_MAGNITUDE;
    if (calib && (!o->tokens || o->n_seq <= 0 || o->seq_len <= 0))
        return pare_err_set(err, PARE_ERR_INVALID, "prune: %s needs calibration text", pare_prune_method_name(o->method));
    pare_llama_params p = pare_llama_default_params();
    p.n_threads = o->n_threads;
    p.calib_only = true; /* layers are read from the file one at a time */
    pare_llama *m = NULL;
    pare_status s = pare_llama_load(in, &p, &m, err);
    if (s) return s;
    const pare_llama_config *c = pare_llama_get_config(m);
    const int64_t ks[PARE_LIN_COUNT] = {c->hidden_size, c->n_heads * c->head_dim, c->hidden_size, c->intermediate_size};
    pr_state ps = {.o = o};
    ps.rows = calloc((size_t)(c->n_layers * PARE_LIN_COUNT), sizeof *ps.rows);
    bool ok = ps.rows != NULL;
    for (int l = 0; l < PARE_LIN_COUNT && calib; l++)
        ok = ok && (ps.h[l] = calloc((size_t)(o->method == PARE_PRUNE_SPARSEGPT ? ks[l] * ks[l] : ks[l]), sizeof(double)));
    if (o->method == PARE_PRUNE_SPARSEGPT)
        ok = ok && (ps.tmp = malloc(sizeof(float) * (size_t)(c->intermediate_size > c->hidden_size ? c->intermediate_size * c->intermediate_size : c->hidden_size * c->hidden_size)));
    if (!ok) s = pare_err_set(err, PARE_ERR_OOM, "prune: out of memory for the calibration statistics");
    const pare_llama_calib_method meth = {.ud = &ps, .needs_inputs = calib, .observe = observe, .layer = layer_done};
    if (!s) s = pare_llama_calibrate(m, o->tokens, o->n_seq, o->seq_len, &meth, prog, err);
    if (!s) {
        fprintf(stderr, "prune: %s: %.2f%% of the layers' linear weights are zero\n", pare_prune_method_name(o->method),
                100.0 * (double)ps.zeros / (double)(ps.total ? ps.total : 1));
        s = llama_gguf_rewrite(pare_llama_gguf(m), c, PARE_Q_F16, ps.rows, NULL, false, NULL, out, err);
    }
    for (int64_t i = 0; ps.rows && i < c->n_layers * PARE_LIN_COUNT; i++) free(ps.rows[i]);
    free(ps.rows);
    for (int l = 0; l < PARE_LIN_COUNT; l++) free(ps.h[l]);
    free(ps.tmp);
    pare_llama_free(m);
    return s;
}
