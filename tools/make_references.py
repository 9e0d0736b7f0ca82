#!/usr/bin/env python3
"""Write the golden reference files tests/golden/<model>.safetensors with
Hugging Face transformers (run by `make references`; see tests/golden/README.md).

For each model: 32 fixed tweets from the SemEval-2018 E-c train set, tokenized
with the model's HF fast tokenizer (max_length 128, truncation), run through
BertModel (fp32, eval, eager attention, 2 threads) one tweet at a time, plus a
deterministic 11-label classification head on the pooler output.

Python is used only here (and in bench/); `make test` reads the committed
files and never needs torch.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_TWEETS = 32
STRIDE = 200          # every 200th data line, starting at data line 1
N_LONG = 3            # plus the longest tweets (>= LONG_TOKENS tokens)
LONG_TOKENS = 60
MAX_LENGTH = 128
N_LABELS = 11         # the 11 emotions of SemEval-2018 E-c
L12_ARGS = ["--layers", "12", "--hidden", "384", "--heads", "12",
            "--intermediate", "1536", "--seed", "12"]


def models_dir():
    return os.environ.get("PARE_MODELS_DIR") or os.path.join(ROOT, ".cache", "models")


def data_file():
    base = os.environ.get("PARE_DATA_DIR") or os.path.join(ROOT, "..", "shared", "data")
    return os.path.join(base, "semeval2018-ec", "2018-E-c-En-train.txt")


def read_tweets(path):
    """Data lines (header excluded) -> list of tweet texts; index i is line i+1."""
    if not os.path.isfile(path):
        sys.exit(f"make_references: {path} not found (set PARE_DATA_DIR to the folder holding "
                 "semeval2018-ec/)")
    with open(path, encoding="utf-8", newline="") as f:
        rows = f.read().split("\r\n")
    if not rows or not rows[0].startswith("ID\tTweet"):
        sys.exit(f"{path}: expected a header 'ID<TAB>Tweet<TAB>...', got {rows[0][:40]!r}")
    tweets = []
    for n, row in enumerate(rows[1:], start=1):
        if not row:
            continue
        cols = row.split("\t")
        if len(cols) != 2 + N_LABELS:
            sys.exit(f"{path}: data line {n}: {len(cols)} columns, expected {2 + N_LABELS}")
        tweets.append(cols[1])
    return tweets


def select_lines(tweets, tok):
    """1-based data line numbers: every STRIDE-th line from line 1 (the first
    N_TWEETS - N_LONG of them) plus the N_LONG longest tweets in tokens (ties
    by line number), all sorted. Selection uses one tokenizer (minilm-l6's) so
    that every golden file holds the same tweets."""
    regular = list(range(1, len(tweets) + 1, STRIDE))[: N_TWEETS - N_LONG]
    lens = [len(tok(t, truncation=True, max_length=MAX_LENGTH)["input_ids"]) for t in tweets]
    by_len = sorted(range(len(tweets)), key=lambda i: (-lens[i], i))
    longest = []
    for i in by_len:
        if len(longest) == N_LONG:
            break
        if i + 1 not in regular:
            longest.append(i + 1)
    if lens[longest[-1] - 1] < LONG_TOKENS:
        sys.exit(f"select_lines: only {len(longest) - 1} tweets reach {LONG_TOKENS} tokens")
    lines = sorted(regular + longest)
    assert len(lines) == N_TWEETS
    return lines


def classifier_head(hidden):
    """W[l][h] = 0.05*sin(0.37*(l*H+h)+0.1), b[l] = 0.01*l (float64 -> f32)."""
    idx = np.arange(N_LABELS * hidden, dtype=np.float64).reshape(N_LABELS, hidden)
    w = (0.05 * np.sin(0.37 * idx + 0.1)).astype(np.float32)
    b = (0.01 * np.arange(N_LABELS, dtype=np.float64)).astype(np.float32)
    return w, b


def make_random_l12(dest, vocab_from):
    pare = os.path.join(ROOT, "build", "pare")
    cmd = [pare, "dev", "random-bert", "-o", dest, *L12_ARGS, "--vocab-from", vocab_from]
    if not os.access(pare, os.X_OK):
        print(f"make_references: skipping random-minilm-l12: {pare} is not built", file=sys.stderr)
        return False
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.isfile(os.path.join(dest, "model.safetensors")):
        print(f"make_references: skipping random-minilm-l12: `{' '.join(cmd)}` failed "
              f"(exit {r.returncode}): {r.stderr.strip()[:300]} "
              "(does build/pare have `dev random-bert` yet?)", file=sys.stderr)
        return False
    return True


PRUNE_STEPS = [("heads", "0.3", "global"), ("neurons", "0.3", "local"), ("layers", "0.34", "global")]


def make_pruned(dest, src):
    """minilm-l6-pruned: `pare prune` heads (global), neurons, layers in turn."""
    pare = os.path.join(ROOT, "build", "pare")
    prev = src
    for i, (unit, frac, scope) in enumerate(PRUNE_STEPS):
        out = dest if i == len(PRUNE_STEPS) - 1 else f"{dest}.step{i}"
        cmd = [pare, "prune", prev, "--method", unit, "--sparsity", frac, "--scope", scope, "-o", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"make_references: skipping minilm-l6-pruned: `{' '.join(cmd)}` failed: {r.stderr.strip()[:300]}",
                  file=sys.stderr)
            return False
        prev = out
    return True


def run_model(name, model_dir, tweets, lines, out_dir):
    import torch
    import transformers
    from safetensors.numpy import save_file
    from transformers import AutoTokenizer, BertModel

    tok = AutoTokenizer.from_pretrained(model_dir)
    if not tok.is_fast:
        sys.exit(f"{model_dir}: tokenizer is not a fast (tokenizers) tokenizer")
    if name.endswith("-pruned"):  # per-layer heads and FFN width (tools/hf_pruned_bert.py)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from hf_pruned_bert import load_pruned_bert
        model = load_pruned_bert(model_dir)
    else:
        model = BertModel.from_pretrained(model_dir, attn_implementation="eager",
                                          dtype=torch.float32).eval()
    hidden = model.config.hidden_size
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0

    encs = [tok(tweets[n - 1], truncation=True, max_length=MAX_LENGTH)["input_ids"] for n in lines]
    lens = [len(e) for e in encs]
    tmax = max(lens)
    ids = np.full((N_TWEETS, tmax), pad, dtype=np.int32)
    mask = np.zeros((N_TWEETS, tmax), dtype=np.int32)
    for i, e in enumerate(encs):
        ids[i, : len(e)] = e
        mask[i, : len(e)] = 1

    packed = np.zeros((sum(lens), hidden), dtype=np.float32)
    pooled = np.zeros((N_TWEETS, hidden), dtype=np.float32)
    row = 0
    with torch.inference_mode():
        for i, n in enumerate(lens):  # batch 1, no padding
            x = torch.from_numpy(ids[i : i + 1, :n].astype(np.int64))
            o = model(input_ids=x, attention_mask=torch.ones_like(x),
                      token_type_ids=torch.zeros_like(x))
            packed[row : row + n] = o.last_hidden_state[0].numpy()
            pooled[i] = o.pooler_output[0].numpy()
            row += n

        # Sanity: HF itself in batches of 8 with padding vs batch 1.
        d_hidden = d_pooled = 0.0
        for s in range(0, N_TWEETS, 8):
            x = torch.from_numpy(ids[s : s + 8].astype(np.int64))
            m = torch.from_numpy(mask[s : s + 8].astype(np.int64))
            o = model(input_ids=x, attention_mask=m, token_type_ids=torch.zeros_like(x))
            r0 = sum(lens[:s])
            for j in range(x.shape[0]):
                n = lens[s + j]
                got = o.last_hidden_state[j, :n].numpy()
                d_hidden = max(d_hidden, float(np.abs(got - packed[r0 : r0 + n]).max()))
                d_pooled = max(d_pooled, float(np.abs(o.pooler_output[j].numpy() - pooled[s + j]).max()))
                r0 += n

        w, b = classifier_head(hidden)
        logits = (torch.from_numpy(pooled) @ torch.from_numpy(w).T + torch.from_numpy(b)).numpy()

    tensors = {
        "input_ids": ids,
        "attention_mask": mask,
        "last_hidden_state_packed": packed,
        "pooler_output": pooled,
        "logits": logits.astype(np.float32),
    }
    meta = {
        "tweet_lines": ",".join(str(n) for n in lines),
        "model": name,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "max_length": str(MAX_LENGTH),
        "last_hidden_state_layout": "packed: the real-token rows of tweet 0, then tweet 1, ...; "
                                    "tweet i has sum(attention_mask[i]) rows",
        "classifier": "W[l][h] = 0.05*sin(0.37*(l*H+h)+0.1), b[l] = 0.01*l; "
                      "logits = pooler_output @ W.T + b",
    }
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"{name}: wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path) / 1e6:.2f} MB; "
          f"T max {tmax}, {sum(lens)} tokens); HF batch-8-padded vs batch-1 max |diff|: "
          f"last_hidden_state {d_hidden:.3g}, pooler_output {d_pooled:.3g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*",
                    help="model names under the models dir (default: minilm-l6 all-minilm-l6 "
                         "random-minilm-l12 minilm-l6-pruned)")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    ap.add_argument("--no-random", action="store_true",
                    help="reuse .cache/models/random-minilm-l12 instead of re-making it")
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(2)
    torch.manual_seed(0)
    mdir = models_dir()
    names = args.models or ["minilm-l6", "all-minilm-l6", "random-minilm-l12", "minilm-l6-pruned"]
    tweets = read_tweets(data_file())
    sel_tok = AutoTokenizer.from_pretrained(os.path.join(mdir, "minilm-l6"))
    lines = select_lines(tweets, sel_tok)
    print(f"tweet lines: {','.join(map(str, lines))}")

    for name in names:
        path = os.path.join(mdir, name)
        if name == "random-minilm-l12" and not args.no_random:
            if not make_random_l12(path, os.path.join(mdir, "minilm-l6")):
                continue
        if name == "minilm-l6-pruned" and not make_pruned(path, os.path.join(mdir, "minilm-l6")):
            continue
        if not os.path.isfile(os.path.join(path, "config.json")):
            print(f"make_references: skipping {name}: {path}/config.json not found "
                  "(run `make models`)", file=sys.stderr)
            continue
        run_model(name, path, tweets, lines, args.out)


if __name__ == "__main__":
    main()
