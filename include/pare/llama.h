/* Llama-family decoders (Llama 1-3, Mistral, Qwen2, SmolLM, TinyLlama):
 * RMSNorm, rotary position embeddings, grouped-query attention over a KV
 * cache, SwiGLU MLP, final norm, LM head (tied or not) and the
 * LlamaForSequenceClassification score head. fp32 activations.
 *
 * Phase 1 loads Hugging Face folders (config.json + model.safetensors or
 * pytorch_model.bin). Weights are kept per linear layer with a ggml type id
 * (include/pare/qtypes.h) so a block-quantized GGUF tensor can stand in for
 * the f32 one later.
 *
 * Positions: every sequence lives in one slot of a pare_llama_cache; the
 * tokens a forward pass gives a slot are appended to it, so a token's
 * position is the slot's length before the call plus its index among that
 * slot's tokens in the batch. A batch may mix slots (prefill of several
 * sequences of different lengths, or one decode token per sequence).
 */
#ifndef PARE_LLAMA_H
#define PARE_LLAMA_H

#include "pare/core.h"
#include "pare/io.h"
#include "pare/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pare_llama_arch {
    PARE_LLAMA_ARCH_LLAMA = 0,   /* model_type "llama" (attention_bias, mlp_bias flags) */
    PARE_LLAMA_ARCH_MISTRAL = 1, /* "mistral": llama + sliding_window */
    PARE_LLAMA_ARCH_QWEN2 = 2,   /* "qwen2": q/k/v biases, no o_proj bias */
} pare_llama_arch;

typedef enum pare_rope_scaling {
    PARE_ROPE_SCALING_NONE = 0,    /* "default" or absent */
    PARE_ROPE_SCALING_LINEAR = 1,  /* positions / factor */
    PARE_ROPE_SCALING_DYNAMIC = 2, /* NTK-aware: base grows once a pass's max position + 1 passes max_position */
    PARE_ROPE_SCALING_LLAMA3 = 3,  /* Llama 3.1 wavelength bands */
    PARE_ROPE_SCALING_YARN = 4,    /* YaRN ramp + attention factor on cos/sin */
} pare_rope_scaling;

typedef struct pare_llama_rope {
    pare_rope_scaling scaling;
    pare_rope_mode mode;
    double theta;                  /* rope_theta (base) */
    double factor;                 /* linear, dynamic, llama3, yarn */
    int64_t original_max_position; /* llama3, yarn (default max_position) */
    double low_freq_factor, high_freq_factor; /* llama3 */
    double beta_fast, beta_slow;   /* yarn (default 32, 1) */
    double attention_factor;       /* yarn; 0: 0.1 ln(factor) + 1 */
    bool truncate;                 /* yarn: floor/ceil the correction range (default true) */
} pare_llama_rope;

typedef struct pare_llama_config {
    pare_llama_arch arch;
    char model_type[32];
    char architecture[64];         /* architectures[0] */
    int64_t vocab_size, hidden_size, n_layers, n_heads, n_kv_heads, head_dim, intermediate_size;
    int64_t max_position;          /* max_position_embeddings */
    double rms_norm_eps;
    bool tie_word_embeddings;
    bool qkv_bias;                 /* llama attention_bias, always for qwen2 */
    bool o_bias;                   /* llama attention_bias */
    bool mlp_bias;                 /* llama mlp_bias */
    int64_t sliding_window;        /* 0: none; else key j visible from position p if p - j < window */
    int64_t sliding_from_layer;    /* layers >= this use the window (qwen2 max_window_layers) */
    pare_llama_rope rope;
    int64_t n_labels;              /* num_labels when architectures[0] is *ForSequenceClassification */
    int64_t pad_token_id, bos_token_id, eos_token_id; /* -1 when absent */
} pare_llama_config;

pare_status pare_llama_config_load(const char *path, pare_llama_config *cfg, pare_err *err);
/* Every float hyper-parameter finite and in range (both loaders call it). */
pare_status pare_llama_config_check(const pare_llama_config *c, const char *path, pare_err *err);
/* From config.json text (len bytes, need not be NUL-terminated); name is used
 * in error messages. */
pare_status pare_llama_config_parse(const char *text, size_t len, const char *name,
                                    pare_llama_config *cfg, pare_err *err);
const char *pare_llama_arch_name(pare_llama_arch a);
const char *pare_rope_scaling_name(pare_rope_scaling s);

/* The inverse frequencies [head_dim/2] RoPE uses for a pass whose largest
 * position is max_pos (only DYNAMIC depends on it), and the factor cos and
 * sin are multiplied by (YARN; 1 otherwise). */
void pare_llama_rope_freqs(const pare_llama_config *c, int64_t max_pos, float *inv_freq,
                           float *attn_factor);

typedef struct pare_llama_params {
    int n_threads;           /* <= 0: PARE_THREADS or all cores */
    pare_kernel_impl kernel; /* AUTO by default */
    bool dequantize;         /* GGUF: dequantize every weight to f32 at load and
                                run the exact f32 path (the reference mode);
                                default: keep the file's block types and run
                                them through pare_qmatmul (8-bit activations,
                                as llama.cpp does) */
    bool no_repack;          /* GGUF: keep Q4_0/Q4_1 rows as in the file instead
                                of repacking them 8 rows at a time at load
                                (pare_qpack; for comparison) */
    bool no_sparse;          /* GGUF: run F16 weights dense even when pruned */
    double sparse_min;       /* GGUF F16 weights with at least this fraction of
                                exact zeros also get the bitmap-sparse form
                                (include/pare/sparse.h), which decode steps
                                (up to 4 tokens a pass) then use; prefill stays
                                dense; 0: the default, 0.3 (bench/sparse.sh
                                measures the crossover) */
    bool calib_only;         /* GGUF: leave the layers' linear weights unread
                                (shapes and biases only): the model can then
                                only be calibrated (pare_llama_calibrate reads
                                each layer from the file itself), with memory
                                near one layer; pare_llama_eval refuses it */
} pare_llama_params;

pare_llama_params pare_llama_default_params(void);

typedef struct pare_llama pare_llama;

/* dir: a Hugging Face folder (config.json, model.safetensors or
 * pytorch_model.bin; tensor names with or without the "model." prefix), or
 * a GGUF file of architecture llama or qwen2 (hyperparameters from its
 * metadata, weights used in place from the mapping). */
pare_status pare_llama_load(const char *dir, const pare_llama_params *params, pare_llama **out,
                            pare_err *err);
void pare_llama_free(pare_llama *m);

const pare_llama_config *pare_llama_get_config(const pare_llama *m);
const pare_tensor_file *pare_llama_weights_file(const pare_llama *m); /* NULL for GGUF */
/* The GGUF file the model came from (tokenizer metadata lives there), or NULL. */
const struct pare_gguf *pare_llama_gguf(const pare_llama *m);
/* Bytes of weights one decode step reads: every linear weight and the
 * output head as stored (block types at their size); the embedding table
 * only when it is also the output head. */
size_t pare_llama_weight_bytes_per_token(const pare_llama *m);
pare_pool *pare_llama_pool(pare_llama *m);
bool pare_llama_has_lm_head(const pare_llama *m); /* false for a seq-cls checkpoint */
bool pare_llama_has_score(const pare_llama *m);
int64_t pare_llama_n_params(const pare_llama *m);   /* as loaded (tied head counted once) */
size_t pare_llama_weight_bytes(const pare_llama *m); /* resident weights: copies and packed forms */

/* ---- KV cache: f32 K and V for n_seq slots of max_ctx positions each,
 * [layer][slot][position][kv_head * head_dim]. */
typedef struct pare_llama_cache pare_llama_cache;
/* One timed pass (src/models/llama_bench.c): prefill of P fixed
 * pseudo-random tokens into kc (emptied first), then N greedy decode steps;
 * seconds of each phase. kc holds P + N positions; logits holds vocab
 * floats. */
pare_status pare_llama_time_pass(pare_llama *m, pare_llama_cache *kc, int64_t P, int64_t N, float *logits,
                                 double *t_prefill, double *t_decode, pare_err *err);

pare_status pare_llama_cache_create(const pare_llama *m, int64_t n_seq, int64_t max_ctx,
                                    pare_llama_cache **out, pare_err *err);
void pare_llama_cache_free(pare_llama_cache *c);
int64_t pare_llama_cache_n_seq(const pare_llama_cache *c);
int64_t pare_llama_cache_max_ctx(const pare_llama_cache *c);
/* Tokens stored for slot seq (the next token's position). */
int64_t pare_llama_cache_seq_len(const pare_llama_cache *c, int64_t seq);
/* Forget positions >= len of slot seq (len 0 clears it); seq < 0: all slots. */
void pare_llama_cache_truncate(pare_llama_cache *c, int64_t seq, int64_t len);
size_t pare_llama_cache_bytes(const pare_llama_cache *c);

/* ---- forward */

typedef struct pare_llama_batch {
    int64_t n_tokens;
    const int32_t *tokens; /* [n_tokens] */
    const int32_t *seq;    /* [n_tokens] cache slot of each token; NULL: all slot 0 */
    const int8_t *output;  /* [n_tokens] 1: return outputs for this token; NULL: the last
                              token of every slot present in the batch */
} pare_llama_batch;

/* One row per output token, in batch order; any pointer may be NULL. */
typedef struct pare_llama_outputs {
    float *logits; /* [n_out, vocab] LM head */
    float *hidden; /* [n_out, hidden] after the final norm */
    float *scores; /* [n_out, n_labels] score head (sequence classification) */
} pare_llama_outputs;

/* Number of rows pare_llama_forward writes for this batch. */
int64_t pare_llama_batch_n_out(const pare_llama_batch *b);

/* Run the batch, append its K/V to the cache, write the outputs. Not
 * re-entrant for one model (scratch and thread pool are the model's); no
 * allocation once the scratch arena has grown to the largest batch. On
 * error the cache is unchanged. */
pare_status pare_llama_forward(pare_llama *m, pare_llama_cache *cache, const pare_llama_batch *b,
                               const pare_llama_outputs *out, pare_err *err);

/* LlamaForSequenceClassification: ids [B, T] (right- or left-padded with
 * pad_token_id); each row is scored at its last token that is not
 * pad_token_id (HF's rule; the last token when the config has none, which
 * then needs B == 1), after running the row's tokens up to there from
 * position 0. scores: [B, n_labels]. Uses a temporary cache. */
pare_status pare_llama_classify(pare_llama *m, const int32_t *ids, int64_t B, int64_t T,
                                float *scores, pare_err *err);

/* FLOPs of the GEMMs for n_tokens tokens (attention matmuls over ctx keys
 * per token included; element-wise work not counted), with the LM head. */
double pare_llama_forward_flops(const pare_llama_config *c, int64_t n_tokens, int64_t ctx);

/* ---- calibration, layer by layer (src/models/llama_calib.c)
 *
 * For compression methods that need the inputs each linear layer sees
 * (GPTQ, AWQ, SmoothQuant, static activation ranges). Calibration
 * sequences are embedded once; then for each layer in turn its weights are
 * read from the GGUF file as f32, the sequences run through that layer
 * alone while the method observes the input of every linear layer, the
 * method replaces the weights (and may rescale the norms), and the
 * sequences run through the replaced layer to become the next layer's
 * inputs. So each layer is calibrated on the outputs of the already
 * compressed layers before it, and memory holds one layer in f32 plus the
 * calibration activations [n_seq * seq_len, hidden], never the whole model
 * in f32. */
typedef enum pare_llama_lin {
    PARE_LIN_QKV = 0,     /* q, k, v rows stacked; input: RMSNorm(x) by attn_norm */
    PARE_LIN_O = 1,       /* input: the attention output */
    PARE_LIN_GATE_UP = 2, /* gate rows then up rows; input: RMSNorm(x) by mlp_norm */
    PARE_LIN_DOWN = 3,    /* input: silu(gate) * up */
    PARE_LIN_COUNT = 4,
} pare_llama_lin;

typedef struct pare_llama_calib_layer {
    int64_t index;
    float *w[PARE_LIN_COUNT]; /* f32 [n_out][n_in], writable: the method leaves there the
                                 weights the model uses from now on */
    int64_t n_out[PARE_LIN_COUNT], n_in[PARE_LIN_COUNT];
    float *attn_norm, *mlp_norm; /* [hidden], writable copies */
} pare_llama_calib_layer;

typedef struct pare_llama_calib_method {
    void *ud;
    bool needs_inputs; /* false: no calibration forward passes (round to nearest) */
    /* x: [n][k] input rows of one sequence to linear `which` of the current layer */
    void (*observe)(void *ud, pare_llama_lin which, const float *x, int64_t n, int64_t k);
    /* once per layer, after every sequence was observed */
    pare_status (*layer)(void *ud, pare_llama_calib_layer *L, pare_err *err);
} pare_llama_calib_method;

/* m: loaded from a GGUF file (any weight types). tokens: n_seq sequences of
 * seq_len ids, each run from position 0. prog may be NULL. */
pare_status pare_llama_calibrate(pare_llama *m, const int32_t *tokens, int64_t n_seq, int64_t seq_len,
                                 const pare_llama_calib_method *meth, pare_progress *prog, pare_err *err);
/* Bytes pare_llama_calibrate holds besides the model: activations and one layer. */
size_t pare_llama_calib_bytes(const pare_llama_config *c, int64_t n_seq, int64_t seq_len);

/* ---- random-weight folders for tests and benchmarks */

typedef struct pare_llama_random_opts {
    pare_llama_arch arch;    /* LLAMA or QWEN2 (MISTRAL writes a llama-shaped mistral) */
    int64_t n_layers, hidden_size, n_heads, n_kv_heads, intermediate_size, vocab_size;
    int64_t head_dim;        /* 0: hidden / heads */
    int64_t max_position;    /* 0: 2048 */
    double rope_theta;       /* 0: 10000 */
    pare_llama_rope rope;    /* scaling NONE: no rope_scaling key; theta taken from rope_theta */
    bool tie_word_embeddings;
    bool attention_bias;     /* llama: q/k/v/o biases */
    int64_t n_labels;        /* > 0: *ForSequenceClassification (score.weight, no lm_head) */
    int64_t pad_token_id;    /* written when n_labels > 0 (default 0) */
    uint64_t seed;
} pare_llama_random_opts;

/* Weights: linear N(0, 1/sqrt(n_in)), embeddings N(0, 1), norms 1 + N(0, 0.1),
 * biases N(0, 0.1): activations of order 1, so errors show. */
pare_status pare_llama_write_random(const char *dir, const pare_llama_random_opts *o,
                                    pare_err *err);

#ifdef __cplusplus
}
#endif
#endif
