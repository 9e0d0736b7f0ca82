"""Load a BERT folder written by `pare prune --method heads|neurons|layers`
into transformers (used by tools/make_references.py and handy for users).

The folder records removed heads the way transformers 4.x did (config.json
"pruned_heads"), and 4.x applied them at load. transformers 5 dropped head
pruning, so this builds the model from the config, resizes each layer's
Linear modules to the checkpoint's shapes (heads and FFN width per layer),
and then loads the weights strictly."""
import os
import sys

import torch
from safetensors.torch import load_file


def load_pruned_bert(folder, cls=None):
    from transformers import AutoConfig, BertModel
    cls = cls or BertModel
    cfg = AutoConfig.from_pretrained(folder)
    model = cls(cfg)
    sd = load_file(os.path.join(folder, "model.safetensors"))
    prefix = "bert." if any(k.startswith("bert.") for k in sd) and cls is BertModel else ""
    base = model.bert if hasattr(model, "bert") else model
    d = cfg.hidden_size // cfg.num_attention_heads
    for i, layer in enumerate(base.encoder.layer):
        p = f"{prefix}encoder.layer.{i}."
        hq = sd[p + "attention.self.query.weight"].shape[0]
        ffn = sd[p + "intermediate.dense.weight"].shape[0]
        att = layer.attention.self
        att.num_attention_heads = hq // d
        att.all_head_size = hq
        att.query = torch.nn.Linear(cfg.hidden_size, hq)
        att.key = torch.nn.Linear(cfg.hidden_size, hq)
        att.value = torch.nn.Linear(cfg.hidden_size, hq)
        layer.attention.output.dense = torch.nn.Linear(hq, cfg.hidden_size)
        layer.intermediate.dense = torch.nn.Linear(cfg.hidden_size, ffn)
        layer.output.dense = torch.nn.Linear(ffn, cfg.hidden_size)
    sd = {k[len(prefix):] if prefix and k.startswith(prefix) else k: v for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"{folder}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.eval()


if __name__ == "__main__":
    m = load_pruned_bert(sys.argv[1])
    print(sum(p.numel() for p in m.parameters()), "parameters;",
          [l.attention.self.num_attention_heads for l in m.encoder.layer], "heads per layer")
