#!/usr/bin/python3
"""Golden fixtures for the C# vision TokenFormer (src/TokenFormer.Vision): logits, loss and every parameter gradient.

Run by hand (never by CI), from the repository root, with the Debian interpreter that has PyTorch:

    /usr/bin/python3 tools/reference/make_vision_goldens.py          # write tests/fixtures/vision/<name>/
    /usr/bin/python3 tools/reference/make_vision_goldens.py --out D  # write somewhere else

The reference model is written from docs/vision.md ("The model") and docs/architecture.md ("The model's math as
implemented") in plain PyTorch; gradients come from autograd, so they are independent of the C# hand-written
backward. Arithmetic runs in float64 on parameters and inputs first rounded to float32; results are stored as float32.

Per configuration it writes tests/fixtures/vision/<name>/
    config.json         the flat vision config (block fields + image fields)
    model.safetensors   float32 parameters under the vision model's keys
    golden.safetensors  images (normalised network input [B, C, S, S]), labels (int64), logits, loss, grad.<key>
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch

F64 = torch.float64

CONFIGS = [
    # 8×8 greyscale, 4×4 patches (T = 4), two layers, l2_norm_gelu as the released models
    dict(name="l2gelu_s8_p4", norm="l2_norm_gelu", S=8, C=1, P=4, L=2, d=24, H=2, n_qkv=16, n_proj=12, n_ffn=40,
         classes=5, B=3, seed=2001),
    # 12×12 RGB, 4×4 patches (T = 9), one layer, gelu_l2_norm, four heads
    dict(name="gelul2_rgb_s12_p4", norm="gelu_l2_norm", S=12, C=3, P=4, L=1, d=32, H=4, n_qkv=20, n_proj=8, n_ffn=48,
         classes=7, B=2, seed=2002),
    # 14×14 greyscale, 7×7 patches (T = 4), three layers, official-scale init (keys 0.02, values 2/(L√d))
    dict(name="l2gelu_s14_p7_init", norm="l2_norm_gelu", S=14, C=1, P=7, L=3, d=16, H=2, n_qkv=8, n_proj=8, n_ffn=24,
         classes=10, B=4, seed=2003, official_init=True),
]
LN_EPS = 1e-5


def write_safetensors(path, tensors):
    """tensors: list of (name, numpy array) in order. u64 header length, JSON header padded to 8, raw data."""
    header, blobs, offset = {}, [], 0
    dtypes = {np.dtype("<f4"): "F32", np.dtype("<i8"): "I64"}
    for name, arr in tensors:
        arr = np.array(arr, order="C", copy=True)
        raw = arr.tobytes()
        header[name] = {"dtype": dtypes[arr.dtype], "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)
    os.replace(path + ".tmp", path)


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def pattention(x, keys, values, norm, tau):
    a = x @ keys.T
    if norm == "l2_norm_gelu":
        s = gelu(tau * a / a.norm(dim=-1, keepdim=True))
    elif norm == "gelu_l2_norm":
        g = gelu(a)
        s = tau * g / g.norm(dim=-1, keepdim=True)
    else:
        raise ValueError(norm)
    return s @ values


def layernorm(x, w=None, b=None):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    y = (x - mean) / torch.sqrt(var + LN_EPS)
    return y if w is None else y * w + b


def keys_of(cfg):
    ks = ["head.weight"]
    for l in range(cfg["L"]):
        p = f"blocks.{l}."
        ks += [p + "attention.query.key_param_tokens", p + "attention.key.key_param_tokens", p + "attention.value.key_param_tokens",
               p + "attention.query.value_param_tokens", p + "attention.key.value_param_tokens", p + "attention.value.value_param_tokens",
               p + "attention.proj.key_param_tokens", p + "attention.proj.value_param_tokens",
               p + "mlp.key_param_tokens", p + "mlp.value_param_tokens"]
    return ks + ["norm.weight", "norm.bias", "patch_embed.weight", "patch_embed.bias", "pos_embed", "head.bias"]


def make_params(cfg):
    g = torch.Generator().manual_seed(cfg["seed"])
    L, d, K, T, PD = cfg["L"], cfg["d"], cfg["classes"], (cfg["S"] // cfg["P"]) ** 2, cfg["C"] * cfg["P"] ** 2
    official = cfg.get("official_init", False)
    key_std = 0.02 if official else 0.25
    value_std = 2 / (L * math.sqrt(d)) if official else 0.3

    def normal(shape, std, mean=0.0):
        return (torch.randn(*shape, generator=g, dtype=F64) * std + mean).to(torch.float32).to(F64)

    P = {"head.weight": normal((K, d), 0.2)}
    for l in range(L):
        p = f"blocks.{l}."
        for part, n in (("query", cfg["n_qkv"]), ("key", cfg["n_qkv"]), ("value", cfg["n_qkv"])):
            P[p + f"attention.{part}.key_param_tokens"] = normal((n, d), key_std)
        for part, n in (("query", cfg["n_qkv"]), ("key", cfg["n_qkv"]), ("value", cfg["n_qkv"])):
            P[p + f"attention.{part}.value_param_tokens"] = normal((n, d), value_std)
        P[p + "attention.proj.key_param_tokens"] = normal((cfg["n_proj"], d), key_std)
        P[p + "attention.proj.value_param_tokens"] = normal((cfg["n_proj"], d), value_std)
        P[p + "mlp.key_param_tokens"] = normal((cfg["n_ffn"], d), key_std)
        P[p + "mlp.value_param_tokens"] = normal((cfg["n_ffn"], d), value_std)
    P["norm.weight"] = normal((d,), 0.2, 1.0)
    P["norm.bias"] = normal((d,), 0.2)
    P["patch_embed.weight"] = normal((d, PD), 1 / math.sqrt(PD))
    P["patch_embed.bias"] = normal((d,), 0.1)
    P["pos_embed"] = normal((T, d), 0.1)
    P["head.bias"] = normal((K,), 0.1)
    return P


def forward(cfg, P, images):
    """images [B, C, S, S] (normalised) -> logits [B, K]."""
    B, C, S, Pp = images.shape[0], cfg["C"], cfg["S"], cfg["P"]
    g = S // Pp
    patches = images.reshape(B, C, g, Pp, g, Pp).permute(0, 2, 4, 1, 3, 5).reshape(B, g * g, C * Pp * Pp)
    x = patches @ P["patch_embed.weight"].T + P["patch_embed.bias"] + P["pos_embed"]
    d, H = cfg["d"], cfg["H"]
    h = d // H
    tq, tp, tf = math.sqrt(cfg["n_qkv"]), math.sqrt(cfg["n_proj"]), math.sqrt(cfg["n_ffn"])
    for l in range(cfg["L"]):
        p = f"blocks.{l}."
        a1 = layernorm(x)
        q, k, v = (pattention(a1, P[p + f"attention.{s}.key_param_tokens"], P[p + f"attention.{s}.value_param_tokens"], cfg["norm"], tq)
                   for s in ("query", "key", "value"))
        T = x.shape[1]
        qh, kh, vh = (t.reshape(B, T, H, h).transpose(1, 2) for t in (q, k, v))
        probs = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(h), dim=-1)  # bidirectional: no mask
        att = (probs @ vh).transpose(1, 2).reshape(B, T, d)
        x = x + pattention(att, P[p + "attention.proj.key_param_tokens"], P[p + "attention.proj.value_param_tokens"], cfg["norm"], tp)
        a2 = layernorm(x)
        x = x + pattention(a2, P[p + "mlp.key_param_tokens"], P[p + "mlp.value_param_tokens"], cfg["norm"], tf)
    m = x.mean(1)
    z = layernorm(m, P["norm.weight"], P["norm.bias"])
    return z @ P["head.weight"].T + P["head.bias"]


def config_json(cfg):
    T = (cfg["S"] // cfg["P"]) ** 2
    return {
        "num_layers": cfg["L"], "hidden_size": cfg["d"], "num_attention_heads": cfg["H"],
        "qkv_slot_num": cfg["n_qkv"], "proj_slot_num": cfg["n_proj"], "ffn_slot_num": cfg["n_ffn"],
        "norm_activation_type": cfg["norm"], "rotary_pct": 0, "rotary_emb_base": 10000, "layernorm_epsilon": LN_EPS,
        "max_position_embeddings": T, "vocab_size": cfg["classes"],
        "model_type": "tokenformer_vision", "image_size": cfg["S"], "image_channels": cfg["C"], "patch_size": cfg["P"],
        "num_classes": cfg["classes"], "pixel_mean": [0.5] * cfg["C"], "pixel_std": [0.5] * cfg["C"],
        "class_names": [f"class{i}" for i in range(cfg["classes"])],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/vision")
    args = ap.parse_args()
    for cfg in CONFIGS:
        P = make_params(cfg)
        for t in P.values():
            t.requires_grad_(True)
        g = torch.Generator().manual_seed(cfg["seed"] + 100)
        images = torch.randn(cfg["B"], cfg["C"], cfg["S"], cfg["S"], generator=g, dtype=F64).to(torch.float32).to(F64)
        labels = torch.randint(0, cfg["classes"], (cfg["B"],), generator=g)
        logits = forward(cfg, P, images)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        out = os.path.join(args.out, cfg["name"])
        os.makedirs(out, exist_ok=True)
        keys = keys_of(cfg)
        assert set(keys) == set(P), set(keys) ^ set(P)
        write_safetensors(os.path.join(out, "model.safetensors"), [(k, P[k].detach().float().numpy()) for k in keys])
        golden = [("images", images.float().numpy()), ("labels", labels.numpy().astype(np.int64)),
                  ("logits", logits.detach().float().numpy()), ("loss", np.array([loss.item()], dtype=np.float32))]
        golden += [("grad." + k, P[k].grad.float().numpy()) for k in keys]
        write_safetensors(os.path.join(out, "golden.safetensors"), golden)
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(config_json(cfg), f, indent=2)
            f.write("\n")
        print(f"{cfg['name']}: loss {loss.item():.6f}, |logits| max {logits.abs().max().item():.4f} -> {out}")


if __name__ == "__main__":
    main()
