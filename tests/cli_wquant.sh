#!/usr/bin/env bash
# pare quantize --method rtn|gptq|awq on a GGUF decoder: on a slice of
# SmolLM2 (8 calibration sequences of 256 tokens from WikiText-2 valid,
# perplexity on 4 windows of 256 of WikiText-2 test), GPTQ and AWQ at
# 4 bits, group 128, land closer to the shipped model than round to
# nearest does; the files load in pare; bad calibration files fail with
# exit 2 and a clear message. PARE_TEST_QUICK (ASan): errors and a tiny
# calibration run only.
set -u
. "$(dirname "$0")/lib/cli.sh"

m=$(model_dir smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf
require "$m" "the SmolLM2 GGUF"
valid=$(data_path wikitext-2/wiki.valid.tokens)
test=$(data_path wikitext-2/wiki.test.tokens)
require "$valid" "WikiText-2 valid"
require "$test" "WikiText-2 test"

expect_error "gptq without calib" "need --calib" "$PARE" quantize "$m" --method gptq -o "$TMP/x.gguf"
expect_error "bad group" "multiple of 32" "$PARE" quantize "$m" --method rtn --group 100 -o "$TMP/x.gguf"
: > "$TMP/empty.txt"
expect_error "empty calib" "empty.txt: the calibration file is empty" \
    "$PARE" quantize "$m" --method gptq --calib "$TMP/empty.txt" -o "$TMP/x.gguf"
printf 'some text\0more\n' > "$TMP/bin.txt"
expect_error "binary calib" "bin.txt: not a text file: byte 9 is NUL" \
    "$PARE" quantize "$m" --method awq --calib "$TMP/bin.txt" -o "$TMP/x.gguf"
printf 'caf\xe9\n' > "$TMP/latin1.txt"
expect_error "latin-1 calib" "not valid UTF-8" "$PARE" quantize "$m" --method gptq --calib "$TMP/latin1.txt" -o "$TMP/x.gguf"
printf 'far too short\n' > "$TMP/short.txt"
expect_error "short calib" "too short: 4 tokens, a sequence needs 512" \
    "$PARE" quantize "$m" --method gptq --calib "$TMP/short.txt" -o "$TMP/x.gguf"
expect_error "missing calib" "nope.txt" "$PARE" quantize "$m" --method gptq --calib "$TMP/nope.txt" -o "$TMP/x.gguf"
# token ids instead of text (FILE.ids): range-checked against the vocabulary
printf '1 2 3\n4 x 5\n' > "$TMP/bad.ids"
expect_error "ids not numbers" "bad.ids: byte 8: not a token id" \
    "$PARE" quantize "$m" --method gptq --calib "$TMP/bad.ids" -o "$TMP/x.gguf"
printf '1 2 99999999\n' > "$TMP/big.ids"
expect_error "ids beyond vocab" "big.ids: byte 4: token id beyond the vocabulary" \
    "$PARE" quantize "$m" --method gptq --calib "$TMP/big.ids" -o "$TMP/x.gguf"
: > "$TMP/empty.ids"
expect_error "empty ids" "empty.ids: the calibration file is empty" \
    "$PARE" quantize "$m" --method gptq --calib "$TMP/empty.ids" -o "$TMP/x.gguf"
seq 100 160 | tr '\n' ' ' > "$TMP/ok.ids"
expect_exit 0 "gptq on ids" "$PARE" quantize "$m" --method gptq --calib "$TMP/ok.ids" --calib-seqs 2 --calib-len 30 -o "$TMP/ids.gguf"
out=$("$PARE" quantize "$m" --method gptq --bits 4 --calib "$valid" --plan -o "$TMP/x.gguf" 2>&1)
expect_match "plan" "$out" "memory: .* MB activations"
expect_eq "plan writes nothing" "$([ -e "$TMP/x.gguf" ] && echo yes || echo no)" no

ppl() { "$PARE" perplexity "$1" "$test" --ctx 256 --chunks 4 --threads 2 2>&1 | sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p'; }

expect_error "smoothquant 4 bits" "W8A8: 8 bits" "$PARE" quantize "$m" --method smoothquant --bits 4 --calib "$valid" -o "$TMP/x.gguf"
expect_error "nf4 with calib" "--calib is for --method gptq" "$PARE" quantize "$m" --method nf4 --calib "$valid" -o "$TMP/x.gguf"
expect_error "threshold not llm-int8" "--threshold for --method llm-int8" \
    "$PARE" quantize "$m" --method gptq --threshold 6 --calib "$valid" -o "$TMP/x.gguf"

if [ -n "${PARE_TEST_QUICK:-}" ]; then
    # the sanitizer run: every method on the real model, at reduced calibration, and their decode paths
    small=(--calib "$valid" --calib-seqs 1 --calib-len 64)
    expect_exit 0 "small llm-int8" "$PARE" quantize "$m" --method llm-int8 "${small[@]}" -o "$TMP/l.gguf"
    expect_match "w8a8 runs" "$("$PARE" generate "$TMP/l.gguf" --prompt "The capital of France is" --max-tokens 4 --threads 2 2>&1)" "."
    # GPTQ ran above on ids (2 x 30 tokens, 4 bits, groups of 128): its decode path
    expect_match "q4_1 decode runs" "$("$PARE" generate "$TMP/ids.gguf" --prompt "The capital of France is" --max-tokens 4 --threads 2 2>&1)" "."
    expect_exit 0 "small awq" "$PARE" quantize "$m" --method awq --bits 4 --group 128 "${small[@]}" -o "$TMP/a.gguf"
    finish
    exit
fi

calib=(--calib "$valid" --calib-seqs 8 --calib-len 256 --threads 2)
expect_exit 0 "rtn g128" "$PARE" quantize "$m" --method rtn --bits 4 --group 128 -o "$TMP/rtn.gguf"
expect_exit 0 "gptq g128" "$PARE" quantize "$m" --method gptq --bits 4 --group 128 "${calib[@]}" -o "$TMP/gptq.gguf"
expect_exit 0 "awq g128" "$PARE" quantize "$m" --method awq --bits 4 --group 128 "${calib[@]}" --awq-rows 512 -o "$TMP/awq.gguf"
expect_match "q4_1 blocks" "$("$PARE" info "$TMP/gptq.gguf" 2>&1)" "Q4_1"
base=$(ppl "$m"); rtn=$(ppl "$TMP/rtn.gguf"); gptq=$(ppl "$TMP/gptq.gguf"); awq=$(ppl "$TMP/awq.gguf")
echo "slice perplexity: shipped $base, rtn $rtn, gptq $gptq, awq $awq" >&2
closer() { awk -v b="$1" -v m="$2" -v r="$3" 'BEGIN { d1 = m - b; d2 = r - b; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2; print (m != "" && d1 < d2) ? "yes" : "no" }'; }
expect_eq "gptq closer than rtn ($gptq vs $rtn, shipped $base)" "$(closer "$base" "$gptq" "$rtn")" yes
expect_eq "awq closer than rtn ($awq vs $rtn, shipped $base)" "$(closer "$base" "$awq" "$rtn")" yes

# W8A8: one int8 scale per row (q8_0 blocks of equal scale), int8 inputs per
# token; LLM.int8 keeps outlier input columns in f32. Within 5% of shipped.
expect_exit 0 "smoothquant" "$PARE" quantize "$m" --method smoothquant "${calib[@]}" -o "$TMP/sq.gguf"
expect_exit 0 "llm-int8" "$PARE" quantize "$m" --method llm-int8 "${calib[@]}" -o "$TMP/li.gguf"
sq=$(ppl "$TMP/sq.gguf"); li=$(ppl "$TMP/li.gguf")
echo "slice perplexity W8A8: smoothquant $sq, llm-int8 $li" >&2
near() { awk -v b="$1" -v m="$2" 'BEGIN { print (m != "" && m < b * 1.05) ? "yes" : "no" }'; }
expect_eq "smoothquant within 5% ($sq, shipped $base)" "$(near "$base" "$sq")" yes
expect_eq "llm-int8 within 5% ($li, shipped $base)" "$(near "$base" "$li")" yes

# NF4 (bitsandbytes: blocks of 64, double-quantized absmax; F16 values on
# disk): closer to the shipped model than round to nearest g128.
expect_exit 0 "nf4" "$PARE" quantize "$m" --method nf4 -o "$TMP/nf4.gguf"
nf4=$(ppl "$TMP/nf4.gguf")
echo "slice perplexity nf4 $nf4" >&2
expect_eq "nf4 closer than rtn ($nf4 vs $rtn, shipped $base)" "$(closer "$base" "$nf4" "$rtn")" yes
finish
