/* libFuzzer target: the safetensors reader. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pare_err err;
    pare_tensor_file *f;
    if (pare_safetensors_open_memory(data, size, "fuzz.safetensors", &f, &err) == PARE_OK) {
        fuzz_touch_file(f);
        pare_tensor_file_close(f);
    } else if (f != NULL || err.msg[0] == 0) {
        __builtin_trap();
    }
    return 0;
}
