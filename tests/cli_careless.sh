#!/usr/bin/env bash
# A careless user: -o equal to the input, -o through a symlink (as `make
# models` installs them), an existing output, and SIGKILL at random points
# of quantize (GGUF), prune (a model folder), finetune and experiment runs (20 trials each; 5 under
# PARE_TEST_QUICK, the sanitizer run). After each: every input keeps its
# sha256, every output is complete (the bytes of an uninterrupted run) or
# absent, and a killed finetune or experiment resumes to the same result.
. "$(dirname "$0")/lib/cli.sh"
use_real_inputs
trials=20
[ -n "${PARE_TEST_QUICK:-}" ] && trials=5
sha() { sha256sum "$1" 2> /dev/null | cut -d' ' -f1; }
# sha of a model folder: its model file and config (what makes it a model)
dsha() { cat "$1/model.safetensors" "$1/config.json" 2> /dev/null | sha256sum | cut -d' ' -f1; }

# the user's files: a model reached through a symlink, like .cache/models
mkdir -p "$TMP/wheel" "$TMP/models"
cp "$smol" "$TMP/wheel/model.gguf"
ln -s "$TMP/wheel/model.gguf" "$TMP/models/model.gguf"
in_sha=$(sha "$TMP/wheel/model.gguf")
"$PARE" dev random-bert -o "$TMP/tiny" --vocab-from "$minilm" --layers 2 --hidden 64 --heads 2 --intermediate 128 \
    --labels 11 --seed 5 2> /dev/null || bad "random-bert"
tiny_sha=$(dsha "$TMP/tiny")
head -301 "$data" > "$TMP/data.tsv"
data_sha=$(sha "$TMP/data.tsv")
check_inputs() { # NAME
    expect_eq "$1: the GGUF input" "$(sha "$TMP/wheel/model.gguf")" "$in_sha"
    [ -L "$TMP/models/model.gguf" ] && ok || bad "$1: the symlink to the input was replaced"
    expect_eq "$1: the folder input" "$(dsha "$TMP/tiny")" "$tiny_sha"
    expect_eq "$1: the data" "$(sha "$TMP/data.tsv")" "$data_sha"
}

# ---- careless -o
M=$TMP/models/model.gguf
expect_error "-o the input" "exists; add --force" "$PARE" quantize "$M" --type q8_0 -o "$M"
expect_error "-o the input (prune)" "exists; add --force" "$PARE" prune "$M" --sparsity 0.5 -o "$TMP/wheel/model.gguf"
expect_error "-o the input folder (prune)" "exists; add --force" "$PARE" prune "$TMP/tiny" --sparsity 0.5 -o "$TMP/tiny"
expect_error "-o the input folder" "exists; add --force" "$PARE" quantize "$TMP/tiny" -o "$TMP/tiny"
expect_error "-o the input folder (finetune)" "exists; add --force" "$PARE" finetune "$TMP/tiny" --data "$TMP/data.tsv" -o "$TMP/tiny"
check_inputs "careless -o"

# ---- reference outputs of uninterrupted runs
# ref VAR CMD...: run CMD whole; VAR = its duration in ms (kills are drawn
# over 1.2 times that, so some land in the write and some after the end)
ref() {
    local var=$1 t0
    shift
    t0=$(date +%s%N)
    "$@" > /dev/null 2> "$TMP/ref.err" || bad "reference run failed: $* : $(head -c 300 "$TMP/ref.err")"
    printf -v "$var" %d $((($(date +%s%N) - t0) * 12 / 10000000))
}
ref q_ms "$PARE" quantize "$M" --type q8_0 -o "$TMP/ref-q.gguf"
ref o_ms "$PARE" quantize "$M" --type q5_0 -o "$TMP/ref-old.gguf"
ref p_ms "$PARE" prune "$TMP/tiny" --sparsity 0.5 -o "$TMP/ref-p"
FT=(--data "$TMP/data.tsv" --epochs 2 --batch 8 --checkpoint-every 3 --threads 1)
ref ft_ms "$PARE" finetune "$TMP/tiny" "${FT[@]}" -o "$TMP/ref-ft"
q_sha=$(sha "$TMP/ref-q.gguf") o_sha=$(sha "$TMP/ref-old.gguf") p_sha=$(dsha "$TMP/ref-p") ft_sha=$(dsha "$TMP/ref-ft")

# kill_at SECONDS CMD...: run CMD, SIGKILL it after SECONDS (if still running)
kill_at() {
    local t=$1
    shift
    "$@" > /dev/null 2>&1 &
    local pid=$!
    sleep "$t"
    kill -9 $pid 2> /dev/null
    wait $pid 2> /dev/null
}
# a random delay in [0, MAX_MS) ms, as seconds
rnd() {
    local ms=$(((RANDOM * 32768 + RANDOM) % $1))
    printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}
declare -A seen # outcomes per command, printed at the end
whole_or_absent() { # NAME FILE WANT_SHA [OLD_SHA]
    local got what
    got=$(sha "$2")
    if [ -z "$got" ]; then what=absent
    elif [ "$got" = "$3" ]; then what=whole
    elif [ -n "${4:-}" ] && [ "$got" = "$4" ]; then what=old
    else what=BROKEN; fi
    seen["${1%%,*} $what"]=$((${seen["${1%%,*} $what"]:-0} + 1))
    if [ $what = BROKEN ]; then bad "$1: $2 is neither absent nor whole"; else ok; fi
}

# ---- quantize (a GGUF: a new output, and --force over an older one) and
# prune (a model folder)
for ((i = 0; i < trials; i++)); do
    rm -rf "$TMP/q.gguf" "$TMP/p"
    kill_at "$(rnd $q_ms)" "$PARE" quantize "$M" --type q8_0 -o "$TMP/q.gguf"
    whole_or_absent "quantize, trial $i" "$TMP/q.gguf" "$q_sha"
    cp "$TMP/ref-old.gguf" "$TMP/old.gguf"
    kill_at "$(rnd $q_ms)" "$PARE" quantize "$M" --type q8_0 -o "$TMP/old.gguf" --force
    whole_or_absent "quantize --force, trial $i" "$TMP/old.gguf" "$q_sha" "$o_sha"
    kill_at "$(rnd $p_ms)" "$PARE" prune "$TMP/tiny" --sparsity 0.5 -o "$TMP/p"
    if [ -f "$TMP/p/config.json" ]; then what=whole; [ "$(dsha "$TMP/p")" = "$p_sha" ] || what=BROKEN
    else what=absent; fi
    seen["prune (folder) $what"]=$((${seen["prune (folder) $what"]:-0} + 1))
    [ $what != BROKEN ] && ok || bad "prune, trial $i: a model folder that is not whole"
done
check_inputs "quantize and prune"

# ---- finetune: killed anywhere (checkpoints every 3 steps), then resumed
# to the bits of the uninterrupted run
for ((i = 0; i < trials; i++)); do
    rm -rf "$TMP/ft"
    kill_at "$(rnd $ft_ms)" "$PARE" finetune "$TMP/tiny" "${FT[@]}" -o "$TMP/ft"
    if [ -f "$TMP/ft/config.json" ]; then
        seen["finetune whole"]=$((${seen["finetune whole"]:-0} + 1))
        expect_eq "finetune, trial $i: a model in OUT is whole" "$(dsha "$TMP/ft")" "$ft_sha"
    else
        resume=
        [ -f "$TMP/ft/checkpoint/run.json" ] && resume=--resume
        seen["finetune killed${resume:+ after a checkpoint}"]=$((${seen["finetune killed${resume:+ after a checkpoint}"]:-0} + 1))
        expect_exit 0 "finetune, trial $i: rerun $resume" "$PARE" finetune "$TMP/tiny" "${FT[@]}" -o "$TMP/ft" $resume
        expect_eq "finetune, trial $i: resumed to the same weights" "$(dsha "$TMP/ft")" "$ft_sha"
    fi
done
check_inputs "finetune"

# ---- experiment: killed anywhere; the database stays readable, and
# resuming finishes every cell exactly once
cat > "$TMP/exp.yaml" <<YAML
name: careless
models: [{name: tiny, path: $TMP/tiny}]
dataset: {path: $TMP/data.tsv, split: [0.5, 0.25, 0.25]}
latency: {batch: [1], seq: 16, warmup: 1, reps: 3}
pipelines:
  - name: fp32
    steps: [{finetune-head: {epochs: 2}}]
  - name: int8
    steps: [{finetune-head: {epochs: 2}}, {quantize: {act: dynamic}}]
  - name: prune
    steps: [{prune: {sparsity: 0.5}}, {finetune-head: {epochs: 2}}]
YAML
ref e_ms "$PARE" experiment run "$TMP/exp.yaml" --db "$TMP/ref-exp.db"
for ((i = 0; i < trials; i++)); do
    mode=--resume
    [ $i -eq 0 ] && mode=--fresh
    kill_at "$(rnd $e_ms)" "$PARE" experiment run "$TMP/exp.yaml" --db "$TMP/exp.db" $mode
    expect_exit 0 "experiment, trial $i: status reads the database" "$PARE" experiment status "$TMP/exp.db"
done
expect_exit 0 "experiment: resume to the end" "$PARE" experiment run "$TMP/exp.yaml" --db "$TMP/exp.db" --resume
n=$(sqlite3 "$TMP/exp.db" "SELECT count(*) || ' ' || count(DISTINCT pipeline) || ' ' || sum(status = 'ok') FROM cells")
expect_eq "experiment: each cell once, all ok" "$n" "3 3 3"
expect_exit 0 "experiment: report" "$PARE" experiment report "$TMP/exp.db" -o "$TMP/rep"
check_inputs "experiment"

for k in "${!seen[@]}"; do echo "outcome: $k: ${seen[$k]}"; done | sort
finish
