#!/usr/bin/env bash
# pare dev random-llama and pare info on Llama-family folders: exit codes,
# the shape written, and bad configs rejected with exit 2.
set -u
. "$(dirname "$0")/lib/cli.sh"

expect_exit 0 "random-llama --help" "$PARE" dev random-llama --help
expect_exit 2 "random-llama without a folder" "$PARE" dev random-llama
expect_exit 2 "random-llama bad arch" "$PARE" dev random-llama "$TMP/x" --arch gpt2
expect_exit 2 "random-llama bad rope scaling" "$PARE" dev random-llama "$TMP/x" --rope-scaling longrope:2
expect_exit 2 "random-llama heads not a multiple of kv heads" "$PARE" dev random-llama "$TMP/x" --heads 4 --kv-heads 3

expect_exit 0 "random qwen2" "$PARE" dev random-llama "$TMP/q" --arch qwen2 --layers 2 --hidden 64 --heads 4 \
    --kv-heads 2 --ffn 96 --vocab 300 --tie --rope-scaling yarn:4 --seed 3
out=$("$PARE" info "$TMP/q" --json)
expect_match "info json shape" "$out" '"model_type": "qwen2", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "head_dim": 16, "intermediate": 96, "vocab": 300'
expect_match "info json tied" "$out" '"tied_embeddings": true'
expect_match "info json rope" "$out" '"rope": "theta 10000, scaling yarn x4"'
out=$("$PARE" info "$TMP/q")
expect_match "info text" "$out" 'architecture: Qwen2ForCausalLM \(qwen2\)'

expect_exit 0 "random llama seq-cls" "$PARE" dev random-llama "$TMP/c" --labels 3 --pad-id 0
out=$("$PARE" info "$TMP/c")
expect_match "info of a seq-cls decoder" "$out" 'head: +sequence classification, 3 labels'

# A config pare does not support: exit 2 with the file named.
sed -i 's/"silu"/"gelu"/' "$TMP/q/config.json"
expect_exit 2 "unsupported hidden_act" "$PARE" info "$TMP/q"

finish
