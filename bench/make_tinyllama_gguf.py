#!/usr/bin/env python3
"""Write TinyLlama-1.1B-shaped GGUF files with seeded random weights, for
`make bench` (pare beside llama.cpp on the same files).

Shape: 22 layers, hidden 2048, FFN 5632, 32 heads, 4 KV heads, vocab 32000,
context 2048, RoPE base 10000: TinyLlama-1.1B's config. Weights are
N(0, 0.02), norms 1, so the files are the right size and shape but say
nothing; the vocabulary is a SentencePiece-style stand-in (<unk>, <s>, </s>,
256 byte tokens, then "▁t<i>"), enough for llama.cpp to load the file.

Quantization uses the gguf package's numpy ports of ggml's reference
quantizers, so the Q8_0/Q4_0 bytes are what llama-quantize writes for the
same f32 values.

usage: make_tinyllama_gguf.py OUT_DIR [--types f32,f16,q8_0,q4_0] [--layers N]
"""
import argparse
import os
import sys

import numpy as np

try:
    import gguf
except ImportError:
    sys.exit("make_tinyllama_gguf.py: needs the gguf package (pip install gguf)")

SHAPE = dict(layers=22, hidden=2048, ffn=5632, heads=32, kv_heads=4, vocab=32000, ctx=2048)
TYPES = {
    "f32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32),
    "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
    "q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
    "q4_0": (gguf.GGMLQuantizationType.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
}


def vocab(n):
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)]
    toks += ["\u2581t%d" % i for i in range(n - len(toks))]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * (n - 259)
    scores = [0.0] * 259 + [-float(i) for i in range(n - 259)]
    return toks, scores, types


def tensors(s, rng):
    h, f, kvd = s["hidden"], s["ffn"], s["hidden"] // s["heads"] * s["kv_heads"]
    yield "token_embd.weight", (s["vocab"], h), False
    for i in range(s["layers"]):
        b = "blk.%d." % i
        yield b + "attn_norm.weight", (h,), True
        yield b + "attn_q.weight", (h, h), False
        yield b + "attn_k.weight", (kvd, h), False
        yield b + "attn_v.weight", (kvd, h), False
        yield b + "attn_output.weight", (h, h), False
        yield b + "ffn_norm.weight", (h,), True
        yield b + "ffn_gate.weight", (f, h), False
        yield b + "ffn_up.weight", (f, h), False
        yield b + "ffn_down.weight", (h, f), False
    yield "output_norm.weight", (h,), True
    yield "output.weight", (s["vocab"], h), False


def write(path, typ, s, seed):
    qtype, ftype = TYPES[typ]
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tinyllama-shape-random-seed%d" % seed)
    w.add_context_length(s["ctx"])
    w.add_embedding_length(s["hidden"])
    w.add_block_count(s["layers"])
    w.add_feed_forward_length(s["ffn"])
    w.add_head_count(s["heads"])
    w.add_head_count_kv(s["kv_heads"])
    w.add_rope_dimension_count(s["hidden"] // s["heads"])
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(s["vocab"])
    w.add_file_type(ftype)
    toks, scores, types = vocab(s["vocab"])
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    for name, shape, is_norm in tensors(s, rng):
        if is_norm:
            w.add_tensor(name, np.ones(shape, dtype=np.float32))
            continue
        x = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)
        if qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, x)
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, x.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(x, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--types", default="f32,f16,q8_0,q4_0")
    ap.add_argument("--layers", type=int, default=SHAPE["layers"])
    ap.add_argument("--seed", type=int, default=1100)
    a = ap.parse_args()
    s = dict(SHAPE, layers=a.layers)
    os.makedirs(a.out_dir, exist_ok=True)
    for t in a.types.split(","):
        path = os.path.join(a.out_dir, "tinyllama-%s.gguf" % t)
        if os.path.exists(path):
            continue
        print("bench: writing %s" % path, file=sys.stderr)
        write(path + ".tmp", t, s, a.seed)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
