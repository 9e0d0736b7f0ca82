/* PyTorch zip checkpoints: placeholder until the reader lands. */
#include "io/tensor_file.h"

pare_status pare_torch_open_memory(const void *data, size_t len, const char *name,
                                   pare_tensor_file **out, pare_err *err) {
    *out = NULL;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: PyTorch zip checkpoints are not supported yet",
                        name ? name : "(memory)");
}

pare_status pare_torch_open(const char *path, pare_tensor_file **out, pare_err *err) {
    return pare_tf_open_with(path, pare_torch_open_memory, out, err);
}
