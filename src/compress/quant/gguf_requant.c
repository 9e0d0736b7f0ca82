/* Round-to-nearest requantization of a GGUF model into one ggml block type
 * (include/pare/quant.h): every 2-D tensor whose rows hold whole blocks is
 * dequantized to f32 and quantized again with the reference quantizer
 * (bit-exact with ggml's quantize_row_*_ref); 1-D tensors (norms, biases)
 * are copied. Below 8 bits the token embedding and output matrix become
 * Q8_0, as llama.cpp keeps those in a wider type. All metadata is copied,
 * general.file_type updated, so llama.cpp and pare load the result. */
#include "pare/gguf.h"
#include "pare/quant.h"

#include <stdlib.h>
#include <string.h>

int pare_gguf_file_type(pare_qtype t) {
    switch (t) {
    case PARE_Q_F32: return 0;
    case PARE_Q_F16: return 1;
    case PARE_Q_Q4_0: return 2;
    case PARE_Q_Q4_1: return 3;
    case PARE_Q_Q8_0: return 7;
    case PARE_Q_Q5_0: return 8;
    case PARE_Q_Q5_1: return 9;
    case PARE_Q_BF16: return 32;
    default: return -1;
    }
}

bool pare_requant_supports(pare_qtype t) { return pare_gguf_file_type(t) >= 0; }

pare_status pare_gguf_requantize(const char *in, const char *out, pare_qtype type, pare_progress *prog,
                                 pare_err *err) {
    if (!pare_requant_supports(type))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "requantize: target type %u is not one of f32 f16 bf16 q8_0 q5_1 q5_0 q4_1 q4_0",
                            (unsigned)type);
    pare_gguf *g;
    pare_status s = pare_gguf_open(in, &g, err);
    if (s) return s;
    pare_gguf_writer *w = pare_gguf_writer_create();
    const int64_t nt = pare_gguf_tensor_count(g);
    void **bufs = calloc((size_t)(nt > 0 ? nt : 1), sizeof *bufs);
    float *row = NULL;
    if (!w || !bufs) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t i = 0; i < pare_gguf_kv_count(g) && !s; i++) {
        if (!strcmp(pare_gguf_kv_key(g, i), "general.file_type")) continue;
        s = pare_gguf_writer_copy_kv(w, g, i, err);
    }
    if (!s) s = pare_gguf_writer_add_u32(w, "general.file_type", (uint32_t)pare_gguf_file_type(type), err);
    const bool narrow = pare_qtype_get((uint32_t)type)->block_size > 1 && type != PARE_Q_Q8_0;
    if (prog) pare_progress_init(prog, "requantize", nt);
    for (int64_t i = 0; i < nt && !s; i++) {
        const pare_gguf_tensor *t = pare_gguf_tensor_get(g, i);
        pare_qtype to = type;
        if (narrow && (!strcmp(t->name, "token_embd.weight") || !strcmp(t->name, "output.weight"))) to = PARE_Q_Q8_0;
        const int32_t bs = pare_qtype_get((uint32_t)to)->block_size;
        size_t nbytes, src_row;
        if (t->n_dims != 2 || t->ne[0] % bs || t->type == (uint32_t)to ||
            !pare_gguf_tensor_nbytes((uint32_t)to, t->n_dims, t->ne, &nbytes) ||
            !pare_qtype_row_size((pare_qtype)t->type, t->ne[0], &src_row)) {
            s = pare_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes, err);
        } else {
            const int64_t k = t->ne[0], rows = t->ne[1];
            size_t dst_row = nbytes / (size_t)rows;
            float *r2 = realloc(row, (size_t)k * sizeof *row);
            if (r2) row = r2;
            if (!r2 || !(bufs[i] = malloc(nbytes))) {
                s = pare_err_set(err, PARE_ERR_OOM, "out of memory for %s", t->name);
                break;
            }
            for (int64_t r = 0; r < rows && !s; r++) {
                s = pare_dequantize_row((pare_qtype)t->type, (const uint8_t *)t->data + (size_t)r * src_row, row, k, err);
                if (!s) s = pare_quantize_row_ref(to, row, (uint8_t *)bufs[i] + (size_t)r * dst_row, k, err);
            }
            if (s) pare_err_wrap(err, "%s: tensor %s", in, t->name);
            else s = pare_gguf_writer_add_tensor(w, t->name, (uint32_t)to, t->n_dims, t->ne, bufs[i], nbytes, err);
        }
        if (prog) pare_progress_update(prog, i + 1);
    }
    if (prog) pare_progress_finish(prog);
    if (!s) s = pare_gguf_writer_write(w, out, err);
    for (int64_t i = 0; i < nt; i++) free(bufs[i]);
    free(bufs);
    free(row);
    pare_gguf_writer_free(w);
    pare_gguf_close(g);
    return s;
}
