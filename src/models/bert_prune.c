/* Magnitude pruning of a loaded BERT encoder's Linear layers (the four per
 * layer; embeddings, LayerNorms, pooler and head stay dense): the weights
 * are copied out of the file mapping, pruned, and the layers re-packed. */
#include "models/bert_internal.h"
#include "pare/prune.h"

#include <stdlib.h>
#include <string.h>

pare_status pare_bert_prune_magnitude(pare_bert *m, double sparsity, bool global, int64_t *zeroed,
                                      pare_err *err) {
    if (m->qmode != PARE_BERT_FP32)
        return pare_err_set(err, PARE_ERR_INVALID, "prune before quantizing: the model is already %s",
                            pare_bert_qmode_name(m->qmode));
    if (!(sparsity >= 0 && sparsity < 1))
        return pare_err_set(err, PARE_ERR_INVALID, "sparsity %g is not in [0, 1)", sparsity);
    const int n = (int)m->cfg.n_layers * 4;
    float **ws = calloc((size_t)n, sizeof *ws);
    int64_t *ns = calloc((size_t)n, sizeof *ns);
    pare_status s = PARE_OK;
    if (!ws || !ns) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int i = 0; i < n && !s; i++) {
        const pare_linear *f = &bert_layer_lin(&m->layers[i / 4], i % 4)->f;
        ns[i] = f->n_out * f->n_in;
        if (!(ws[i] = pare_arena_alloc(m->weights, (size_t)ns[i] * sizeof(float), 64)))
            s = pare_err_set(err, PARE_ERR_OOM, "out of memory for a copy of the weights");
        else
            memcpy(ws[i], f->w, (size_t)ns[i] * sizeof(float));
    }
    int64_t z = s || !ws || !ns ? 0 : pare_prune_magnitude(ws, ns, n, sparsity, global);
    if (!s && z < 0) s = pare_err_set(err, PARE_ERR_OOM, "out of memory while pruning");
    for (int i = 0; i < n && !s; i++) {
        pare_linear *f = &bert_layer_lin(&m->layers[i / 4], i % 4)->f;
        pare_linear old = *f;
        if ((s = pare_linear_init(f, ws[i], old.bias, old.n_out, old.n_in, m->kernel, m->weights, err))) *f = old;
        else s = bert_lin_sparsify(m, bert_layer_lin(&m->layers[i / 4], i % 4), err);
    }
    if (!s && zeroed) *zeroed = z;
    free(ws);
    free(ns);
    return s;
}
