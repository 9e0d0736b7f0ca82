/* libFuzzer target: the PyTorch zip reader and restricted unpickler. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_tensor_reader(pare_torch_open_memory, data, size, "fuzz.pt");
}
