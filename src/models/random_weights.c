/* Seeded random tensors and Hugging Face folder files for the random-weight
 * model writers. */
#include "models/random_weights.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint64_t pare_rng_next(pare_rng *r) { return pare_splitmix64(&r->s); }

float pare_rng_normal(pare_rng *r) {
    if (r->have_spare) {
        r->have_spare = false;
        return r->spare;
    }
    double u1 = ((double)(pare_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(pare_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double mag = sqrt(-2.0 * log(u1));
    r->spare = (float)(mag * sin(2 * M_PI * u2));
    r->have_spare = true;
    return (float)(mag * cos(2 * M_PI * u2));
}

pare_status pare_tensor_builder_init(pare_tensor_builder *b, uint64_t seed, pare_err *err) {
    memset(b, 0, sizeof *b);
    b->r.s = seed;
    b->arena = pare_arena_create(64u << 20);
    return b->arena ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
}

void pare_tensor_builder_free(pare_tensor_builder *b) {
    free(b->t);
    pare_arena_free(b->arena);
    memset(b, 0, sizeof *b);
}

pare_status pare_tensor_builder_add(pare_tensor_builder *b, const char *name, int64_t d0, int64_t d1, float mean,
                                    float std, pare_err *err) {
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 64;
        pare_tensor *t = realloc(b->t, sizeof *t * (size_t)cap);
        if (!t) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        b->t = t;
        b->cap = cap;
    }
    size_t n, bytes;
    if (d0 <= 0 || d1 < 0 || !pare_mul_size((size_t)d0, (size_t)(d1 ? d1 : 1), &n) ||
        !pare_mul_size(n, sizeof(float), &bytes))
        return pare_err_set(err, PARE_ERR_INVALID, "%s: bad shape [%lld, %lld]", name, (long long)d0, (long long)d1);
    float *data = pare_arena_alloc(b->arena, bytes, 64);
    char *nm = pare_arena_strdup(b->arena, name, strlen(name));
    if (!data || !nm) return pare_err_set(err, PARE_ERR_OOM, "out of memory for %s", name);
    for (size_t i = 0; i < n; i++) data[i] = mean + std * pare_rng_normal(&b->r);
    pare_tensor *t = &b->t[b->n++];
    memset(t, 0, sizeof *t);
    t->name = nm;
    t->dtype = PARE_DTYPE_F32;
    t->n_dims = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->data = data;
    t->nbytes = bytes;
    return PARE_OK;
}

pare_status pare_tensor_builder_write(const pare_tensor_builder *b, const char *path, pare_err *err) {
    return pare_safetensors_write(path, b->t, b->n, err);
}

pare_status pare_copy_file(const char *src, const char *dst, pare_err *err) {
    char *buf;
    size_t len;
    pare_status s = pare_read_file(src, 64u << 20, &buf, &len, err);
    if (s) return s;
    s = pare_write_file(dst, buf, len, err);
    free(buf);
    return s;
}

pare_status pare_write_json_file(const char *dir, const char *name, const void *j, pare_err *err) {
    char *text = cJSON_Print((const cJSON *)j);
    if (!text) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    char path[PARE_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    pare_status s = pare_write_text(path, text, err);
    free(text);
    return s;
}
