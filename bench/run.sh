#!/usr/bin/env bash
# pare beside PyTorch and ONNX Runtime (run by `make bench`).
#
# For each model x batch {1, 8} at seq 128, in one run: `pare bench`, then the
# peers (bench/bert_peers.py: torch fp32, ORT fp32, and unless BENCH_INT8=0
# their dynamic-int8 variants) with the same warm-up and iteration count.
# Prints a table (bench/report.py) and keeps the raw JSON lines in
# .cache/bench/last.jsonl (`pare peak --json` with "engine": "peak", at the
# start and at the end; one line per engine x model x batch in between).
#
# Iteration policy, shared by every engine: BENCH_WARMUP (3) untimed runs,
# then N timed runs, N = clamp(ceil(BENCH_TARGET_S (5) / t1), 5, BENCH_ITERS
# (20)) where t1 is one probe run of pare (without pare: the peers stop after
# BENCH_ITERS runs or BENCH_TARGET_S seconds, at least 5).
#
# Models (under $PARE_MODELS_DIR, default .cache/models): minilm-l6 (real,
# from `make models`), and two seeded random-weight models that
# `pare dev random-bert` writes (re-made when build/pare is newer):
#   random-minilm-l12  --layers 12 --hidden 384 --heads 12 --intermediate 1536
#   random-bert-base   --layers 12 --hidden 768 --heads 12 --intermediate 3072
# Override the list with BENCH_MODELS="minilm-l6 ...", the batches with
# BENCH_BATCHES="1 8", the threads with BENCH_THREADS (2), seq with BENCH_SEQ.
# pare int8 (unless BENCH_INT8=0): `pare quantize` writes each model's
# W8A8 dynamic copy and a static one (min-max calibration on 64 SemEval
# tweets) under .cache/bench/int8/ (re-made when build/pare is newer);
# their `pare bench` rows are "pare-int8" and "pare-int8s", set against
# torch-int8 (quantize_dynamic) and ort-int8 (quantize_dynamic, QInt8).
# BENCH_ROUNDS (3) repeats the whole sequence, engines alternating, and the
# table shows the median over rounds: a shared VM has noisy spells.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
models_dir=${PARE_MODELS_DIR:-$root/.cache/models}
pare=${PARE:-$root/build/pare}
py=${PYTHON:-python3}
threads=${BENCH_THREADS:-2}
seq=${BENCH_SEQ:-128}
batches=${BENCH_BATCHES:-1 8}
warmup=${BENCH_WARMUP:-3}
max_iters=${BENCH_ITERS:-20}
min_iters=5
target_s=${BENCH_TARGET_S:-5}
rounds=${BENCH_ROUNDS:-3}
models=${BENCH_MODELS:-minilm-l6 random-minilm-l12 random-bert-base}
out=$root/.cache/bench
jsonl=$out/last.jsonl
mkdir -p "$out"
: > "$jsonl"
start=$(date +%s)

say() { echo "bench: $*" >&2; }

# JSON object on stdin -> one compact line with "engine": $1 (and "model": $2
# when given: pare reports the folder's path, the table wants the name).
tag() {
    "$py" -c 'import json, sys
d = json.load(sys.stdin)
d.pop("engine", None)
if len(sys.argv) > 2: d["model"] = sys.argv[2]
print(json.dumps({"engine": sys.argv[1], **d}))' "$@"
}
field() { "$py" -c 'import json, sys; print(json.loads(sys.argv[2])[sys.argv[1]])' "$1" "$2"; }

random_args() {
    case $1 in
        random-minilm-l12) echo "--layers 12 --hidden 384 --heads 12 --intermediate 1536 --seed 12" ;;
        random-bert-base) echo "--layers 12 --hidden 768 --heads 12 --intermediate 3072 --seed 768" ;;
        *) return 1 ;;
    esac
}

# Makes a random model if it is missing or older than build/pare.
ensure_model() {
    local name=$1 dir=$models_dir/$1 args
    if args=$(random_args "$name"); then
        if [ ! -f "$dir/model.safetensors" ] || { [ -x "$pare" ] && [ "$pare" -nt "$dir/model.safetensors" ]; }; then
            say "making $dir"
            # shellcheck disable=SC2086
            if ! "$pare" dev random-bert -o "$dir" $args --vocab-from "$models_dir/minilm-l6" >&2; then
                if [ -f "$dir/model.safetensors" ]; then
                    say "\`pare dev random-bert\` failed: using the $name already in $dir"
                else
                    say "skipping $name: \`pare dev random-bert\` failed (not in this build yet?)"
                    return 1
                fi
            fi
        fi
    fi
    if [ ! -f "$dir/config.json" ]; then
        say "skipping $name: $dir/config.json not found (run \`make models\`)"
        return 1
    fi
}

# Peers available?
engines=""
if "$py" -c 'import torch, transformers' 2>/dev/null; then engines=torch; else
    say "PyTorch/transformers not importable by $py: no torch rows (pip install torch transformers)"; fi
if [ -n "$engines" ] && "$py" -c 'import onnxruntime, onnx' 2>/dev/null; then engines=$engines,ort; else
    say "onnxruntime/onnx (or torch, to export) not importable: no ORT rows (pip install onnxruntime onnx)"; fi
if [ "${BENCH_INT8:-1}" != 0 ] && [ -n "$engines" ]; then
    case $engines in *ort*) engines=$engines,torch-int8,ort-int8 ;; *) engines=$engines,torch-int8 ;; esac
fi

have_pare=1
if [ ! -x "$pare" ]; then
    say "$pare not built (run \`make build\`): no pare rows"
    have_pare=0
elif peak=$("$pare" peak --json 2>/dev/null); then
    echo "$peak" | tag peak >> "$jsonl"
else
    say "\`build/pare peak --json\` failed: no peak column"
fi

calib=${PARE_DATA_DIR:-$root/../shared/data}/semeval2018-ec/2018-E-c-En-train.txt
# Writes $out/int8/NAME-ACT (ACT dynamic or static) if missing or older than
# build/pare; prints its path.
ensure_int8() {
    local name=$1 act=$2 q=$out/int8/$1-$2 extra=()
    [ "$act" = static ] && extra=(--calib "$calib" --column Tweet --limit 64)
    if [ ! -f "$q/model.safetensors" ] || [ "$pare" -nt "$q/model.safetensors" ]; then
        mkdir -p "$out/int8"
        "$pare" quantize "$models_dir/$name" --act "$act" "${extra[@]}" -o "$q" --threads "$threads" >&2 || return 1
    fi
    echo "$q"
}
int8_pare=0
[ "$have_pare" = 1 ] && [ "${BENCH_INT8:-1}" != 0 ] && int8_pare=1

for round in $(seq "$rounds"); do
say "round $round of $rounds"
for name in $models; do
    ensure_model "$name" || continue
    dir=$models_dir/$name
    iters_list=()
    for b in $batches; do
        iters=""
        if [ "$have_pare" = 1 ]; then
            common=(bench "$dir" --batch "$b" --seq "$seq" --threads "$threads" --json)
            if probe=$("$pare" "${common[@]}" --warmup 1 --iters 1); then
                iters=$("$py" -c 'import math, sys; t, lo, hi, s = map(float, sys.argv[1:]); print(int(min(hi, max(lo, math.ceil(s * 1e3 / max(t, 1e-3))))))' \
                    "$(field p50_ms "$probe")" "$min_iters" "$max_iters" "$target_s")
                say "$name batch $b: pare ($iters iterations)"
                "$pare" "${common[@]}" --warmup "$warmup" --iters "$iters" | tag pare "$name" >> "$jsonl"
                if [ "$int8_pare" = 1 ]; then
                    for act in dynamic static; do
                        eng=pare-int8; [ "$act" = static ] && eng=pare-int8s
                        if q=$(ensure_int8 "$name" "$act"); then
                            say "$name batch $b: $eng"
                            "$pare" bench "$q" --batch "$b" --seq "$seq" --threads "$threads" --json \
                                --warmup "$warmup" --iters "$iters" | tag "$eng" "$name" >> "$jsonl"
                        else
                            say "$name: \`pare quantize --act $act\` failed: no $eng row"
                        fi
                    done
                fi
            else
                say "$name batch $b: \`build/pare bench\` failed: no pare row"
            fi
        fi
        iters_list+=("${iters:-$max_iters}")
    done
    if [ -n "$engines" ]; then
        say "$name: $engines"
        # shellcheck disable=SC2086
        "$py" "$root/bench/bert_peers.py" "$dir" --name "$name" --batch $batches --seq "$seq" \
            --threads "$threads" --warmup "$warmup" --iters "${iters_list[@]}" \
            --max-seconds "$target_s" --min-iters "$min_iters" --engines "$engines" \
            >> "$jsonl" || say "$name: some peers failed (see above)"
    fi
done
done

# The peak again: the table uses the higher of the two (a busy machine
# lowers it).
if [ "$have_pare" = 1 ] && peak=$("$pare" peak --json 2>/dev/null); then
    echo "$peak" | tag peak >> "$jsonl"
fi

echo
"$py" "$root/bench/report.py" "$jsonl"
echo
echo "raw JSON lines: $jsonl; bench took $(( $(date +%s) - start )) s"
