/* AWQ's scale search (Lin et al. 2023, "AWQ: Activation-aware Weight
 * Quantization for LLM Compression and Acceleration", and the reference
 * auto_scale): for alpha on a grid in [0, 1), s = max(mean|x|, 1e-4)^alpha
 * divided by sqrt(max s * min s); the layer quantized as Q(W diag s) diag
 * s^-1 is run on the calibration rows and the alpha with the smallest mean
 * squared output error wins (alpha = 0 is plain round to nearest, so the
 * search never does worse than RTN on these rows). */
#include "pare/wquant.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double out_err(const float *x, int64_t n_x, const float *wq, int64_t R, int64_t C, const float *y, float *yq) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_x, (int)R, (int)C, 1.0f, x, (int)C, wq, (int)C, 0.0f,
                yq, (int)R);
    double s = 0;
    for (int64_t i = 0; i < n_x * R; i++) {
        double d = (double)y[i] - yq[i];
        s += d * d;
    }
    return s / (double)(n_x * R);
}

pare_status pare_awq_search(const pare_grid *g, const float *w, int64_t R, int64_t C, const float *x, int64_t n_x,
                            const float *xmean, const pare_awq_opts *o, float *s_out, double *alpha,
                            double *loss_best, double *loss_plain, pare_err *err) {
    const int n_grid = o && o->n_grid > 0 ? o->n_grid : 20;
    pare_qmat q;
    pare_status st = pare_qmat_init(&q, g, R, C, err);
    if (st) return st;
    float *y = malloc(sizeof(float) * (size_t)(n_x * R)), *yq = malloc(sizeof(float) * (size_t)(n_x * R));
    float *ws = malloc(sizeof(float) * (size_t)(R * C)), *s = malloc(sizeof(float) * (size_t)C);
    if (!y || !yq || !ws || !s) {
        st = pare_err_set(err, PARE_ERR_OOM, "AWQ: out of memory for a [%lld x %lld] layer and %lld rows", (long long)R,
                          (long long)C, (long long)n_x);
        goto done;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_x, (int)R, (int)C, 1.0f, x, (int)C, w, (int)C, 0.0f,
                y, (int)R);
    double best = INFINITY;
    *alpha = 0;
    for (int k = 0; k < n_grid; k++) {
        const double a = (double)k / n_grid;
        float lo = INFINITY, hi = 0;
        for (int64_t j = 0; j < C; j++) {
            s[j] = (float)pow(fmax(xmean[j], 1e-4), a);
            lo = fminf(lo, s[j]);
            hi = fmaxf(hi, s[j]);
        }
        const float norm = sqrtf(lo * hi);
        for (int64_t j = 0; j < C; j++) s[j] /= norm;
        for (int64_t r = 0; r < R; r++)
            for (int64_t j = 0; j < C; j++) ws[r * C + j] = w[r * C + j] * s[j];
        pare_qmat_rtn(&q, ws, ws);
        for (int64_t r = 0; r < R; r++)
            for (int64_t j = 0; j < C; j++) ws[r * C + j] /= s[j];
        const double loss = out_err(x, n_x, ws, R, C, y, yq);
        if (k == 0 && loss_plain) *loss_plain = loss;
        if (loss < best) {
            best = loss;
            *alpha = a;
            memcpy(s_out, s, sizeof(float) * (size_t)C);
        }
    }
    if (loss_best) *loss_best = best;
done:
    pare_qmat_free(&q);
    free(y);
    free(yq);
    free(ws);
    free(s);
    return st;
}
