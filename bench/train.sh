#!/usr/bin/env bash
# One fine-tuning step, pare beside PyTorch (run by `make bench`, or alone):
# MiniLM-L12-shaped random BERT (`pare dev random-bert`, the default shape,
# 11 labels), batch 8, seq 128, fp32, BCE loss, backward, clipping, AdamW.
# `pare dev train-step` and bench/train_step.py (torch, no dropout, eager
# attention, BENCH_THREADS threads) alternate for BENCH_REPS rounds; the
# table gives the median step time of each and the ratio.
. "$(dirname "$0")/lib.sh"
model=$out/train/random-minilm-l12
jsonl=$out/train.jsonl
mkdir -p "$out/train"
: > "$jsonl"
if [ ! -f "$model/model.safetensors" ]; then
    "$pare" dev random-bert -o "$model" --labels 11 --seed 12 \
        --vocab-from "${PARE_MODELS_DIR:-$root/.cache/models}/minilm-l6" 2> /dev/null
fi
for r in $(seq 1 "$reps"); do
    say "train step round $r/$reps: pare"
    PARE_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$pare" dev train-step "$model" --batch 8 --seq 128 --iters 5 --json >> "$jsonl"
    say "train step round $r/$reps: torch"
    "$py" "$root/bench/train_step.py" "$model" --batch 8 --seq 128 --iters 5 --threads "$threads" 2> /dev/null >> "$jsonl"
done
"$py" - "$jsonl" "$threads" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = {e: statistics.median(r["step_ms"] for r in rows if r["engine"] == e) for e in ("pare", "torch")}
print("\nOne training step, MiniLM-L12 shape (random weights), batch 8, seq 128, fp32, %s threads, median of rounds\n" % sys.argv[2])
print("| engine | step ms | vs torch |")
print("|---|---:|---:|")
for e in ("torch", "pare"):
    print("| %s | %.1f | %.2fx |" % (e, med[e], med["torch"] / med[e]))
PY
