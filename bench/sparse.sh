#!/usr/bin/env bash
# Sparse against dense decode on pruned decoders (run by `make bench`, or
# alone: bench/sparse.sh). SmolLM2-135M-Instruct (from `make models`) is
# pruned by magnitude at 30%, 50%, 70% and 2:4 (`pare prune`, F16 weights,
# written once into .cache/bench); each file is run by `pare bench` with its
# sparse path (the default) and with --no-sparse, alternating, BENCH_REPS
# rounds; the table gives the median decode and prefill tokens/s, the
# ratio, and the crossover: the lowest sparsity at which sparse wins.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pare=${PARE:-$root/build/pare}
py=${PYTHON:-python3}
threads=${BENCH_THREADS:-2}
reps=${BENCH_REPS:-3}
out=$root/.cache/bench
jsonl=$out/sparse.jsonl
src=${PARE_MODELS_DIR:-$root/.cache/models}/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p "$out"
: > "$jsonl"
say() { echo "bench: $*" >&2; }

names=()
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
for r in $(seq 1 "$reps"); do
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
