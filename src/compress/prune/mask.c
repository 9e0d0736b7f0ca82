/* Pruning by scores (include/pare/prune.h): zero the weights with the
 * lowest scores, per matrix, per output row, or n of every m consecutive
 * inputs of a row. Exact counts: ties at the threshold go by position. */
#include "compress/prune/prune_internal.h"
#include "pare/prune.h"

#include <stdlib.h>
#include <string.h>

/* Zero the k lowest-scored of n weights w[i * stride] (scores s[i * stride]). */
static int64_t zero_lowest(float *w, const float *s, int64_t n, int64_t stride, int64_t k, float *tmp) {
    if (k <= 0) return 0;
    if (k >= n) {
        for (int64_t i = 0; i < n; i++) w[i * stride] = 0;
        return n;
    }
    for (int64_t i = 0; i < n; i++) tmp[i] = s[i * stride];
    const float thr = prune_kth_smallest(tmp, n, k - 1);
    int64_t below = 0;
    for (int64_t i = 0; i < n; i++) below += s[i * stride] < thr;
    int64_t ties = k - below, z = 0;
    for (int64_t i = 0; i < n; i++) {
        const float v = s[i * stride];
        if (v < thr || (v == thr && ties-- > 0)) {
            w[i * stride] = 0;
            z++;
        }
    }
    return z;
}

int64_t pare_prune_by_score(float *w, const float *score, int64_t rows, int64_t cols, pare_prune_group g,
                            double sparsity, int n, int m) {
    int64_t z = 0;
    if (g == PARE_PRUNE_NM) {
        if (n <= 0 || m <= 0 || n > m) return 0;
        float tmp[64];
        if (m > 64) return 0;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c0 = 0; c0 + m <= cols; c0 += m)
                z += zero_lowest(w + r * cols + c0, score + r * cols + c0, m, 1, n, tmp);
        return z;
    }
    const int64_t len = g == PARE_PRUNE_ROW ? cols : rows * cols;
    float *tmp = malloc(sizeof(float) * (size_t)len);
    if (!tmp) return -1;
    const int64_t k = (int64_t)(sparsity * (double)len);
    if (g == PARE_PRUNE_ROW)
        for (int64_t r = 0; r < rows; r++) z += zero_lowest(w + r * cols, score + r * cols, cols, 1, k, tmp);
    else
        z = zero_lowest(w, score, len, 1, k, tmp);
    free(tmp);
    return z;
}
