/* Weight quantization of whole matrices onto ggml block grids, with or
 * without calibration data: round to nearest (RTN), GPTQ and AWQ.
 *
 * A "grid" is a ggml block type (Q8_0, Q5_0, Q5_1, Q4_0, Q4_1) plus a group
 * size G, a multiple of 32: the scale (and minimum) is found once per G
 * consecutive inputs of a row and shared by the G/32 blocks of that group,
 * so a group-128 result is stored as plain ggml blocks (llama.cpp and pare
 * load it as the block type) and its values are exactly those the grid
 * defines. Scales are rounded to f16 before the codes are chosen, so the
 * error GPTQ feeds back is the true error of the stored weight. A row whose
 * length is not a multiple of G ends with a shorter group.
 *
 * Matrices are row-major W[n_out][n_in] (a linear layer y = x W^T); codes
 * are per element, params per (row, group).
 */
#ifndef PARE_WQUANT_H
#define PARE_WQUANT_H

#include "pare/core.h"
#include "pare/qtypes.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pare_grid {
    pare_qtype type; /* Q8_0 Q5_0 Q5_1 Q4_0 Q4_1 */
    int64_t group;   /* multiple of 32 */
} pare_grid;

/* NULL when the grid is valid, else what is wrong with it. */
const char *pare_grid_check(const pare_grid *g);
/* Symmetric (Q8_0, Q5_0, Q4_0: x = d (q - z)) or with a minimum (Q5_1, Q4_1: x = d q + m). */
bool pare_grid_has_min(pare_qtype type);

/* Scale d and minimum m (0 when symmetric) of one group x[0..n), as the
 * ggml reference quantizer finds them, rounded to f16. */
void pare_grid_params(pare_qtype type, const float *x, int64_t n, float *d, float *m);
/* The grid value nearest x under (d, m); *code gets its code when non-NULL. */
float pare_grid_round(pare_qtype type, float x, float d, float m, int *code);

/* A quantized matrix: codes and per-group params, then the ggml rows. */
typedef struct pare_qmat {
    pare_grid grid;
    int64_t n_out, n_in, n_groups; /* n_groups per row */
    uint8_t *codes;                /* [n_out * n_in] */
    float *d, *m;                  /* [n_out * n_groups] */
} pare_qmat;

pare_status pare_qmat_init(pare_qmat *q, const pare_grid *g, int64_t n_out, int64_t n_in, pare_err *err);
void pare_qmat_free(pare_qmat *q);
/* Round W to nearest on the grid: codes and params into q; W (when wout is
 * non-NULL) gets the grid values. */
void pare_qmat_rtn(pare_qmat *q, const float *w, float *wout);
/* Bytes of the ggml rows, and the rows themselves (n_out rows of the block type). */
size_t pare_qmat_bytes(const pare_qmat *q);
void pare_qmat_encode(const pare_qmat *q, void *dst);

/* ---- GPTQ (Frantar et al. 2022): quantize columns in order, spreading
 * each column's error over the not yet quantized columns through the
 * inverse Hessian of the layer's inputs, in blocks of 128 with lazy batch
 * updates. H = sum over calibration rows of x x^T ([n_in][n_in], double,
 * destroyed). W is replaced by the grid values. */
typedef struct pare_gptq_opts {
    double damp;    /* fraction of mean(diag H) added to the diagonal (default 0.01) */
    bool act_order; /* columns by decreasing diag(H); group params from the unmodified
                       weights of each group (static groups), so groups stay contiguous */
    int64_t block;  /* lazy-update block (default 128) */
} pare_gptq_opts;

typedef struct pare_gptq_stats {
    double err_rtn, err_gptq; /* tr((W - Q) H (W - Q)^T) of RTN and of GPTQ, before damping */
    double damp_used;         /* the damping that made H positive definite */
} pare_gptq_stats;

pare_status pare_gptq(pare_qmat *q, float *w, double *h, const pare_gptq_opts *o, pare_gptq_stats *st,
                      pare_err *err);

/* ---- AWQ (Lin et al. 2023): scale input channel j of W by s_j (and the
 * op producing the input by 1/s_j) so that channels with large
 * activations are quantized finely; s = mean|x|^alpha normalised by
 * sqrt(max s * min s), alpha from a grid of n_grid points in [0, 1) that
 * minimises the output error of the quantized layer on calibration rows x
 * ([n_x][n_in]). xmean: mean |x| per channel over all calibration rows.
 * Writes s ([n_in]) and the chosen alpha; W is untouched. */
typedef struct pare_awq_opts {
    int n_grid;     /* default 20 */
} pare_awq_opts;

pare_status pare_awq_search(const pare_grid *g, const float *w, int64_t n_out, int64_t n_in, const float *x,
                            int64_t n_x, const float *xmean, const pare_awq_opts *o, float *s, double *alpha,
                            double *loss_best, double *loss_plain, pare_err *err);

/* ---- Llama-family GGUF models (src/compress/quant/llama_wquant.c)
 *
 * Every linear weight of every layer onto the grid, by round to nearest,
 * GPTQ or AWQ, calibrated layer by layer (pare_llama_calibrate); token_embd
 * and output become Q8_0; metadata is copied and general.file_type set.
 * The result is a GGUF file of plain ggml blocks that pare and llama.cpp
 * load. AWQ's scales are folded into the RMSNorm weights (q/k/v and
 * gate/up inputs), into the up rows (down input), and into the v rows
 * (o input) when every query head has its own kv head. */
typedef enum pare_wq_method {
    PARE_WQ_RTN = 0,
    PARE_WQ_GPTQ = 1,
    PARE_WQ_AWQ = 2,
    /* W8A8 (int8 weights, one scale per output row, int8 inputs with one
     * scale per token, chosen at run time). The file holds Q8_0 blocks whose
     * scales are equal along a row (llama.cpp runs it as plain Q8_0) plus
     * the key pare.w8a8 = "dynamic", on which pare runs those layers through
     * its int8 GEMM (include/pare/qlinear.h). */
    PARE_WQ_SMOOTHQUANT = 3, /* + per-channel s = max|x|^a / max|w|^(1-a), folded as AWQ's */
    PARE_WQ_LLM_INT8 = 4,    /* + input columns whose calibration max|x| reaches the
                                threshold stay f32 at run time (LLM.int8's
                                decomposition; pare.llm_int8.<layer>.<linear> lists them) */
    /* bitsandbytes NF4 / FP4 (blocks of 64, double-quantized absmax), no
     * calibration. No ggml type holds them: the file has F16 weights with
     * the 4-bit values (what the format costs in accuracy, at F16 size) */
    PARE_WQ_NF4 = 5,
    PARE_WQ_FP4 = 6,
} pare_wq_method;

/* w [rows, cols] (cols a multiple of 64) replaced by its NF4 (or FP4)
 * quantize-dequantize round trip, bitsandbytes semantics as the BERT 4-bit
 * path (src/models/bert_w4.c). */
pare_status pare_w4_roundtrip(bool fp4, float *w, int64_t rows, int64_t cols, pare_err *err);

typedef struct pare_llama_wq_opts {
    pare_wq_method method;
    pare_grid grid;
    const int32_t *tokens;   /* calibration: n_seq sequences of seq_len ids (GPTQ, AWQ) */
    int64_t n_seq, seq_len;
    pare_gptq_opts gptq;
    pare_awq_opts awq;
    int64_t awq_rows;        /* calibration rows per linear layer the AWQ search runs (default 2048) */
    double smooth_alpha;     /* SmoothQuant migration strength (default 0.5, the paper's) */
    double outlier_threshold;/* LLM.int8: max|x| of an outlier input column (default 6) */
    int n_threads;           /* <= 0: all cores */
    bool verbose;            /* a line per layer with the errors on stderr */
} pare_llama_wq_opts;

const char *pare_wq_method_name(pare_wq_method m);
/* The method called name ("rtn", "gptq", "awq", "smoothquant", "llm-int8",
 * "nf4", "fp4"); false if none is. */
bool pare_wq_method_parse(const char *name, pare_wq_method *out);
/* Whether the method calibrates on text (all but rtn, nf4 and fp4). */
bool pare_wq_method_calibrates(pare_wq_method m);
pare_status pare_llama_wquantize(const char *in, const char *out, const pare_llama_wq_opts *o, pare_progress *prog,
                                 pare_err *err);

/* Calibration sequences from a text file (src/compress/quant/calib_text.c):
 * the file must be non-empty UTF-8 text without NUL bytes and tokenize
 * (tok: a pare_bpe) to at least seq_len tokens; up to n_seq windows of
 * seq_len tokens spread evenly over it (fewer when the text is shorter),
 * the first token of each the BOS when the tokenizer adds one. *out:
 * malloc'd [*n_got * seq_len]. */
struct pare_bpe;
pare_status pare_calib_text_tokens(const struct pare_bpe *tok, const char *path, int64_t n_seq, int64_t seq_len,
                                   int32_t **out, int64_t *n_got, pare_err *err);
/* The same with the tokenizer of the GGUF file `model`; a path ending in
 * ".ids" holds token ids instead (decimal, separated by white space, each
 * below the GGUF's vocabulary size), for models whose tokenizer pare does
 * not read (SentencePiece 'llama'). */
pare_status pare_calib_gguf_tokens(const char *model, const char *path, int64_t n_seq, int64_t seq_len, int32_t **out,
                                   int64_t *n_got, pare_err *err);

#ifdef __cplusplus
}
#endif
#endif
