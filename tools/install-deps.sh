#!/usr/bin/env bash
# Install the Debian packages pare builds and tests with, if any is missing.
# Used by `make` (so `make demo` / `make test` work on a fresh machine) and by .ci/run.
set -euo pipefail
pkgs="build-essential cmake pkg-config clang libclang-rt-14-dev libopenblas-dev libcjson-dev
libutf8proc-dev libcmocka-dev libpcre2-dev libsqlite3-dev sqlite3 libyaml-dev libzstd-dev python3
python3-pip bc chromium"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: not root; run: sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing
