#!/usr/bin/env bash
# Golden files from llama.cpp itself (beside the Hugging Face ones), for
# tests/test_bpe.c and tests/test_llama_gguf.c:
#   tests/golden/bpe_edge_cases.llamacpp.ids      ids of bpe_edge_cases.txt
#   tests/golden/bpe_bytes.llamacpp.ids           ids of bpe_bytes.txt: bytes the
#       vocabulary lacks (llama.cpp drops them; HF tokenizers cannot encode them)
#   tests/golden/semeval_bpe_smollm2.llamacpp.tsv line, n ids, fnv1a64, per tweet
#   tests/golden/smollm2-llamacpp.safetensors     the Q4_1 GGUF's logits on the
#       HF golden's 64-token prompt (top 64 per position, all of the last) and
#       64 greedy tokens: llama.cpp's quantized CPU path, for pare's.
# llama.cpp comes from tools/build-llama-cpp.sh (fetched source, outside the
# repository, never committed); this script builds tools/llamacpp_golden.c
# against it. Usage: tools/make_llamacpp_golden.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS:-$(cd "$root/.." && pwd)/peers}
"$root/tools/build-llama-cpp.sh"
lc=$peers/llama.cpp
bin=$lc/build/bin
tool=$lc/build/llamacpp_golden
cc -O2 -std=gnu11 -I"$lc/include" -I"$lc/ggml/include" "$root/tools/llamacpp_golden.c" -L"$bin" -lllama \
    -Wl,-rpath,"$bin" -o "$tool"
models=${PARE_MODELS_DIR:-$root/.cache/models}
data=${PARE_DATA_DIR:-$root/../shared/data}
gguf=$models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
golden=$root/tests/golden
[ -f "$gguf" ] || { echo "make_llamacpp_golden: $gguf missing (make models)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$tool" tokenize "$gguf" "$golden/bpe_edge_cases.txt" "$golden/bpe_edge_cases.llamacpp.ids" 2> "$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
"$tool" tokenize "$gguf" "$golden/bpe_bytes.txt" "$golden/bpe_bytes.llamacpp.ids" 2> "$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
{ echo "#tsv"; cat "$data/semeval2018-ec/2018-E-c-En-train.txt"; } > "$tmp/semeval.tsv"
"$tool" tokenize "$gguf" "$tmp/semeval.tsv" "$golden/semeval_bpe_smollm2.llamacpp.tsv" 2> "$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
ids=$(python3 - "$golden/smollm2.safetensors" <<'PY'
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
t = h['prompt_ids']
s, e = t['data_offsets']
print(','.join(str(v) for v in struct.unpack('<%di' % ((e - s) // 4), b[8 + n + s:8 + n + e])))
PY
)
"$tool" logits "$gguf" "$ids" "$golden/smollm2-llamacpp.safetensors" 2> "$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
echo "make_llamacpp_golden: wrote bpe_edge_cases.llamacpp.ids, semeval_bpe_smollm2.llamacpp.tsv, smollm2-llamacpp.safetensors"
