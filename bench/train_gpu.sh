#!/usr/bin/env bash
# One fine-tuning step on the GPU, pare (`make cuda`: build-cuda/pare) beside
# PyTorch on the same GPU in the same run: MiniLM-L12 shape at batch 8 and
# BERT-base shape at batch 32, seq 128, 11 labels, BCE, backward, clipping,
# AdamW; fp32 (cuBLAS and torch without TF32) and TF32. PyTorch runs eager
# attention (as pare's: the probabilities are kept) and SDPA. Each engine
# alternates over BENCH_REPS rounds of `--iters 20`; the table gives medians.
# `make bench` runs it when nvidia-smi finds a GPU and build-cuda/pare exists.
. "$(dirname "$0")/lib.sh"
pare=${PARE_CUDA_BIN:-$root/build-cuda/pare}
jsonl=$out/train_gpu.jsonl
mkdir -p "$out/train"
: > "$jsonl"
vocab=${PARE_MODELS_DIR:-$root/.cache/models}/minilm-l6
declare -A shape=([minilm-l12]="" [bert-base]="--hidden 768 --heads 12 --intermediate 3072")
declare -A batch=([minilm-l12]=8 [bert-base]=32)
for m in minilm-l12 bert-base; do
    dir=$out/train/random-$m
    # shellcheck disable=SC2086
    [ -f "$dir/model.safetensors" ] || "$pare" dev random-bert -o "$dir" --labels 11 --seed 12 --vocab-from "$vocab" ${shape[$m]} 2> /dev/null
    for r in $(seq 1 "$reps"); do
        for tf in "" --tf32; do
            say "gpu train step $m round $r/$reps ${tf:-fp32}: pare"
            "$pare" dev train-step "$dir" --device cuda $tf --batch "${batch[$m]}" --seq 128 --iters 20 --warmup 3 --json \
                | sed "s/^{/{\"shape\": \"$m\", /" >> "$jsonl"
            say "gpu train step $m round $r/$reps ${tf:-fp32}: torch eager, sdpa"
            "$py" "$root/bench/train_step.py" "$dir" --device cuda $tf --attn eager,sdpa --batch "${batch[$m]}" --seq 128 \
                --iters 20 --warmup 3 2> /dev/null | sed "s/^{/{\"shape\": \"$m\", /" >> "$jsonl"
        done
    done
done
"$py" - "$jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
dev = next((r["device"] for r in rows if r["engine"] == "pare"), "?")
print("\nOne training step on %s, seq 128, median of rounds (ms)\n" % dev)
print("| shape | batch | math | torch eager | torch sdpa | pare | pare vs eager | pare vs sdpa |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for shape in ("minilm-l12", "bert-base"):
    for tf in (False, True):
        sel = [r for r in rows if r["shape"] == shape and r["tf32"] == tf]
        med = lambda f: statistics.median(r["step_ms"] for r in sel if f(r)) if any(f(r) for r in sel) else float("nan")
        p = med(lambda r: r["engine"] == "pare")
        e = med(lambda r: r["engine"] == "torch" and r["attn"] == "eager")
        s = med(lambda r: r["engine"] == "torch" and r["attn"] == "sdpa")
        b = next((r["batch"] for r in sel), 0)
        print("| %s | %d | %s | %.2f | %.2f | %.2f | %.2fx | %.2fx |" % (shape, b, "tf32" if tf else "fp32", e, s, p, e / p, s / p))
PY
