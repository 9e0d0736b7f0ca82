#!/usr/bin/env bash
# make demo: the shipped experiment (experiments/demo.yaml: MiniLM-L6 on
# SemEval-2018 E-c; fp32 baseline, int8 dynamic / static / weight-only,
# 20% global magnitude pruning, pruning + int8) end to end, leaving the
# report in .cache/demo/ (report.md, report.html, results.csv/json).
#
# DEMO_RESUME=1 finishes an interrupted demo instead of starting over.
# Trained heads are reused from .cache/demo/results.db.artifacts when present.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pare=$root/build/pare
out=$root/.cache/demo
mkdir -p "$out"

echo "== pare info"
"$pare" info "$root/.cache/models/minilm-l6"
echo
echo "== pare experiment run experiments/demo.yaml"
mode=--fresh
[ "${DEMO_RESUME:-0}" = 1 ] && mode=--resume
rc=0
"$pare" experiment run "$root/experiments/demo.yaml" --db "$out/results.db" $mode || rc=$?
[ $rc -le 1 ] || exit $rc
echo
"$pare" experiment report "$out/results.db" -o "$out" > /dev/null
cat "$out/report.md"
echo
echo "report: $out/report.md and $out/report.html (charts), data: $out/results.csv, $out/results.json"
exit $rc
