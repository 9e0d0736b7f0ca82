#!/usr/bin/env bash
# pare info on GGUF files: the committed fixture and (when installed) the
# SmolLM2 model describe themselves; truncated, lying, bit-flipped and
# hand-made bad files give exit code 2 and a message naming the file,
# never a crash.
set -u
. "$(dirname "$0")/lib/cli.sh"

good="$SRC/tests/golden/fixtures/tiny.gguf"
size=$(stat -c %s "$good")

out=$("$PARE" info "$good" 2>&1); rc=$?
expect_eq "info tiny.gguf exit" "$rc" 0
expect_match "info tiny.gguf architecture" "$out" "architecture: llama"
expect_match "info tiny.gguf shape" "$out" "blocks 2, embedding 64, heads 4, context 128"
expect_match "info tiny.gguf types" "$out" "Q4_0 1 tensors"
out=$("$PARE" info "$good" --json --tensors 2>&1)
expect_match "info tiny.gguf --json" "$out" '^\{"path": .*"format": "gguf".*"tensor_list": \[\{"name": "w.f32", "type": "F32", "ne": \[4, 3\]'
smol=$(model_dir smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf
require "$smol" "the SmolLM2 GGUF"
if true; then
    out=$("$PARE" info "$smol" 2>&1)
    expect_match "info smollm2" "$out" "blocks 30, embedding 576, feed-forward 1536, heads 9, kv heads 3, context 8192"
    expect_match "info smollm2 types" "$out" "Q4_1 210 tensors"
    expect_match "info smollm2 arrays summarised" "$out" 'tokenizer.ggml.tokens +array +\[string x 49152\]'
fi

# Little-endian integers for hand-made files: le VALUE BYTES.
le() { local i; for ((i = 0; i < $2; i++)); do printf "\\x$(printf %02x $((($1 >> (8 * i)) & 255)))"; done; }
gstr() { le ${#1} 8; printf '%s' "$1"; }
hdr() { printf GGUF; le "$1" 4; le "$2" 8; le "$3" 8; }  # version n_tensors n_kv
tinfo() { gstr "$1"; le 1 4; le "$2" 8; le "$3" 4; le "$4" 8; }  # name ne0 type offset
pad() { head -c "$1" /dev/zero; }

# The hand-made baseline parses, so each variant fails for its own reason.
{ hdr 3 1 0; tinfo t 32 0 0; pad 7; pad 128; } > "$TMP/base.gguf"
expect_exit 0 "hand-made baseline" "$PARE" info "$TMP/base.gguf"
{ hdr 3 1 0; tinfo t 32 0 0; pad 7; pad 100; } > "$TMP/short_tensor.gguf"
expect_error "truncated tensor" "short_tensor.gguf: tensor 't'" "$PARE" info "$TMP/short_tensor.gguf"
{ hdr 3 $((1 << 62)) 0; tinfo t 32 0 0; pad 139; } > "$TMP/lying_count.gguf"
expect_error "lying tensor count" "lying_count.gguf: 0 metadata entries and 4611686018427387904 tensors cannot fit" \
    "$PARE" info "$TMP/lying_count.gguf"
{ hdr 3 1 0; tinfo t 32 0 1; pad 7; pad 160; } > "$TMP/misaligned.gguf"
expect_error "tensor offset off the alignment" "misaligned.gguf: tensor 't': offset 1 is not a multiple of the alignment 32" \
    "$PARE" info "$TMP/misaligned.gguf"
{ hdr 3 1 0; tinfo weird 32 99 0; pad 3; pad 128; } > "$TMP/unknown_type.gguf"
expect_error "unknown type" "unknown_type.gguf: tensor 'weird': ggml type id 99 is unknown" \
    "$PARE" info "$TMP/unknown_type.gguf"
{ hdr 3 0 1; le -256 8; pad 64; } > "$TMP/huge_string.gguf"
expect_error "huge string length" "huge_string.gguf: key at byte 24 has length 18446744073709551360, past the end" \
    "$PARE" info "$TMP/huge_string.gguf"
{ hdr 1 0 0; } > "$TMP/v1.gguf"
expect_error "GGUF v1" "v1.gguf: GGUF v1 is not supported" "$PARE" info "$TMP/v1.gguf"
{ hdr 3 0 1; gstr general.alignment; le 4 4; le 24 4; } > "$TMP/align.gguf"
expect_error "bad alignment" "align.gguf: general.alignment 24 is not a power of two" "$PARE" info "$TMP/align.gguf"
{ hdr 3 0 1; gstr general.architecture; le 4 4; le 7 4; } > "$TMP/arch.gguf"
expect_error "architecture not a string" "arch.gguf: key 'general.architecture' is a u32" "$PARE" info "$TMP/arch.gguf"

# Truncations at many lengths (the data ends 26 bytes before the file).
for n in 0 1 3 4 7 8 15 16 23 24 30 100 500 1000 1279 1280 1300 1700 $((size - 27)); do
    head -c "$n" "$good" > "$TMP/trunc.gguf"
    expect_error "truncated to $n bytes" "trunc.gguf" "$PARE" info "$TMP/trunc.gguf"
done

# Bit flips in the header, metadata and tensor infos: ok or a clean error.
for off in 4 5 8 12 16 20 24 31 40 60 100 200 300 400 500 600 700 800 900 1000 1050 1100 1150 1200 1250 1270; do
    for byte in '\x5d' '\xff' '\x00'; do
        cp "$good" "$TMP/flip.gguf"
        printf "$byte" | dd of="$TMP/flip.gguf" bs=1 seek="$off" conv=notrunc status=none
        expect_clean "byte $byte at $off" flip.gguf "$PARE" info "$TMP/flip.gguf"
    done
done

finish
