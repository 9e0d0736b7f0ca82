#!/usr/bin/env bash
# The CLI's contract: help, exit codes, JSON lines.
set -u
. "$(dirname "$0")/lib/cli.sh"

model=$(model_dir minilm-l6)
data=$(data_path semeval2018-ec/2018-E-c-En-train.txt)
require "$model" "MiniLM-L6"
require "$data" "the SemEval data"

expect_exit 0 "pare --help" "$PARE" --help
expect_exit 2 "no command" "$PARE"
expect_exit 2 "unknown command" "$PARE" frobnicate
for c in info embed classify bench peak; do
    expect_exit 0 "pare $c --help" "$PARE" $c --help
done
expect_exit 2 "embed without input" "$PARE" embed "$model"
expect_exit 2 "bad --threads" "$PARE" embed "$model" --text hi --threads zero
expect_exit 2 "missing model" "$PARE" info /nonexistent/model

out=$("$PARE" info "$model" --json)
expect_match "info json" "$out" '"layers": 6, "hidden": 384'
expect_match "info params" "$out" '"params": 22713216'

out=$("$PARE" embed "$model" --text "I love this" --text "so sad today" --threads 1)
expect_eq "embed lines" "$(printf '%s\n' "$out" | wc -l)" 2
expect_match "embed json" "$out" '"index": 1, "text": "so sad today", "tokens": 5, "embedding": \['

out=$("$PARE" embed "$model" --file "$data" --column Tweet --limit 5 --batch 2)
expect_eq "embed --file lines" "$(printf '%s\n' "$out" | wc -l)" 5

expect_exit 2 "classify without a head" "$PARE" classify "$model" --text hi

# A model with a head: a small random BertForSequenceClassification.
expect_exit 0 "random-bert with a head" "$PARE" dev random-bert -o "$TMP/cls" --vocab-from "$model" \
    --layers 2 --hidden 64 --heads 4 --intermediate 128 --labels 3 --seed 7
out=$("$PARE" classify "$TMP/cls" --text "happy days" --text "awful news")
expect_eq "classify lines" "$(printf '%s\n' "$out" | wc -l)" 2
expect_match "classify json" "$out" '"labels": \{"LABEL_0": [0-9.e-]+, "LABEL_1": [0-9.e-]+, "LABEL_2": [0-9.e-]+\}, "predicted": \["LABEL_[0-2]"\]'
out=$("$PARE" info "$TMP/cls")
expect_match "info of a classifier" "$out" 'head: +3 labels'

expect_exit 2 "--column that is absent" "$PARE" embed "$model" --file "$data" --column Nope

finish
