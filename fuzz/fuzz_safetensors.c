/* libFuzzer target: the safetensors reader. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_tensor_reader(pare_safetensors_open_memory, data, size, "fuzz.safetensors");
}
