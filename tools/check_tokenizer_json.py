#!/usr/bin/env python3
"""Cross-check pare's tokenizer.json support against Hugging Face (run by
`make references`; needs pip transformers tokenizers gguf and build/pare):

1. pare reads the tokenizer.json that transformers itself saves for SmolLM2
   (save_pretrained of the fast tokenizer built from the GGUF) and gives
   HF's ids on every SemEval tweet and every BPE edge case;
2. HF tokenizers reads the tokenizer.json that `pare dev tokenizer-json`
   writes from the GGUF and gives the same ids.
Prints the counts; exits 1 on any difference."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_bpe_golden import BPE_EDGE, smollm2_tokenizer  # noqa: E402
from make_tokenizer_golden import ROOT, SEMEVAL, tweets  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def pare_ids(pare, tok_path, texts, tmp):
    src = os.path.join(tmp, "texts.txt")
    with open(src, "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            f.write(t.replace("\n", " ") + "\n")
    out = subprocess.run([pare, "tokenize", tok_path, "--file", src], check=True, capture_output=True, text=True).stdout
    return [json.loads(line)["ids"] for line in out.splitlines()]


def main():
    models = os.environ.get("PARE_MODELS_DIR") or os.path.join(ROOT, ".cache", "models")
    data = os.environ.get("PARE_DATA_DIR") or os.path.join(ROOT, "..", "shared", "data")
    pare = os.path.join(ROOT, "build", "pare")
    hf = smollm2_tokenizer(models)
    # one text per line for pare: newlines inside texts are replaced by spaces on both sides
    texts = [t.replace("\n", " ") for _, t in tweets(os.path.join(data, SEMEVAL))] + [t.replace("\n", " ") for t in BPE_EDGE]
    # a line-based file cannot carry NUL, CR or empty texts (test_bpe covers those through its goldens)
    texts = [t for t in texts if t and "\0" not in t and "\r" not in t]
    want = [hf(t, add_special_tokens=False)["input_ids"] for t in texts]
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = os.path.join(tmp, "hf")
        hf.save_pretrained(hf_dir)
        got = pare_ids(pare, hf_dir, texts, tmp)
        diff = sum(g != w for g, w in zip(got, want)) + abs(len(got) - len(want))
        print(f"pare on transformers' tokenizer.json: {len(want) - diff}/{len(want)} texts identical")
        bad += diff
        pare_dir = os.path.join(tmp, "pare")
        os.makedirs(pare_dir)
        gguf = os.path.join(models, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
        subprocess.run([pare, "dev", "tokenizer-json", gguf, "-o", pare_dir], check=True, capture_output=True)
        t2 = Tokenizer.from_file(os.path.join(pare_dir, "tokenizer.json"))
        got2 = [t2.encode(t, add_special_tokens=False).ids for t in texts]
        diff2 = sum(g != w for g, w in zip(got2, want))
        print(f"HF tokenizers on pare's tokenizer.json: {len(want) - diff2}/{len(want)} texts identical")
        bad += diff2
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
