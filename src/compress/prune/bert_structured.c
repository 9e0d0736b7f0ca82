/* Structured pruning of BERT-family folders (include/pare/prune.h): whole
 * attention heads, FFN neurons or encoder layers are removed, so the model
 * that is written is smaller and dense; any kernel runs it faster.
 *
 * Heads follow Hugging Face's convention: config.json "pruned_heads" maps a
 * layer to the original ids of its removed heads, and transformers'
 * from_pretrained slices its modules to match before loading the weights.
 * pare reads each layer's head count and FFN width from the tensor shapes. */
#include "models/model_files.h"
#include "pare/bert.h"
#include "pare/prune.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sp_layer {
    int64_t A, I;          /* heads and FFN width now */
    int32_t *orig;         /* [A] original id of each current head */
    uint8_t *keep_head;    /* [A] */
    uint8_t *keep_neuron;  /* [I] */
    bool keep;
} sp_layer;

typedef struct sp_model {
    const char *dir;
    pare_bert_config cfg;
    pare_tensor_file *f;
    const char *prefix;
    int64_t L, H, D, A0;
    sp_layer *ly;
} sp_model;

const char *pare_struct_unit_name(pare_struct_unit u) {
    return u == PARE_STRUCT_HEADS ? "heads" : u == PARE_STRUCT_NEURONS ? "neurons" : "layers";
}

static const pare_tensor *sp_find(const sp_model *m, int64_t l, const char *part) {
    char name[200];
    snprintf(name, sizeof name, "%sencoder.layer.%lld.%s", m->prefix, (long long)l, part);
    return pare_tensor_file_find(m->f, name);
}

/* The head ids config.json's pruned_heads says layer l has lost. */
static pare_status read_pruned(const sp_model *m, const cJSON *ph, int64_t l, sp_layer *y, pare_err *err) {
    uint8_t *gone = calloc((size_t)m->A0, 1);
    if (!gone) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)l);
    const cJSON *list = ph ? cJSON_GetObjectItemCaseSensitive(ph, key) : NULL, *e;
    int64_t n_gone = 0;
    cJSON_ArrayForEach(e, list) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= (double)m->A0 || gone[e->valueint]) {
            free(gone);
            return pare_err_set(err, PARE_ERR_FORMAT, "%s/config.json: pruned_heads[\"%s\"] has a bad or repeated head id", m->dir, key);
        }
        gone[e->valueint] = 1;
        n_gone++;
    }
    pare_status s = PARE_OK;
    if (m->A0 - n_gone != y->A)
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: layer %lld has %lld heads, but config.json's pruned_heads leaves %lld of %lld", m->dir,
                         (long long)l, (long long)y->A, (long long)(m->A0 - n_gone), (long long)m->A0);
    for (int64_t h = 0, j = 0; h < m->A0 && !s; h++)
        if (!gone[h]) y->orig[j++] = (int32_t)h;
    free(gone);
    return s;
}

static void sp_close(sp_model *m) {
    for (int64_t l = 0; m->ly && l < m->L; l++) {
        free(m->ly[l].orig);
        free(m->ly[l].keep_head);
        free(m->ly[l].keep_neuron);
    }
    free(m->ly);
    pare_tensor_file_close(m->f);
    memset(m, 0, sizeof *m);
}

static pare_status sp_open(sp_model *m, const char *dir, pare_err *err) {
    memset(m, 0, sizeof *m);
    m->dir = dir;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    pare_status s = pare_bert_config_load(path, &m->cfg, err);
    if (s) return s;
    m->L = m->cfg.n_layers;
    m->H = m->cfg.hidden_size;
    m->A0 = m->cfg.n_heads;
    m->D = m->H / m->A0;
    if ((s = pare_model_open_weights(dir, &m->f, err))) return s;
    m->prefix = pare_tensor_file_find(m->f, "bert.embeddings.word_embeddings.weight") ? "bert." : "";
    char *text = NULL;
    size_t len;
    if ((s = pare_read_file(path, (size_t)16 << 20, &text, &len, err))) return s;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(root, "pruned_heads");
    if (!(m->ly = calloc((size_t)m->L, sizeof *m->ly))) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t l = 0; l < m->L && !s; l++) {
        sp_layer *y = &m->ly[l];
        const pare_tensor *q = sp_find(m, l, "attention.self.query.weight"), *fi = sp_find(m, l, "intermediate.dense.weight");
        if (!q || !fi || q->n_dims != 2 || fi->n_dims != 2 || q->shape[0] % m->D || q->shape[0] <= 0 || q->shape[0] > m->H ||
            fi->shape[0] <= 0) {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: layer %lld: missing or malformed query / intermediate.dense weights", dir, (long long)l);
            break;
        }
        y->A = q->shape[0] / m->D;
        y->I = fi->shape[0];
        y->keep = true;
        y->orig = malloc(sizeof *y->orig * (size_t)y->A);
        y->keep_head = malloc((size_t)y->A);
        y->keep_neuron = malloc((size_t)y->I);
        if (!y->orig || !y->keep_head || !y->keep_neuron) {
            s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
            break;
        }
        memset(y->keep_head, 1, (size_t)y->A);
        memset(y->keep_neuron, 1, (size_t)y->I);
        s = read_pruned(m, ph, l, y, err);
    }
    cJSON_Delete(root);
    if (s) sp_close(m);
    return s;
}

static int64_t n_units(const sp_model *m, pare_struct_unit u) {
    int64_t n = 0;
    for (int64_t l = 0; l < m->L; l++) n += u == PARE_STRUCT_HEADS ? m->ly[l].A : u == PARE_STRUCT_NEURONS ? m->ly[l].I : 1;
    return n;
}

pare_status pare_bert_struct_count(const char *dir, pare_struct_unit u, int64_t *n, pare_err *err) {
    sp_model m;
    pare_status s = sp_open(&m, dir, err);
    if (s) return s;
    *n = n_units(&m, u);
    sp_close(&m);
    return PARE_OK;
}

/* A layer weight as f32 (malloc'd), checked to be [r, c]. */
static pare_status load_w(const sp_model *m, int64_t l, const char *part, int64_t r, int64_t c, float **out, pare_err *err) {
    const pare_tensor *t = sp_find(m, l, part);
    *out = NULL;
    if (!t || !pare_tensor_has_shape(t, 2, (int64_t[]){r, c}))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: layer %lld: %s is missing or not [%lld, %lld]", m->dir, (long long)l, part,
                            (long long)r, (long long)c);
    if (!(*out = malloc(sizeof(float) * (size_t)(r * c)))) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    pare_status s = pare_convert_to_f32(t->dtype, t->data, *out, r * c, err);
    if (s) {
        free(*out);
        *out = NULL;
        pare_err_wrap(err, "%s: %s", m->dir, t->name);
    }
    return s;
}

static double abs_sum(const float *w, int64_t n, int64_t stride) {
    double a = 0;
    for (int64_t i = 0; i < n; i++) a += fabs((double)w[i * stride]);
    return a;
}

/* Magnitude scores of one layer's units into sc (heads: A, neurons: I, layers: 1). */
static pare_status layer_magnitude(const sp_model *m, int64_t l, pare_struct_unit u, double *sc, pare_err *err) {
    const sp_layer *y = &m->ly[l];
    const int64_t H = m->H, D = m->D, Hq = y->A * D, I = y->I;
    static const char *const parts[6] = {"attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight",
                                         "attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight"};
    const int64_t rows[6] = {Hq, Hq, Hq, H, I, H}, cols[6] = {H, H, H, Hq, H, I};
    if (u == PARE_STRUCT_LAYERS) {
        double a = 0, n = 0;
        for (int p = 0; p < 6; p++) {
            float *w;
            pare_status s = load_w(m, l, parts[p], rows[p], cols[p], &w, err);
            if (s) return s;
            a += abs_sum(w, rows[p] * cols[p], 1);
            n += (double)(rows[p] * cols[p]);
            free(w);
        }
        sc[0] = a / n;
        return PARE_OK;
    }
    const int first = u == PARE_STRUCT_HEADS ? 0 : 4, last = u == PARE_STRUCT_HEADS ? 4 : 6;
    const int64_t nu = u == PARE_STRUCT_HEADS ? y->A : I, width = u == PARE_STRUCT_HEADS ? D : 1;
    for (int64_t k = 0; k < nu; k++) sc[k] = 0;
    for (int p = first; p < last; p++) {
        float *w;
        pare_status s = load_w(m, l, parts[p], rows[p], cols[p], &w, err);
        if (s) return s;
        const bool by_col = p == 3 || p == 5; /* the unit's columns of the output projection */
        for (int64_t k = 0; k < nu; k++)
            for (int64_t j = k * width; j < (k + 1) * width; j++)
                sc[k] += by_col ? abs_sum(w + j, rows[p], cols[p]) : abs_sum(w + j * cols[p], cols[p], 1);
        free(w);
    }
    return PARE_OK;
}

static pare_status magnitude(const sp_model *m, pare_struct_unit u, double *scores, pare_err *err) {
    pare_status s = PARE_OK;
    for (int64_t l = 0, at = 0; l < m->L && !s; l++) {
        s = layer_magnitude(m, l, u, scores + at, err);
        at += u == PARE_STRUCT_HEADS ? m->ly[l].A : u == PARE_STRUCT_NEURONS ? m->ly[l].I : 1;
    }
    return s;
}

pare_status pare_bert_struct_magnitude(const char *dir, pare_struct_unit u, double *scores, int64_t n, pare_err *err) {
    sp_model m;
    pare_status s = sp_open(&m, dir, err);
    if (s) return s;
    if (n != n_units(&m, u)) s = pare_err_set(err, PARE_ERR_INVALID, "%s has %lld %s, not %lld", dir, (long long)n_units(&m, u), pare_struct_unit_name(u), (long long)n);
    if (!s) s = magnitude(&m, u, scores, err);
    sp_close(&m);
    return s;
}

typedef struct ranked {
    double score;
    int64_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    return x->score < y->score ? -1 : x->score > y->score ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* Mark the k lowest of n scores (ties by position) in drop[n]. */
static pare_status lowest(const double *sc, int64_t n, int64_t k, uint8_t *keep, pare_err *err) {
    ranked *r = malloc(sizeof *r * (size_t)(n ? n : 1));
    if (!r) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t i = 0; i < n; i++) r[i] = (ranked){sc[i], i};
    qsort(r, (size_t)n, sizeof *r, cmp_ranked);
    for (int64_t i = 0; i < n; i++) keep[r[i].i] = i >= k;
    free(r);
    return PARE_OK;
}

/* Decide which units go. */
static pare_status choose(sp_model *m, const pare_bert_struct_opts *o, const double *sc, pare_err *err) {
    pare_status s = PARE_OK;
    if (o->unit == PARE_STRUCT_LAYERS) {
        uint8_t *keep = malloc((size_t)m->L);
        int64_t k = (int64_t)floor(o->fraction * (double)m->L + 0.5);
        if (k >= m->L) k = m->L - 1;
        if (!keep) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        s = lowest(sc, m->L, k, keep, err);
        for (int64_t l = 0; l < m->L && !s; l++) m->ly[l].keep = keep[l];
        free(keep);
        return s;
    }
    if (o->unit == PARE_STRUCT_HEADS && o->global) {
        const int64_t n = n_units(m, PARE_STRUCT_HEADS);
        ranked *r = malloc(sizeof *r * (size_t)(n > 0 ? n : 1));
        if (!r) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        int64_t *left = calloc((size_t)(m->L > 0 ? m->L : 1), sizeof *left), at = 0;
        for (int64_t l = 0; l < m->L; l++)
            for (int64_t h = 0; h < m->ly[l].A; h++, at++) r[at] = (ranked){sc[at], l << 20 | h};
        qsort(r, (size_t)n, sizeof *r, cmp_ranked);
        for (int64_t l = 0; left && l < m->L; l++) left[l] = m->ly[l].A;
        int64_t k = (int64_t)floor(o->fraction * (double)n + 0.5);
        for (int64_t i = 0; left && i < n && k > 0; i++) {
            const int64_t l = r[i].i >> 20, h = r[i].i & ((1 << 20) - 1);
            if (left[l] == 1) continue; /* every layer keeps a head */
            m->ly[l].keep_head[h] = 0;
            left[l]--;
            k--;
        }
        if (!left) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
        free(left);
        free(r);
        return s;
    }
    for (int64_t l = 0, at = 0; l < m->L && !s; l++) {
        sp_layer *y = &m->ly[l];
        const int64_t n = o->unit == PARE_STRUCT_HEADS ? y->A : y->I;
        int64_t k = (int64_t)floor(o->fraction * (double)n + 0.5);
        if (k >= n) k = n - 1;
        s = lowest(sc + at, n, k, o->unit == PARE_STRUCT_HEADS ? y->keep_head : y->keep_neuron, err);
        at += n;
    }
    return s;
}

/* Rows (by_col false) or columns of t whose unit (block of `width`) is kept. */
static pare_status slice(const pare_tensor *t, const uint8_t *keep, int64_t width, bool by_col, pare_tensor *out, void **buf,
                         pare_err *err) {
    const pare_dtype_info *di = pare_dtype_get(t->dtype);
    if (!di || di->block_size != 1) return pare_err_set(err, PARE_ERR_UNSUPPORTED, "tensor %s: dtype cannot be sliced", t->name);
    const size_t es = di->block_bytes;
    const int64_t rows = t->shape[0], cols = t->n_dims == 2 ? t->shape[1] : 1, along = by_col ? cols : rows;
    int64_t kept = 0;
    for (int64_t i = 0; i < along; i++) kept += keep[i / width] != 0;
    const int64_t nr = by_col ? rows : kept, nc = by_col ? kept : cols;
    char *dst = malloc(es * (size_t)(nr * nc) + 1), *p = dst;
    if (!dst) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    const char *src = t->data;
    for (int64_t r = 0; r < rows; r++) {
        if (!by_col && !keep[r / width]) continue;
        for (int64_t c = 0; c < cols; c++)
            if (!by_col || keep[c / width]) {
                memcpy(p, src + es * (size_t)(r * cols + c), es);
                p += es;
            }
    }
    *out = *t;
    out->shape[0] = nr;
    if (t->n_dims == 2) out->shape[1] = nc;
    out->data = dst;
    out->nbytes = es * (size_t)(nr * nc);
    *buf = dst;
    return PARE_OK;
}

typedef struct cfg_edit {
    const sp_model *m;
    int64_t n_layers, inter;
} cfg_edit;

static pare_status edit_config(cJSON *root, void *ctx, pare_err *err) {
    const cfg_edit *e = ctx;
    const sp_model *m = e->m;
    cJSON_DeleteItemFromObjectCaseSensitive(root, "num_hidden_layers");
    cJSON_AddNumberToObject(root, "num_hidden_layers", (double)e->n_layers);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "intermediate_size");
    cJSON_AddNumberToObject(root, "intermediate_size", (double)e->inter);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "pruned_heads");
    cJSON *ph = cJSON_CreateObject();
    if (!ph) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t l = 0, j = 0; l < m->L; l++) {
        const sp_layer *y = &m->ly[l];
        if (!y->keep) continue;
        uint8_t kept[4096] = {0};
        for (int64_t h = 0; h < y->A; h++)
            if (y->keep_head[h] && y->orig[h] < 4096) kept[y->orig[h]] = 1;
        cJSON *list = cJSON_CreateArray();
        for (int64_t h = 0; h < m->A0 && list; h++)
            if (!kept[h]) cJSON_AddItemToArray(list, cJSON_CreateNumber((double)h));
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)j++);
        if (list && cJSON_GetArraySize(list)) cJSON_AddItemToObject(ph, key, list);
        else cJSON_Delete(list);
    }
    if (cJSON_GetArraySize(ph)) cJSON_AddItemToObject(root, "pruned_heads", ph); /* only when a head is gone */
    else cJSON_Delete(ph);
    return PARE_OK;
}

typedef struct folder_out {
    const char *src;
    const pare_tensor *ts;
    int64_t n;
    cfg_edit *edit;
} folder_out;

static pare_status write_folder(const char *out_dir, void *ctx, pare_err *err) {
    const folder_out *f = ctx;
    char path[PARE_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    pare_status s = pare_safetensors_write(path, f->ts, f->n, err);
    if (!s) s = pare_model_edit_config(f->src, out_dir, edit_config, f->edit, err);
    if (!s) s = pare_model_copy_tokenizer(f->src, out_dir, err);
    return s;
}

pare_status pare_bert_prune_structured(const char *dir, const char *out_dir, const pare_bert_struct_opts *o,
                                       pare_bert_struct_result *res, pare_err *err) {
    if (!(o->fraction >= 0 && o->fraction < 1))
        return pare_err_set(err, PARE_ERR_INVALID, "structured pruning: fraction %g is not in [0, 1)", o->fraction);
    if (o->unit == PARE_STRUCT_NEURONS && o->global)
        return pare_err_set(err, PARE_ERR_INVALID, "neurons are pruned per layer (--scope local): a BERT config has one intermediate_size");
    if (!strcmp(dir, out_dir)) return pare_err_set(err, PARE_ERR_INVALID, "structured pruning: write to another folder than %s", dir);
    sp_model m;
    pare_status s = sp_open(&m, dir, err);
    if (s) return s;
    if (m.A0 > 4096) s = pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: %lld heads per layer", dir, (long long)m.A0);
    const int64_t nu = n_units(&m, o->unit);
    double *sc = NULL;
    if (!s && !o->scores) {
        if (!(sc = malloc(sizeof *sc * (size_t)nu))) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
        if (!s) s = magnitude(&m, o->unit, sc, err);
    }
    if (!s) s = choose(&m, o, o->scores ? o->scores : sc, err);
    free(sc);
    const int64_t nt = s ? 0 : pare_tensor_file_count(m.f);
    pare_tensor *ts = calloc((size_t)(nt ? nt : 1), sizeof *ts);
    char (*names)[200] = calloc((size_t)(nt ? nt : 1), sizeof *names);
    void **bufs = calloc((size_t)(nt ? nt : 1), sizeof *bufs);
    int64_t *renum = calloc((size_t)(m.L ? m.L : 1), sizeof *renum), k = 0, n_keep = 0;
    if (!s && (!ts || !names || !bufs || !renum)) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t l = 0; !s && l < m.L; l++) renum[l] = m.ly[l].keep ? n_keep++ : -1;
    int64_t before = 0, after = 0;
    for (int64_t i = 0; i < nt && !s; i++) {
        const pare_tensor *t = pare_tensor_file_get(m.f, i);
        const char *p = strstr(t->name, "encoder.layer.");
        if (strstr(t->name, "embeddings.position_ids")) continue;
        ts[k] = *t;
        if (p) {
            char *end;
            const long l = strtol(p + 14, &end, 10);
            if (end == p + 14 || *end != '.' || l < 0 || l >= m.L) {
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor name %s", dir, t->name);
                break;
            }
            const sp_layer *y = &m.ly[l];
            const char *part = end + 1;
            before += pare_tensor_nelem(t);
            if (!y->keep) continue;
            const bool qkv = !strncmp(part, "attention.self.", 15), heads_out = !strcmp(part, "attention.output.dense.weight");
            const bool ffn_in = !strncmp(part, "intermediate.dense.", 19), ffn_out = !strcmp(part, "output.dense.weight");
            if (qkv || heads_out) s = slice(t, y->keep_head, m.D, heads_out, &ts[k], &bufs[k], err);
            else if (ffn_in || ffn_out) s = slice(t, y->keep_neuron, 1, ffn_out, &ts[k], &bufs[k], err);
            after += pare_tensor_nelem(&ts[k]);
            snprintf(names[k], sizeof names[k], "%.*sencoder.layer.%lld.%s", (int)(p - t->name), t->name, (long long)renum[l], part);
        } else {
            snprintf(names[k], sizeof names[k], "%s", t->name);
        }
        ts[k].name = names[k];
        k++;
    }
    int64_t inter = 0;
    for (int64_t l = 0; !s && l < m.L; l++) {
        int64_t w = 0;
        for (int64_t j = 0; j < m.ly[l].I; j++) w += m.ly[l].keep_neuron[j];
        if (m.ly[l].keep && w > inter) inter = w;
    }
    cfg_edit e = {.m = &m, .n_layers = n_keep, .inter = inter};
    folder_out fo = {.src = dir, .ts = ts, .n = k, .edit = &e};
    if (!s) s = pare_outdir_write(out_dir, write_folder, &fo, err);
    if (!s && res) {
        int64_t left = 0;
        for (int64_t l = 0; l < m.L; l++) {
            const sp_layer *y = &m.ly[l];
            if (o->unit == PARE_STRUCT_LAYERS) left += y->keep;
            else
                for (int64_t j = 0; j < (o->unit == PARE_STRUCT_HEADS ? y->A : y->I); j++)
                    left += y->keep && (o->unit == PARE_STRUCT_HEADS ? y->keep_head[j] : y->keep_neuron[j]);
        }
        *res = (pare_bert_struct_result){.units_before = nu, .units_after = left, .params_before = before, .params_after = after};
    }
    for (int64_t i = 0; bufs && i < nt; i++) free(bufs[i]);
    free(bufs);
    free(ts);
    free(names);
    free(renum);
    sp_close(&m);
    return s;
}
