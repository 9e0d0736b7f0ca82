/* libFuzzer target: the token sampler's inputs. The bytes are the options
 * (temperature, top-k, top-p, repetition penalty, seed), a history and the
 * logits as raw floats, NaN and infinities included. A sample is a token of
 * the vocabulary, or PARE_SAMPLER_BAD_LOGITS exactly when a logit is NaN or
 * +inf or none is finite. */
#include "pare/generate.h"

#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 24) return 0;
    pare_sampler_opts o;
    pare_sampler_opts_default(&o);
    float f[4];
    memcpy(f, data, 16);
    o.temperature = f[0];
    o.top_p = f[1];
    o.repeat_penalty = f[2];
    o.top_k = (int32_t)(data[12] % 64) - 1;
    o.repeat_last_n = (int32_t)data[13] - 8;
    memcpy(&o.seed, data + 16, 8);
    data += 24, size -= 24;
    const int64_t n_hist = size ? data[0] % 16 : 0;
    if (size < 1 + (size_t)n_hist * 4) return 0;
    int32_t hist[16];
    memcpy(hist, data + 1, (size_t)n_hist * 4); /* any ids: out of range ones are ignored */
    data += 1 + n_hist * 4, size -= 1 + (size_t)n_hist * 4;
    const int64_t vocab = (int64_t)(size / 4);
    if (vocab < 1) return 0;
    float logits[4096], copy[4096];
    const int64_t v = vocab > 4096 ? 4096 : vocab;
    memcpy(logits, data, (size_t)v * 4);
    memcpy(copy, logits, sizeof(float) * (size_t)v);
    pare_sampler *s;
    pare_err err;
    if (pare_sampler_create(&o, v, &s, &err) != PARE_OK) return 0;
    bool bad = true;
    for (int64_t i = 0; i < v; i++) {
        if (isnan(copy[i]) || copy[i] == INFINITY) {
            bad = true;
            break;
        }
        if (copy[i] != -INFINITY) bad = false;
    }
    for (int rep = 0; rep < 2; rep++) {
        memcpy(logits, copy, sizeof(float) * (size_t)v);
        int32_t t = pare_sampler_sample(s, logits, hist, n_hist);
        if (bad ? t != PARE_SAMPLER_BAD_LOGITS : (t < 0 || t >= v)) __builtin_trap();
    }
    pare_sampler_free(s);
    return 0;
}
