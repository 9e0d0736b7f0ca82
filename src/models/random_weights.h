/* Seeded random tensors and the files of a Hugging Face folder, for the
 * random-weight model writers (bert_random.c, llama_random.c). */
#ifndef PARE_RANDOM_WEIGHTS_H
#define PARE_RANDOM_WEIGHTS_H

#include "pare/io.h"

typedef struct pare_rng {
    uint64_t s;
    bool have_spare;
    float spare;
} pare_rng;

uint64_t pare_rng_next(pare_rng *r); /* splitmix64 */
float pare_rng_normal(pare_rng *r);  /* Box-Muller, N(0, 1) */

/* A growing list of f32 tensors in an arena, written as one safetensors file. */
typedef struct pare_tensor_builder {
    pare_arena *arena;
    pare_tensor *t;
    int64_t n, cap;
    pare_rng r;
} pare_tensor_builder;

pare_status pare_tensor_builder_init(pare_tensor_builder *b, uint64_t seed, pare_err *err);
void pare_tensor_builder_free(pare_tensor_builder *b);
/* Tensor [d0] (d1 == 0) or [d0, d1] of mean + std * N(0, 1) values. */
pare_status pare_tensor_builder_add(pare_tensor_builder *b, const char *name, int64_t d0, int64_t d1, float mean,
                                    float std, pare_err *err);
pare_status pare_tensor_builder_write(const pare_tensor_builder *b, const char *path, pare_err *err);

/* Print j (cJSON *) into dir/name, with a final newline; j is not freed. */
pare_status pare_write_json_file(const char *dir, const char *name, const void *j, pare_err *err);
pare_status pare_copy_file(const char *src, const char *dst, pare_err *err);

#endif
