/* libFuzzer target: experiment files (pare_exp_config_parse, YAML through
 * libyaml and the schema checks). A file that parses must name at least one
 * model and pipeline, each with a name, and a baseline among them. */
#include "pare/experiment.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pare_exp_config cfg;
    pare_err err;
    err.msg[0] = 0;
    pare_status s = pare_exp_config_parse((const char *)data, size, "fuzz.yaml", ".", false, &cfg, &err);
    if (s != PARE_OK) {
        if (err.msg[0] == 0) __builtin_trap();
        return 0;
    }
    if (cfg.n_models < 1 || cfg.n_pipelines < 1 || !cfg.name[0]) __builtin_trap();
    int found = 0;
    for (int p = 0; p < cfg.n_pipelines; p++) {
        if (!cfg.pipelines[p].name[0]) __builtin_trap();
        found |= !strcmp(cfg.pipelines[p].name, cfg.baseline);
        for (int k = 0; k < cfg.pipelines[p].n_steps; k++) {
            char d[512];
            pare_exp_step_describe(&cfg.pipelines[p].steps[k], d, sizeof d);
        }
    }
    if (!found) __builtin_trap();
    pare_exp_config_free(&cfg);
    return 0;
}
