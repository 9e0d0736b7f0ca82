/* Files of a Hugging Face model folder. */
#include "models/model_files.h"
#include "models/random_weights.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

pare_status pare_model_copy_tokenizer(const char *src_dir, const char *out_dir, pare_err *err) {
    static const char *const files[] = {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"};
    pare_status s = PARE_OK;
    for (size_t i = 0; i < sizeof files / sizeof *files && !s; i++) {
        char src[4200], dst[4200];
        snprintf(src, sizeof src, "%s/%s", src_dir, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", out_dir, files[i]);
        if (pare_model_file_exists(src)) s = pare_copy_file(src, dst, err);
    }
    return s;
}
