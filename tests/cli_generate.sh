#!/usr/bin/env bash
# pare generate / perplexity / bench on the SmolLM2 GGUF: exit codes and the
# shape of the output (not long runs; figures are in the closing notes).
set -u
. "$(dirname "$0")/lib/cli.sh"

m="$(model_dir smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf"
require "$m" "the SmolLM2 GGUF"
require "$(data_path wikitext-2/wiki.test.tokens)" "WikiText-2"

out=$("$PARE" generate "$m" --chat --prompt "Name three primary colours." --max-tokens 12 2> "$TMP/err")
expect_eq "generate exit" "$?" "0"
expect_match "generate prints text" "$out" "[A-Za-z]"
expect_match "generate speeds" "$(cat "$TMP/err")" "tokens generated at [0-9.]+ tok/s"
a=$("$PARE" generate "$m" --prompt "Once upon a time" --max-tokens 8 --temperature 0.8 --seed 7 2> /dev/null)
b=$("$PARE" generate "$m" --prompt "Once upon a time" --max-tokens 8 --temperature 0.8 --seed 7 2> /dev/null)
expect_eq "same seed, same text" "$a" "$b"
out=$("$PARE" generate "$m" --prompt "1, 2, 3, 4," --max-tokens 40 --stop "8" 2> /dev/null)
expect_match "stop string ends the text" "$out" "8$"
expect_exit 2 "generate without --prompt" "$PARE" generate "$m"
expect_exit 2 "generate bad option" "$PARE" generate "$m" --prompt x --top-p abc
expect_error "generate on a non-model" "nope.gguf" "$PARE" generate "$TMP/nope.gguf" --prompt x

head -c 20000 "$(data_path wikitext-2/wiki.test.tokens)" > "$TMP/wiki.txt"
out=$("$PARE" perplexity "$m" "$TMP/wiki.txt" --ctx 128 --chunks 2 2> /dev/null)
expect_eq "perplexity exit" "$?" "0"
expect_match "perplexity running values" "$out" "^\[1\][0-9.]+,\[2\][0-9.]+,"
expect_match "perplexity final" "$out" "Final estimate: PPL = [0-9.]+ \+/- [0-9.]+"
printf 'too short' > "$TMP/short.txt"
expect_error "perplexity on a short text" "needs at least" "$PARE" perplexity "$m" "$TMP/short.txt"

out=$("$PARE" tokenize "$m" --text "Hello world" --text "<|im_start|>user")
expect_eq "tokenize ids" "$out" '{"n": 2, "ids": [19556, 905]}
{"n": 2, "ids": [1, 4093]}'
expect_exit 2 "tokenize without text" "$PARE" tokenize "$m"

out=$("$PARE" bench "$m" --prompt 8 --gen 4 --reps 1 --json)
expect_match "decoder bench json" "$out" '"decode_tok_s": [0-9.]+.*"weight_bytes_per_token": [0-9]+'
finish
