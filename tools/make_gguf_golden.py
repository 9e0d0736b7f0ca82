#!/usr/bin/env python3
"""GGUF golden files for tests/test_gguf.c, written with the pip `gguf`
package (gguf==0.19.0, llama.cpp's own Python reader/writer). Run by
`make references`; `make test` reads the committed output, never Python.

1. tests/golden/fixtures/tiny.gguf: a few-KB GGUF written by gguf.GGUFWriter
   with every metadata value type, arrays and F32/F16/I32/Q4_0/Q4_1/Q8_0
   tensors, alignment 64. Written only when absent or with --fixture, so
   that the committed bytes stay fixed.
2. A summary of each file, read back with gguf.GGUFReader:
     tests/golden/fixtures/tiny.gguf.txt
     tests/golden/smollm2-q4_1.gguf.txt  (.cache/models/smollm2/..., `make models`)

Summary format (tab-separated lines; '#' lines are comments):
  header  version  alignment  data_offset  n_kv  n_tensors  file_size
  kv      key  type  value
  tensor  name  ggml_type_id  ne0,ne1,..  file_offset  nbytes
kv values: integers in decimal; f32/f64 as the hex of their bits; bool 0/1;
string "len=N fnv=H"; array "ELEMTYPE n=N fnv=H". fnv is FNV-1a 64 (hex)
over the value's bytes: a string's bytes; a numeric array's little-endian
elements; a string array's elements each as u64 LE length + bytes.
Tensor ne is in ggml order (ne0 contiguous); file_offset is absolute.
"""
import importlib.metadata
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "golden", "fixtures")
TYPE_NAMES = {0: "u8", 1: "i8", 2: "u16", 3: "i16", 4: "u32", 5: "i32", 6: "f32", 7: "bool",
              8: "string", 9: "array", 10: "u64", 11: "i64", 12: "f64"}


def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def scalar_text(t, part):
    raw = part.tobytes()
    if t == 6:
        return "0x%08x" % struct.unpack("<I", raw)[0]
    if t == 12:
        return "0x%016x" % struct.unpack("<Q", raw)[0]
    if t == 7:
        return "1" if raw[0] else "0"
    return str(int(part[0]))


def summarize(path, out):
    import gguf
    r = gguf.GGUFReader(path)
    with open(path, "rb") as f:
        head = f.read(24)
    magic, version, n_tensors, n_kv = struct.unpack("<4sIQQ", head)
    assert magic == b"GGUF"
    lines = ["# written by tools/make_gguf_golden.py (gguf %s) from %s" %
             (importlib.metadata.version("gguf"), os.path.relpath(path, ROOT)),
             "header\t%d\t%d\t%d\t%d\t%d\t%d" % (version, r.alignment, r.data_offset, n_kv, n_tensors,
                                                os.path.getsize(path))]
    for key, f in r.fields.items():
        if key.startswith("GGUF."):
            continue
        t = int(f.types[0])
        if t == 8:
            s = f.parts[f.data[0]].tobytes()
            val = "len=%d fnv=%s" % (len(s), fnv(s))
        elif t == 9:
            et = int(f.types[1]) if len(f.types) > 1 else 0
            if len(f.types) == 1:  # empty array: element type is in the parts
                et = int(f.parts[2][0])
            if et == 8:
                blob = b"".join(struct.pack("<Q", len(f.parts[i])) + f.parts[i].tobytes() for i in f.data)
            else:
                blob = b"".join(f.parts[i].tobytes() for i in f.data)
                if et == 7:
                    blob = bytes(1 if b else 0 for b in blob)
            val = "%s n=%d fnv=%s" % (TYPE_NAMES[et], len(f.data), fnv(blob))
        else:
            val = scalar_text(t, f.parts[f.data[0]])
        lines.append("kv\t%s\t%s\t%s" % (key, TYPE_NAMES[t], val))
    for t in r.tensors:
        lines.append("tensor\t%s\t%d\t%s\t%d\t%d" % (t.name, int(t.tensor_type),
                                                     ",".join(str(int(x)) for x in t.shape),
                                                     t.data_offset, t.n_bytes))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d kv, %d tensors)" % (os.path.relpath(out, ROOT), n_kv, n_tensors))


def write_fixture(path):
    import gguf
    V = gguf.GGUFValueType
    Q = gguf.GGMLQuantizationType
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_custom_alignment(64)
    w.add_name("tiny fixture")
    w.add_block_count(2)
    w.add_context_length(128)
    w.add_embedding_length(64)
    w.add_head_count(4)
    w.add_key_value("test.u8", 200, V.UINT8)
    w.add_key_value("test.i8", -100, V.INT8)
    w.add_key_value("test.u16", 60000, V.UINT16)
    w.add_key_value("test.i16", -30000, V.INT16)
    w.add_key_value("test.i32", -2000000000, V.INT32)
    w.add_key_value("test.f32", 0.1, V.FLOAT32)
    w.add_key_value("test.u64", 2**63 + 5, V.UINT64)
    w.add_key_value("test.i64", -(2**62), V.INT64)
    w.add_key_value("test.f64", -1.0 / 3.0, V.FLOAT64)
    w.add_key_value("test.bool", True, V.BOOL)
    w.add_key_value("test.empty_string", "", V.STRING)
    w.add_key_value("test.utf8", "h\u00e9llo \u4e2d\u6587\n\ttab", V.STRING)
    w.add_key_value("test.arr_str", ["a", "", "b c", "\u00e9"], V.ARRAY, V.STRING)
    w.add_key_value("test.arr_i32", [1, -2, 3, 2**31 - 1], V.ARRAY, V.INT32)
    w.add_key_value("test.arr_f32", [0.5, -1.25, 3.0], V.ARRAY, V.FLOAT32)
    w.add_key_value("test.arr_u8", [0, 1, 255], V.ARRAY, V.UINT8)
    w.add_key_value("test.arr_bool", [True, False, True], V.ARRAY, V.BOOL)
    w.add_key_value("test.arr_u64", [1, 2**64 - 1], V.ARRAY, V.UINT64)
    w.add_key_value("test.arr_f64", [2.5], V.ARRAY, V.FLOAT64)
    rng = np.random.default_rng(7)
    w.add_tensor("w.f32", rng.standard_normal((3, 4)).astype(np.float32))
    w.add_tensor("w.f16", rng.standard_normal(8).astype(np.float16))
    w.add_tensor("w.i32", np.arange(5, dtype=np.int32))
    # Quantized: raw bytes, rows of (ne0 / block) blocks; random bytes are
    # fine for the reader (it never decodes them).
    w.add_tensor("blk.0.q4_0", rng.integers(0, 256, (2, 2 * 18), dtype=np.uint8), raw_dtype=Q.Q4_0)
    w.add_tensor("blk.0.q4_1", rng.integers(0, 256, (1, 20), dtype=np.uint8), raw_dtype=Q.Q4_1)
    w.add_tensor("blk.1.q8_0", rng.integers(0, 256, (3, 34), dtype=np.uint8), raw_dtype=Q.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote %s (%d bytes)" % (os.path.relpath(path, ROOT), os.path.getsize(path)))


def main():
    tiny = os.path.join(FIX, "tiny.gguf")
    if "--fixture" in sys.argv or not os.path.exists(tiny):
        os.makedirs(FIX, exist_ok=True)
        write_fixture(tiny)
    summarize(tiny, tiny + ".txt")
    models = os.environ.get("PARE_MODELS_DIR") or os.path.join(ROOT, ".cache", "models")
    smol = os.path.join(models, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if os.path.exists(smol):
        summarize(smol, os.path.join(ROOT, "tests", "golden", "smollm2-q4_1.gguf.txt"))
    else:
        print("make_gguf_golden: %s absent (make models); its summary is not rewritten" % smol)


if __name__ == "__main__":
    main()
