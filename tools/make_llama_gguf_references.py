#!/usr/bin/env python3
"""Golden outputs of SmolLM2-135M-Instruct (GGUF Q4_1) from transformers.

transformers loads the GGUF and dequantizes every weight to f32 (its GGUF
integration un-permutes llama.cpp's q/k row order), so these are the
logits of the exact f32 model behind the file. Written to
tests/golden/smollm2.safetensors:
  prompt_ids     [64]        ids of a fixed English prompt (HF tokenizer from the GGUF)
  top_ids        [64, 64]    per position, the 64 highest-scoring token ids
  top_logits     [64, 64]    their logits
  last_logits    [vocab]     every logit of the last position
  greedy_ids     [64]        64 greedily generated ids after the prompt

usage: make_llama_gguf_references.py [GGUF] [OUT]
"""
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GGUF = os.path.join(ROOT, ".cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "tests/golden/smollm2.safetensors")
PROMPT = ("The history of the printing press begins in the fifteenth century, when Johannes "
          "Gutenberg combined movable metal type, oil-based ink and a wooden screw press. Within "
          "fifty years printers were at work in more than two hundred cities across Europe, and "
          "books became cheaper, more numerous and more accurate than ever before. Scholars could now "
          "compare identical copies of a text.")


def main():
    gguf = sys.argv[1] if len(sys.argv) > 1 else GGUF
    out = sys.argv[2] if len(sys.argv) > 2 else OUT
    d, f = os.path.dirname(os.path.realpath(gguf)), os.path.basename(os.path.realpath(gguf))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model.eval()
    ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    assert len(ids) >= 64, len(ids)
    ids = torch.tensor([ids[:64]])
    with torch.no_grad():
        logits = model(ids).logits[0].float()
        top = torch.topk(logits, 64, dim=-1)
        gen = model.generate(ids, max_new_tokens=64, do_sample=False, attention_mask=torch.ones_like(ids),
                             pad_token_id=tok.eos_token_id if tok.eos_token_id is not None else 0)
    greedy = gen[0, 64:]
    save_file({
        "prompt_ids": ids[0].to(torch.int32).contiguous(),
        "top_ids": top.indices.to(torch.int32).contiguous(),
        "top_logits": top.values.contiguous(),
        "last_logits": logits[-1].contiguous(),
        "greedy_ids": greedy.to(torch.int32).contiguous(),
    }, out, metadata={"source": os.path.basename(gguf), "prompt": PROMPT})
    print("wrote %s (greedy: %s)" % (out, tok.decode(greedy)), file=sys.stderr)


if __name__ == "__main__":
    main()
