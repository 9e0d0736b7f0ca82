/* Unstructured magnitude pruning: find the k-th smallest |w| with a
 * quickselect over a copy of the magnitudes, zero everything below it and
 * as many values equal to it (first by position) as makes exactly k. */
#include "compress/prune/prune_internal.h"
#include "pare/prune.h"

#include <math.h>
#include <stdlib.h>

float prune_kth_smallest(float *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    uint64_t st = 0x9e3779b97f4a7c15ull;
    while (lo < hi) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        float piv = a[lo + (int64_t)(st % (uint64_t)(hi - lo + 1))];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv) i++;
            while (a[j] > piv) j--;
            if (i <= j) {
                float t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

/* zero values of the group below thr, then up to *ties equal to it */
static int64_t apply(float *const *ws, const int64_t *ns, int n, float thr, int64_t ties) {
    int64_t zeroed = 0;
    for (int t = 0; t < n; t++)
        for (int64_t i = 0; i < ns[t]; i++) {
            float a = fabsf(ws[t][i]);
            if (a < thr || (a == thr && ties > 0)) {
                if (a == thr) ties--;
                ws[t][i] = 0.0f;
                zeroed++;
            }
        }
    return zeroed;
}

static int64_t prune_group(float *const *ws, const int64_t *ns, int n, double sparsity) {
    int64_t total = 0;
    for (int t = 0; t < n; t++) total += ns[t];
    int64_t k = (int64_t)floor(sparsity * (double)total);
    if (k <= 0 || total == 0) return 0;
    if (k > total) k = total;
    float *mag = malloc((size_t)total * sizeof *mag);
    if (!mag) return -1;
    int64_t o = 0;
    for (int t = 0; t < n; t++)
        for (int64_t i = 0; i < ns[t]; i++) mag[o++] = fabsf(ws[t][i]);
    float thr = prune_kth_smallest(mag, total, k - 1);
    int64_t below = 0;
    for (int64_t i = 0; i < total; i++) below += mag[i] < thr;
    free(mag);
    return apply(ws, ns, n, thr, k - below);
}

int64_t pare_prune_magnitude(float *const *ws, const int64_t *ns, int n_tensors, double sparsity,
                             bool global) {
    if (global) return prune_group(ws, ns, n_tensors, sparsity);
    int64_t z = 0;
    for (int t = 0; t < n_tensors; t++) {
        int64_t r = prune_group(ws + t, ns + t, 1, sparsity);
        if (r < 0) return -1;
        z += r;
    }
    return z;
}

double pare_sparsity(const float *w, int64_t n) {
    int64_t z = 0;
    for (int64_t i = 0; i < n; i++) z += w[i] == 0.0f;
    return n ? (double)z / (double)n : 0;
}
