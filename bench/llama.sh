#!/usr/bin/env bash
# Llama decode and prefill: pare beside llama.cpp's llama-bench on the same
# GGUF files in the same run (run by `make bench` after the encoder table,
# or alone: bench/llama.sh).
#
# Files: SmolLM2-135M-Instruct Q4_1 (from `make models`) and TinyLlama-1.1B-
# shaped random-weight GGUFs in F32, F16, Q8_0 and Q4_0, written once into
# .cache/bench by bench/make_tinyllama_gguf.py (needs pip gguf; ~8.5 GB).
#
# llama.cpp is built from fetched source outside the repository, never
# committed. Set LLAMA_BENCH to its llama-bench binary; by default the script
# looks in ../peers/llama.cpp/build/bin. Without it the llama.cpp columns are
# skipped with a message.
#
# For each file: prefill of BENCH_PROMPT (64) tokens and decode of BENCH_GEN
# (32) tokens, BENCH_THREADS (2) threads, BENCH_REPS (3) repetitions, engines
# alternating. The bandwidth bound is bytes of weights read per decoded token
# (every weight except the embedding table, which is read one row per token,
# unless it doubles as the output) over the measured multi-thread read
# bandwidth (`pare peak`).
. "$(dirname "$0")/lib.sh"
prompt=${BENCH_PROMPT:-64}
gen=${BENCH_GEN:-32}
jsonl=$out/llama.jsonl
models_dir=${PARE_MODELS_DIR:-$root/.cache/models}
llama_bench=${LLAMA_BENCH:-$root/../peers/llama.cpp/build/bin/llama-bench}
mkdir -p "$out"
: > "$jsonl"

files=("$models_dir/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
if [ "${BENCH_TINYLLAMA:-1}" = 1 ]; then
    if "$py" -c 'import gguf' 2> /dev/null; then
        types=${BENCH_TINYLLAMA_TYPES:-f32 f16 q8_0 q4_0}
        "$py" "$root/bench/make_tinyllama_gguf.py" "$out" --types "${types// /,}"
        for t in $types; do files+=("$out/tinyllama-$t.gguf"); done
    else
        say "pip package gguf missing: skipping the TinyLlama-shaped files (pip install gguf)"
    fi
fi
have_llama=0
if [ -x "$llama_bench" ]; then have_llama=1; else
    say "llama.cpp's llama-bench not found at $llama_bench (set LLAMA_BENCH): llama.cpp columns skipped"
fi

"$pare" peak --threads "$threads" --json | "$py" -c 'import json,sys; d=json.load(sys.stdin); d["engine"]="peak"; print(json.dumps(d))' >> "$jsonl"

for r in $(seq 1 "$reps"); do
    for f in "${files[@]}"; do
        [ -f "$f" ] || { say "missing $f"; continue; }
        name=$(basename "$f" .gguf)
        say "round $r/$reps: $name"
        "$pare" bench "$f" --prompt "$prompt" --gen "$gen" --threads "$threads" --json |
            "$py" -c 'import json,sys; d=json.load(sys.stdin); d.update(engine="pare", model=sys.argv[1], round=int(sys.argv[2])); print(json.dumps(d))' "$name" "$r" >> "$jsonl"
        if [ $have_llama = 1 ]; then
            "$llama_bench" -m "$f" -t "$threads" -p "$prompt" -n "$gen" -r 1 -o json 2> /dev/null |
                "$py" -c 'import json,sys
rows = json.load(sys.stdin)
d = {"engine": "llama.cpp", "model": sys.argv[1], "round": int(sys.argv[2])}
for row in rows:
    d["prefill_tok_s" if row["n_prompt"] else "decode_tok_s"] = row["avg_ts"]
print(json.dumps(d))' "$name" "$r" >> "$jsonl"
        fi
    done
done
"$py" "$root/bench/llama_report.py" "$jsonl"
