/* Pruning (src/compress/prune). First slice: unstructured magnitude
 * pruning, per tensor (local) or with one threshold over many (global, as
 * the seed study's 20% of all Linear weights by L1 magnitude). */
#ifndef PARE_PRUNE_H
#define PARE_PRUNE_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The |w| below which a fraction `sparsity` of the n values lies (the
 * k-th smallest magnitude, k = floor(sparsity * total)); ties at the
 * threshold are broken by position so exactly k values go. ws[i] holds
 * ns[i] values. Returns the number of values zeroed. In place. */
int64_t pare_prune_magnitude(float *const *ws, const int64_t *ns, int n_tensors, double sparsity,
                             bool global);

/* Fraction of exact zeros. */
double pare_sparsity(const float *w, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
