#!/usr/bin/env python3
"""Write the Llama-family golden files tests/golden/llama-<case>.safetensors
with Hugging Face transformers (run by `make references`; see
tests/golden/README.md).

Each case is a seeded random-weight folder written by
`build/pare dev random-llama DIR <pare_args>` (the arguments are stored in
the file's metadata, and tests/test_llama.c re-creates the folder with
them), run by transformers in fp32, eager attention, 2 threads:

  prompt_ids     [T] int32          fixed random token ids
  prompt_logits  [T, V]             logits at every position of the prompt
  decode_ids     [N] int32          greedy tokens fed one at a time after the prompt
  decode_logits  [N, V]             logits of each decode step (KV cache)
  batch_ids      [3, Tmax] int32    3 sequences of different lengths, right-padded with 0
  batch_mask     [3, Tmax] int32    1 = real token
  batch_logits   [sum len, V]       logits at the real positions, row-packed
  cls_ids        [3, Tc] int32      (seq-cls cases) right-padded with pad_token_id
  cls_scores     [3, n_labels]      LlamaForSequenceClassification logits

Python is used only here; `make test` reads the committed files.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_PROMPT = 40
N_DECODE = 8
BATCH_LENS = [40, 23, 9]

# name -> (pare dev random-llama arguments, what the case covers)
CASES = {
    "mha": ("--arch llama --layers 2 --hidden 64 --heads 4 --kv-heads 4 --ffn 128 --vocab 512 --seed 11",
            "llama, multi-head attention, untied LM head, default RoPE"),
    "gqa-llama3": ("--arch llama --layers 3 --hidden 96 --heads 6 --kv-heads 2 --head-dim 24 --ffn 160 "
                   "--vocab 512 --tie --rope-theta 500000 --rope-scaling llama3:8 --rope-original-max 16 --seed 12",
                   "llama, GQA 6/2, head_dim 24 != hidden/heads, tied embeddings, llama3 RoPE scaling"),
    "qwen2-yarn": ("--arch qwen2 --layers 2 --hidden 64 --heads 4 --kv-heads 2 --ffn 128 --vocab 512 --tie "
                   "--max-position 64 --rope-theta 1000000 --rope-scaling yarn:4 --rope-original-max 16 --seed 13",
                   "qwen2 (q/k/v biases), GQA 4/2, tied, YaRN RoPE scaling (attention factor)"),
    "linear-bias": ("--arch llama --layers 2 --hidden 64 --heads 4 --kv-heads 1 --ffn 128 --vocab 512 "
                    "--attention-bias --rope-scaling linear:2 --seed 14",
                    "llama with attention_bias (q/k/v/o biases), MQA 4/1, linear RoPE scaling"),
    "mistral-dynamic": ("--arch mistral --layers 2 --hidden 64 --heads 4 --kv-heads 2 --ffn 128 --vocab 512 "
                        "--max-position 32 --rope-scaling dynamic:2 --seed 15",
                        "mistral, dynamic NTK RoPE past max_position_embeddings 32"),
    "cls": ("--arch llama --layers 2 --hidden 64 --heads 4 --kv-heads 2 --ffn 128 --vocab 512 --labels 3 "
            "--pad-id 0 --seed 16",
            "LlamaForSequenceClassification, 3 labels, pad_token_id 0"),
}


def pare_bin():
    return os.environ.get("PARE_CLI") or os.path.join(ROOT, "build", "pare")


def make_model(args, dest):
    cmd = [pare_bin(), "dev", "random-llama", dest, *args.split()]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"make_llama_references: `{' '.join(cmd)}` failed (exit {r.returncode}): {r.stderr.strip()[:300]}")


def run_case(name, args, what, out_dir):
    import torch
    import transformers
    from safetensors.numpy import save_file
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    tmp = tempfile.mkdtemp(prefix=f"pare-llama-{name}-")
    try:
        make_model(args, tmp)
        cfg = AutoConfig.from_pretrained(tmp)
        V = cfg.vocab_size
        rng = np.random.RandomState(1000 + sum(map(ord, name)))
        tensors = {}
        with torch.inference_mode():
            if "ForSequenceClassification" in cfg.architectures[0]:
                model = AutoModelForSequenceClassification.from_pretrained(
                    tmp, attn_implementation="eager", dtype=torch.float32).eval()
                lens = [17, 20, 6]
                Tc = max(lens)
                ids = np.full((3, Tc), cfg.pad_token_id, dtype=np.int32)
                mask = np.zeros((3, Tc), dtype=np.int32)
                for i, n in enumerate(lens):
                    ids[i, :n] = rng.randint(1, V, size=n)
                    mask[i, :n] = 1
                o = model(input_ids=torch.from_numpy(ids.astype(np.int64)),
                          attention_mask=torch.from_numpy(mask.astype(np.int64)))
                tensors["cls_ids"] = ids
                tensors["cls_scores"] = o.logits.numpy().astype(np.float32)
                summary = f"scores {tensors['cls_scores'].ravel()[:3]}"
            else:
                model = AutoModelForCausalLM.from_pretrained(
                    tmp, attn_implementation="eager", dtype=torch.float32).eval()
                prompt = rng.randint(0, V, size=N_PROMPT).astype(np.int32)
                o = model(input_ids=torch.from_numpy(prompt[None].astype(np.int64)), use_cache=True)
                tensors["prompt_ids"] = prompt
                tensors["prompt_logits"] = o.logits[0].numpy().astype(np.float32)
                pkv = o.past_key_values
                nxt = int(o.logits[0, -1].argmax())
                dec_ids, dec_logits = [], []
                for _ in range(N_DECODE):
                    dec_ids.append(nxt)
                    o = model(input_ids=torch.tensor([[nxt]]), past_key_values=pkv, use_cache=True)
                    pkv = o.past_key_values
                    dec_logits.append(o.logits[0, -1].numpy().astype(np.float32))
                    nxt = int(o.logits[0, -1].argmax())
                tensors["decode_ids"] = np.array(dec_ids, dtype=np.int32)
                tensors["decode_logits"] = np.stack(dec_logits)
                # Yardstick: HF's own full pass over prompt + decoded tokens vs its cached decode.
                full = np.concatenate([prompt, tensors["decode_ids"]])
                of = model(input_ids=torch.from_numpy(full[None].astype(np.int64)))
                d_self = float(np.abs(of.logits[0, N_PROMPT:].numpy() - tensors["decode_logits"]).max())
                summary = f"logit scale {np.abs(tensors['prompt_logits']).max():.3g}, HF full vs cached decode {d_self:.2g}"
                if name == "mha":
                    Tm = max(BATCH_LENS)
                    ids = np.zeros((3, Tm), dtype=np.int32)
                    mask = np.zeros((3, Tm), dtype=np.int32)
                    for i, n in enumerate(BATCH_LENS):
                        ids[i, :n] = rng.randint(0, V, size=n)
                        mask[i, :n] = 1
                    o = model(input_ids=torch.from_numpy(ids.astype(np.int64)),
                              attention_mask=torch.from_numpy(mask.astype(np.int64)))
                    tensors["batch_ids"] = ids
                    tensors["batch_mask"] = mask
                    tensors["batch_logits"] = np.concatenate(
                        [o.logits[i, :n].numpy() for i, n in enumerate(BATCH_LENS)]).astype(np.float32)
        meta = {"pare_args": args, "covers": what, "transformers": transformers.__version__,
                "torch": torch.__version__}
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, f"llama-{name}.safetensors")
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, path, metadata=meta)
        print(f"llama-{name}: wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path) / 1e3:.0f} kB); {summary}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", help=f"cases (default all: {' '.join(CASES)})")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(2)
    if not os.access(pare_bin(), os.X_OK):
        sys.exit(f"make_llama_references: {pare_bin()} is not built (run make)")
    for name in args.cases or list(CASES):
        if name not in CASES:
            sys.exit(f"make_llama_references: unknown case {name!r} (known: {' '.join(CASES)})")
        run_case(name, *CASES[name], args.out)


if __name__ == "__main__":
    main()
