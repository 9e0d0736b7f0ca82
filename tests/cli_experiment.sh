#!/usr/bin/env bash
# pare experiment: malformed files fail before any work with the line and
# key; a run killed with SIGKILL in mid-run resumes to every cell exactly
# once with the finished ones untouched; the HTML report renders its charts
# in headless Chromium with no console errors (screenshot pixels checked).
. "$(dirname "$0")/lib/cli.sh"
minilm=$(model_dir minilm-l6)
data=$(data_path semeval2018-ec/2018-E-c-En-train.txt)
require "$minilm" "MiniLM-L6"
require "$data" "the SemEval data"
require "$(model_dir smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf" "the SmolLM2 GGUF"
require "$(data_path wikitext-2/wiki.test.tokens)" "WikiText-2"

# a tiny random encoder with MiniLM's tokenizer keeps the cells fast (ASan too)
"$PARE" dev random-bert -o "$TMP/tiny" --vocab-from "$minilm" --layers 2 --hidden 64 --heads 2 \
    --intermediate 128 --seed 7 2> /dev/null || bad "random-bert"

write_exp() { # write_exp FILE [extra pipeline yaml]
    cat > "$1" <<YAML
name: t
models:
  - name: tiny
    path: $TMP/tiny
dataset:
  path: $data
  limit: 240
  split: [0.5, 0.25, 0.25]
latency: {batch: [1, 4], seq: 32, warmup: 1, reps: 3}
pipelines:
  - name: fp32
    steps: [{finetune-head: {epochs: 3}}]
  - name: int8
    steps: [{finetune-head: {epochs: 3}}, {quantize: {act: dynamic}}]
  - name: static
    steps: [{finetune-head: {epochs: 3}}, {quantize: {act: static, calib_n: 16}}]
  - name: w8
    steps: [{finetune-head: {epochs: 3}}, {quantize: {act: none}}]
  - name: prune
    steps: [{prune: {sparsity: 0.5}}, {finetune-head: {epochs: 3}}]
  - name: prune-local
    steps: [{prune: {sparsity: 0.3, scope: local}}, {finetune-head: {epochs: 3}}]
$2
YAML
}

# ---- malformed files: error names FILE:LINE and the key, exit 2, no database
write_exp "$TMP/good.yaml"
expect_exit 0 "check good" "$PARE" experiment check "$TMP/good.yaml"
bad_case() { # NAME NEEDLE SED-EXPRESSION
    sed "$3" "$TMP/good.yaml" > "$TMP/bad.yaml"
    expect_error "$1" "$2" "$PARE" experiment run "$TMP/bad.yaml" --db "$TMP/bad.db"
    [ ! -e "$TMP/bad.db" ] || bad "$1: a database was created before the file was checked"
    rm -f "$TMP/bad.db"
}
bad_case "unknown step" "bad.yaml:14: pipelines[1].steps[1]: unknown step 'quantise'" 's/{quantize: {act: dynamic}}/{quantise: {act: dynamic}}/'
bad_case "wrong type" "bad.yaml:9: latency.reps: expected an integer, got 'many'" 's/reps: 3/reps: many/'
bad_case "list for scalar" "bad.yaml:7: dataset.limit: expected an integer, got a list" 's/limit: 240/limit: [1, 2]/'
bad_case "missing model path" "bad.yaml:4: models[0].path: $TMP/nope does not exist" "s#path: $TMP/tiny#path: $TMP/nope#"
bad_case "no path key" "bad.yaml:3: models[0]: missing 'path'" "/path: $(printf '%s' "$TMP/tiny" | sed 's#/#\\/#g')/d"
bad_case "duplicate pipeline" "bad.yaml:13: pipelines[1]: duplicate pipeline name 'fp32' (also on line 11)" 's/- name: int8$/- name: fp32/'
bad_case "unknown key" "bad.yaml:8: dataset: unknown key 'splits'" 's/split:/splits:/'
bad_case "bad value" "bad.yaml:14: pipelines[1].steps[1].quantize.act: 'dynamc' is not one of" 's/act: dynamic/act: dynamc/'
bad_case "out of range" "bad.yaml:20: pipelines[4].steps[0].prune.sparsity: 1.5 is out of range" 's/sparsity: 0.5/sparsity: 1.5/'
bad_case "smoothquant weight-only" "smoothquant is for act dynamic or static" 's/{quantize: {act: dynamic}}/{quantize: {method: smoothquant, act: none}}/'
bad_case "5 bits on BERT" "BERT models quantize to 8 bits, or 4" 's/{quantize: {act: dynamic}}/{quantize: {bits: 5}}/'
# the shipped quantization matrix (4-bit weight-only, SmoothQuant) checks clean
expect_exit 0 "check minilm-quant.yaml" "$PARE" experiment check "$PARE_SOURCE_DIR/experiments/minilm-quant.yaml"
bad_case "yaml syntax" "bad.yaml:10: YAML syntax" 's/reps: 3}/reps: 3/'
bad_case "order" "quantize must be the last step" 's/{finetune-head: {epochs: 3}}, {quantize: {act: none}}/{quantize: {act: none}}, {finetune-head: {epochs: 3}}/'
bad_case "unknown baseline" "baseline: no pipeline named 'nope'" '1a baseline: nope'
expect_error "missing file" "no-such.yaml" "$PARE" experiment run "$TMP/no-such.yaml"

# ---- SIGKILL in mid-run, then --resume
db=$TMP/res.db
"$PARE" experiment run "$TMP/good.yaml" --db "$db" --threads 1 > "$TMP/run1.out" 2> "$TMP/run1.err" &
pid=$!
n_ok=0
for _ in $(seq 1 1200); do # up to 120 s for two finished cells
    n_ok=$("$PARE" experiment status "$db" 2> /dev/null | awk -F'\t' '$4 == "ok"' | wc -l)
    [ "$n_ok" -ge 2 ] && break
    kill -0 $pid 2> /dev/null || break
    sleep 0.1
done
if kill -9 $pid 2> /dev/null; then ok; else bad "the run ended before it could be killed (cells too fast?)"; fi
wait $pid 2> /dev/null
sleep 0.3 # the cell in flight dies with the runner (PDEATHSIG)
"$PARE" experiment status "$db" | awk -F'\t' '$4 == "ok"' | sort > "$TMP/before"
n_before=$(wc -l < "$TMP/before")
echo "killed the runner after $n_before of 6 cells"
if [ "$n_before" -ge 2 ] && [ "$n_before" -lt 6 ]; then ok; else bad "killed run: $n_before finished cells, want 2..5"; fi
pgrep -f "experiment run $TMP/good.yaml" > /dev/null && bad "a cell outlived the killed runner"
expect_error "rerun without --resume" "--resume to finish it" "$PARE" experiment run "$TMP/good.yaml" --db "$db"
expect_exit 0 "resume" "$PARE" experiment run "$TMP/good.yaml" --db "$db" --resume --threads 1
"$PARE" experiment status "$db" > "$TMP/after_all"
expect_eq "every cell once" "$(cut -f3 "$TMP/after_all" | sort | uniq -c | awk '{print $1}' | sort -u)" "1"
expect_eq "six cells" "$(wc -l < "$TMP/after_all")" "6"
expect_eq "all ok" "$(awk -F'\t' '$4 != "ok"' "$TMP/after_all" | wc -l)" "0"
join -t $'\t' -j 1 <(cut -f3- "$TMP/before" | sort) <(cut -f3- "$TMP/after_all" | sort) > "$TMP/kept"
expect_eq "finished cells untouched" "$(wc -l < "$TMP/kept")" "$n_before"
expect_match "resume is a no-op" "$("$PARE" experiment run "$TMP/good.yaml" --db "$db" --resume 2>&1)" "6 finished, 0 to run"

# a failing pipeline is recorded and does not stop the others
write_exp "$TMP/fail.yaml" "  - name: broken
    steps: []"
sed -i 's/^name: t$/name: t2/' "$TMP/fail.yaml"
expect_exit 1 "failed cell exits 1" "$PARE" experiment run "$TMP/fail.yaml" --db "$db" --only broken
expect_match "failure recorded" "$("$PARE" experiment status "$db")" "broken	failed.*no finetune-head step"

# ---- task lm: a GGUF requantized, perplexity / KLD / top-1 against the shipped file
gguf=$(model_dir smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f "$gguf" ]; then
    head -c 6000 "$(data_path wikitext-2/wiki.test.tokens)" > "$TMP/wiki.txt"
    cat > "$TMP/lm.yaml" <<YAML
name: lm
models: [$gguf]
dataset: {task: lm, path: $TMP/wiki.txt, ctx: 64, chunks: 2}
latency: {prompt: 8, gen: 4, warmup: 0, reps: 2}
pipelines:
  - {name: shipped, steps: []}
  - {name: q8_0, steps: [{quantize: {type: q8_0}}]}
  - {name: q4_0, steps: [{quantize: {bits: 4}}]}
YAML
    expect_exit 0 "lm run" "$PARE" experiment run "$TMP/lm.yaml" --db "$TMP/lm.db"
    expect_exit 0 "lm report" "$PARE" experiment report "$TMP/lm.db" -o "$TMP/lmrep"
    row() { grep "| $1 |" "$TMP/lmrep/report.md"; }
    expect_match "baseline KLD 0, top-1 100%" "$(row shipped)" "\| 0\.00000 \| 100\.00% \|"
    expect_match "q8_0 row" "$(row q8_0)" "quantize\(rtn q8_0\) \| 14[0-9]\.[0-9] \|"
    expect_match "q4_0 perplexity and KLD" "$(row q4_0)" "\| [0-9]+\.[0-9]{4} \| \+?-?[0-9.]+ \| 0\.[0-9]{5} \|"
    bad_lm=$TMP/lm-bad.yaml
    sed "s#models: \[$gguf\]#models: [$TMP/tiny]#" "$TMP/lm.yaml" > "$bad_lm"
    expect_error "lm takes GGUF" "is not a GGUF file (task lm" "$PARE" experiment run "$bad_lm" --db "$TMP/lm2.db"
fi

# ---- report: files, then headless Chromium
expect_exit 0 "report" "$PARE" experiment report "$db" --experiment t -o "$TMP/rep"
for f in report.md report.html results.csv results.json; do [ -s "$TMP/rep/$f" ] && ok || bad "report: $f missing"; done
expect_eq "csv rows" "$(tail -n +2 "$TMP/rep/results.csv" | wc -l)" "12"
expect_match "markdown table" "$(cat "$TMP/rep/report.md")" "\| tiny \| int8 \|"
# speed-up: the baseline's p50 over the cell's (results.json, full precision)
sp=$(sqlite3 :memory: "SELECT printf('%.6f %.6f', json_extract(j, '\$.cells[1].speedup'),
    json_extract(j, '\$.cells[0].latency[0].p50_ms') / json_extract(j, '\$.cells[1].latency[0].p50_ms'))
    FROM (SELECT CAST(readfile('$TMP/rep/results.json') AS TEXT) AS j)")
expect_eq "speed-up is baseline / cell" "${sp% *}" "${sp#* }"
expect_match "speed-up of int8 given" "$sp" "^[0-9]+\.[0-9]{6} "
# how the speed was measured: the adaptive warm-up, the baseline measured again
expect_match "warm-up stated" "$(cat "$TMP/rep/report.md")" "Warm-up: until 5 passes in a row agree within 10% \([0-9]+ to [0-9]+ passes\)"
expect_match "baseline drift stated" "$(cat "$TMP/rep/report.md")" "Baseline tiny/fp32 measured again after the other cells: p50 [0-9.]+ ms, then [0-9.]+ ms"
expect_eq "one drift row" "$(sqlite3 "$db" 'SELECT count(*) FROM drift WHERE first_p50_ms > 0')" 1
if grep -v 'xmlns=' "$TMP/rep/report.html" | grep -qE '(src|href)=|https?://'; then bad "report.html loads something"; else ok; fi

chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
    skip_part "no chromium: the report's screenshot check did not run (tools/install-deps.sh installs it)"
else
    timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1200 \
        --enable-logging=stderr --v=0 --screenshot="$TMP/shot.png" "file://$TMP/rep/report.html" > "$TMP/chrome.out" 2>&1
    [ -s "$TMP/shot.png" ] && ok || bad "no screenshot: $(tail -3 "$TMP/chrome.out")"
    # the page logs one line when it ran (a positive control for the console capture)
    expect_match "console ran" "$(grep CONSOLE "$TMP/chrome.out")" "pare report: 3 charts"
    errs=$(grep -E 'CONSOLE.*(Error|error|Uncaught)|Failed to load|ERR_' "$TMP/chrome.out" | grep -v 'pare report:' || true)
    expect_eq "no console errors" "$errs" ""
    # bars (#3b6fb6), baseline line and points (#d62728), Pareto front (#ff7f0e)
    counts=$(python3 "$SRC/tests/lib/png_colors.py" "$TMP/shot.png" 3b6fb6:20 d62728:30 ff7f0e:30)
    echo "$counts"
    bars=$(echo "$counts" | awk '$1=="3b6fb6"{print $2}')
    red=$(echo "$counts" | awk '$1=="d62728"{print $2}')
    orange=$(echo "$counts" | awk '$1=="ff7f0e"{print $2}')
    [ "${bars:-0}" -gt 5000 ] && ok || bad "screenshot: only ${bars:-0} bar pixels"
    [ "${red:-0}" -gt 200 ] && ok || bad "screenshot: only ${red:-0} baseline pixels"
    [ "${orange:-0}" -gt 300 ] && ok || bad "screenshot: only ${orange:-0} Pareto-front pixels"
fi
finish
