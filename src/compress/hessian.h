/* Second-order reconstruction helpers shared by GPTQ and SparseGPT. */
#ifndef PARE_COMPRESS_HESSIAN_H
#define PARE_COMPRESS_HESSIAN_H

#include "pare/core.h"

/* U (upper triangle of hs, row-major, n x n) with U^T U = (H + d I)^-1,
 * d = damp_frac * mean(diag H), through LAPACK in double; when H + d I is
 * not positive definite d grows tenfold (up to 8 tries). h is unchanged;
 * *damp_used gets the fraction that worked. who names the caller in errors. */
pare_status pare_hessian_inverse_factor(const double *h, int n, double damp_frac, double *hs, double *damp_used,
                                        const char *who, pare_err *err);

/* h [k][k] (upper triangle) += x^T x for rows x [n][k]; tmp: k * k floats. */
void pare_hessian_add(double *h, float *tmp, const float *x, int64_t n, int64_t k);
/* Copy the upper triangle of h [k][k] into the lower one. */
void pare_hessian_mirror(double *h, int64_t k);

/* Error feedback on W's transpose wt [C][R] with U [C][C] (upper): after
 * column i of the block [i1, i2) left error e [R] (already divided by
 * U_ii), the block's later columns take wt[j] -= e U_ij (spread); after the
 * block, every later column takes wt[i2:] -= U[i1:i2, i2:]^T E with E the
 * block's errors [i2 - i1][R] (lazy). */
void pare_obs_spread(float *wt, const float *e, const float *u, int64_t C, int64_t R, int64_t i, int64_t i2);
void pare_obs_lazy(float *wt, const float *e, const float *u, int64_t C, int64_t R, int64_t i1, int64_t i2);

#endif
