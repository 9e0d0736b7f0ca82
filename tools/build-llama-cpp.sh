#!/usr/bin/env bash
# Build llama.cpp (CPU) from fetched source, outside the repository, for the
# side-by-side benches (bench/llama.sh) and the llama.cpp golden files
# (tools/make_llamacpp_golden.sh). Never committed.
#
# The source is the llama.cpp that the llama-cpp-python sdist on PyPI
# vendors (pinned below; PyPI is reachable where GitHub archives may not
# be). Result: $PEERS/llama.cpp/build/bin/{llama-bench,llama-tokenize,...}
# and $PEERS/llama.cpp/build/bin/libllama.so, PEERS defaulting to ../peers
# beside the checkout. Idempotent: an existing build is kept.
#   tools/build-llama-cpp.sh            # build (about 10 minutes on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS:-$(cd "$root/.." && pwd)/peers}
version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
src=$peers/llama.cpp
py=${PYTHON:-python3}
if [ -x "$src/build/bin/llama-tokenize" ] && [ -x "$src/build/bin/llama-bench" ] && [ -f "$src/.pare-version-$version" ]; then
    echo "llama.cpp: $src already built (llama-cpp-python $version's vendored source)"
    exit 0
fi
mkdir -p "$peers"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "llama.cpp: fetching llama-cpp-python==$version (sdist) from PyPI" >&2
"$py" -m pip download --quiet --no-deps --no-binary :all: --disable-pip-version-check -d "$work" "llama-cpp-python==$version"
tar -xzf "$work"/llama_cpp_python-"$version".tar.gz -C "$work"
rm -rf "$src"
mv "$work/llama_cpp_python-$version/vendor/llama.cpp" "$src"
echo "llama.cpp: building in $src/build" >&2
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_SERVER=OFF > "$work/cmake.log" 2>&1 ||
    { tail -30 "$work/cmake.log" >&2; exit 1; }
cmake --build "$src/build" -j "$(nproc)" --target llama-bench llama-tokenize llama-perplexity llama > "$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log" >&2; exit 1; }
touch "$src/.pare-version-$version"
echo "llama.cpp: built $src/build/bin/llama-bench, llama-tokenize, llama-perplexity"
