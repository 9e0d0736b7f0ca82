/* GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate
 * Post-Training Quantization for Generative Pre-trained Transformers"),
 * following the reference implementation's order of work:
 *
 *   dead inputs (diag H = 0) get H_ii = 1 and zero weights;
 *   optional act-order (columns by decreasing diag H);
 *   H += damp * mean(diag H) * I;  U = chol(H^-1) (upper);
 *   for blocks of 128 columns, for each column i: quantize it, e = (w - q) / U_ii,
 *     update the block's later columns by e U_i,j; after the block, update all
 *     later columns at once (one GEMM: the "lazy batch" update).
 *
 * Work is on the transpose of W (a column of W is a contiguous row there).
 * Cholesky and inverse in double through LAPACK (OpenBLAS); when H is not
 * positive definite the damping grows tenfold and the factorisation is
 * tried again. Group params: from the updated weights when a group's first
 * column is reached (in-order), or from the unmodified weights (act-order,
 * "static groups"), so groups stay contiguous and the result is plain ggml
 * blocks. */
#include "pare/wquant.h"
#include "compress/hessian.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* tr(E H E^T) for E = a - b ([r][c]), H float [c][c]. */
static double weighted_err(const float *a, const float *b, const float *hf, int64_t r, int64_t c, float *e, float *eh) {
    for (int64_t i = 0; i < r * c; i++) e[i] = a[i] - b[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, (int)c, (int)c, 1.0f, e, (int)c, hf, (int)c, 0.0f,
                eh, (int)c);
    double s = 0;
    for (int64_t i = 0; i < r * c; i++) s += (double)e[i] * eh[i];
    return s;
}

pare_status pare_gptq(pare_qmat *q, float *w, double *h, const pare_gptq_opts *o, pare_gptq_stats *st,
                      pare_err *err) {
    const pare_gptq_opts def = {.damp = 0.01, .block = 128};
    if (!o) o = &def;
    const int64_t R = q->n_out, C = q->n_in, G = q->grid.group, NG = q->n_groups;
    const int64_t B = o->block > 0 ? o->block : 128;
    const pare_qtype type = q->grid.type;
    if (C > 65536) return pare_err_set(err, PARE_ERR_INVALID, "GPTQ: %lld inputs is too many", (long long)C);
    const size_t CC = (size_t)C * (size_t)C;
    double *hs = malloc(sizeof(double) * CC);
    float *wt = malloc(sizeof(float) * (size_t)(R * C));
    float *u = malloc(sizeof(float) * CC);
    float *e = malloc(sizeof(float) * (size_t)(B * R));
    float *tmp = malloc(sizeof(float) * (size_t)(G > R ? G : R));
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)C);
    float *w0 = st ? malloc(sizeof(float) * (size_t)(R * C)) : NULL;
    float *hf = st ? malloc(sizeof(float) * CC) : NULL;
    pare_status s = PARE_OK;
    if (!hs || !wt || !u || !e || !tmp || !perm || (st && (!w0 || !hf))) {
        s = pare_err_set(err, PARE_ERR_OOM, "GPTQ: out of memory for a [%lld x %lld] layer", (long long)R, (long long)C);
        goto done;
    }
    if (st) {
        memset(st, 0, sizeof *st);
        for (size_t i = 0; i < CC; i++) hf[i] = (float)h[i];
    }
    for (int64_t i = 0; i < C; i++) { /* dead inputs */
        perm[i] = i;
        if (h[i * C + i] == 0) {
            h[i * C + i] = 1;
            for (int64_t r = 0; r < R; r++) w[r * C + i] = 0;
        }
    }
    if (st) memcpy(w0, w, sizeof(float) * (size_t)(R * C));
    if (o->act_order) {
        /* static groups: params from the unmodified weights */
        pare_qmat_rtn(q, w, NULL);
        for (int64_t i = 1; i < C; i++) { /* insertion sort by decreasing diag, stable */
            int64_t p = perm[i], j = i;
            for (; j > 0 && h[perm[j - 1] * C + perm[j - 1]] < h[p * C + p]; j--) perm[j] = perm[j - 1];
            perm[j] = p;
        }
        for (int64_t i = 0; i < C; i++) /* permute H into hs, then back into h */
            for (int64_t j = 0; j < C; j++) hs[i * C + j] = h[perm[i] * C + perm[j]];
        memcpy(h, hs, sizeof(double) * CC);
    }
    for (int64_t j = 0; j < C; j++)
        for (int64_t r = 0; r < R; r++) wt[j * R + r] = w[r * C + perm[j]];
    double damp_used = 0;
    if ((s = pare_hessian_inverse_factor(h, (int)C, o->damp, hs, &damp_used, "GPTQ", err))) goto done;
    for (int64_t i = 0; i < C; i++)
        for (int64_t j = 0; j < C; j++) u[i * C + j] = j >= i ? (float)hs[i * C + j] : 0.0f;

    for (int64_t i1 = 0; i1 < C; i1 += B) {
        const int64_t i2 = i1 + B < C ? i1 + B : C;
        for (int64_t i = i1; i < i2; i++) {
            const int64_t col = perm[i], g = col / G;
            float *wi = wt + i * R, *ei = e + (i - i1) * R;
            if (!o->act_order && col % G == 0) { /* params of the group from the current weights */
                const int64_t n = col + G <= C ? G : C - col;
                for (int64_t r = 0; r < R; r++) {
                    for (int64_t c = 0; c < n; c++) tmp[c] = wt[(i + c) * R + r];
                    pare_grid_params(type, tmp, n, &q->d[r * NG + g], &q->m[r * NG + g]);
                }
            }
            const float uii = u[i * C + i];
            for (int64_t r = 0; r < R; r++) {
                int code;
                float v = pare_grid_round(type, wi[r], q->d[r * NG + g], q->m[r * NG + g], &code);
                q->codes[r * C + col] = (uint8_t)code;
                ei[r] = (wi[r] - v) / uii;
                wi[r] = v;
            }
            pare_obs_spread(wt, ei, u, C, R, i, i2);
        }
        pare_obs_lazy(wt, e, u, C, R, i1, i2);
    }
    for (int64_t j = 0; j < C; j++)
        for (int64_t r = 0; r < R; r++) w[r * C + perm[j]] = wt[j * R + r];
    if (st) {
        st->damp_used = damp_used;
        float *rtn = wt, *eh = malloc(sizeof(float) * (size_t)(R * C)), *ebuf = malloc(sizeof(float) * (size_t)(R * C));
        if (eh && ebuf) {
            pare_qmat tq = *q; /* RTN into scratch codes/params so q keeps GPTQ's */
            tq.codes = malloc((size_t)(R * C));
            tq.d = malloc(sizeof(float) * (size_t)(R * NG));
            tq.m = malloc(sizeof(float) * (size_t)(R * NG));
            if (tq.codes && tq.d && tq.m) {
                pare_qmat_rtn(&tq, w0, rtn);
                st->err_rtn = weighted_err(w0, rtn, hf, R, C, ebuf, eh);
                st->err_gptq = weighted_err(w0, w, hf, R, C, ebuf, eh);
            }
            free(tq.codes);
            free(tq.d);
            free(tq.m);
        }
        free(eh);
        free(ebuf);
    }
done:
    free(hs);
    free(wt);
    free(u);
    free(e);
    free(tmp);
    free(perm);
    free(w0);
    free(hf);
    return s;
}
