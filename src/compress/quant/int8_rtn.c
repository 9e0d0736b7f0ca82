/* int8 round-to-nearest weight quantization (symmetric, per output
 * channel) and the activation-range observers of static W8A8. */
#include "pare/qlinear.h"

#include <math.h>
#include <stdlib.h>

void pare_quantize_int8_rows(const float *w, int64_t n_out, int64_t n_in, int8_t *q,
                             float *scale) {
    for (int64_t r = 0; r < n_out; r++) {
        const float *wr = w + r * n_in;
        float amax = 0.0f;
        for (int64_t i = 0; i < n_in; i++) amax = fabsf(wr[i]) > amax ? fabsf(wr[i]) : amax;
        float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int64_t i = 0; i < n_in; i++) {
            float v = nearbyintf(wr[i] * inv);
            q[r * n_in + i] = (int8_t)(v < -127.0f ? -127 : v > 127.0f ? 127 : (int)v);
        }
        scale[r] = s;
    }
}

void pare_dequantize_int8_rows(const int8_t *q, const float *scale, int64_t n_out, int64_t n_in,
                               float *w) {
    for (int64_t r = 0; r < n_out; r++)
        for (int64_t i = 0; i < n_in; i++) w[r * n_in + i] = (float)q[r * n_in + i] * scale[r];
}

/* k-th smallest of a[0, n) (quickselect; reorders a). */
static float select_kth(float *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return a[k];
}

void pare_act_observer_add(pare_act_observer *o, const float *x, int64_t n, float *tmp) {
    if (n <= 0) return;
    float amax = 0.0f;
    for (int64_t i = 0; i < n; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    o->amax = amax > o->amax ? amax : o->amax;
    if (o->method == PARE_CALIB_PERCENTILE && tmp) {
        for (int64_t i = 0; i < n; i++) tmp[i] = fabsf(x[i]);
        double p = o->percentile > 0.0 && o->percentile <= 100.0 ? o->percentile : 99.99;
        int64_t k = (int64_t)ceil(p / 100.0 * (double)n) - 1;
        k = k < 0 ? 0 : k >= n ? n - 1 : k;
        o->pct_sum += select_kth(tmp, n, k);
    }
    o->n_batches++;
}

float pare_act_observer_scale(const pare_act_observer *o) {
    double range = o->method == PARE_CALIB_PERCENTILE && o->n_batches > 0
                       ? o->pct_sum / (double)o->n_batches
                       : o->amax;
    return range > 0.0 ? (float)(range / 127.0) : 1.0f;
}
