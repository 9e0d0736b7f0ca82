#!/usr/bin/env python3
"""Write tests/golden/qtypes.bin: reference (de)quantization of ggml block
types, from the numpy ports in the pip `gguf` package (gguf.quants), which
follow ggml-quants.c operation by operation. Run by `make references`.

Where gguf.quants has no quantizer (Q8_1, Q8_K) or no type (Q8_1, Q8_K
dequantization), the port is written here from ggml-quants.c. K-type
dequantization inputs are random block bytes with sane f16 scales.

Format (little-endian): b"PQG1", u32 record count, then per record
  u32 kind (0 = quantize f32 -> bytes, 1 = dequantize bytes -> f32),
  u32 ggml type id, u32 n (elements), u32 in_bytes, u32 out_bytes,
  in_bytes of input, out_bytes of expected output.
tests/test_quant.c compares pare's output with memcmp.
"""
import argparse
import os
import struct

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QK_K = 256


def np_roundf(v):
    """C roundf: half away from zero (exact in float32)."""
    return quants.np_roundf(v)


def quant_q8_1(x):
    """quantize_row_q8_1_ref."""
    out = bytearray()
    for b in x.reshape(-1, 32):
        amax = np.float32(np.max(np.abs(b)))
        d = np.float32(amax / np.float32(127))
        iden = np.float32(1) / d if d != 0 else np.float32(0)
        qs = np_roundf((b * iden).astype(np.float32)).astype(np.int8)
        s = np.float32(np.float32(int(qs.astype(np.int32).sum())) * d)
        out += np.float16(d).tobytes() + np.float16(s).tobytes() + qs.tobytes()
    return bytes(out)


def dequant_q8_1(raw):
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 36)
    d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 4:].copy().view(np.int8).astype(np.float32)
    return (qs * d).astype(np.float32).tobytes()


def quant_q8_k(x):
    """quantize_row_q8_K_ref (bsums of an all-zero block written as 0)."""
    out = bytearray()
    for b in x.reshape(-1, QK_K):
        i = int(np.argmax(np.abs(b)))  # first of the largest, as the C loop
        mx = np.float32(b[i])
        if mx == 0:
            out += struct.pack("<f", 0.0) + bytes(QK_K) + bytes(QK_K // 16 * 2)
            continue
        iscale = np.float32(np.float32(-127) / mx)
        v = np.rint((iscale * b).astype(np.float32)).astype(np.int32)  # half to even
        qs = np.minimum(127, v).astype(np.int8)
        bsums = qs.astype(np.int32).reshape(-1, 16).sum(axis=1).astype(np.int16)
        d = np.float32(np.float32(1) / iscale)
        out += d.tobytes() + qs.tobytes() + bsums.tobytes()
    return bytes(out)


def dequant_q8_k(raw):
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 292)
    d = blocks[:, 0:4].copy().view(np.float32)
    qs = blocks[:, 4:4 + QK_K].copy().view(np.int8).astype(np.float32)
    return (d * qs).astype(np.float32).tobytes()


def quantize(qtype, x):
    if qtype == T.Q8_1:
        return quant_q8_1(x)
    if qtype == T.Q8_K:
        return quant_q8_k(x)
    if qtype == T.BF16:
        return quants.quantize(x, qtype).tobytes()
    return np.ascontiguousarray(quants.quantize(x, qtype)).tobytes()


def dequantize(qtype, raw):
    if qtype == T.Q8_1:
        return dequant_q8_1(raw)
    if qtype == T.Q8_K:
        return dequant_q8_k(raw)
    arr = np.frombuffer(raw, dtype=np.uint8)
    if qtype == T.F16:
        return arr.view(np.float16).astype(np.float32).tobytes()
    if qtype == T.F32:
        return raw
    return quants.dequantize(arr, qtype).astype(np.float32).tobytes()


def activations(rng, n, block):
    """Random rows with per-block spread, plus blocks that hit edge cases:
    all zero, constant, one outlier, exact .5 ties, tiny values."""
    x = rng.standard_normal(n).astype(np.float32)
    x *= np.repeat(np.exp(rng.uniform(-4, 2, n // block)), block).astype(np.float32)
    specials = [
        np.zeros(block, np.float32),
        np.full(block, 0.75, np.float32),
        np.concatenate([[50.0], rng.uniform(-0.01, 0.01, block - 1)]).astype(np.float32),
        # amax 127 gives d = 1 in Q8: x.5 values are ties for roundf
        np.concatenate([[-127.0], np.arange(block - 1) - (block - 1) / 2 + 0.5]).astype(np.float32),
        (rng.standard_normal(block) * 1e-6).astype(np.float32),
    ]
    nb = n // block
    for i, s in enumerate(specials[: max(0, nb - 2)]):
        x[(i + 1) * block:(i + 2) * block] = s
    return x


def random_k_blocks(rng, qtype, nblocks):
    """Random bytes with sane f16 scales at the right offsets."""
    block, size = quants.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (nblocks, size), dtype=np.uint8)

    def f16(lo, hi):
        return np.float16(rng.uniform(lo, hi, nblocks)).view(np.uint8).reshape(nblocks, 2)

    if qtype == T.Q2_K:   # scales[16] qs[64] d dmin
        raw[:, 80:82], raw[:, 82:84] = f16(1e-3, 0.1), f16(1e-3, 0.1)
    elif qtype == T.Q3_K:  # hmask[32] qs[64] scales[12] d
        raw[:, 108:110] = f16(-0.1, 0.1)
    elif qtype in (T.Q4_K, T.Q5_K):  # d dmin scales[12] ...
        raw[:, 0:2], raw[:, 2:4] = f16(1e-3, 0.1), f16(1e-3, 0.1)
    elif qtype == T.Q6_K:  # ql[128] qh[64] scales[16] d
        raw[:, 208:210] = f16(-0.01, 0.01)
    elif qtype == T.Q8_K:  # f32 d, qs[256], bsums[16]
        raw[:, 0:4] = rng.uniform(-0.1, 0.1, nblocks).astype(np.float32).view(np.uint8).reshape(nblocks, 4)
    return raw.tobytes()


def float_edge_inputs(rng, qtype):
    x = (rng.standard_normal(512) * np.exp(rng.uniform(-20, 12, 512))).astype(np.float32)
    edges = [0.0, -0.0, 1.0, -2.5, 65504.0, 65519.0, 65520.0, 1e6, 6e-8, 3e-8, 2.98e-8,
             5.96e-8, 6.1e-5, 1.0009765625 + 2**-11, 1.0 + 2**-11, np.inf, -np.inf]
    if qtype == T.BF16:
        edges += [1.0 + 2**-8, 1.0 + 3 * 2**-8, 3.4e38, np.nan]
    x[:len(edges)] = np.array(edges, dtype=np.float32)
    return x


def f16_bits(rng):
    specials = [0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x7e00,
                0x7c01, 0xfe00, 0x3c00, 0xbc00]
    b = rng.integers(0, 65536, 512, dtype=np.uint16)
    b[:len(specials)] = specials
    return b.tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "qtypes.bin"))
    args = ap.parse_args()
    rng = np.random.default_rng(20240607)
    recs = []  # (kind, type, n, in_bytes, out_bytes)

    for qt in (T.F16, T.BF16):
        x = float_edge_inputs(rng, qt)
        with np.errstate(over="ignore"):  # 1e6 -> inf in f16 on purpose
            recs.append((0, qt, x.size, x.tobytes(), quantize(qt, x)))
    fb = f16_bits(rng)
    recs.append((1, T.F16, 512, fb, dequantize(T.F16, fb)))
    bb = rng.integers(0, 65536, 512, dtype=np.uint16).tobytes()
    recs.append((1, T.BF16, 512, bb, quants.dequantize(np.frombuffer(bb, np.uint8), T.BF16).tobytes()))

    for qt in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q8_1):
        x = activations(rng, 320, 32)
        q = quantize(qt, x)
        recs.append((0, qt, x.size, x.tobytes(), q))
        recs.append((1, qt, x.size, q, dequantize(qt, q)))
        # random bytes with a sane scale (every code point, not just those a quantizer makes)
        size = 36 if qt == T.Q8_1 else quants.GGML_QUANT_SIZES[qt][1]  # gguf says 40: stale
        raw = rng.integers(0, 256, (16, size), dtype=np.uint8)
        raw[:, 0:2] = np.float16(rng.uniform(-0.1, 0.1, 16)).view(np.uint8).reshape(16, 2)
        if qt in (T.Q4_1, T.Q5_1, T.Q8_1):
            raw[:, 2:4] = np.float16(rng.uniform(-0.5, 0.5, 16)).view(np.uint8).reshape(16, 2)
        recs.append((1, qt, 16 * 32, raw.tobytes(), dequantize(qt, raw.tobytes())))

    x = activations(rng, 4 * QK_K, QK_K)
    x[QK_K:2 * QK_K] = 0
    recs.append((0, T.Q8_K, x.size, x.tobytes(), quantize(T.Q8_K, x)))
    for qt in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_K):
        raw = random_k_blocks(rng, qt, 3)
        recs.append((1, qt, 3 * QK_K, raw, dequantize(qt, raw)))

    out = bytearray(b"PQG1" + struct.pack("<I", len(recs)))
    for kind, qt, n, a, b in recs:
        out += struct.pack("<5I", kind, int(qt), n, len(a), len(b)) + a + b
    with open(args.out, "wb") as f:
        f.write(out)
    print(f"wrote {args.out}: {len(recs)} records, {len(out)} bytes")


if __name__ == "__main__":
    main()
