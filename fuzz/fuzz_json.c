/* libFuzzer target: pare_json parsing and the typed getters. */
#include "pare/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pare_err err;
    pare_json *j;
    if (pare_json_parse((const char *)data, size, "fuzz.json", &j, &err) != PARE_OK) {
        if (j != NULL || err.msg[0] == 0) __builtin_trap();
        return 0;
    }
    static const char *const keys[] = {"hidden_size", "layer_norm_eps", "hidden_act", "use_cache", "a", ""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        int64_t n;
        double d;
        bool b;
        char buf[16];
        (void)pare_json_get_int(j, keys[i], 0, -1000000, 1000000, &n, &err);
        (void)pare_json_get_float(j, keys[i], 0, &d, &err);
        (void)pare_json_get_bool(j, keys[i], false, &b, &err);
        (void)pare_json_get_str(j, keys[i], "", buf, sizeof buf, &err);
        (void)pare_json_has(j, keys[i]);
    }
    pare_json_free(j);
    return 0;
}
