/* Shared by the pruning files. */
#ifndef PARE_PRUNE_INTERNAL_H
#define PARE_PRUNE_INTERNAL_H

#include <stdint.h>

/* The k-th smallest (0-based) of a[0..n) by quickselect; a is reordered. */
float prune_kth_smallest(float *a, int64_t n, int64_t k);

#endif
