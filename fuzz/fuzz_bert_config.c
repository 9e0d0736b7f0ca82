/* libFuzzer target: BERT config.json parsing (pare_bert_config_parse); a
 * config that parses must satisfy the invariants the model loader trusts. */
#include <string.h>

#include "pare/bert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static pare_bert_config cfg; /* 8 KB of labels: off the stack */
    pare_err err;
    if (pare_bert_config_parse((const char *)data, size, "fuzz/config.json", &cfg, &err) != PARE_OK) {
        if (err.msg[0] == 0 || !strstr(err.msg, "fuzz/config.json")) __builtin_trap();
        return 0;
    }
    if (cfg.vocab_size < 1 || cfg.hidden_size < 1 || cfg.n_layers < 1 || cfg.n_heads < 1 ||
        cfg.intermediate_size < 1 || cfg.max_position < 1 || cfg.type_vocab_size < 0 ||
        cfg.hidden_size % cfg.n_heads != 0 || !(cfg.layer_norm_eps > 0 && cfg.layer_norm_eps <= 1) ||
        cfg.n_labels < 0 || cfg.n_labels > PARE_MAX_LABELS)
        __builtin_trap();
    for (int64_t i = 0; i < cfg.n_labels; i++)
        if (memchr(cfg.labels[i], 0, sizeof cfg.labels[i]) == NULL) __builtin_trap();
    if (!memchr(cfg.architecture, 0, sizeof cfg.architecture) || !memchr(cfg.model_type, 0, sizeof cfg.model_type))
        __builtin_trap();
    return 0;
}
