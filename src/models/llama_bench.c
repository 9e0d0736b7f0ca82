/* Timing of the two phases of generation, shared by pare bench and the
 * experiment runner. */
#include "models/llama_impl.h"

#include <stdlib.h>

/* Prefill of P tokens and decode of N tokens into a fresh cache; returns the
 * two times in seconds. Token ids are fixed pseudo-random, decode feeds the
 * argmax back (the path generation takes). */
pare_status pare_llama_time_pass(pare_llama *m, pare_llama_cache *kc, int64_t P, int64_t N, float *logits,
                             double *t_prefill, double *t_decode, pare_err *err) {
    const pare_llama_config *cfg = pare_llama_get_config(m);
    int32_t *ids = malloc(sizeof *ids * (size_t)P);
    if (!ids) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    uint64_t st = 0x9e3779b9;
    for (int64_t i = 0; i < P; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((st >> 33) % (uint64_t)cfg->vocab_size);
    }
    pare_llama_cache_truncate(kc, -1, 0);
    pare_llama_outputs out = {.logits = logits};
    double t0 = pare_time_now();
    pare_llama_batch b = {.n_tokens = P, .tokens = ids};
    pare_status s = pare_llama_forward(m, kc, &b, &out, err);
    *t_prefill = pare_time_now() - t0;
    int32_t tok = ids[P - 1];
    t0 = pare_time_now();
    for (int64_t i = 0; i < N && !s; i++) {
        int64_t best = 0;
        for (int64_t v = 1; v < cfg->vocab_size; v++)
            if (logits[v] > logits[best]) best = v;
        tok = (int32_t)best;
        b = (pare_llama_batch){.n_tokens = 1, .tokens = &tok};
        s = pare_llama_forward(m, kc, &b, &out, err);
    }
    *t_decode = pare_time_now() - t0;
    free(ids);
    return s;
}

