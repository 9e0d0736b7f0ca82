/* Files of a Hugging Face model folder. */
#include "models/model_files.h"
#include "models/random_weights.h"

#include <cjson/cJSON.h>

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

pare_status pare_model_edit_config(const char *src_dir, const char *out_dir, pare_config_edit_fn edit, void *ctx,
                                   pare_err *err) {
    char path[4200];
    char *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/config.json", src_dir);
    pare_status s = pare_read_file(path, (size_t)16 << 20, &text, &len, err);
    if (s) return s;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) s = pare_err_set(err, PARE_ERR_FORMAT, "%s: not a JSON object", path);
    if (!s && edit) s = edit(root, ctx, err);
    if (!s) {
        char *out = cJSON_Print(root);
        snprintf(path, sizeof path, "%s/config.json", out_dir);
        s = out ? pare_write_text(path, out, err) : pare_err_set(err, PARE_ERR_OOM, "out of memory");
        cJSON_free(out);
    }
    cJSON_Delete(root);
    return s;
}
