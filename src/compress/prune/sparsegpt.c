/* SparseGPT (Frantar and Alistarh 2023, "SparseGPT: Massive Language
 * Models Can Be Accurately Pruned in One-Shot"), following the reference
 * fasterprune: the inverse-Hessian factor as in GPTQ; per block of 128
 * columns the mask is chosen adaptively (unstructured: the block's
 * w^2 / [U_jj]^2 below the sparsity quantile over all its rows; n:m: the n
 * lowest of every m columns per row, chosen when the group's first column
 * is reached); then column by column the pruned weights are zeroed and the
 * error spread over the later columns, the rest of the matrix updated
 * once per block. Works on W's transpose (columns contiguous). */
#include "compress/hessian.h"
#include "pare/prune.h"

#include <stdlib.h>
#include <string.h>

pare_status pare_sparsegpt(float *w, int64_t R, int64_t C, double *h, double sparsity, int n, int m, double damp,
                           pare_err *err) {
    const int64_t B = 128;
    if (C > 65536) return pare_err_set(err, PARE_ERR_INVALID, "SparseGPT: %lld inputs is too many", (long long)C);
    const size_t CC = (size_t)C * (size_t)C;
    double *hs = malloc(sizeof(double) * CC);
    float *wt = malloc(sizeof(float) * (size_t)(R * C)), *u = malloc(sizeof(float) * CC);
    float *e = malloc(sizeof(float) * (size_t)(B * R)), *score = malloc(sizeof(float) * (size_t)(B * R));
    float *ones = malloc(sizeof(float) * (size_t)(B * R));
    pare_status s = PARE_OK;
    if (!hs || !wt || !u || !e || !score || !ones) {
        s = pare_err_set(err, PARE_ERR_OOM, "SparseGPT: out of memory for a [%lld x %lld] layer", (long long)R, (long long)C);
        goto done;
    }
    for (int64_t i = 0; i < C; i++)
        if (h[i * C + i] == 0) { /* dead input */
            h[i * C + i] = 1;
            for (int64_t r = 0; r < R; r++) w[r * C + i] = 0;
        }
    for (int64_t j = 0; j < C; j++)
        for (int64_t r = 0; r < R; r++) wt[j * R + r] = w[r * C + j];
    double damp_used;
    if ((s = pare_hessian_inverse_factor(h, (int)C, damp, hs, &damp_used, "SparseGPT", err))) goto done;
    for (int64_t i = 0; i < C; i++)
        for (int64_t j = 0; j < C; j++) u[i * C + j] = j >= i ? (float)hs[i * C + j] : 0.0f;
    const bool nm = m > 0;
    for (int64_t i1 = 0; i1 < C; i1 += B) {
        const int64_t i2 = i1 + B < C ? i1 + B : C, cnt = i2 - i1;
        /* ones: 1 where a weight is kept; score: w^2 / U_jj^2 in [col - i1][row] */
        for (int64_t i = i1; i < i2; i++) {
            const float d = u[i * C + i];
            for (int64_t r = 0; r < R; r++) {
                score[(i - i1) * R + r] = wt[i * R + r] * wt[i * R + r] / (d * d);
                ones[(i - i1) * R + r] = 1.0f;
            }
        }
        if (!nm) pare_prune_by_score(ones, score, 1, cnt * R, PARE_PRUNE_MATRIX, sparsity, 0, 0);
        for (int64_t i = i1; i < i2; i++) {
            if (nm && (i - i1) % m == 0 && i + m <= i2) { /* the n lowest of columns i..i+m-1, per row */
                for (int64_t r = 0; r < R; r++) {
                    float sc[64], on[64];
                    for (int k = 0; k < m; k++) {
                        const float d = u[(i + k) * C + (i + k)];
                        sc[k] = wt[(i + k) * R + r] * wt[(i + k) * R + r] / (d * d);
                        on[k] = 1.0f;
                    }
                    pare_prune_by_score(on, sc, 1, m, PARE_PRUNE_NM, 0, n, m);
                    for (int k = 0; k < m; k++) ones[(i + k - i1) * R + r] = on[k];
                }
            }
            float *wi = wt + i * R, *ei = e + (i - i1) * R;
            const float *keep = ones + (i - i1) * R;
            const float uii = u[i * C + i];
            for (int64_t r = 0; r < R; r++) {
                const float q = keep[r] != 0 ? wi[r] : 0.0f;
                ei[r] = (wi[r] - q) / uii;
                wi[r] = q;
            }
            pare_obs_spread(wt, ei, u, C, R, i, i2);
        }
        pare_obs_lazy(wt, e, u, C, R, i1, i2);
    }
    for (int64_t j = 0; j < C; j++)
        for (int64_t r = 0; r < R; r++) w[r * C + j] = wt[j * R + r];
done:
    free(hs);
    free(wt);
    free(u);
    free(e);
    free(score);
    free(ones);
    return s;
}
