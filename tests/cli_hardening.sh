#!/usr/bin/env bash
# The CLI side of the hostile-input trial (issue 18; the library side is
# test_hardening.c, the kill trials cli_careless.sh): outputs never replace
# inputs or existing results without --force, write failures exit 1, one
# runner per results database, bound SQL for any experiment name, escaped
# reports, text files with a BOM, CRLF or CR-only lines, one rule for
# type_vocab_size, non-finite numbers refused as options.
. "$(dirname "$0")/lib/cli.sh"
use_real_inputs
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- outputs: an existing one (the input, through a symlink, or an earlier
# result) is kept without --force; with it, written beside and renamed
cp "$smol" "$TMP/in.gguf"
ln -s "$TMP/in.gguf" "$TMP/link.gguf"
want=$(sha "$TMP/in.gguf")
expect_error "quantize -o the input" "in.gguf exists; add --force" "$PARE" quantize "$TMP/in.gguf" --type q8_0 -o "$TMP/in.gguf"
expect_error "prune -o the input" "in.gguf exists; add --force" "$PARE" prune "$TMP/in.gguf" --sparsity 0.3 -o "$TMP/in.gguf"
expect_error "quantize -o a symlink to the input" "link.gguf exists" "$PARE" quantize "$TMP/link.gguf" --type q8_0 -o "$TMP/link.gguf"
expect_eq "input untouched" "$(sha "$TMP/in.gguf")" "$want"
expect_exit 0 "quantize --force through the symlink" "$PARE" quantize "$TMP/link.gguf" --type q8_0 -o "$TMP/link.gguf" --force
[ -L "$TMP/link.gguf" ] && bad "the symlink should be replaced by the output" || ok
expect_eq "the symlink's target untouched" "$(sha "$TMP/in.gguf")" "$want"
expect_exit 0 "the output loads" "$PARE" info "$TMP/link.gguf"
expect_match "the output is q8_0" "$(cat "$TMP/out")" "Q8_0"
expect_exit 0 "quantize --force onto the input" "$PARE" quantize "$TMP/in.gguf" --type q8_0 -o "$TMP/in.gguf" --force
expect_eq "in place: the same bytes as through the link" "$(sha "$TMP/in.gguf")" "$(sha "$TMP/link.gguf")"
expect_exit 0 "a new output" "$PARE" quantize "$smol" --type q8_0 -o "$TMP/q.gguf"
first=$(sha "$TMP/q.gguf")
expect_error "an existing output" "q.gguf exists; add --force" "$PARE" quantize "$smol" --type q5_0 -o "$TMP/q.gguf"
expect_eq "the existing output kept" "$(sha "$TMP/q.gguf")" "$first"
ls -A "$TMP" | grep -q '\.pare-' && bad "temporary files left: $(ls -A "$TMP")" || ok

# folders: a model folder onto itself (a copy of MiniLM) with --force
cp -r "$minilm/." "$TMP/m"
expect_error "quantize a folder onto itself" "m exists; add --force" "$PARE" quantize "$TMP/m" -o "$TMP/m"
expect_exit 0 "quantize a folder onto itself --force" "$PARE" quantize "$TMP/m" -o "$TMP/m" --force
expect_exit 0 "the folder loads" "$PARE" embed "$TMP/m" --text "what a day"
expect_match "the folder is int8" "$("$PARE" info "$TMP/m" 2>&1)" "w8a8"
[ -f "$TMP/m/README.md" ] && ok || bad "files of the folder that pare does not write are kept"
expect_exit 0 "finetune" "$PARE" finetune "$minilm" --data "$data" --limit 40 --epochs 1 -o "$TMP/ft" --threads 1
expect_error "finetune onto a finished model" "ft exists; add --force" "$PARE" finetune "$minilm" --data "$data" --limit 40 --epochs 1 -o "$TMP/ft"
expect_error "finetune of a quantized folder" "cannot convert dtype i8" "$PARE" finetune "$TMP/m" --data "$data" --limit 40 --epochs 1 -o "$TMP/ftq"
[ -e "$TMP/ftq" ] && bad "a failed finetune left its (empty) output folder" || ok
expect_error "distill onto a finished model" "ft exists; add --force" "$PARE" distill "$TMP/ft" --data "$data" --limit 40 --epochs 1 -o "$TMP/ft"
expect_exit 0 "dev tokenizer-json creates the folder" "$PARE" dev tokenizer-json "$smol" -o "$TMP/tok/a/b"
[ -f "$TMP/tok/a/b/tokenizer.json" ] && ok || bad "tokenizer.json not written into a new folder"
expect_error "dev tokenizer-json onto a tokenizer" "exists; add --force" "$PARE" dev tokenizer-json "$smol" -o "$TMP/tok/a/b"

# a write that fails (a file-size limit stands in for a full disk): exit 1,
# the message names the file, nothing left under the real name
( trap '' XFSZ; ulimit -f 2048; "$PARE" quantize "$smol" --type q8_0 -o "$TMP/big.gguf" ) > "$TMP/out" 2> "$TMP/err"
expect_eq "a failed write exits 1" "$?" 1
expect_match "a failed write says so" "$(cat "$TMP/err")" "big.gguf: (cannot write|write failed)"
[ -e "$TMP/big.gguf" ] && bad "a partial big.gguf was left" || ok
ls -A "$TMP" | grep -q '^\.big\.gguf\.pare-' && bad "the temporary file of a failed write was left" || ok

# ---- text files: BOM and CRLF accepted, CR-only named
head -40 "$data" | tr -d '\r' > "$TMP/lf.tsv"
sed 's/$/\r/' "$TMP/lf.tsv" > "$TMP/crlf.tsv"
{ printf '\xef\xbb\xbf'; cat "$TMP/crlf.tsv"; } > "$TMP/bom.tsv"
tr '\n' '\r' < "$TMP/lf.tsv" > "$TMP/cr.tsv"
for f in lf crlf bom; do
    expect_exit 0 "eval reads $f" "$PARE" eval "$TMP/ft" --data "$TMP/$f.tsv" --json
    expect_match "$f: 39 examples" "$(cat "$TMP/err")" "39 examples"
    expect_exit 0 "embed --file reads $f" "$PARE" embed "$minilm" --file "$TMP/$f.tsv" --column Tweet --limit 2
done
expect_error "CR-only lines named (dataset)" "cr.tsv: lines end in CR alone" "$PARE" eval "$TMP/ft" --data "$TMP/cr.tsv"
expect_error "CR-only lines named (--file)" "cr.tsv: lines end in CR alone" "$PARE" embed "$minilm" --file "$TMP/cr.tsv" --column Tweet

# ---- one rule for type_vocab_size, in every command that loads the folder
cp -r "$minilm/." "$TMP/tv0"
sed -i 's/"type_vocab_size": 2/"type_vocab_size": 0/' "$TMP/tv0/config.json"
expect_error "embed refuses type_vocab_size 0" "type_vocab_size" "$PARE" embed "$TMP/tv0" --text hi
expect_error "finetune refuses type_vocab_size 0" "type_vocab_size" "$PARE" finetune "$TMP/tv0" --data "$TMP/lf.tsv" -o "$TMP/tv0-out"

# ---- numbers: NaN and infinity are not option values
expect_error "--temperature nan" "wants a finite number" "$PARE" generate "$smol" --prompt hi --temperature nan
expect_error "--sparsity inf" "wants a finite number" "$PARE" prune "$smol" --sparsity inf -o "$TMP/x.gguf"

# ---- experiments: any name (bound SQL), one runner per database, escaped reports
tiny="$TMP/tiny"
"$PARE" dev random-bert -o "$tiny" --vocab-from "$minilm" --layers 1 --hidden 32 --heads 2 --intermediate 64 --seed 3 2> /dev/null || bad "random-bert"
write_exp() { # FILE NAME
    cat > "$1" <<YAML
name: "$2"
models: [{name: tiny, path: $tiny}]
dataset: {path: $data, limit: 120, split: [0.5, 0.25, 0.25]}
latency: {batch: [1], seq: 16, warmup: 1, reps: 3}
pipelines:
  - name: fp32
    steps: [{finetune-head: {epochs: 2}}]
  - name: int8
    steps: [{finetune-head: {epochs: 2}}, {quantize: {act: dynamic}}]
YAML
}
for len in 55 60 63; do
    name=$(printf "x%.0s" $(seq 1 $len))
    write_exp "$TMP/e$len.yaml" "$name"
    expect_exit 0 "run, name of $len characters" "$PARE" experiment run "$TMP/e$len.yaml" --db "$TMP/names.db"
    expect_exit 0 "--fresh, name of $len characters" "$PARE" experiment run "$TMP/e$len.yaml" --db "$TMP/names.db" --fresh
done
write_exp "$TMP/quote.yaml" "it's <script>alert(1)</script> | x"
expect_exit 0 "a name with quotes, HTML and a pipe" "$PARE" experiment run "$TMP/quote.yaml" --db "$TMP/q.db"
expect_exit 0 "--fresh with it" "$PARE" experiment run "$TMP/quote.yaml" --db "$TMP/q.db" --fresh
expect_exit 0 "report" "$PARE" experiment report "$TMP/q.db" -o "$TMP/rep"
grep -q '<script>' "$TMP/rep/report.md" && bad "report.md carries raw HTML" || ok
grep -q '<script>alert' "$TMP/rep/report.html" && bad "report.html carries raw HTML" || ok
expect_match "report.md escapes it" "$(head -1 "$TMP/rep/report.md")" "it's &lt;script>alert\(1\)&lt;/script> \\\\\| x"

# two runners on one database: the second is refused while the first runs
write_exp "$TMP/lock.yaml" lock
"$PARE" experiment run "$TMP/lock.yaml" --db "$TMP/lock.db" > /dev/null 2>&1 &
first=$!
for _ in $(seq 1 100); do [ -s "$TMP/lock.db.artifacts/runner.lock" ] && break; sleep 0.05; done
expect_error "a second runner" "lock.db is in use by another \`pare experiment run\` (pid $first)" \
    "$PARE" experiment run "$TMP/lock.yaml" --db "$TMP/lock.db" --resume
wait $first
expect_eq "the first runner finished" "$?" 0
expect_exit 0 "after it, a runner may start" "$PARE" experiment run "$TMP/lock.yaml" --db "$TMP/lock.db" --resume

# status and report on a read-only mount (a private mount namespace, when
# this user may make one), and a database whose -shm file cannot be created
sqlite3 "$TMP/lock.db" 'PRAGMA wal_checkpoint(TRUNCATE);' > /dev/null
mkdir -p "$TMP/ro" && cp "$TMP/lock.db" "$TMP/ro/" && rm -f "$TMP/ro/lock.db-wal" "$TMP/ro/lock.db-shm"
if unshare -m true 2> /dev/null; then
    out=$(unshare -m sh -c "mount --bind '$TMP/ro' '$TMP/ro' && mount -o remount,bind,ro '$TMP/ro' &&
        '$PARE' experiment status '$TMP/ro/lock.db' && '$PARE' experiment report '$TMP/ro/lock.db' -o '$TMP/ro-rep' > /dev/null &&
        touch '$TMP/ro/x' 2>&1 || echo read-only" 2>&1)
    expect_match "status on a read-only mount" "$out" "lock	tiny	fp32	ok"
    expect_match "the mount was read-only" "$out" "read-only"
    [ -f "$TMP/ro-rep/report.html" ] && ok || bad "report from a read-only mount: $out"
elif [ "${CI:-}" = true ]; then
    bad "unshare -m is not allowed here: the read-only mount case cannot run"
else
    echo "read-only mount: unshare -m not allowed for this user; that case not run"
fi

finish
