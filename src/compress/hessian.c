/* The inverse-Hessian factor GPTQ and SparseGPT share (src/compress/hessian.h). */
#include "compress/hessian.h"

#include <cblas.h>
#include <string.h>

/* LAPACK (Fortran ABI; the trailing length is the hidden CHARACTER length). */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);

/* U (upper, row-major) with U^T U = (H + damp I)^-1, into hs (n x n);
 * h is left as it was. */
pare_status pare_hessian_inverse_factor(const double *h, int n, double damp_frac, double *hs, double *damp_used,
                                        const char *who, pare_err *err) {
    double mean = 0;
    for (int i = 0; i < n; i++) mean += h[(size_t)i * n + i];
    mean /= n;
    if (!(mean > 0)) mean = 1;
    double frac = damp_frac > 0 ? damp_frac : 1e-6;
    for (int attempt = 0; attempt < 8; attempt++, frac *= 10) {
        memcpy(hs, h, sizeof(double) * (size_t)n * (size_t)n);
        for (int i = 0; i < n; i++) hs[(size_t)i * n + i] += frac * mean;
        int info = 0;
        /* column-major "L" of a symmetric matrix is row-major upper: after the
         * final factorisation the row-major upper triangle holds U. */
        dpotrf_("L", &n, hs, &n, &info, 1);
        if (info != 0) continue;
        dpotri_("L", &n, hs, &n, &info, 1);
        if (info != 0) continue;
        for (int i = 0; i < n; i++) /* mirror the inverse's triangle */
            for (int j = 0; j < i; j++) hs[(size_t)i * n + j] = hs[(size_t)j * n + i];
        dpotrf_("L", &n, hs, &n, &info, 1);
        if (info != 0) continue;
        *damp_used = frac;
        return PARE_OK;
    }
    return pare_err_set(err, PARE_ERR_INVALID, "%s: the Hessian of a %d-input layer is not positive definite even with damping %.0e",
                        who, n, frac / 10);
}


void pare_hessian_add(double *h, float *tmp, const float *x, int64_t n, int64_t k) {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)k, (int)n, 1.0f, x, (int)k, 0.0f, tmp, (int)k);
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = i; j < k; j++) h[i * k + j] += tmp[i * k + j];
}

void pare_hessian_mirror(double *h, int64_t k) {
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < i; j++) h[i * k + j] = h[j * k + i];
}

void pare_obs_spread(float *wt, const float *e, const float *u, int64_t C, int64_t R, int64_t i, int64_t i2) {
    for (int64_t j = i + 1; j < i2; j++) {
        const float uij = u[i * C + j];
        float *wj = wt + j * R;
        for (int64_t r = 0; r < R; r++) wj[r] -= e[r] * uij;
    }
}

void pare_obs_lazy(float *wt, const float *e, const float *u, int64_t C, int64_t R, int64_t i1, int64_t i2) {
    if (i2 < C)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(C - i2), (int)R, (int)(i2 - i1), -1.0f, u + i1 * C + i2,
                    (int)C, e, (int)R, 1.0f, wt + i2 * R, (int)R);
}
