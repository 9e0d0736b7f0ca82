/* Layer-by-layer calibration of a Llama-family GGUF model
 * (include/pare/llama.h, pare_llama_calibrate): embed the calibration
 * sequences once, then per layer read its weights as f32, run the
 * sequences through it while the method observes each linear layer's
 * input, let the method replace the weights, and run the sequences through
 * the replaced layer to make the next layer's inputs. */
#include "models/llama_impl.h"
#include "pare/quant.h"

#include <stdlib.h>
#include <string.h>

typedef struct calib_part {
    const char *name;
    pare_llama_lin lin;
} calib_part;

static const calib_part PARTS[] = {
    {"attn_q", PARE_LIN_QKV},       {"attn_k", PARE_LIN_QKV}, {"attn_v", PARE_LIN_QKV},
    {"attn_output", PARE_LIN_O},    {"ffn_gate", PARE_LIN_GATE_UP}, {"ffn_up", PARE_LIN_GATE_UP},
    {"ffn_down", PARE_LIN_DOWN},
};

size_t pare_llama_calib_bytes(const pare_llama_config *c, int64_t n_seq, int64_t seq_len) {
    const double H = (double)c->hidden_size, F = (double)c->intermediate_size, D = (double)c->head_dim;
    const double QKV = (double)(c->n_heads + 2 * c->n_kv_heads) * D, QD = (double)c->n_heads * D;
    const double layer = QKV * H + H * QD + 2 * F * H + H * F; /* f32 weights, and as much again packed */
    const double acts = (double)n_seq * (double)seq_len * H;
    const double scratch = (double)seq_len * (2 * H + QKV + QD + H + 3 * F) + 2.0 * (double)c->n_layers * seq_len * (double)c->n_kv_heads * D;
    return (size_t)(4 * (2 * layer + acts + scratch));
}

typedef struct calib_state {
    pare_llama *m;
    float *w[PARE_LIN_COUNT];
    float *norms; /* attn_norm, mlp_norm */
    pare_arena *lin_arena;
    llama_layer L;
} calib_state;

/* The f32 weights of layer il from the file, and copies of its norms. */
static pare_status read_layer(calib_state *cs, int64_t il, pare_llama_calib_layer *cl, pare_err *err) {
    pare_llama *m = cs->m;
    const int64_t H = m->cfg.hidden_size;
    int64_t row[PARE_LIN_COUNT] = {0};
    for (size_t p = 0; p < sizeof PARTS / sizeof PARTS[0]; p++) {
        char name[96];
        snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)il, PARTS[p].name);
        const pare_gguf_tensor *t = pare_gguf_tensor_find(m->gguf, name);
        const pare_llama_lin l = PARTS[p].lin;
        if (!t || t->n_dims != 2 || t->ne[0] != cl->n_in[l] || row[l] + t->ne[1] > cl->n_out[l])
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor %s missing or not of the shape the model has",
                                pare_gguf_path(m->gguf), name);
        pare_status s = pare_dequantize_row((pare_qtype)t->type, t->data, cs->w[l] + row[l] * cl->n_in[l],
                                            pare_gguf_tensor_nelem(t), err);
        if (s) return pare_err_wrap(err, "%s: tensor %s", pare_gguf_path(m->gguf), name);
        pare_gguf_release(m->gguf, t); /* the f32 copy is what the pass reads */
        row[l] += t->ne[1];
    }
    const llama_layer *ML = &m->layers[il];
    memcpy(cs->norms, ML->attn_norm, sizeof(float) * (size_t)H);
    memcpy(cs->norms + H, ML->mlp_norm, sizeof(float) * (size_t)H);
    return PARE_OK;
}

/* cs->L: layer il running on the f32 weights in cs->w and the norm copies. */
static pare_status build_layer(calib_state *cs, int64_t il, const pare_llama_calib_layer *cl, pare_err *err) {
    pare_llama *m = cs->m;
    const llama_layer *ML = &m->layers[il];
    pare_arena_reset(cs->lin_arena);
    cs->L = (llama_layer){.attn_norm = cs->norms, .mlp_norm = cs->norms + m->cfg.hidden_size};
    llama_weight *w[PARE_LIN_COUNT] = {&cs->L.qkv, &cs->L.o, &cs->L.gate_up, &cs->L.down};
    const llama_weight *mw[PARE_LIN_COUNT] = {&ML->qkv, &ML->o, &ML->gate_up, &ML->down};
    for (int l = 0; l < PARE_LIN_COUNT; l++) {
        *w[l] = (llama_weight){.qtype = PARE_Q_F32, .n_out = cl->n_out[l], .n_in = cl->n_in[l], .bias = mw[l]->bias};
        pare_status s = pare_linear_init(&w[l]->lin, cs->w[l], mw[l]->bias, cl->n_out[l], cl->n_in[l], m->kernel,
                                         cs->lin_arena, err);
        if (s) return s;
    }
    return PARE_OK;
}

static void observe_fwd(void *ud, pare_llama_lin which, const float *x, int64_t n, int64_t k) {
    const pare_llama_calib_method *meth = ud;
    meth->observe(meth->ud, which, x, n, k);
}

pare_status pare_llama_calibrate(pare_llama *m, const int32_t *tokens, int64_t n_seq, int64_t seq_len,
                                 const pare_llama_calib_method *meth, pare_progress *prog, pare_err *err) {
    const pare_llama_config *c = &m->cfg;
    if (!m->gguf) return pare_err_set(err, PARE_ERR_UNSUPPORTED, "calibration reads its weights from a GGUF file; this model is a folder");
    const bool run = meth->needs_inputs;
    if (run && (n_seq <= 0 || seq_len <= 0 || !tokens))
        return pare_err_set(err, PARE_ERR_INVALID, "calibration needs at least one sequence of tokens");
    for (int64_t i = 0; run && i < n_seq * seq_len; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return pare_err_set(err, PARE_ERR_INVALID, "calibration token %d is outside the vocabulary", tokens[i]);
    const int64_t H = c->hidden_size, D = c->head_dim, F = c->intermediate_size;
    const int64_t QD = c->n_heads * D, KD = c->n_kv_heads * D;
    pare_llama_calib_layer cl = {.n_out = {QD + 2 * KD, H, 2 * F, H}, .n_in = {H, QD, H, F}};
    calib_state cs = {.m = m};
    pare_status s = PARE_OK;
    float *acts = NULL;
    pare_llama_cache *kc = NULL;
    cs.lin_arena = pare_arena_create(4u << 20);
    cs.norms = malloc(sizeof(float) * (size_t)(2 * H));
    for (int l = 0; l < PARE_LIN_COUNT; l++) cs.w[l] = malloc(sizeof(float) * (size_t)(cl.n_out[l] * cl.n_in[l]));
    if (run) acts = malloc(sizeof(float) * (size_t)(n_seq * seq_len * H));
    if (!cs.lin_arena || !cs.norms || !cs.w[0] || !cs.w[1] || !cs.w[2] || !cs.w[3] || (run && !acts)) {
        s = pare_err_set(err, PARE_ERR_OOM, "calibration: out of memory for one layer and %lld x %lld activations",
                         (long long)n_seq, (long long)seq_len);
        goto done;
    }
    llama_scratch sc;
    if (run) {
        if ((s = pare_llama_cache_create(m, 1, seq_len, &kc, err)) ||
            (s = llama_alloc_scratch(m, kc, seq_len, 0, &sc, err)))
            goto done;
        for (int64_t i = 0; i < seq_len; i++) {
            sc.seq[i] = 0;
            sc.pos[i] = (int32_t)i;
        }
        float attn_factor;
        pare_llama_rope_freqs(c, seq_len - 1, sc.inv_freq, &attn_factor);
        pare_rope_table_f32(sc.pos, seq_len, sc.inv_freq, D / 2, attn_factor, sc.cos_t, sc.sin_t);
        for (int64_t q = 0; q < n_seq; q++) llama_embed(m, tokens + q * seq_len, seq_len, acts + q * seq_len * H);
    }
    const llama_observer obs = {.ud = (void *)meth, .fn = observe_fwd};
    const size_t seq_bytes = sizeof(float) * (size_t)(seq_len * H);
    if (prog) pare_progress_init(prog, "layers", c->n_layers);
    for (int64_t il = 0; il < c->n_layers && !s; il++) {
        cl.index = il;
        for (int l = 0; l < PARE_LIN_COUNT; l++) cl.w[l] = cs.w[l];
        cl.attn_norm = cs.norms;
        cl.mlp_norm = cs.norms + H;
        if ((s = read_layer(&cs, il, &cl, err))) break;
        if (run && !(s = build_layer(&cs, il, &cl, err)))
            for (int64_t q = 0; q < n_seq && !s; q++) {
                memcpy(sc.x, acts + q * seq_len * H, seq_bytes);
                s = llama_layer_forward(m, kc, &cs.L, il, &sc, seq_len, &obs, err);
            }
        if (!s) s = meth->layer(meth->ud, &cl, err);
        if (run && !s && il + 1 < c->n_layers && !(s = build_layer(&cs, il, &cl, err)))
            for (int64_t q = 0; q < n_seq && !s; q++) {
                memcpy(sc.x, acts + q * seq_len * H, seq_bytes);
                s = llama_layer_forward(m, kc, &cs.L, il, &sc, seq_len, NULL, err);
                memcpy(acts + q * seq_len * H, sc.x, seq_bytes);
            }
        if (prog) pare_progress_update(prog, il + 1);
    }
    if (prog) pare_progress_finish(prog);
done:
    pare_llama_cache_free(kc);
    free(acts);
    free(cs.norms);
    for (int l = 0; l < PARE_LIN_COUNT; l++) free(cs.w[l]);
    pare_arena_free(cs.lin_arena);
    return s;
}
