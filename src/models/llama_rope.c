/* RoPE inverse frequencies for the scaling variants of transformers'
 * modeling_rope_utils.py (default, linear, dynamic NTK, llama3, yarn),
 * computed in double and rounded once to f32 (HF computes them in f32:
 * within an ulp). Linear scaling divides the frequencies by the factor,
 * which equals HF's positions / factor up to rounding. */
#include "pare/llama.h"

#include <math.h>

void pare_llama_rope_freqs(const pare_llama_config *c, int64_t max_pos, float *inv_freq, float *attn_factor) {
    const pare_llama_rope *r = &c->rope;
    const int64_t half = c->head_dim / 2;
    const double dim = (double)c->head_dim;
    double base = r->theta, factor = r->factor;
    *attn_factor = 1.0f;
    if (r->scaling == PARE_ROPE_SCALING_DYNAMIC) {
        /* HF: seq_len = max(position) + 1, at least max_position_embeddings. */
        double seq = (double)(max_pos + 1 > c->max_position ? max_pos + 1 : c->max_position);
        base *= pow(factor * seq / (double)c->max_position - (factor - 1), dim / (dim - 2));
    }
    double low = 0, high = 0;
    if (r->scaling == PARE_ROPE_SCALING_YARN) {
        /* correction range of dimensions between beta_fast and beta_slow rotations */
        double omp = (double)r->original_max_position;
        low = dim * log(omp / (r->beta_fast * 2 * M_PI)) / (2 * log(base));
        high = dim * log(omp / (r->beta_slow * 2 * M_PI)) / (2 * log(base));
        if (r->truncate) {
            low = floor(low);
            high = ceil(high);
        }
        if (low < 0) low = 0;
        if (high > dim - 1) high = dim - 1;
        if (low == high) high += 0.001;
        *attn_factor = r->attention_factor > 0 ? (float)r->attention_factor
                       : factor <= 1           ? 1.0f
                                               : (float)(0.1 * log(factor) + 1.0);
    }
    for (int64_t i = 0; i < half; i++) {
        double f = 1.0 / pow(base, (double)(2 * i) / dim);
        switch (r->scaling) {
        case PARE_ROPE_SCALING_NONE:
        case PARE_ROPE_SCALING_DYNAMIC: break;
        case PARE_ROPE_SCALING_LINEAR: f /= factor; break;
        case PARE_ROPE_SCALING_LLAMA3: {
            double omp = (double)r->original_max_position, wavelen = 2 * M_PI / f;
            double low_wl = omp / r->low_freq_factor, high_wl = omp / r->high_freq_factor;
            if (wavelen > low_wl) {
                f /= factor;
            } else if (wavelen >= high_wl) {
                double smooth = (omp / wavelen - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
                f = (1 - smooth) * f / factor + smooth * f;
            }
            break;
        }
        case PARE_ROPE_SCALING_YARN: {
            double ramp = ((double)i - low) / (high - low);
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            double extra = 1 - ramp; /* weight of the unscaled frequency */
            f = (f / factor) * (1 - extra) + f * extra;
            break;
        }
        }
        inv_freq[i] = (float)f;
    }
}
