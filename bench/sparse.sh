#!/usr/bin/env bash
# Sparse against dense decode on pruned decoders (run by `make bench`, or
# alone: bench/sparse.sh). SmolLM2-135M-Instruct (from `make models`) is
# pruned by magnitude at 30%, 50%, 70% and 2:4 (`pare prune`, F16 weights,
# written once into .cache/bench); each file is run by `pare bench` with its
# sparse path (the default) and with --no-sparse, alternating, BENCH_REPS
# rounds; the table gives the median decode and prefill tokens/s, the
# ratio, and the crossover: the lowest sparsity at which sparse wins.
#
# Encoder (BENCH_SPARSE_ENCODER=1, the default; BENCH_SPARSE_DECODER=0
# skips the part above): the BERT-base-shaped random model (`pare dev
# random-bert`, seed 768, 11 labels) pruned by magnitude per tensor at 50%,
# 70%, 90% and 2:4 (`pare prune FOLDER`), each run by `pare bench` (batch 1
# and 8, seq 128) with its sparse path (Linear layers with >= 50% zeros go
# to pare_spmm) and with --no-sparse; and structured pruning: 30% of heads,
# then 30% of FFN neurons (`--method heads`, then `neurons`), a smaller
# dense model, against the unpruned one. Kernel-level crossover:
# build/bench_kernels 7 sparse.
. "$(dirname "$0")/lib.sh"
jsonl=$out/sparse.jsonl
src=${PARE_MODELS_DIR:-$root/.cache/models}/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p "$out"
: > "$jsonl"

names=()
[ "${BENCH_SPARSE_DECODER:-1}" = 0 ] && reps_dec=0 || reps_dec=$reps
for spec in 0.3 0.5 0.7 2:4; do
    name=smollm2-magnitude-${spec/:/of}
    f=$out/$name.gguf
    if [ ! -f "$f" ]; then
        if [ "$spec" = 2:4 ]; then "$pare" prune "$src" --nm 2:4 -o "$f.tmp" 2> /dev/null
        else "$pare" prune "$src" --sparsity "$spec" -o "$f.tmp" 2> /dev/null; fi
        mv "$f.tmp" "$f"
    fi
    names+=("$name")
done
for r in $(seq 1 "$reps_dec"); do
    for name in "${names[@]}"; do
        for mode in sparse dense; do
            say "round $r/$reps: $name ($mode)"
            flag=(); [ $mode = dense ] && flag=(--no-sparse)
            "$pare" bench "$out/$name.gguf" --threads "$threads" --reps 3 "${flag[@]}" --json |
                "$py" -c 'import json,sys; d=json.load(sys.stdin); d.update(model=sys.argv[1], mode=sys.argv[2], round=int(sys.argv[3])); print(json.dumps(d))' \
                    "$name" "$mode" "$r" >> "$jsonl"
        done
    done
done
if [ "${BENCH_SPARSE_ENCODER:-1}" != 0 ]; then
    enc=$out/encoder
    ejsonl=$out/sparse_encoder.jsonl
    mkdir -p "$enc"
    : > "$ejsonl"
    base=$enc/bert-base
    if [ ! -f "$base/model.safetensors" ]; then
        "$pare" dev random-bert -o "$base" --layers 12 --hidden 768 --heads 12 --intermediate 3072 --labels 11 \
            --seed 768 --vocab-from "${PARE_MODELS_DIR:-$root/.cache/models}/minilm-l6" 2> /dev/null
    fi
    prune_once() { # name, pare prune args...
        local name=$1; shift
        if [ ! -f "$enc/$name/model.safetensors" ]; then
            rm -rf "$enc/$name.tmp"
            "$pare" prune "$@" -o "$enc/$name.tmp" 2> /dev/null
            rm -rf "$enc/$name"; mv "$enc/$name.tmp" "$enc/$name"
        fi
    }
    prune_once s50 "$base" --sparsity 0.5 --scope local
    prune_once s70 "$base" --sparsity 0.7 --scope local
    prune_once s90 "$base" --sparsity 0.9 --scope local
    prune_once 2of4 "$base" --nm 2:4
    prune_once heads30 "$base" --method heads --sparsity 0.3
    prune_once heads30-neurons30 "$enc/heads30" --method neurons --sparsity 0.3
    for r in $(seq 1 "$reps"); do
        for batch in 1 8; do
            iters=10; [ "$batch" = 8 ] && iters=4
            for name in bert-base s50 s70 s90 2of4 heads30-neurons30; do
                for mode in sparse dense; do
                    case $name in bert-base|heads30-neurons30) [ $mode = dense ] && continue ;; esac
                    say "encoder round $r/$reps: $name batch $batch ($mode)"
                    flag=(); [ $mode = dense ] && flag=(--no-sparse)
                    "$pare" bench "$enc/$name" --batch "$batch" --seq 128 --warmup 2 --iters "$iters" --threads "$threads" \
                        "${flag[@]}" --json 2> /dev/null |
                        "$py" -c 'import json,sys; d=json.load(sys.stdin); d.update(name=sys.argv[1], mode=sys.argv[2], round=int(sys.argv[3])); print(json.dumps(d))' \
                            "$name" "$mode" "$r" >> "$ejsonl"
                done
            done
        done
    done
    "$py" - "$ejsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(name, mode, batch):
    v = [r["p50_ms"] for r in rows if r["name"] == name and r["mode"] == mode and r["batch"] == batch]
    return statistics.median(v) if v else float("nan")
print("\nBERT-base-shaped encoder (random weights), seq 128, %s threads, p50 ms (median over rounds)\n" % rows[0]["threads"])
print("| model | batch | dense path | sparse path | speed-up |")
print("|---|---:|---:|---:|---:|")
for b in (1, 8):
    print("| unpruned | %d | %.1f | | |" % (b, med("bert-base", "sparse", b)))
    for n, label in (("s50", "50% magnitude"), ("s70", "70% magnitude"), ("s90", "90% magnitude"), ("2of4", "2:4 magnitude")):
        d, s = med(n, "dense", b), med(n, "sparse", b)
        print("| %s | %d | %.1f | %.1f | %.2fx |" % (label, b, d, s, d / s))
    base, hn = med("bert-base", "sparse", b), med("heads30-neurons30", "sparse", b)
    print("| 30%% heads + 30%% neurons (structured) | %d | %.1f (unpruned) | %.1f | %.2fx |" % (b, base, hn, base / hn))
PY
fi
[ "${BENCH_SPARSE_DECODER:-1}" = 0 ] && exit 0
"$py" - "$jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
models = []
for r in rows:
    if r["model"] not in models:
        models.append(r["model"])
def med(m, mode, key):
    v = [r[key] for r in rows if r["model"] == m and r["mode"] == mode]
    return statistics.median(v) if v else None
print("\nPruned SmolLM2 (magnitude), pare sparse path against pare dense (F16), %s threads, medians\n" % rows[0]["threads"])
print("| model | dense decode tok/s | sparse decode tok/s | ratio | dense prefill | sparse prefill | ratio | sparse MB/token |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
cross = None
for m in models:
    dd, sd = med(m, "dense", "decode_tok_s"), med(m, "sparse", "decode_tok_s")
    dp, sp = med(m, "dense", "prefill_tok_s"), med(m, "sparse", "prefill_tok_s")
    mb = med(m, "sparse", "weight_bytes_per_token") / 1e6
    print("| %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.1f |" % (m, dd, sd, sd / dd, dp, sp, sp / dp, mb))
    if cross is None and sd > dd and "of" not in m:
        cross = m.rsplit("-", 1)[1]
print("\ncrossover (decode): sparse wins from %s sparsity on" % (cross or "none of the measured"))
PY
