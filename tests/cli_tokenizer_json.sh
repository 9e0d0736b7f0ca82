#!/usr/bin/env bash
# pare dev tokenizer-json writes a GGUF's tokenizer in Hugging Face's format;
# pare tokenize reads it back (folder or file) to the GGUF's ids; truncated,
# bit-flipped or unsupported tokenizer.json files exit 2 naming the file.
. "$(dirname "$0")/lib/cli.sh"
gguf=$(model_dir smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf
require "$gguf" "the SmolLM2 GGUF"
mkdir -p "$TMP/tok"
expect_exit 0 "write" "$PARE" dev tokenizer-json "$gguf" -o "$TMP/tok"
texts=(--text "Hello world, 2024!" --text "<|im_start|>user hi<|im_end|>" --text "Ünïcödé 😀 日本語")
want=$("$PARE" tokenize "$gguf" "${texts[@]}")
expect_eq "folder" "$("$PARE" tokenize "$TMP/tok" "${texts[@]}")" "$want"
expect_eq "file" "$("$PARE" tokenize "$TMP/tok/tokenizer.json" "${texts[@]}")" "$want"
j=$TMP/tok/tokenizer.json
for n in 1 100 5000 400000; do
    head -c $n "$j" > "$TMP/bad.json"
    expect_error "truncated at $n" "bad.json" "$PARE" tokenize "$TMP/bad.json" --text hi
done
sed -E 's/"type":[[:space:]]*"BPE"/"type": "Unigram"/' "$j" > "$TMP/bad.json"
expect_error "unigram" "bad.json: model.type" "$PARE" tokenize "$TMP/bad.json" --text hi
sed -E 's/"byte_fallback":[[:space:]]*false/"byte_fallback": true/' "$j" > "$TMP/bad.json"
expect_error "byte fallback" "model.byte_fallback" "$PARE" tokenize "$TMP/bad.json" --text hi
sed '0,/"Ġ t"/s//"Ġ zzqq"/' "$j" > "$TMP/bad.json"
expect_error "bad merge" "names a token not in the vocabulary" "$PARE" tokenize "$TMP/bad.json" --text hi
expect_error "no tokenizer" "no tokenizer.json" "$PARE" tokenize "$TMP" --text hi
# bit flips anywhere: exit 0 or 2, never a crash
size=$(stat -c %s "$j")
for i in $(seq 1 12); do
    off=$(( (i * 7919 * 1031) % size ))
    python3 -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[int(sys.argv[2])]^=0x20; open(sys.argv[3],'wb').write(b)" "$j" $off "$TMP/flip.json"
    expect_clean "flip at $off" "flip.json" "$PARE" tokenize "$TMP/flip.json" --text "hi 12"
done
finish
