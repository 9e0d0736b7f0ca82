/* Classification metrics over 0/1 label matrices (include/pare/dataset.h). */
#include "pare/dataset.h"

#include <stdlib.h>

static double f1(int64_t tp, int64_t fp, int64_t fn) {
    return tp == 0 ? (fp == 0 && fn == 0 ? 1.0 : 0.0) : 2.0 * (double)tp / (double)(2 * tp + fp + fn);
}

void pare_cls_metrics_compute(const uint8_t *pred, const uint8_t *gold, int64_t n, int64_t L,
                              pare_cls_metrics *out) {
    int64_t exact = 0, TP = 0, FP = 0, FN = 0;
    double jac = 0, macro = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t inter = 0, uni = 0, same = 1;
        for (int64_t l = 0; l < L; l++) {
            int p = pred[i * L + l] != 0, g = gold[i * L + l] != 0;
            inter += p & g;
            uni += p | g;
            same &= p == g;
        }
        exact += same;
        jac += uni ? (double)inter / (double)uni : 1.0;
    }
    for (int64_t l = 0; l < L; l++) {
        int64_t tp = 0, fp = 0, fn = 0;
        for (int64_t i = 0; i < n; i++) {
            int p = pred[i * L + l] != 0, g = gold[i * L + l] != 0;
            tp += p & g;
            fp += p && !g;
            fn += !p && g;
        }
        TP += tp;
        FP += fp;
        FN += fn;
        macro += f1(tp, fp, fn);
    }
    out->n = n;
    out->exact_match = n ? (double)exact / (double)n : 0;
    out->accuracy = out->exact_match;
    out->jaccard = n ? jac / (double)n : 0;
    out->micro_f1 = f1(TP, FP, FN);
    out->macro_f1 = L ? macro / (double)L : 0;
}

double pare_cls_agreement(const uint8_t *a, const uint8_t *b, int64_t n, int64_t L) {
    int64_t same = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t l = 0;
        while (l < L && (a[i * L + l] != 0) == (b[i * L + l] != 0)) l++;
        same += l == L;
    }
    return n ? (double)same / (double)n : 0;
}
