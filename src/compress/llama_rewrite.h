/* Writing a compressed Llama-family GGUF (quantization and pruning share it). */
#ifndef PARE_COMPRESS_LLAMA_REWRITE_H
#define PARE_COMPRESS_LLAMA_REWRITE_H

#include "pare/gguf.h"
#include "pare/llama.h"
#include "pare/qtypes.h"

/* g: the source file, c its config. rows[il * PARE_LIN_COUNT + lin]: the
 * stacked linear (q,k,v / o / gate,up / down) of layer il as n_out rows of
 * `type`, split back into the file's tensors; norms[il] (may be NULL):
 * attn_norm then ffn_norm, [2 * hidden]; head_q8: token_embd and output
 * become Q8_0. */
pare_status llama_gguf_rewrite(const pare_gguf *g, const pare_llama_config *c, pare_qtype type, uint8_t *const *rows,
                               float *const *norms, bool head_q8, const char *out, pare_err *err);

#endif
