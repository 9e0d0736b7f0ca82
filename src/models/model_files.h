/* Files of a Hugging Face model folder, shared by the model loaders. */
#ifndef PARE_MODEL_FILES_H
#define PARE_MODEL_FILES_H

#include "pare/io.h"

bool pare_model_file_exists(const char *path);
/* dir/model.safetensors, else dir/pytorch_model.bin; a sharded checkpoint
 * (model.safetensors.index.json) is reported as unsupported. */
pare_status pare_model_open_weights(const char *dir, pare_tensor_file **out, pare_err *err);

/* Copy the tokenizer files present in src_dir (tokenizer.json, vocab.txt,
 * tokenizer_config.json, special_tokens_map.json) into out_dir. */
pare_status pare_model_copy_tokenizer(const char *src_dir, const char *out_dir, pare_err *err);

/* out_dir/config.json = src_dir/config.json as edit(root, ctx) changes it
 * (edit may be NULL: a copy through cJSON). */
struct cJSON;
typedef pare_status (*pare_config_edit_fn)(struct cJSON *root, void *ctx, pare_err *err);
pare_status pare_model_edit_config(const char *src_dir, const char *out_dir, pare_config_edit_fn edit, void *ctx,
                                   pare_err *err);

#endif
