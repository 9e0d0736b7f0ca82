# Shared by the bench scripts (sourced): strict mode, paths and the common
# knobs. BENCH_THREADS (2), BENCH_REPS (3); PARE, PYTHON override the
# binaries; results go under .cache/bench.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)
pare=${PARE:-$root/build/pare}
py=${PYTHON:-python3}
threads=${BENCH_THREADS:-2}
reps=${BENCH_REPS:-3}
out=$root/.cache/bench
mkdir -p "$out"
say() { echo "bench: $*" >&2; }
