#!/usr/bin/env bash
# Run every libFuzzer target in build-fuzz for SECONDS each (default 60).
# Builds nothing: `make fuzz-build` first. Works on a scratch copy of the
# seed corpus under build-fuzz/ so the repository stays clean; crash
# inputs land in build-fuzz/artifacts/<target>/. Prints each target's
# execution count and exits non-zero if any target crashed, leaked or hung.
#   FUZZ_JOBS=2 ./fuzz/run.sh 600   # two targets at a time
#   FUZZ_NICE=19                    # niceness for the fuzzers (default 19)
#   FUZZ_ONLY="gguf json" ./fuzz/run.sh 120   # just these targets
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
jobs=${FUZZ_JOBS:-1}
nice_level=${FUZZ_NICE:-19}
bdir=build-fuzz
declare -A max_len=([fuzz_safetensors]=16384 [fuzz_torch]=16384 [fuzz_json]=8192 [fuzz_tokenizer_json]=8192
                   [fuzz_vocab]=2048 [fuzz_dataset]=4096 [fuzz_bert_config]=4096 [fuzz_bert_folder]=65536 [fuzz_gguf]=16384 [fuzz_llama_config]=4096 [fuzz_bpe]=8192
                   [fuzz_experiment_yaml]=4096 [fuzz_results_db]=16384 [fuzz_sampler]=4096)

targets=()
for src in fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" ${t#fuzz_} "* ]]; then continue; fi
    if [ ! -x "$bdir/$t" ]; then
        echo "run.sh: $bdir/$t is missing: run 'make fuzz-build' first" >&2
        exit 2
    fi
    targets+=("$t")
done

run_one() {
    local t=$1 name=${1#fuzz_}
    local work=$bdir/fuzz-run/$name art=$bdir/artifacts/$name/ log=$bdir/fuzz-run/$name.log
    rm -rf "$work"
    mkdir -p "$work" "$art"
    cp fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
    local dict=()
    [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
    nice -n "$nice_level" "$bdir/$t" "$work" "${dict[@]}" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -max_len="${max_len[$t]:-16384}" -artifact_prefix="$art" -print_final_stats=1 \
        >"$log" 2>&1
    echo $? >"$log.rc"
}

running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

status=0
for t in "${targets[@]}"; do
    name=${t#fuzz_}
    log=$bdir/fuzz-run/$name.log
    rc=$(cat "$log.rc" 2>/dev/null || echo 99)
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
    runs=$(echo "$done_line" | awk '{print $2}')
    if [ "$rc" = 0 ] && [ -n "$done_line" ]; then
        printf '%-18s ok      %12s executions in %s s\n' "$t" "$runs" "$(echo "$done_line" | awk '{print $5}')"
    else
        status=1
        printf '%-18s FAILED  exit %s; log %s; crash inputs in %s\n' "$t" "$rc" "$log" "$bdir/artifacts/$name/"
        grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY|runtime error' "$log" | head -5 | sed 's/^/    /'
    fi
done
exit $status
