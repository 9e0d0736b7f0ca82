#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/ from the committed
test fixtures plus a few hand-made valid and corrupt inputs. Standard
library only. Run from the repository root after make_torch_fixtures.py."""
import io
import json
import os
import struct
import zipfile

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIX = os.path.join(ROOT, "tests", "golden", "fixtures")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def st(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors():
    for stem in ("dtypes", "views", "state_dict", "nested"):
        write("safetensors", stem + ".safetensors", fixture(stem + ".safetensors"))
    ok = {"__metadata__": {"format": "pt"},
          "a": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]},
          "b": {"dtype": "I64", "shape": [], "data_offsets": [8, 16]},
          "c": {"dtype": "BOOL", "shape": [0], "data_offsets": [16, 16]}}
    write("safetensors", "small.safetensors", st(ok, bytes(range(16))))
    bad = dict(ok, b={"dtype": "F8_E5M2", "shape": [8], "data_offsets": [8, 16]})
    write("safetensors", "bad_dtype.safetensors", st(bad, bytes(16)))
    gap = dict(ok, b={"dtype": "I64", "shape": [], "data_offsets": [9, 17]})
    write("safetensors", "gap.safetensors", st(gap, bytes(17)))
    write("safetensors", "truncated.safetensors", st(ok, bytes(16))[:40])
    write("safetensors", "huge_len.safetensors", b"\xff" * 8 + b"{}")


def stored_zip(entries, zip64=False):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            with z.open(zipfile.ZipInfo(name), "w", force_zip64=zip64) as f:
                f.write(data)
    return buf.getvalue()


TENSOR_PKL = (b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
              b"ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x01K\x02\x85K\x01\x85"
              b"\x89ccollections\nOrderedDict\n)RtRs.")


def zip64_archive(entries):
    """A stored zip whose EOCD defers to ZIP64 records (as torch writes for
    large checkpoints), built by hand since zipfile only does that when it
    must."""
    out, offs = bytearray(), []
    for name, data in entries:
        offs.append(len(out))
        n = name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, len(data), len(data), len(n), 0)
        out += n + data
    cd = len(out)
    for (name, data), off in zip(entries, offs):
        n = name.encode()
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, 0, len(data), len(data),
                           len(n), 12, 0, 0, 0, 0, 0xFFFFFFFF)
        out += n + struct.pack("<HHQ", 1, 8, off)
    cdn, rec = len(out) - cd, len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), cdn, cd)
    out += struct.pack("<IIQI", 0x07064B50, 0, rec, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, cdn, 0xFFFFFFFF, 0)
    return bytes(out)


def torch():
    for stem in ("dtypes", "views", "state_dict", "nested", "malicious", "compressed"):
        write("torch", stem + ".pt", fixture(stem + ".pt"))
    data = bytes(range(16))
    write("torch", "hand.pt", stored_zip([("a/data.pkl", TENSOR_PKL), ("a/data/0", data)]))
    write("torch", "hand_zip64.pt", stored_zip([("a/data.pkl", TENSOR_PKL), ("a/data/0", data)], zip64=True))
    write("torch", "eocd64.pt", zip64_archive([("a/data.pkl", TENSOR_PKL), ("a/data/0", data)]))
    write("torch", "bad_storage.pt", stored_zip([("a/data.pkl", TENSOR_PKL), ("a/data/0", data[:12])]))
    write("torch", "truncated.pt", fixture("state_dict.pt")[:-30])


def g_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def g_kv(key, vtype, payload):
    return g_str(key) + struct.pack("<I", vtype) + payload


def g_file(kvs, tensors, version=3, align=32, counts=None):
    """GGUF bytes: kvs are encoded entries, tensors (name, ne, type, data)
    laid out at aligned offsets in order."""
    infos, body = b"", b""
    for name, ne, ttype, data in tensors:
        body += b"\0" * (-len(body) % align)
        infos += g_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne)
        infos += struct.pack("<IQ", ttype, len(body))
        body += data
    nt, nkv = counts or (len(tensors), len(kvs))
    head = b"GGUF" + struct.pack("<IQQ", version, nt, nkv) + b"".join(kvs) + infos
    return head + b"\0" * (-len(head) % align) + body


def gguf():
    write("gguf", "tiny.gguf", fixture("tiny.gguf"))
    kvs = [g_kv("general.architecture", 8, g_str("llama")),
           g_kv("llama.block_count", 4, struct.pack("<I", 2)),
           g_kv("llama.rope.freq_base", 6, struct.pack("<f", 1e4)),
           g_kv("f64", 12, struct.pack("<d", 0.5)), g_kv("i64", 11, struct.pack("<q", -1)),
           g_kv("u8", 0, b"\x07"), g_kv("i16", 3, b"\xff\xff"), g_kv("bool", 7, b"\x01"),
           g_kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + g_str("a") + g_str("") + g_str("<s>")),
           g_kv("scores", 9, struct.pack("<IQ", 6, 2) + struct.pack("<ff", 0.5, -1)),
           g_kv("empty", 9, struct.pack("<IQ", 4, 0))]
    q4 = bytes(range(18)) * 2
    tensors = [("token_embd.weight", [4, 2], 0, struct.pack("<8f", *range(8))),
               ("blk.0.attn_q.weight", [64], 2, q4),
               ("blk.0.ffn.weight", [32, 1, 1, 1], 8, bytes(34)),
               ("h", [3], 1, bytes(6))]
    write("gguf", "all_types.gguf", g_file(kvs, tensors))
    write("gguf", "v2.gguf", g_file(kvs[:3], tensors[:1], version=2))
    align = [g_kv("general.alignment", 4, struct.pack("<I", 64))]
    write("gguf", "align64.gguf", g_file(align + kvs[:1], tensors, align=64))
    write("gguf", "empty.gguf", g_file([], []))
    write("gguf", "v1.gguf", g_file([], [], version=1))
    write("gguf", "nested.gguf", g_file([g_kv("n", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 4, 0))], []))
    write("gguf", "lying_count.gguf", g_file(kvs[:1], tensors[:1], counts=(1 << 62, 1)))
    write("gguf", "huge_string.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", (1 << 64) - 256) + bytes(64))
    write("gguf", "unknown_type.gguf", g_file([], [("t", [32], 99, bytes(128))]))
    write("gguf", "truncated.gguf", g_file(kvs, tensors)[:-20])


def jsons():
    cfg = {"architectures": ["BertModel"], "hidden_size": 384, "num_hidden_layers": 6,
           "layer_norm_eps": 1e-12, "hidden_act": "gelu", "use_cache": True,
           "classifier_dropout": None, "id2label": {"0": "a"}, "vocab_size": 30522}
    write("json", "config.json", json.dumps(cfg, indent=2).encode())
    write("json", "unicode.json", '{"a": "\\u00e9\\ud83d\\ude00", "b": [1, -2.5e3, true]}'.encode())
    write("json", "bad_trailing.json", b'{"a": 1} x')
    write("json", "bad_unclosed.json", b'{"a": [1, 2')
    write("json", "deep.json", b'{"a":' + b"[" * 200 + b"]" * 200 + b"}")


if __name__ == "__main__":
    safetensors()
    torch()
    gguf()
    jsons()
