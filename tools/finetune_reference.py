#!/usr/bin/env python3
"""The `pare finetune` recipe in PyTorch, for the issue's comparison:
same data, split, seed-derived split, epochs, batch, learning rate,
schedule, clipping and weight decay, dropout off (pare trains without it).

    python3 tools/finetune_reference.py MODEL_DIR DATA.tsv [--epochs 3] [--batch 16]
        [--lr 5e-5] [--max-len 128] [--seed 42] [--train-seed S] [--threads 2] [--order pare|torch]

--order pare (the default) trains on the very batches pare finetune draws
(its split, shuffle, length grouping and batch shuffle, replayed here), so
the two runs differ only in arithmetic; --order torch shuffles with torch.

Prints the test metrics (exact match, micro/macro F1, Jaccard) and the
training time as JSON, like `pare finetune --json`. Needs torch and
transformers (tools/ only; pare never does).
"""
import argparse
import csv
import json
import sys
import time

import torch
from transformers import AutoTokenizer, BertForSequenceClassification, get_linear_schedule_with_warmup

M64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def pare_split(n, seed, frac):
    """pare_dataset_split: Fisher-Yates with splitmix64, then cut."""
    perm = list(range(n))
    st = seed
    for i in range(n - 1, 0, -1):
        st, r = splitmix64(st)
        j = r % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    c0 = int(frac[0] * n + 0.5)
    c1 = int((frac[0] + frac[1]) * n + 0.5)
    part = [0] * n
    for i, p in enumerate(perm):
        part[p] = 0 if i < c0 else 1 if i < c1 else 2
    return part


def pare_batches(train, lens, B, rng):
    """One epoch of `pare finetune`'s batches: Fisher-Yates over the train
    split with splitmix64, chunks of 50 batches sorted by token count
    (stable, as pare's insertion sort), then the batches shuffled."""
    order = list(train)
    for i in range(len(order) - 1, 0, -1):
        rng, r = splitmix64(rng)
        j = r % (i + 1)
        order[i], order[j] = order[j], order[i]
    for s in range(0, len(order), 50 * B):
        order[s:s + 50 * B] = sorted(order[s:s + 50 * B], key=lambda i: lens[i])
    steps = (len(order) + B - 1) // B
    starts = [k * B for k in range(steps)]
    for k in range(steps - 1, 0, -1):
        rng, r = splitmix64(rng)
        j = r % (k + 1)
        starts[k], starts[j] = starts[j], starts[k]
    return [order[s:s + B] for s in starts], rng


def metrics(pred, gold):
    n, L = len(gold), len(gold[0])
    em = sum(p == g for p, g in zip(pred, gold)) / n
    tp = [0] * L; fp = [0] * L; fn = [0] * L
    jac = 0.0
    for p, g in zip(pred, gold):
        inter = sum(a and b for a, b in zip(p, g)); union = sum(a or b for a, b in zip(p, g))
        jac += 1.0 if union == 0 else inter / union
        for l in range(L):
            tp[l] += p[l] and g[l]; fp[l] += p[l] and not g[l]; fn[l] += g[l] and not p[l]
    f1 = lambda t, a, b: 2 * t / (2 * t + a + b) if t + a + b else 0.0
    return {"n": n, "exact_match": em, "micro_f1": f1(sum(tp), sum(fp), sum(fn)),
            "macro_f1": sum(f1(tp[l], fp[l], fn[l]) for l in range(L)) / L, "jaccard": jac / n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model"); ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=3); ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5); ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42); ap.add_argument("--train-seed", type=int, default=None); ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--save", default="", help="write the trained model (safetensors folder) here")
    ap.add_argument("--order", choices=("pare", "torch"), default="pare",
                    help="pare: the batches pare finetune draws (same examples per step); torch: randperm")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.train_seed is None:
        a.train_seed = a.seed  # pare finetune --train-seed: the order and the head's initialisation
    torch.manual_seed(a.train_seed)
    rows = list(csv.reader(open(a.data, encoding="utf-8"), delimiter="\t"))
    head, rows = rows[0], rows[1:]
    if a.limit:
        rows = rows[:a.limit]
    ti = head.index("Tweet")
    li = [i for i, h in enumerate(head) if h not in ("Tweet", "ID", "id")]
    texts = [r[ti] for r in rows]
    labels = [[int(r[i]) for i in li] for r in rows]
    part = pare_split(len(rows), a.seed, (0.6, 0.3, 0.1))
    tok = AutoTokenizer.from_pretrained(a.model)
    model = BertForSequenceClassification.from_pretrained(
        a.model, num_labels=len(li), problem_type="multi_label_classification",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, torch_dtype=torch.float32).to(a.device)
    train = [i for i in range(len(rows)) if part[i] == 0]
    test = [i for i in range(len(rows)) if part[i] == 2]
    no_decay = ["bias", "LayerNorm.weight"]
    groups = [{"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)], "weight_decay": 0.01},
              {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    steps = (len(train) + a.batch - 1) // a.batch * a.epochs
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * steps), steps)
    g = torch.Generator().manual_seed(a.train_seed)
    lens = {i: len(tok(texts[i], truncation=True, max_length=a.max_len)["input_ids"]) for i in train}
    rng = (a.train_seed * 7919 + 1) & M64
    model.train()
    t0 = time.time()
    for ep in range(a.epochs):
        if a.order == "pare":
            batches, rng = pare_batches(train, lens, a.batch, rng)
        else:
            order = [train[i] for i in torch.randperm(len(train), generator=g).tolist()]
            batches = [order[s:s + a.batch] for s in range(0, len(order), a.batch)]
        total = 0.0
        for idx in batches:
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=a.max_len, return_tensors="pt")
            y = torch.tensor([labels[i] for i in idx], dtype=torch.float32, device=a.device)
            out = model(**enc.to(a.device), labels=y)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); opt.zero_grad()
            total += out.loss.item()
        print("epoch %d: mean training loss %.4f, %.1f s" % (ep + 1, total / len(batches),
                                                             time.time() - t0), file=sys.stderr)
    train_s = time.time() - t0
    if a.save:
        model.save_pretrained(a.save, safe_serialization=True)
    model.eval()
    pred = []
    with torch.no_grad():
        for s in range(0, len(test), 64):
            idx = test[s:s + 64]
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=a.max_len, return_tensors="pt")
            pred += (model(**enc.to(a.device)).logits > 0).int().tolist()
    m = metrics(pred, [labels[i] for i in test])
    print(json.dumps({"engine": "pytorch", "device": a.device, "seed": a.seed, "torch": torch.__version__, "train_seconds": round(train_s, 3),
                      "examples_per_second": round(len(train) * a.epochs / train_s, 2), "test": m}))


if __name__ == "__main__":
    main()
