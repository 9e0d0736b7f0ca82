#!/usr/bin/env bash
# make demo: the shipped model and data end to end, leaving a report in
# .cache/demo/report.md. (Grows into the experiment matrix as techniques land.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pare=$root/build/pare
model=$root/.cache/models/minilm-l6
data=${PARE_DATA_DIR:-$root/../shared/data}/semeval2018-ec/2018-E-c-En-train.txt
out=$root/.cache/demo
mkdir -p "$out"

echo "== pare info"
"$pare" info "$model"

echo
echo "== embedding 500 SemEval tweets"
t0=$(date +%s.%N)
"$pare" embed "$model" --file "$data" --column Tweet --limit 500 --batch 8 > "$out/embeddings.jsonl"
t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc -l)
printf '500 tweets in %.2f s (%.1f tweets/s), embeddings in %s\n' "$secs" "$(echo "500 / $secs" | bc -l)" "$out/embeddings.jsonl"

echo
echo "== latency, sequence 128"
b1=$("$pare" bench "$model" --batch 1 --seq 128 --iters 20 --json)
b8=$("$pare" bench "$model" --batch 8 --seq 128 --iters 10 --json)
peak=$("$pare" peak --json)
echo "$b1"; echo "$b8"; echo "$peak"

field() { printf '%s' "$1" | sed -E "s/.*\"$2\": \"?([^,\"}]*).*/\1/"; }
{
    echo "# pare demo report"
    echo
    echo "Model: all-MiniLM-L6-v2 (\`$model\`), data: SemEval-2018 E-c train tweets."
    echo
    echo "| what | value |"
    echo "|---|---|"
    echo "| size on disk | $("$pare" info "$model" --json | sed -E 's/.*"disk_bytes": ([0-9]+).*/\1/' | awk '{printf "%.1f MB", $1/1e6}') |"
    printf '| embed 500 tweets (batch 8, padded) | %.2f s |\n' "$secs"
    echo "| latency batch 1 x 128, p50 / p99 | $(field "$b1" p50_ms) / $(field "$b1" p99_ms) ms |"
    echo "| latency batch 8 x 128, p50 / p99 | $(field "$b8" p50_ms) / $(field "$b8" p99_ms) ms |"
    echo "| throughput batch 8 | $(echo "8000 / $(field "$b8" p50_ms)" | bc -l | xargs printf '%.1f') sequences/s |"
    echo "| GFLOP/s at batch 8 | $(field "$b8" gflops) (machine FMA peak $(field "$peak" fma_gflops)) |"
    echo "| threads | $(field "$b8" threads) |"
} > "$out/report.md"
echo
cat "$out/report.md"
echo
echo "report: $out/report.md"
