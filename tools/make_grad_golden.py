#!/usr/bin/env python3
"""PyTorch autograd references for the training ops (include/pare/grad.h):
writes tests/golden/grad_ops.bin, read by tests/test_grad.c.

Each op runs in float64 on seeded random inputs through torch's own
functions (F.linear, F.layer_norm, F.gelu, F.scaled_dot_product_attention
with a padding mask and causal, F.binary_cross_entropy_with_logits,
F.cross_entropy, and the distillation loss of the issue: a*hard +
(1-a)*T^2*KL with F.kl_div batchmean for softmax, the Bernoulli KL per label
for sigmoid); loss = sum(out * R) and its gradients come from autograd.

File: records of [u32 name length][name][u32 count][count x f32], little-endian.
"""
import struct
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
out = []


def put(name, t):
    out.append((name, t.detach().to(torch.float32).reshape(-1).tolist()))


def rnd(*shape, scale=1.0):
    return ((torch.rand(*shape, dtype=torch.float64) * 2 - 1) * scale).requires_grad_(True)


# linear
M, K, N = 6, 10, 7
x, w, b, r = rnd(M, K), rnd(N, K), rnd(N), rnd(M, N)
y = F.linear(x, w, b)
(y * r).sum().backward()
for n, t in [("lin.x", x), ("lin.w", w), ("lin.b", b), ("lin.r", r), ("lin.y", y), ("lin.dx", x.grad), ("lin.dw", w.grad), ("lin.db", b.grad)]:
    put(n, t)

# layernorm
M, C = 5, 12
x, g, b, r = rnd(M, C, scale=2), rnd(C), rnd(C), rnd(M, C)
y = F.layer_norm(x, (C,), g, b, eps=1e-12)
(y * r).sum().backward()
for n, t in [("ln.x", x), ("ln.g", g), ("ln.b", b), ("ln.r", r), ("ln.y", y), ("ln.dx", x.grad), ("ln.dg", g.grad), ("ln.db", b.grad)]:
    put(n, t)

# gelu
x, r = rnd(50, scale=4), rnd(50)
y = F.gelu(x)
(y * r).sum().backward()
for n, t in [("gelu.x", x), ("gelu.r", r), ("gelu.y", y), ("gelu.dx", x.grad)]:
    put(n, t)

# Llama ops: RMSNorm (HF LlamaRMSNorm), SwiGLU, RoPE (HF rotate-half)
M, C, NH, D = 5, 12, 3, 8
x, g, r = rnd(M, C, scale=2), rnd(C), rnd(M, C)
y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * g
(y * r).sum().backward()
for n, t in [("rms.x", x), ("rms.g", g), ("rms.r", r), ("rms.y", y), ("rms.dx", x.grad), ("rms.dg", g.grad)]:
    put(n, t)
a, b, r = rnd(M, C, scale=4), rnd(M, C, scale=2), rnd(M, C)
y = F.silu(a) * b
(y * r).sum().backward()
for n, t in [("swi.a", a), ("swi.b", b), ("swi.r", r), ("swi.y", y), ("swi.da", a.grad), ("swi.db", b.grad)]:
    put(n, t)
pos = torch.tensor([0, 1, 7, 100, 2047], dtype=torch.float64)
x, r = rnd(M, NH, D, scale=2), rnd(M, NH, D)
inv = 10000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
ang = torch.cat([pos[:, None] * inv[None, :]] * 2, dim=-1)[:, None, :]
rot = lambda z: torch.cat([-z[..., D // 2:], z[..., : D // 2]], dim=-1)
y = x * ang.cos() + rot(x) * ang.sin()
(y * r).sum().backward()
for n, t in [("rope.x", x), ("rope.r", r), ("rope.pos", pos), ("rope.y", y), ("rope.dx", x.grad)]:
    put(n, t)

# attention: qkv [B, T, 3C], heads of C/NH; padding mask on keys, then causal
B, T, C, NH = 2, 6, 8, 2
D = C // NH
mask = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], dtype=torch.bool)
for name, causal in [("att", False), ("attc", True)]:
    qkv, r = rnd(B, T, 3 * C, scale=1.5), rnd(B, T, C)
    q, k, v = qkv.split(C, dim=2)
    heads = lambda z: z.reshape(B, T, NH, D).transpose(1, 2)
    if causal:
        o = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
    else:
        o = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=mask[:, None, None, :])
    o = o.transpose(1, 2).reshape(B, T, C)
    (o * r).sum().backward()
    for n, t in [("qkv", qkv), ("r", r), ("out", o), ("dqkv", qkv.grad)]:
        put(name + "." + n, t)
put("att.mask", mask.to(torch.float64))

# losses: B rows of L
B, L, Temp, a = 4, 5, 2.0, 0.5
s, t = rnd(B, L, scale=4), rnd(B, L, scale=4)
y = (torch.rand(B, L) > 0.5).to(torch.float64)
labels = torch.tensor([1, 4, 0, 2])
put("loss.s", s)
put("loss.t", t)
put("loss.y", y)
put("loss.labels", labels.to(torch.float64))
lb = F.binary_cross_entropy_with_logits(s, y)
(gs,) = torch.autograd.grad(lb, s)
put("bce.loss", lb.reshape(1)); put("bce.ds", gs)
lc = F.cross_entropy(s, labels)
(gs,) = torch.autograd.grad(lc, s)
put("ce.loss", lc.reshape(1)); put("ce.ds", gs)
pt, ps = torch.sigmoid(t / Temp), torch.sigmoid(s / Temp)
kl = (pt * (torch.log(pt) - torch.log(ps)) + (1 - pt) * (torch.log1p(-pt) - torch.log1p(-ps))).mean()
ld = a * F.binary_cross_entropy_with_logits(s, y) + (1 - a) * Temp * Temp * kl
(gs,) = torch.autograd.grad(ld, s)
put("kds.loss", ld.reshape(1)); put("kds.ds", gs)
kl = F.kl_div(F.log_softmax(s / Temp, dim=1), F.softmax(t / Temp, dim=1), reduction="batchmean")
ld = a * F.cross_entropy(s, labels) + (1 - a) * Temp * Temp * kl
(gs,) = torch.autograd.grad(ld, s)
put("kdm.loss", ld.reshape(1)); put("kdm.ds", gs)

# grouped-query attention (Llama): qkv [B, T, C + 2 NKV D], query head h on
# kv head h // (NH / NKV); drawn last so the arrays above keep their values
B, T, C, NH, NKV = 2, 6, 16, 4, 2
D = C // NH
for name, causal in [("gqa", False), ("gqac", True)]:
    qkv, r = rnd(B, T, C + 2 * NKV * D, scale=1.5), rnd(B, T, C)
    q, k, v = qkv.split([C, NKV * D, NKV * D], dim=2)
    heads = lambda z, n: z.reshape(B, T, n, D).transpose(1, 2)
    kk = heads(k, NKV).repeat_interleave(NH // NKV, dim=1)
    vv = heads(v, NKV).repeat_interleave(NH // NKV, dim=1)
    if causal:
        o = F.scaled_dot_product_attention(heads(q, NH), kk, vv, is_causal=True)
    else:
        o = F.scaled_dot_product_attention(heads(q, NH), kk, vv, attn_mask=mask[:, None, None, :])
    o = o.transpose(1, 2).reshape(B, T, C)
    (o * r).sum().backward()
    for n, t in [("qkv", qkv), ("r", r), ("out", o), ("dqkv", qkv.grad)]:
        put(name + "." + n, t)

path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/grad_ops.bin"
with open(path, "wb") as f:
    for name, vals in out:
        nb = name.encode()
        f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<I", len(vals)) + struct.pack("<%df" % len(vals), *vals))
print("wrote %s: %d arrays (torch %s)" % (path, len(out), torch.__version__))
