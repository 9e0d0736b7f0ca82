# Helpers for the CLI tests (sourced). PARE_CLI and PARE_SOURCE_DIR come from ctest.
PARE=${PARE_CLI:?PARE_CLI not set}
SRC=${PARE_SOURCE_DIR:-.}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n_pass=0
n_fail=0

model_dir() { echo "${PARE_MODELS_DIR:-$SRC/.cache/models}/$1"; }
data_path() { echo "${PARE_DATA_DIR:-$SRC/../shared/data}/$1"; }

# require PATH WHAT: a model, data file or tool the test cannot run
# without. Missing: under CI=true the test fails; otherwise it is reported as
# skipped (exit 77, ctest's SKIP_RETURN_CODE), never as passed.
require() {
    [ -e "$1" ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $2 is missing: $1 (make models; CI must have it)" >&2
        exit 1
    fi
    echo "SKIP: $2 is missing: $1 (make models)"
    exit 77
}

# skip_part WHY: a part of the test cannot run here (a tool, hardware). Under
# CI=true a failure; otherwise the rest runs and the test ends as skipped
# (exit 77), so ctest never reports it as a full pass.
n_skip=0
skip_part() {
    if [ "${CI:-}" = true ]; then bad "$1 (under CI=true this must run)"; return; fi
    echo "SKIP (part): $1"
    n_skip=$((n_skip + 1))
}

# the three real inputs most tests use, required: $smol, $minilm, $data
use_real_inputs() {
    smol=$(model_dir smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf
    minilm=$(model_dir minilm-l6)
    data=$(data_path semeval2018-ec/2018-E-c-En-train.txt)
    require "$smol" "the SmolLM2 GGUF"
    require "$minilm" "MiniLM-L6"
    require "$data" "the SemEval data"
}

ok() { n_pass=$((n_pass + 1)); }
bad() { n_fail=$((n_fail + 1)); echo "FAIL: $*" >&2; }

# expect_exit CODE NAME CMD...: exit code must be CODE (and never a signal).
expect_exit() {
    local want=$1 name=$2
    shift 2
    "$@" > "$TMP/out" 2> "$TMP/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "$name: exit $got, want $want; stderr: $(head -c 400 "$TMP/err")"; fi
}

# expect_error NAME NEEDLE CMD...: exit 2 and stderr mentions NEEDLE.
expect_error() {
    local name=$1 needle=$2
    shift 2
    "$@" > "$TMP/out" 2> "$TMP/err"
    local got=$?
    if [ "$got" -ne 2 ]; then bad "$name: exit $got, want 2; stderr: $(head -c 400 "$TMP/err")"; return; fi
    if grep -qF -- "$needle" "$TMP/err"; then ok; else bad "$name: stderr lacks '$needle': $(head -c 400 "$TMP/err")"; fi
}

# expect_clean NAME NEEDLE CMD...: exit 0, or exit 2 with NEEDLE on stderr
# (for mutated inputs that may or may not stay valid); never a signal.
expect_clean() {
    local name=$1 needle=$2
    shift 2
    "$@" > "$TMP/out" 2> "$TMP/err"
    local got=$?
    if [ "$got" -eq 0 ] || { [ "$got" -eq 2 ] && grep -qF -- "$needle" "$TMP/err"; }; then ok
    else bad "$name: exit $got: $(head -c 300 "$TMP/err")"; fi
}

expect_eq() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi; }
expect_match() { if printf '%s' "$2" | grep -qE -- "$3"; then ok; else bad "$1: output does not match /$3/: $(printf '%s' "$2" | head -c 300)"; fi; }

finish() {
    local skipped=""
    [ "$n_skip" -gt 0 ] && skipped=", $n_skip part(s) skipped"
    echo "$n_pass passed, $n_fail failed$skipped"
    [ "$n_fail" -eq 0 ] || exit 1
    [ "$n_skip" -eq 0 ] || exit 77
}
