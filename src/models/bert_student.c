/* A smaller student from a BERT-family teacher, DistilBERT style
 * (include/pare/bert.h, pare_bert_make_student): the embeddings, pooler and
 * classifier, and every stride-th encoder layer (0, stride, 2 stride, ...)
 * renumbered 0, 1, 2, ...; config.json with the new layer count; the
 * tokenizer files copied. The student is then trained with the teacher's
 * logits (pare finetune --teacher, pare distill). */
#include "models/model_files.h"
#include "pare/bert.h"
#include "pare/io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static pare_status set_layers(cJSON *root, void *ctx, pare_err *err) {
    (void)err;
    cJSON_DeleteItemFromObjectCaseSensitive(root, "num_hidden_layers");
    cJSON_AddNumberToObject(root, "num_hidden_layers", (double)*(const int64_t *)ctx);
    return PARE_OK;
}

pare_status pare_bert_make_student(const char *teacher, const char *out_dir, int stride, int64_t *n_layers_out,
                                   pare_err *err) {
    char path[4200];
    pare_bert_config cfg;
    snprintf(path, sizeof path, "%s/config.json", teacher);
    pare_status s = pare_bert_config_load(path, &cfg, err);
    if (s) return s;
    if (stride < 2 || stride > cfg.n_layers)
        return pare_err_set(err, PARE_ERR_INVALID, "student: keeping every %d-th of %lld layers is not a smaller model", stride,
                            (long long)cfg.n_layers);
    const int64_t n_keep = (cfg.n_layers + stride - 1) / stride;
    if ((s = pare_mkdir_p(out_dir, err))) return s;
    pare_tensor_file *f;
    if ((s = pare_model_open_weights(teacher, &f, err))) return s;
    const int64_t n = pare_tensor_file_count(f);
    pare_tensor *ts = calloc((size_t)(n ? n : 1), sizeof *ts);
    char (*names)[160] = calloc((size_t)(n ? n : 1), sizeof *names);
    int64_t k = 0;
    if (!ts || !names) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t i = 0; i < n && !s; i++) {
        const pare_tensor *t = pare_tensor_file_get(f, i);
        const char *p = strstr(t->name, "encoder.layer.");
        if (!strcmp(t->name, "embeddings.position_ids") || !strcmp(t->name, "bert.embeddings.position_ids")) continue;
        if (!p) {
            snprintf(names[k], sizeof names[k], "%s", t->name);
        } else {
            char *end;
            long layer = strtol(p + 14, &end, 10);
            if (end == p + 14 || *end != '.') {
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor name %s", teacher, t->name);
                break;
            }
            if (layer % stride) continue;
            snprintf(names[k], sizeof names[k], "%.*sencoder.layer.%ld%s", (int)(p - t->name), t->name, layer / stride, end);
        }
        ts[k] = *t;
        ts[k].name = names[k];
        k++;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    if (!s) s = pare_safetensors_write(path, ts, k, err);
    free(ts);
    free(names);
    pare_tensor_file_close(f);
    int64_t n_cfg = n_keep;
    if (!s) s = pare_model_edit_config(teacher, out_dir, set_layers, &n_cfg, err);
    if (!s) s = pare_model_copy_tokenizer(teacher, out_dir, err);
    if (!s && n_layers_out) *n_layers_out = n_keep;
    return s;
}
