#!/usr/bin/env bash
# Truncated, bit-flipped and oversized files give a clear error naming the
# file and exit code 2: never a crash.
set -u
. "$(dirname "$0")/lib/cli.sh"

good="$SRC/tests/golden/minilm-l6.safetensors"
size=$(stat -c %s "$good")

# Truncations at many lengths, including inside the 8-byte length prefix.
for n in 0 1 7 8 9 100 1000 $((size / 2)) $((size - 1)); do
    head -c "$n" "$good" > "$TMP/trunc.safetensors"
    expect_error "truncated to $n bytes" "trunc.safetensors" "$PARE" info "$TMP/trunc.safetensors"
done

# Oversized header length.
{ printf '\xff\xff\xff\xff\xff\xff\xff\x7f'; tail -c +9 "$good"; } > "$TMP/huge.safetensors"
expect_error "huge header length" "huge.safetensors" "$PARE" info "$TMP/huge.safetensors"

# Bit flips in the header: must be ok or a clean error, never a signal.
hlen=$(od -An -t u4 -N 4 "$good" | tr -d ' ')
for off in 8 9 20 50 77 120 200 300 $((hlen / 2)) $((hlen + 4)); do
    cp "$good" "$TMP/flip.safetensors"
    printf '\x5d' | dd of="$TMP/flip.safetensors" bs=1 seek="$off" conv=notrunc status=none
    "$PARE" info "$TMP/flip.safetensors" > /dev/null 2> "$TMP/err"
    rc=$?
    if [ "$rc" -eq 0 ] || { [ "$rc" -eq 2 ] && grep -qF flip.safetensors "$TMP/err"; }; then ok
    else bad "bit flip at $off: exit $rc: $(head -c 300 "$TMP/err")"; fi
done

# A model folder whose weights are truncated.
model=$(model_dir minilm-l6)
require "$model" "MiniLM-L6"
mkdir -p "$TMP/model"
cp "$model/config.json" "$model/vocab.txt" "$model/tokenizer.json" "$model/tokenizer_config.json" "$TMP/model/"
head -c 5000000 "$model/model.safetensors" > "$TMP/model/model.safetensors"
expect_error "truncated model folder" "model.safetensors" "$PARE" info "$TMP/model"
expect_error "truncated model folder, embed" "model.safetensors" "$PARE" embed "$TMP/model" --text hi

# A config.json that is not JSON, or lies about shapes.
cp "$model/model.safetensors" "$TMP/model/model.safetensors" 2>/dev/null || ln -sf "$model/model.safetensors" "$TMP/model/model.safetensors"
echo '{"hidden_size": 384, "num_hidden_layers": ' > "$TMP/model/config.json"
expect_error "broken config.json" "config.json" "$PARE" info "$TMP/model"
sed 's/"hidden_size": 384/"hidden_size": 768/' "$model/config.json" > "$TMP/model/config.json"
expect_error "config shape lie" "expected" "$PARE" info "$TMP/model"

# PyTorch zip checkpoints (the committed .pt fixtures): truncated anywhere,
# a clean error naming the file. The loop must have files to run over.
n_pt=0
for bin in "$SRC"/tests/golden/fixtures/*.pt; do
    [ -f "$bin" ] || continue
    n_pt=$((n_pt + 1))
    bs=$(stat -c %s "$bin")
    for n in 10 100 $((bs / 2)) $((bs - 30)); do
        head -c "$n" "$bin" > "$TMP/trunc.pt"
        "$PARE" info "$TMP/trunc.pt" > /dev/null 2> "$TMP/err"
        rc=$?
        if [ "$rc" -eq 2 ] && grep -qF trunc.pt "$TMP/err"; then ok; else bad "$(basename "$bin") truncated to $n: exit $rc: $(head -c 300 "$TMP/err")"; fi
    done
done
[ "$n_pt" -ge 5 ] && ok || bad "only $n_pt .pt fixtures found: the truncation loop did not run"

finish
