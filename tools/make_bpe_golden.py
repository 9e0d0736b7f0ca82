#!/usr/bin/env python3
"""Golden byte-level BPE ids from Hugging Face for tests/test_bpe.c.

The reference is the fast tokenizer transformers builds from the SmolLM2
GGUF's own tokenizer metadata (AutoTokenizer.from_pretrained(dir,
gguf_file=...)), with one correction: transformers' GGUF converter gives
every "gpt2" vocabulary GPT-2's ByteLevel pre-tokenizer, while SmolLM2's
own tokenizer.json (and llama.cpp's "smollm" pre-tokenizer) first splits
digits one by one; the script restores that Sequence[Digits(individual),
ByteLevel] so the golden is the model's real tokenizer. No Python runs at
test time. Writes, under tests/golden/:
  semeval_bpe_smollm2.tsv   line_number<TAB>n_ids<TAB>fnv1a64 of the ids, per tweet
  bpe_edge_cases.txt        texts, one a line, escaped to ASCII (\\\\, \\uXXXX, \\UXXXXXXXX)
  bpe_edge_cases.ids        their ids, one line each
  chat_smollm2.txt          chat renderings by apply_chat_template, escaped,
                            one per line: case<TAB>rendering
Encoding uses add_special_tokens=False (the GGUF says add_bos_token false).
Usage: python3 tools/make_bpe_golden.py [--models DIR] [--data DIR]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_golden import EDGE_CASES, GOLDEN, ROOT, SEMEVAL, escape, fnv1a64, tweets  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

BPE_EDGE = EDGE_CASES + [
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more <|im_end|>x<|im_start|",
    "   leading and trailing   ",
    "numbers 1234567890 3.14159 1,000,000 2024-11-23 v1.2.3",
    "contractions: I'm you're he's we've they'll I'd can't WON'T",
    "code: def f(x):\n\treturn x**2  # comment\n\n\n",
    "mixed\u00a0nbsp and\u2009thin space",
    "العربية مرحبا بالعالم",
    "Ünïcödé and ñ and ß",
    "tweet @user #hashtag http://t.co/abc123 :) :-( <3",
]

CHATS = [
    ("user-only", [{"role": "user", "content": "What is the capital of France?"}], True),
    ("system-user", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}], True),
    ("multi-turn", [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi, how can I help?"},
                    {"role": "user", "content": "Tell me a joke."}], False),
]


def smollm2_tokenizer(models):
    """The SmolLM2 fast tokenizer from the GGUF, with its real pre-tokenizer."""
    gguf = os.path.realpath(os.path.join(models, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    tok = AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf))
    from tokenizers import pre_tokenizers
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    return tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=os.environ.get("PARE_MODELS_DIR") or os.path.join(ROOT, ".cache", "models"))
    ap.add_argument("--data", default=os.environ.get("PARE_DATA_DIR") or os.path.join(ROOT, "..", "shared", "data"))
    a = ap.parse_args()
    tok = smollm2_tokenizer(a.models)

    def enc(s):
        return tok(s, add_special_tokens=False)["input_ids"]

    rows = [f"{no}\t{len(ids)}\t{fnv1a64(ids):016x}\n" for no, ids in
            ((no, enc(text)) for no, text in tweets(os.path.join(a.data, SEMEVAL)))]
    with open(os.path.join(GOLDEN, "semeval_bpe_smollm2.tsv"), "w", newline="\n") as f:
        f.writelines(rows)
    with open(os.path.join(GOLDEN, "bpe_edge_cases.txt"), "w", newline="\n") as f:
        f.writelines(escape(s) + "\n" for s in BPE_EDGE)
    with open(os.path.join(GOLDEN, "bpe_edge_cases.ids"), "w", newline="\n") as f:
        f.writelines(" ".join(map(str, enc(s))) + "\n" for s in BPE_EDGE)
    with open(os.path.join(GOLDEN, "chat_smollm2.txt"), "w", newline="\n") as f:
        for name, msgs, gen in CHATS:
            f.write(name + "\t" + escape(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)) + "\n")
    print(f"wrote {len(rows)} tweets, {len(BPE_EDGE)} edge cases, {len(CHATS)} chats", file=sys.stderr)


if __name__ == "__main__":
    main()
