#!/usr/bin/env bash
# pare prune on a GGUF decoder: on a slice of SmolLM2 at 50% unstructured
# (8 calibration sequences of 256 tokens from WikiText-2 valid, perplexity
# on 4 windows of 256 of WikiText-2 test), Wanda and SparseGPT beat
# magnitude pruning; 2:4 keeps 2 of every 4; bad options and calibration
# fail with exit 2. PARE_TEST_QUICK (ASan): errors and small runs only.
set -u
. "$(dirname "$0")/lib/cli.sh"

m=$(model_dir smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf
valid=$(data_path wikitext-2/wiki.valid.tokens)
test=$(data_path wikitext-2/wiki.test.tokens)
require "$m" "the SmolLM2 GGUF"
require "$valid" "WikiText-2 valid"
require "$test" "WikiText-2 test"
require "$(model_dir minilm-l6)" "MiniLM-L6"
require "$(data_path semeval2018-ec/2018-E-c-En-train.txt)" "the SemEval data"

expect_exit 0 "prune --help" "$PARE" prune --help
expect_error "no -o" "-o OUT.gguf" "$PARE" prune "$m"
expect_error "bad method" "magnitude, wanda, sparsegpt, heads" "$PARE" prune "$m" --method random -o "$TMP/x.gguf"
expect_error "bad sparsity" "[0, 1)" "$PARE" prune "$m" --sparsity 1.5 -o "$TMP/x.gguf"
expect_error "bad nm" "0 < N < M" "$PARE" prune "$m" --nm 4:2 -o "$TMP/x.gguf"
expect_error "wanda without calib" "need --calib" "$PARE" prune "$m" --method wanda -o "$TMP/x.gguf"
printf 'x\0y\n' > "$TMP/bin.txt"
expect_error "binary calib" "not a text file" "$PARE" prune "$m" --method sparsegpt --calib "$TMP/bin.txt" -o "$TMP/x.gguf"
expect_error "encoder without a head" "no classification head" "$PARE" prune "$(model_dir minilm-l6)" -o "$TMP/x"
expect_error "wanda on a folder" "BERT folders take --method magnitude" "$PARE" prune "$(model_dir minilm-l6)" --method wanda --calib "$valid" -o "$TMP/x"

# structured pruning of a BERT folder: heads (magnitude, then Taylor over
# a few SemEval examples), neurons, layers; the result loads and runs
enc=$(model_dir minilm-l6)
semeval=$(data_path semeval2018-ec/2018-E-c-En-train.txt)
expect_error "taylor without data" "needs --data" "$PARE" prune "$enc" --method heads --importance taylor -o "$TMP/h"
expect_error "neurons ranked globally" "per layer" "$PARE" prune "$enc" --method neurons --scope global -o "$TMP/n"
expect_error "heads on a gguf" "BERT folder" "$PARE" prune "$m" --method heads -o "$TMP/h"
expect_exit 0 "heads 30%" "$PARE" prune "$enc" --method heads --sparsity 0.3 -o "$TMP/h"
expect_exit 0 "heads 30% by taylor" "$PARE" prune "$enc" --method heads --sparsity 0.3 --importance taylor --data "$semeval" --examples 16 -o "$TMP/ht"
expect_exit 0 "then neurons 30%" "$PARE" prune "$TMP/h" --method neurons --sparsity 0.3 -o "$TMP/hn"
expect_exit 0 "then a third of the layers" "$PARE" prune "$TMP/hn" --method layers --sparsity 0.34 -o "$TMP/hnl"
expect_eq "pruned_heads recorded" "$(grep -c pruned_heads "$TMP/ht/config.json")" 1
expect_eq "4 layers left" "$(sed -n 's/.*"num_hidden_layers":[^0-9]*\([0-9]*\).*/\1/p' "$TMP/hnl/config.json")" 4
expect_exit 0 "pruned encoder runs" "$PARE" bench "$TMP/hnl" --iters 2 --warmup 1

sparsity() { "$PARE" info "$1" 2>&1 | sed -n 's/^linear sparsity: *\([0-9.]*\).*/\1/p'; }
expect_exit 0 "magnitude 2:4" "$PARE" prune "$m" --nm 2:4 -o "$TMP/nm.gguf"
expect_eq "2:4 sparsity" "$(sparsity "$TMP/nm.gguf")" "0.5000"

if [ -n "${PARE_TEST_QUICK:-}" ]; then
    # the sanitizer run: every method on the real model, at reduced calibration
    small=(--calib "$valid" --calib-seqs 1 --calib-len 64)
    expect_exit 0 "small wanda" "$PARE" prune "$m" --method wanda "${small[@]}" -o "$TMP/w.gguf"
    expect_exit 0 "small sparsegpt" "$PARE" prune "$m" --method sparsegpt "${small[@]}" -o "$TMP/s.gguf"
    expect_eq "small sparsegpt sparsity" "$(sparsity "$TMP/s.gguf")" "0.5000"
    expect_match "sparse decode runs" "$("$PARE" generate "$TMP/s.gguf" --prompt "The capital of France is" --max-tokens 4 --threads 2 2>&1)" "."
    finish
    exit
fi

ppl() { "$PARE" perplexity "$1" "$test" --ctx 256 --chunks 4 --threads 2 2>&1 | sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p'; }
calib=(--calib "$valid" --calib-seqs 8 --calib-len 256 --threads 2)
expect_exit 0 "magnitude 50%" "$PARE" prune "$m" --method magnitude --sparsity 0.5 -o "$TMP/mag.gguf"
expect_exit 0 "wanda 50%" "$PARE" prune "$m" --method wanda --sparsity 0.5 "${calib[@]}" -o "$TMP/wanda.gguf"
expect_exit 0 "sparsegpt 50%" "$PARE" prune "$m" --method sparsegpt --sparsity 0.5 "${calib[@]}" -o "$TMP/sgpt.gguf"
expect_eq "sparsegpt sparsity" "$(sparsity "$TMP/sgpt.gguf")" "0.5000"
mag=$(ppl "$TMP/mag.gguf"); wanda=$(ppl "$TMP/wanda.gguf"); sgpt=$(ppl "$TMP/sgpt.gguf")
echo "slice perplexity at 50%: magnitude $mag, wanda $wanda, sparsegpt $sgpt" >&2
lower() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "" && b != "" && a + 0 < b + 0) ? "yes" : "no" }'; }
expect_eq "wanda beats magnitude ($wanda vs $mag)" "$(lower "$wanda" "$mag")" yes
expect_eq "sparsegpt beats magnitude ($sgpt vs $mag)" "$(lower "$sgpt" "$mag")" yes
finish
