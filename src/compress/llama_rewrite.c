/* Rewrite a Llama-family GGUF file with new layer weights
 * (src/compress/llama_rewrite.h): the linear weights of every layer from
 * stacked rows of one type, optionally new norms, token_embd/output as
 * Q8_0 when asked, every other tensor and all metadata copied
 * (general.file_type set). */
#include "compress/llama_rewrite.h"
#include "pare/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where tensor `name` comes from: a part of a stacked linear (lin, first
 * row), a norm (lin -1, norm 0/1) or neither (false). */
static bool locate(const pare_llama_config *c, const char *name, int64_t *il, int *lin, int64_t *row, int *norm) {
    long long layer;
    char part[64], rest[16];
    if (sscanf(name, "blk.%lld.%63[^.].%15s", &layer, part, rest) != 3 || strcmp(rest, "weight") || layer < 0 ||
        layer >= c->n_layers)
        return false;
    const int64_t QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim, F = c->intermediate_size;
    static const struct { const char *name; int lin; int row; int norm; } map[] = {
        {"attn_q", PARE_LIN_QKV, 0, -1}, {"attn_k", PARE_LIN_QKV, 1, -1}, {"attn_v", PARE_LIN_QKV, 2, -1},
        {"attn_output", PARE_LIN_O, 0, -1}, {"ffn_gate", PARE_LIN_GATE_UP, 0, -1}, {"ffn_up", PARE_LIN_GATE_UP, 3, -1},
        {"ffn_down", PARE_LIN_DOWN, 0, -1}, {"attn_norm", -1, 0, 0}, {"ffn_norm", -1, 0, 1},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(part, map[i].name)) {
            *il = layer;
            *lin = map[i].lin;
            *norm = map[i].norm;
            *row = map[i].row == 1 ? QD : map[i].row == 2 ? QD + KD : map[i].row == 3 ? F : 0;
            return true;
        }
    return false;
}

pare_status llama_gguf_rewrite(const pare_gguf *g, const pare_llama_config *c, pare_qtype type, uint8_t *const *rows,
                               float *const *norms, bool head_q8, const llama_rewrite_kv *kv, const char *out,
                               pare_err *err) {
    const int64_t H = c->hidden_size;
    pare_gguf_writer *w = pare_gguf_writer_create();
    const int64_t nt = pare_gguf_tensor_count(g);
    void **bufs = calloc((size_t)(nt > 0 ? nt : 1), sizeof *bufs);
    pare_status s = w && bufs ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t i = 0; i < pare_gguf_kv_count(g) && !s; i++)
        if (strcmp(pare_gguf_kv_key(g, i), "general.file_type")) s = pare_gguf_writer_copy_kv(w, g, i, err);
    if (!s) s = pare_gguf_writer_add_u32(w, "general.file_type", (uint32_t)pare_gguf_file_type(type), err);
    if (!s && kv && kv->w8a8) s = pare_gguf_writer_add_str(w, "pare.w8a8", kv->w8a8, err);
    for (int64_t i = 0; kv && kv->outl && i < c->n_layers * PARE_LIN_COUNT && !s; i++) {
        if (kv->n_outl[i] <= 0) continue;
        char key[64];
        snprintf(key, sizeof key, "pare.llm_int8.%lld.%d", (long long)(i / PARE_LIN_COUNT), (int)(i % PARE_LIN_COUNT));
        s = pare_gguf_writer_add_arr_i32(w, key, kv->outl[i], (uint64_t)kv->n_outl[i], err);
    }
    for (int64_t i = 0; i < nt && !s; i++) {
        const pare_gguf_tensor *t = pare_gguf_tensor_get(g, i);
        int64_t il, row;
        int lin, norm;
        size_t row_bytes = 0, nbytes;
        if (locate(c, t->name, &il, &lin, &row, &norm)) {
            if (lin >= 0) {
                pare_qtype_row_size(type, t->ne[0], &row_bytes);
                const uint8_t *src = rows[il * PARE_LIN_COUNT + lin] + (size_t)row * row_bytes;
                s = pare_gguf_writer_add_tensor(w, t->name, (uint32_t)type, 2, t->ne, src, row_bytes * (size_t)t->ne[1], err);
                continue;
            }
            if (norms && norms[il] && t->type == PARE_Q_F32 && t->n_dims == 1 && t->ne[0] == H) {
                s = pare_gguf_writer_add_tensor(w, t->name, PARE_Q_F32, 1, t->ne, norms[il] + norm * H,
                                                sizeof(float) * (size_t)H, err);
                continue;
            }
        }
        const bool head = !strcmp(t->name, "token_embd.weight") || !strcmp(t->name, "output.weight");
        if (head && head_q8 && t->n_dims == 2 && t->type != PARE_Q_Q8_0 && t->ne[0] % 32 == 0 &&
            pare_gguf_tensor_nbytes(PARE_Q_Q8_0, 2, t->ne, &nbytes) && pare_qtype_row_size((pare_qtype)t->type, t->ne[0], &row_bytes)) {
            const int64_t k = t->ne[0];
            float *tmp = malloc(sizeof(float) * (size_t)k);
            if (!tmp || !(bufs[i] = malloc(nbytes))) {
                free(tmp);
                s = pare_err_set(err, PARE_ERR_OOM, "out of memory for %s", t->name);
                break;
            }
            for (int64_t r = 0; r < t->ne[1] && !s; r++) {
                s = pare_dequantize_row((pare_qtype)t->type, (const uint8_t *)t->data + (size_t)r * row_bytes, tmp, k, err);
                if (!s) s = pare_quantize_row_ref(PARE_Q_Q8_0, tmp, (uint8_t *)bufs[i] + (size_t)r * (nbytes / (size_t)t->ne[1]), k, err);
            }
            free(tmp);
            if (!s) s = pare_gguf_writer_add_tensor(w, t->name, PARE_Q_Q8_0, 2, t->ne, bufs[i], nbytes, err);
            continue;
        }
        s = pare_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes, err);
    }
    if (!s) s = pare_gguf_writer_write(w, out, err);
    for (int64_t i = 0; i < nt && bufs; i++) free(bufs[i]);
    free(bufs);
    pare_gguf_writer_free(w);
    return s;
}

