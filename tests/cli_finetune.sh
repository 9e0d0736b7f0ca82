#!/usr/bin/env bash
# pare finetune: a short run on SemEval tweets writes a folder that pare
# classify loads; distillation from it (pare finetune --teacher, and pare
# distill into every other layer) runs; bad options fail with exit 2.
set -u
. "$(dirname "$0")/lib/cli.sh"

model=$(model_dir minilm-l6)
data=$(data_path semeval2018-ec/2018-E-c-En-train.txt)
require "$model" "MiniLM-L6"
require "$data" "the SemEval data"

expect_exit 0 "finetune --help" "$PARE" finetune --help
expect_error "no data" "--data FILE" "$PARE" finetune "$model" -o "$TMP/ft"
expect_error "bad split" "--split wants three fractions" "$PARE" finetune "$model" --data "$data" --split 0.5,0.5 -o "$TMP/ft"
expect_error "bad lr" "--lr in (0, 1)" "$PARE" finetune "$model" --data "$data" --lr 5 -o "$TMP/ft"
expect_error "missing data" "nope.tsv" "$PARE" finetune "$model" --data "$TMP/nope.tsv" -o "$TMP/ft"
expect_error "bad label column" "Nope" "$PARE" finetune "$model" --data "$data" --labels joy,Nope -o "$TMP/ft"

n=64; [ -n "${PARE_TEST_QUICK:-}" ] && n=24
expect_exit 0 "finetune" "$PARE" finetune "$model" --data "$data" --limit $n --epochs 1 --batch 8 --max-len 32 \
    --labels anger,joy,sadness --threads 2 -o "$TMP/ft"
expect_match "metrics printed" "$(cat "$TMP/err")" "test +n [0-9]+ +exact match"
out=$("$PARE" classify "$TMP/ft" --text "what a wonderful day" 2>&1)
expect_match "classify loads it" "$out" '"joy"'
expect_exit 0 "distil from it" "$PARE" finetune "$model" --data "$data" --limit $n --epochs 1 --batch 8 --max-len 32 \
    --labels anger,joy,sadness --teacher "$TMP/ft" --threads 2 -o "$TMP/kd"
expect_exit 0 "distill every other layer" "$PARE" distill "$TMP/ft" --data "$data" --limit $n --epochs 1 --batch 8 \
    --max-len 32 --labels anger,joy,sadness --threads 2 -o "$TMP/st"
expect_match "student has 3 layers" "$(cat "$TMP/st/config.json")" '"num_hidden_layers":[[:space:]]*3'
expect_exit 0 "distill with hidden-state transfer" "$PARE" distill "$TMP/ft" --data "$data" --limit $n --epochs 1 \
    --batch 8 --max-len 32 --labels anger,joy,sadness --threads 2 --kd-hidden 1 --recompute -o "$TMP/sth"
expect_exit 0 "distill with attention transfer" "$PARE" distill "$TMP/ft" --data "$data" --limit $n --epochs 1 \
    --batch 8 --max-len 32 --labels anger,joy,sadness --threads 2 --kd-att 1 -o "$TMP/sta"
expect_error "attention transfer with recompute" "no --recompute" "$PARE" distill "$TMP/ft" --data "$data" --limit $n \
    --epochs 1 --labels anger,joy,sadness --kd-att 1 --recompute -o "$TMP/x"
expect_error "hidden transfer needs a teacher" "need --teacher" "$PARE" finetune "$model" --data "$data" \
    --kd-hidden 1 -o "$TMP/x"
# no GPU here: a clear error (built without CUDA, or CUDA finds no GPU), not a crash
expect_error "cuda without a GPU" "CUDA" "$PARE" eval "$TMP/ft" --data "$data" --limit $n --labels anger,joy,sadness \
    --device cuda
expect_error "bad device" "--device is cpu or cuda" "$PARE" finetune "$model" --data "$data" --device gpu -o "$TMP/x"
expect_match "student classifies" "$("$PARE" classify "$TMP/st" --text "so angry" 2>&1)" '"anger"'
out=$("$PARE" eval "$TMP/ft" --data "$data" --limit $n --labels anger,joy,sadness --max-len 32 2>&1)
expect_match "eval scores the test split" "$out" "test +n [0-9]+ +exact match"
# the same rows as CSV and JSON Lines score the same as the TSV
python3 - "$data" "$TMP/d.csv" "$TMP/d.jsonl" <<'PY'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))
csv.writer(open(sys.argv[2], "w", encoding="utf-8", newline="")).writerows(rows)
with open(sys.argv[3], "w", encoding="utf-8") as f:
    for r in rows[1:]:
        f.write(json.dumps({k: (int(v) if k not in ("ID", "Tweet") else v) for k, v in zip(rows[0], r)}) + "\n")
PY
tsv_out=$(echo "$out" | grep -E "test +n")
for f in d.csv d.jsonl; do
    o=$("$PARE" eval "$TMP/ft" --data "$TMP/$f" --limit $n --labels anger,joy,sadness --max-len 32 2>&1 | grep -E "test +n")
    expect_match "eval on $f equals the TSV" "$o" "^$(printf '%s' "$tsv_out" | sed 's/[.[\*^$]/\\&/g')\$"
done
expect_exit 0 "prune + recovery" "$PARE" finetune "$TMP/ft" --data "$data" --limit $n --epochs 1 --batch 8 --max-len 32 \
    --labels anger,joy,sadness --prune 0.5 --keep-zeros --threads 2 -o "$TMP/rec"
expect_match "recovery keeps the zeros" "$("$PARE" info "$TMP/rec" 2>&1)" "sparsity: +0\.5000 of the encoder Linear"
expect_exit 0 "prune a classifier folder" "$PARE" prune "$TMP/ft" --sparsity 0.2 -o "$TMP/p20"
expect_match "pruned folder sparsity" "$("$PARE" info "$TMP/p20" 2>&1)" "sparsity: +0\.2000 of the encoder Linear"
expect_error "teacher of other labels" "the teacher has 3 labels" "$PARE" finetune "$model" --data "$data" --limit $n \
    --labels anger,joy --teacher "$TMP/ft" -o "$TMP/kd2"
# a killed run resumes from its last checkpoint to the same final weights
args=(--data "$data" --limit $n --epochs 2 --batch 8 --max-len 32 --labels anger,joy,sadness --threads 2 --checkpoint-every 2)
expect_exit 0 "uninterrupted run" "$PARE" finetune "$model" "${args[@]}" -o "$TMP/runA"
PARE_FINETUNE_KILL_AT_STEP=3 "$PARE" finetune "$model" "${args[@]}" -o "$TMP/runB" > /dev/null 2>&1
expect_eq "killed at step 3 (SIGKILL)" "$?" 137
expect_error "a checkpoint asks for --resume" "--resume" "$PARE" finetune "$model" "${args[@]}" -o "$TMP/runB"
expect_error "another run's checkpoint" "other options" "$PARE" finetune "$model" "${args[@]}" --lr 1e-4 --resume -o "$TMP/runB"
expect_exit 0 "resumed run" "$PARE" finetune "$model" "${args[@]}" --resume -o "$TMP/runB"
expect_match "it resumed at step 2" "$(cat "$TMP/err")" "resuming from .*state-2.safetensors"
expect_eq "same final weights" "$(cmp "$TMP/runA/model.safetensors" "$TMP/runB/model.safetensors" && echo same)" same
expect_eq "checkpoint removed when done" "$(ls "$TMP/runB/checkpoint" 2>/dev/null | wc -l)" 0
# --train-seed: the batch order alone (the split stays --seed's)
expect_exit 0 "train seed = seed" "$PARE" finetune "$model" "${args[@]}" --train-seed 42 -o "$TMP/runC"
expect_eq "the default train seed is --seed" "$(cmp "$TMP/runA/model.safetensors" "$TMP/runC/model.safetensors" && echo same)" same
expect_exit 0 "another train seed" "$PARE" finetune "$model" "${args[@]}" --train-seed 7 -o "$TMP/runD"
expect_eq "it trains differently" "$(cmp -s "$TMP/runA/model.safetensors" "$TMP/runD/model.safetensors" || echo differ)" differ
expect_match "on the same split" "$(cat "$TMP/err")" "split [0-9]+ / [0-9]+ / [0-9]+"
finish
