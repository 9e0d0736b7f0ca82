/* A smaller student from a BERT-family teacher, DistilBERT style
 * (include/pare/bert.h, pare_bert_make_student): the embeddings, pooler and
 * classifier, and every stride-th encoder layer (0, stride, 2 stride, ...)
 * renumbered 0, 1, 2, ...; config.json with the new layer count; the
 * tokenizer files copied. It is structured layer pruning
 * (pare_bert_prune_structured) with the kept layers scored above the rest.
 * The student is then trained with the teacher's logits (pare finetune
 * --teacher, pare distill). */
#include "pare/bert.h"
#include "pare/prune.h"

#include <stdio.h>
#include <stdlib.h>

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
    double *scores = malloc(sizeof *scores * (size_t)cfg.n_layers);
    if (!scores) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t l = 0; l < cfg.n_layers; l++) scores[l] = l % stride == 0;
    const pare_bert_struct_opts o = {.unit = PARE_STRUCT_LAYERS,
                                     .fraction = (double)(cfg.n_layers - n_keep) / (double)cfg.n_layers, .scores = scores};
    s = pare_bert_prune_structured(teacher, out_dir, &o, NULL, err);
    free(scores);
    if (!s && n_layers_out) *n_layers_out = n_keep;
    return s;
}
