#!/usr/bin/env python3
"""Write the tiny PyTorch checkpoints used by tests/test_torch.c and the
fuzz seed corpus. Each torch fixture comes with a .safetensors twin holding
the same tensors (contiguous copies), so the test compares both readers.

Run from the repository root: python3 tools/make_torch_fixtures.py
Needs torch and safetensors; the tests themselves need neither."""
import collections
import io
import os
import pickle
import zipfile

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "fixtures")
torch.manual_seed(1234)


def save_pair(name, obj, flat):
    torch.save(obj, os.path.join(OUT, name + ".pt"))
    save_file({k: v.contiguous().clone() for k, v in flat.items()},
              os.path.join(OUT, name + ".safetensors"))


def dtypes():
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4)
    sd["f16"] = torch.randn(5).half()
    sd["bf16"] = torch.randn(2, 3).bfloat16()
    sd["f64"] = torch.randn(2, dtype=torch.float64)
    sd["i64"] = torch.arange(-3, 3, dtype=torch.int64)
    sd["i32"] = torch.randint(-100, 100, (4,), dtype=torch.int32)
    sd["i8"] = torch.randint(-128, 127, (3,), dtype=torch.int8)
    sd["u8"] = torch.randint(0, 255, (3,), dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    return sd


def views():
    base = torch.randn(6, 4)
    sd = collections.OrderedDict()
    sd["base"] = base
    sd["row_slice"] = base[2:4]          # shared storage, storage offset 8
    sd["transposed"] = base.t()          # non-contiguous
    sd["strided"] = base[::2, 1:3]       # offset and strides
    sd["col"] = base[:, 1]               # stride 4
    return sd


def hf_state_dict():
    # What model.state_dict() looks like: an OrderedDict with a _metadata
    # attribute (set through BUILD) and dotted names.
    m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    sd = m.state_dict()
    return sd


def nested():
    inner = collections.OrderedDict([("w", torch.randn(2, 2)), ("b", torch.randn(2))])
    return {"model": inner, "step": 7, "name": "x"}


def malicious():
    # A pickle whose GLOBAL is os.system: written opcode by opcode, never loaded.
    pk = b"\x80\x02cos\nsystem\nq\x00X\x0b\x00\x00\x00echo pwned!q\x01\x85q\x02Rq\x03."
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pk)
        z.writestr("archive/version", "3\n")
    with open(os.path.join(OUT, "malicious.pt"), "wb") as f:
        f.write(buf.getvalue())


def compressed():
    # Same as dtypes.pt but with deflated entries: must be rejected.
    src = zipfile.ZipFile(os.path.join(OUT, "dtypes.pt"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info.filename))
    with open(os.path.join(OUT, "compressed.pt"), "wb") as f:
        f.write(buf.getvalue())


def main():
    os.makedirs(OUT, exist_ok=True)
    d = dtypes()
    save_pair("dtypes", d, d)
    v = views()
    save_pair("views", v, v)
    sd = hf_state_dict()
    save_pair("state_dict", sd, sd)
    n = nested()
    save_pair("nested", n, {"model." + k: t for k, t in n["model"].items()})
    malicious()
    compressed()


if __name__ == "__main__":
    main()
