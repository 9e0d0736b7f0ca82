/* libFuzzer target: Llama-family config.json parsing
 * (pare_llama_config_parse); a config that parses must satisfy the
 * invariants the loader and the RoPE tables trust. */
#include <math.h>
#include <string.h>

#include "pare/llama.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pare_llama_config c;
    pare_err err;
    if (pare_llama_config_parse((const char *)data, size, "fuzz/config.json", &c, &err) != PARE_OK) {
        if (err.msg[0] == 0 || !strstr(err.msg, "fuzz/config.json")) __builtin_trap();
        return 0;
    }
    if (c.vocab_size < 1 || c.hidden_size < 1 || c.n_layers < 1 || c.n_heads < 1 || c.n_kv_heads < 1 ||
        c.n_heads % c.n_kv_heads || c.head_dim < 2 || c.head_dim > 1024 || c.head_dim % 2 ||
        c.intermediate_size < 1 || c.max_position < 1 || !(c.rms_norm_eps > 0 && c.rms_norm_eps <= 1) ||
        !(c.rope.theta > 1) || !(c.rope.factor >= 1) || c.rope.original_max_position < 1 || c.n_labels < 0 ||
        c.pad_token_id >= c.vocab_size || c.sliding_window < 0 || (unsigned)c.arch > PARE_LLAMA_ARCH_QWEN2)
        __builtin_trap();
    if (!memchr(c.architecture, 0, sizeof c.architecture) || !memchr(c.model_type, 0, sizeof c.model_type))
        __builtin_trap();
    float inv[512], af;
    pare_llama_rope_freqs(&c, c.max_position * 2, inv, &af);
    if (!(af > 0) || !isfinite(af)) __builtin_trap();
    return 0;
}
