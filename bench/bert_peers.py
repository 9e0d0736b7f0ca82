#!/usr/bin/env python3
"""Latency of a BERT encoder in PyTorch and ONNX Runtime, the peers pare is
measured against (run by bench/run.sh).

For a Hugging Face BERT folder, times one forward of the encoder (last hidden
state, all tokens real, no padding, fixed random token ids) for each batch at
one sequence length, and prints one JSON line per (engine, batch) in the
schema of `pare bench --json`, plus "engine":

  {"engine": "torch", "model": ..., "batch": B, "seq": T, "threads": N,
   "iters": N, "p50_ms": .., "p90_ms": .., "p99_ms": .., "mean_ms": ..,
   "min_ms": .., "gflop": .., "gflops": ..}

Engines: torch (fp32, eval, inference_mode, SDPA attention), ort (fp32,
exported with torch.onnx.export opset 17, graph optimizations ALL,
CPUExecutionProvider), torch-int8 (torch.ao.quantization.quantize_dynamic on
nn.Linear), ort-int8 (onnxruntime.quantization.quantize_dynamic, QInt8
weights). Iteration policy (shared with pare in run.sh): --warmup untimed
runs, then --iters timed runs, stopping early once --max-seconds have passed
and at least --min-iters are done. "gflop" counts the matmul FLOPs of one
forward: layers * B * T * (8 H^2 + 4 H I + 4 T H) / 1e9.
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINES = ("torch", "ort", "torch-int8", "ort-int8")


def log(msg):
    print(f"bert_peers: {msg}", file=sys.stderr, flush=True)


def encoder_gflop(cfg, batch, seq):
    h, i, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    return layers * batch * seq * (8 * h * h + 4 * h * i + 4 * seq * h) / 1e9


def make_inputs(cfg, batch, seq):
    """Fixed random ids in [1000, vocab) with [CLS] first and [SEP] last."""
    rng = np.random.default_rng(1234)
    ids = rng.integers(1000, cfg["vocab_size"], size=(batch, seq), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    return ids, np.ones_like(ids), np.zeros_like(ids)


def time_it(fn, args, batch):
    """Returns the per-iteration times in ms under the warm-up/iteration policy."""
    iters = args.iters_of[batch]
    for _ in range(args.warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < iters:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if time.perf_counter() - start >= args.max_seconds and len(times) >= args.min_iters:
            break
    return times


def report(engine, name, batch, seq, threads, times, gflop):
    t = np.array(times)
    p50 = float(np.percentile(t, 50))
    row = {
        "engine": engine, "model": name, "batch": batch, "seq": seq, "threads": threads,
        "iters": len(times),
        "p50_ms": round(p50, 4),
        "p90_ms": round(float(np.percentile(t, 90)), 4),
        "p99_ms": round(float(np.percentile(t, 99)), 4),
        "mean_ms": round(float(t.mean()), 4),
        "min_ms": round(float(t.min()), 4),
        "gflop": round(gflop, 4),
        "gflops": round(gflop / (p50 / 1e3), 3),
    }
    print(json.dumps(row), flush=True)


class Encoder:
    """BertModel without the pooler, returning only the last hidden state."""

    def __init__(self, model_dir, attn):
        import torch
        from transformers import BertModel

        class Wrap(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        bert = BertModel.from_pretrained(model_dir, add_pooling_layer=False,
                                         attn_implementation=attn, dtype=torch.float32)
        self.module = Wrap(bert).eval()


def bench_torch(args, cfg, int8):
    import torch

    enc = Encoder(args.model_dir, "sdpa").module
    if int8:
        enc = torch.ao.quantization.quantize_dynamic(enc, {torch.nn.Linear}, dtype=torch.qint8)
    engine = "torch-int8" if int8 else "torch"
    for b in args.batch:
        x = [torch.from_numpy(a) for a in make_inputs(cfg, b, args.seq)]
        with torch.inference_mode():
            times = time_it(lambda: enc(*x), args, b)
        report(engine, args.name, b, args.seq, args.threads, times,
               encoder_gflop(cfg, b, args.seq))


def newer(path, than):
    return os.path.isfile(path) and os.path.getmtime(path) >= os.path.getmtime(than)


def onnx_path(args, int8):
    """Exports (and quantizes) once into --onnx-dir; re-done when the weights change."""
    import torch

    weights = os.path.join(args.model_dir, "model.safetensors")
    if not os.path.isfile(weights):
        weights = os.path.join(args.model_dir, "config.json")
    os.makedirs(args.onnx_dir, exist_ok=True)
    fp32 = os.path.join(args.onnx_dir, f"{args.name}.onnx")
    if not newer(fp32, weights):
        log(f"exporting {args.model_dir} to {fp32}")
        enc = Encoder(args.model_dir, "eager").module
        x = tuple(torch.from_numpy(a) for a in make_inputs(cfg_of(args), 1, 16))
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "seq"} for n in names + ["last_hidden_state"]}
        tmp = fp32 + ".tmp"
        with torch.no_grad():
            torch.onnx.export(enc, x, tmp, input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(tmp, fp32)
    if not int8:
        return fp32
    q8 = os.path.join(args.onnx_dir, f"{args.name}.int8.onnx")
    if not newer(q8, fp32):
        import logging

        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" note

        log(f"quantizing {fp32} to {q8}")
        tmp = q8 + ".tmp.onnx"
        quantize_dynamic(fp32, tmp, weight_type=QuantType.QInt8)
        os.replace(tmp, q8)
    return q8


def bench_ort(args, cfg, int8):
    import onnxruntime as ort

    path = onnx_path(args, int8)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    engine = "ort-int8" if int8 else "ort"
    for b in args.batch:
        ids, mask, types = make_inputs(cfg, b, args.seq)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        times = time_it(lambda: sess.run(["last_hidden_state"], feed), args, b)
        report(engine, args.name, b, args.seq, args.threads, times,
               encoder_gflop(cfg, b, args.seq))


def cfg_of(args):
    with open(os.path.join(args.model_dir, "config.json"), encoding="utf-8") as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--name", help="model name in the output (default: the folder's name)")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, nargs="+", default=[20],
                    help="timed runs, one value for all batches or one per --batch")
    ap.add_argument("--max-seconds", type=float, default=10.0)
    ap.add_argument("--min-iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", default="torch,ort",
                    help=f"comma-separated, from {','.join(ENGINES)} (default torch,ort)")
    ap.add_argument("--onnx-dir", default=os.path.join(ROOT, ".cache", "onnx"))
    args = ap.parse_args()
    args.model_dir = args.model_dir.rstrip("/")
    args.name = args.name or os.path.basename(args.model_dir)
    if len(args.iters) not in (1, len(args.batch)):
        ap.error(f"--iters: {len(args.iters)} values for {len(args.batch)} batches")
    args.iters_of = dict(zip(args.batch, args.iters * len(args.batch)))
    engines = [e for e in args.engines.split(",") if e]
    bad = [e for e in engines if e not in ENGINES]
    if bad:
        ap.error(f"--engines: unknown {bad}; known: {','.join(ENGINES)}")
    cfg = cfg_of(args)
    if args.seq > cfg.get("max_position_embeddings", 512):
        ap.error(f"--seq {args.seq} exceeds max_position_embeddings "
                 f"{cfg.get('max_position_embeddings')}")

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore")
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    status = 0
    for e in engines:
        try:
            if e.startswith("torch"):
                bench_torch(args, cfg, e.endswith("int8"))
            else:
                bench_ort(args, cfg, e.endswith("int8"))
        except ImportError as ex:
            log(f"{e}: skipped, cannot import {ex.name}")
            status = 3
        except Exception as ex:  # report and go on with the other engines
            log(f"{e}: failed: {type(ex).__name__}: {ex}")
            status = 1
    sys.exit(status)


if __name__ == "__main__":
    main()
