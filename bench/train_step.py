"""PyTorch peer of `pare dev train-step` (bench/train.sh): one fine-tuning
step of a BERT folder as BertForSequenceClassification (multi-label: BCE
with logits), fp32, no dropout, AdamW, gradient norm clipped at 1, on a batch
of fixed pseudo-random ids; median over --iters after --warmup. One JSON line.
--device cuda times it on the GPU (synchronised each step); --tf32 allows
TF32 tensor cores for fp32 matrix products; --attn sdpa uses PyTorch's fused
attention instead of the eager one."""
import argparse
import json
import statistics
import time

import torch
from transformers import BertForSequenceClassification


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--labels", type=int, default=11)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--attn", default="eager", help="eager, sdpa, or both as eager,sdpa (one line each)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    for attn in a.attn.split(","):
        step(a, attn)


def step(a, attn):
    torch.manual_seed(0)
    m = BertForSequenceClassification.from_pretrained(
        a.model, num_labels=a.labels, problem_type="multi_label_classification",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, attn_implementation=attn)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    m.to(dev)
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-5, weight_decay=0.01)
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(1000, m.config.vocab_size, (a.batch, a.seq), generator=g)
    ids[:, 0] = 101
    tgt = (torch.rand(a.batch, a.labels, generator=g) < 0.25).float()
    ids, tgt = ids.to(dev), tgt.to(dev)
    ts = []
    for i in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        out = m(input_ids=ids, attention_mask=torch.ones_like(ids), labels=tgt)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        sync()
        if i >= a.warmup:
            ts.append(time.perf_counter() - t0)
    print(json.dumps({"engine": "torch", "torch": torch.__version__, "model": a.model, "batch": a.batch, "seq": a.seq,
                      "iters": a.iters, "threads": a.threads, "device": a.device, "tf32": a.tf32, "attn": attn,
                      "step_ms": statistics.median(ts) * 1e3, "min_ms": min(ts) * 1e3}), flush=True)
    del m, opt


if __name__ == "__main__":
    main()
