/* Files of a Hugging Face model folder. */
#include "models/model_files.h"

#include <stdio.h>
#include <sys/stat.h>

bool pare_model_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

pare_status pare_model_open_weights(const char *dir, pare_tensor_file **out, pare_err *err) {
    static const char *const names[] = {"model.safetensors", "pytorch_model.bin"};
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (pare_model_file_exists(path)) return pare_tensor_file_open(path, out, err);
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (pare_model_file_exists(path))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: sharded checkpoints are not supported yet", path);
    return pare_err_set(err, PARE_ERR_IO, "%s: no model.safetensors or pytorch_model.bin", dir);
}
