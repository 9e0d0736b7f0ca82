#!/usr/bin/env bash
# pare quantize: int8 folders that info/embed/classify load transparently;
# bad options and calibration files fail with exit 2 and a clear message.
set -u
. "$(dirname "$0")/lib/cli.sh"

model=$(model_dir minilm-l6)
data=$(data_path semeval2018-ec/2018-E-c-En-train.txt)
require "$model" "MiniLM-L6"
require "$data" "the SemEval data"
q="$TMP/q8"

expect_exit 0 "quantize --help" "$PARE" quantize --help
expect_error "no -o" "-o OUT" "$PARE" quantize "$model"
expect_error "bits 5" "BERT folders take --bits 8" "$PARE" quantize "$model" --bits 5 -o "$q"
expect_error "gptq without calib" "gptq needs --calib" "$PARE" quantize "$model" --bits 4 --method gptq -o "$q"
expect_error "bad --act" "--act must be" "$PARE" quantize "$model" --act sometimes -o "$q"
expect_error "static without calib" "needs --calib" "$PARE" quantize "$model" --act static -o "$q"
: > "$TMP/empty.txt"
expect_error "empty calib" "empty.txt" "$PARE" quantize "$model" --act static --calib "$TMP/empty.txt" -o "$q"
printf 'a\0b\n' > "$TMP/bin.txt"
expect_error "binary calib" "NUL" "$PARE" quantize "$model" --act static --calib "$TMP/bin.txt" -o "$q"

# dynamic: smaller on disk and in memory, same interface
expect_exit 0 "quantize dynamic" "$PARE" quantize "$model" -o "$q" --threads 2
fp=$("$PARE" info "$model" --json)
out=$("$PARE" info "$q" --json)
expect_match "info quantization" "$out" '"quantization": "w8a8-dynamic"'
expect_match "info i8 tensors" "$out" '"i8"'
disk_fp=$(printf '%s' "$fp" | grep -oE '"disk_bytes": [0-9]+' | grep -oE '[0-9]+')
disk_q=$(printf '%s' "$out" | grep -oE '"disk_bytes": [0-9]+' | grep -oE '[0-9]+')
mem_fp=$(printf '%s' "$fp" | grep -oE '"memory_bytes": [0-9]+' | grep -oE '[0-9]+')
mem_q=$(printf '%s' "$out" | grep -oE '"memory_bytes": [0-9]+' | grep -oE '[0-9]+')
expect_eq "smaller on disk" "$([ "$disk_q" -lt $((disk_fp * 7 / 10)) ] && echo yes)" yes
expect_eq "smaller in memory" "$([ "$mem_q" -lt $((mem_fp / 2)) ] && echo yes)" yes
out=$("$PARE" embed "$q" --text "I love this" --text "so sad today")
expect_match "embed int8" "$out" '"index": 1, "text": "so sad today", "tokens": 5, "embedding": \['

# static from a TSV column, and weight-only
expect_exit 0 "quantize static" "$PARE" quantize "$model" --act static --calib "$data" --column Tweet --limit 32 \
    --calib-method percentile -o "$TMP/s8"
expect_match "static info" "$("$PARE" info "$TMP/s8" --json)" '"quantization": "w8a8-static"'
expect_error "smoothquant without calib" "needs --calib" "$PARE" quantize "$model" --method smoothquant -o "$TMP/sq"
expect_exit 0 "quantize smoothquant" "$PARE" quantize "$model" --method smoothquant --act static --calib "$data" --column Tweet --limit 16 -o "$TMP/sq"
expect_match "smoothquant recorded" "$(cat "$TMP/sq/config.json")" '"smoothquant_alpha":[[:space:]]*0.8'
expect_exit 0 "embed smoothquant" "$PARE" embed "$TMP/sq" --text hi
expect_exit 0 "quantize nf4" "$PARE" quantize "$model" --method nf4 -o "$TMP/nf4"
expect_match "nf4 info" "$("$PARE" info "$TMP/nf4" --json)" '"quantization": "w4-nf4"'
expect_exit 0 "embed nf4" "$PARE" embed "$TMP/nf4" --text hi
expect_exit 0 "quantize int4 gptq" "$PARE" quantize "$model" --bits 4 --method gptq --calib "$data" --column Tweet --limit 16 -o "$TMP/g4"
expect_match "int4 info" "$("$PARE" info "$TMP/g4" --json)" '"quantization": "w4-int4"'
expect_exit 0 "quantize weight-only" "$PARE" quantize "$model" --act none -o "$TMP/w8"
expect_match "w8 info" "$("$PARE" info "$TMP/w8" --json)" '"quantization": "w8-only"'
expect_exit 0 "embed w8" "$PARE" embed "$TMP/w8" --text hi

# a damaged quantized folder is bad input, not a crash
sed 's/"dynamic"/"sometimes"/' "$q/config.json" > "$TMP/cfg" && cp "$TMP/cfg" "$q/config.json"
expect_error "bad quantization_config" "quantization_config.activations" "$PARE" embed "$q" --text hi
sed 's/"sometimes"/"static"/' "$q/config.json" > "$TMP/cfg" && cp "$TMP/cfg" "$q/config.json"
expect_error "static without input_scale" "input_scale" "$PARE" embed "$q" --text hi

finish
