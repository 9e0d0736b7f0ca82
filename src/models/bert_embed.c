/* Sentence features from a BERT encoder: pooling of one forward row, and
 * whole lists of texts batched by length. */
#include "models/bert_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void pare_bert_pool_row(const float *hidden, const float *pooled, const int32_t *mask, int64_t T,
                        int64_t H, int64_t r, pare_pooling pool, bool normalize, float *vec) {
    if (pool == PARE_POOL_POOLER) {
        memcpy(vec, pooled + r * H, (size_t)H * sizeof(float));
    } else if (pool == PARE_POOL_CLS) {
        memcpy(vec, hidden + r * T * H, (size_t)H * sizeof(float));
    } else {
        double cnt = 0;
        memset(vec, 0, (size_t)H * sizeof(float));
        for (int64_t t = 0; t < T; t++) {
            if (!mask[r * T + t]) continue;
            cnt++;
            for (int64_t i = 0; i < H; i++) vec[i] += hidden[(r * T + t) * H + i];
        }
        for (int64_t i = 0; i < H; i++) vec[i] = (float)(vec[i] / (cnt > 0 ? cnt : 1));
    }
    if (normalize) {
        double ss = 0;
        for (int64_t i = 0; i < H; i++) ss += (double)vec[i] * vec[i];
        double inv = 1.0 / fmax(sqrt(ss), 1e-12);
        for (int64_t i = 0; i < H; i++) vec[i] = (float)(vec[i] * inv);
    }
}

typedef struct {
    size_t len;
    int64_t i;
} by_len;

static int cmp_len(const void *a, const void *b) {
    const by_len *x = a, *y = b;
    return x->len < y->len ? -1 : x->len > y->len ? 1 : (x->i > y->i) - (x->i < y->i);
}

pare_status pare_bert_embed(pare_bert *m, const char *const *texts, int64_t n, int64_t max_len,
                            int64_t batch, pare_pooling pool, bool normalize, float *out,
                            pare_progress *prog, pare_err *err) {
    const int64_t H = m->cfg.hidden_size, B = batch > 0 ? batch : 8, ML = max_len > 0 ? max_len : 128;
    if (!m->tok) return pare_err_set(err, PARE_ERR_INVALID, "the model folder has no tokenizer (vocab.txt or tokenizer.json)");
    if (pool == PARE_POOL_POOLER && !m->has_pooler) return pare_err_set(err, PARE_ERR_INVALID, "the model has no pooler");
    by_len *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    const char **bt = malloc((size_t)B * sizeof *bt);
    int32_t *ids = malloc((size_t)(B * ML) * sizeof *ids), *mask = malloc((size_t)(B * ML) * sizeof *mask);
    float *hidden = malloc((size_t)(B * ML * H) * sizeof *hidden), *pooled = malloc((size_t)(B * H) * sizeof *pooled);
    pare_status s = PARE_OK;
    if (!order || !bt || !ids || !mask || !hidden || !pooled) {
        s = pare_err_set(err, PARE_ERR_OOM, "pare_bert_embed: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) order[i] = (by_len){strlen(texts[i]), i};
    qsort(order, (size_t)n, sizeof *order, cmp_len);
    for (int64_t s0 = 0; s0 < n && !s; s0 += B) {
        int64_t nb = n - s0 < B ? n - s0 : B;
        for (int64_t k = 0; k < nb; k++) bt[k] = texts[order[s0 + k].i];
        int32_t T;
        if ((s = pare_wordpiece_encode_batch(m->tok, bt, (int32_t)nb, (int32_t)ML, false, ids, mask, &T, err))) {
            pare_err_wrap(err, "text %lld", (long long)order[s0].i);
            break;
        }
        pare_bert_outputs o = {.hidden = pool == PARE_POOL_POOLER ? NULL : hidden,
                               .pooled = pool == PARE_POOL_POOLER ? pooled : NULL};
        if ((s = pare_bert_forward(m, ids, mask, NULL, nb, T, &o, err))) break;
        for (int64_t k = 0; k < nb; k++)
            pare_bert_pool_row(hidden, pooled, mask, T, H, k, pool, normalize, out + order[s0 + k].i * H);
        if (prog) pare_progress_update(prog, prog->done + nb);
    }
done:
    free(order), free(bt), free(ids), free(mask), free(hidden), free(pooled);
    return s;
}
