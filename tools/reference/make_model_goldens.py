#!/usr/bin/python3
"""Golden fixtures for the C# TokenFormer model (forward logits, loss and all parameter gradients).

Run by hand (never by CI), from the repository root, with the Debian interpreter that has PyTorch:

    /usr/bin/python3 tools/reference/make_model_goldens.py            # write all fixtures + self-check
    /usr/bin/python3 tools/reference/make_model_goldens.py --check    # self-check only, write nothing
    /usr/bin/python3 tools/reference/make_model_goldens.py --out DIR  # write somewhere else

The reference model is written from the specification (shared/reference/tokenformer-spec.md,
sections 1, 3, 5 and 6) in plain PyTorch; nothing else is imported.  All reference arithmetic runs in
float64 on parameters that were first rounded to float32 (so the float32 files describe exactly the
function that was evaluated); results are stored as float32.

Per configuration it writes tests/fixtures/model/<name>/
    config.json         official field names (+ vocab_size)
    model.safetensors   float32 parameters under the official checkpoint key names
    golden.safetensors  input_ids, targets, loss_mask, logits, loss, grad.<param key>, debug.* tensors
See tools/reference/README.md for the formulas and what every configuration exercises.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

F64 = torch.float64
NORM_TYPES = ("l2_norm_gelu", "gelu_l2_norm", "softmax")

# ----------------------------------------------------------------------------- configurations
#
# key_std / value_std / emb_std / ln_std: standard deviations of the random parameters (scaled up from
# the official init of spec section 3 so that outputs and gradients are O(1e-2 .. 1) and the tests are
# sensitive; the final LayerNorm gets weight 1 + N(0, ln_std^2), bias N(0, ln_std^2) instead of 1 / 0).

CONFIGS = [
    dict(name="l2gelu_d72_h3", norm="l2_norm_gelu", L=2, d=72, H=3, n_qkv=40, n_proj=24, n_ffn=130,
         rotary_pct=0.25, rotary_base=10000, vocab=97, T=7, seed=1001,
         key_std=0.2, value_std=0.3, emb_std=0.25, ln_std=0.2, mask_zeros=0),
    # official init scale (keys and embedding 0.02, values "wang" 2/(L*sqrt(d))); only the final LN is perturbed
    dict(name="l2gelu_deep5", norm="l2_norm_gelu", L=5, d=40, H=5, n_qkv=20, n_proj=12, n_ffn=52,
         rotary_pct=0.25, rotary_base=10000, vocab=131, T=13, seed=1002,
         key_std=0.02, value_std=2 / (5 * math.sqrt(40)), emb_std=0.02, ln_std=0.2, mask_zeros=0),
    dict(name="l2gelu_rot50_base500", norm="l2_norm_gelu", L=3, d=32, H=2, n_qkv=16, n_proj=8, n_ffn=64,
         rotary_pct=0.5, rotary_base=500, vocab=257, T=17, seed=1003,
         key_std=0.2, value_std=0.4, emb_std=0.3, ln_std=0.2, mask_zeros=0),
    dict(name="gelul2_rot100_mask", norm="gelu_l2_norm", L=3, d=48, H=2, n_qkv=36, n_proj=20, n_ffn=100,
         rotary_pct=1.0, rotary_base=10000, vocab=211, T=16, seed=1004,
         key_std=0.2, value_std=0.3, emb_std=0.1, ln_std=0.2, mask_zeros=5),
    dict(name="gelul2_h4_odd_n", norm="gelu_l2_norm", L=2, d=64, H=4, n_qkv=33, n_proj=17, n_ffn=67,
         rotary_pct=0.25, rotary_base=10000, vocab=150, T=5, seed=1005,
         key_std=0.25, value_std=0.3, emb_std=0.2, ln_std=0.2, mask_zeros=0),
    dict(name="softmax_small", norm="softmax", L=2, d=32, H=2, n_qkv=24, n_proj=16, n_ffn=72,
         rotary_pct=0.25, rotary_base=10000, vocab=157, T=11, seed=1006,
         key_std=0.15, value_std=0.2, emb_std=0.1, ln_std=0.2, mask_zeros=0),
    dict(name="softmax_large_logits", norm="softmax", L=2, d=48, H=3, n_qkv=30, n_proj=18, n_ffn=90,
         rotary_pct=1.0, rotary_base=10000, vocab=300, T=9, seed=1007,
         key_std=0.7, value_std=0.05, emb_std=0.25, ln_std=0.2, mask_zeros=0),
]

MAX_POSITIONS = 64
LN_EPS = 1e-5
BATCH = 2

# ----------------------------------------------------------------------------- safetensors I/O

_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<i8"): "I64", np.dtype("<f8"): "F64"}
_NP_OF = {v: k for k, v in _DTYPES.items()}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, numpy array); written in the given order, back to back.

    Layout: u64 little-endian header length N, N bytes of JSON (padded with spaces to a multiple of 8),
    then the raw little-endian tensor bytes.  data_offsets are relative to the end of the header."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, arr in tensors:
        arr = np.array(arr, order="C", copy=True)  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        if arr.dtype not in _DTYPES:
            raise ValueError(f"{name}: unsupported dtype {arr.dtype}")
        raw = arr.tobytes()
        header[name] = {"dtype": _DTYPES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def read_safetensors(path):
    """Returns (dict name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    out, base = {}, 8 + n
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = _NP_OF[info["dtype"]]
        arr = np.frombuffer(data[base + b: base + e], dtype=dt)
        out[name] = arr.reshape(tuple(info["shape"])).copy()
    return out, meta


# ----------------------------------------------------------------------------- parameter naming


def param_keys(L):
    """Official checkpoint keys in model order (spec section 6.1); layer i = 0..L-1 lives at index i+2."""
    keys = ["sequential.0.word_embeddings.weight"]
    for i in range(L):
        p = f"sequential.{i + 2}."
        for part in ("query", "key", "value", "proj"):
            keys.append(p + f"attention.{part}.key_param_tokens")
            keys.append(p + f"attention.{part}.value_param_tokens")
        keys.append(p + "mlp.key_param_tokens")
        keys.append(p + "mlp.value_param_tokens")
    keys.append(f"sequential.{L + 3}.norm.weight")
    keys.append(f"sequential.{L + 3}.norm.bias")
    return keys


def make_params(cfg):
    """Random parameters (float64 tensors holding float32-representable values), deterministic in cfg.seed."""
    g = torch.Generator().manual_seed(cfg["seed"])
    L, d, V = cfg["L"], cfg["d"], cfg["vocab"]

    def normal(shape, std, mean=0.0):
        t = torch.randn(*shape, generator=g, dtype=F64) * std + mean
        return t.to(torch.float32).to(F64)  # round to float32 once: the files hold exactly these values

    P = {"sequential.0.word_embeddings.weight": normal((V, d), cfg["emb_std"])}
    for i in range(L):
        p = f"sequential.{i + 2}."
        for part, n in (("query", cfg["n_qkv"]), ("key", cfg["n_qkv"]), ("value", cfg["n_qkv"]),
                        ("proj", cfg["n_proj"])):
            P[p + f"attention.{part}.key_param_tokens"] = normal((n, d), cfg["key_std"])
            P[p + f"attention.{part}.value_param_tokens"] = normal((n, d), cfg["value_std"])
        P[p + "mlp.key_param_tokens"] = normal((cfg["n_ffn"], d), cfg["key_std"])
        P[p + "mlp.value_param_tokens"] = normal((cfg["n_ffn"], d), cfg["value_std"])
    P[f"sequential.{L + 3}.norm.weight"] = normal((d,), cfg["ln_std"], 1.0)
    P[f"sequential.{L + 3}.norm.bias"] = normal((d,), cfg["ln_std"])
    assert list(P.keys()) == param_keys(L)
    return P


def make_batch(cfg):
    """input_ids, targets [B, T] int64 (targets = inputs shifted by one), loss_mask [B, T] float."""
    g = torch.Generator().manual_seed(cfg["seed"] + 500)
    V, T = cfg["vocab"], cfg["T"]
    seq = torch.randint(0, V, (BATCH, T + 1), generator=g, dtype=torch.int64)
    seq[0, 0] = 0          # make sure the first and last vocabulary rows are used
    seq[1, T // 2] = V - 1
    mask = torch.ones(BATCH, T, dtype=F64)
    if cfg["mask_zeros"]:
        flat = torch.randperm(BATCH * T, generator=g)[: cfg["mask_zeros"]]
        mask.view(-1)[flat] = 0.0
    return seq[:, :T].clone(), seq[:, 1:].clone(), mask


# ----------------------------------------------------------------------------- the reference model


def gelu(z):
    """Exact (erf) GeLU: z * Phi(z)."""
    return 0.5 * z * (1.0 + torch.erf(z / math.sqrt(2.0)))


def normalise(A, kind, tau=None):
    """Pattention non-linearity Theta over the last axis (n parameter tokens), spec section 1.5.

    tau: multiplier of the L2 variants (default sqrt(n), n = A.shape[-1]); softmax always uses n."""
    n = A.shape[-1]
    if kind == "l2_norm_gelu":
        t = math.sqrt(n) if tau is None else tau
        return gelu(A / torch.linalg.vector_norm(A, dim=-1, keepdim=True) * t)
    if kind == "gelu_l2_norm":
        t = math.sqrt(n) if tau is None else tau
        G = gelu(A)
        return G / torch.linalg.vector_norm(G, dim=-1, keepdim=True) * t
    if kind == "softmax":
        if tau is not None:
            raise ValueError("softmax normalisation has no tau")
        e = torch.exp(A)  # no max subtraction, as in the official code (harmless in float64)
        return e / e.sum(dim=-1, keepdim=True) * n
    raise ValueError(kind)


def pattention(x, K, V, kind, tau=None):
    """x: [..., d_in], K: [n, d_in], V: [n, d_out] -> [..., d_out]; A = x K^T (no pre-scale)."""
    return normalise(x @ K.t(), kind, tau) @ V


def layer_norm_np(x, eps):
    """Non-parametric LayerNorm over the last axis, biased variance."""
    mu = x.mean(dim=-1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps)


def rotary_tables(T, r, base):
    """cos, sin: [T, r]; emb = [theta_0..theta_{r/2-1}, theta_0..theta_{r/2-1}], theta_i = p / base^(2i/r)."""
    inv_freq = 1.0 / (float(base) ** (torch.arange(0, r, 2, dtype=F64) / r))
    ang = torch.outer(torch.arange(T, dtype=F64), inv_freq)
    emb = torch.cat([ang, ang], dim=-1)
    return emb.cos(), emb.sin()


def apply_rotary(x, cos, sin, r):
    """x: [B, H, T, h]; rotate the first r channels of every head (GPT-NeoX rotate_half pairing i, i+r/2)."""
    if r == 0:
        return x
    xr, xp = x[..., :r], x[..., r:]
    x1, x2 = xr[..., : r // 2], xr[..., r // 2:]
    rot = torch.cat([-x2, x1], dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([xr * cos + rot * sin, xp], dim=-1)


def rotary_dims(cfg):
    h = cfg["d"] // cfg["H"]
    r = int(h * cfg["rotary_pct"])
    if r % 2:
        raise ValueError(f"{cfg['name']}: rotary dims {r} must be even")
    return r


def forward(P, cfg, ids, taus=None, collect=None, stats=None):
    """ids: [B, T] int64 -> logits [B, T, V] (float64).

    taus: optional {"qkv": t, "proj": t, "ffn": t} frozen multipliers for the L2 normalisations.
    collect: optional dict that receives debug tensors (residual stream after every layer, final norm).
    stats: optional list that receives max |A| of every Pattention call."""
    L, d, H = cfg["L"], cfg["d"], cfg["H"]
    kind, eps = cfg["norm"], cfg.get("eps", LN_EPS)
    taus = taus or {}
    h = d // H
    r = rotary_dims(cfg)
    B, T = ids.shape
    cos, sin = rotary_tables(T, r, cfg["rotary_base"])
    E = P["sequential.0.word_embeddings.weight"]
    x = E[ids]  # [B, T, d]
    if collect is not None:
        collect["debug.hidden.0"] = x
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)
    for i in range(L):
        p = f"sequential.{i + 2}."

        def pat(name, inp, group):
            K, Vp = P[p + name + ".key_param_tokens"], P[p + name + ".value_param_tokens"]
            if stats is not None:
                stats.append(float((inp @ K.t()).abs().max()))
            return pattention(inp, K, Vp, kind, taus.get(group))

        a = layer_norm_np(x, eps)
        q = pat("attention.query", a, "qkv").view(B, T, H, h).transpose(1, 2)
        k = pat("attention.key", a, "qkv").view(B, T, H, h).transpose(1, 2)
        v = pat("attention.value", a, "qkv").view(B, T, H, h).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin, r), apply_rotary(k, cos, sin, r)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(h)
        s = s.masked_fill(causal, float("-inf"))
        c = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, d)
        y = x + pat("attention.proj", c, "proj")
        x = y + pat("mlp", layer_norm_np(y, eps), "ffn")
        if collect is not None:
            collect[f"debug.hidden.{i + 1}"] = x
    w, b = P[f"sequential.{L + 3}.norm.weight"], P[f"sequential.{L + 3}.norm.bias"]
    z = layer_norm_np(x, eps) * w + b
    if collect is not None:
        collect["debug.final_norm"] = z
    return z @ E.t()


def masked_ce(logits, targets, mask):
    """sum(mask * ce) / sum(mask), ce = -log softmax(logits)[target]."""
    lp = torch.log_softmax(logits, dim=-1)
    ce = -lp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (ce * mask).sum() / mask.sum()


def loss_and_grads(P, cfg, ids, targets, mask, taus=None, collect=None, dtype=F64):
    Q = {k: v.detach().to(dtype).requires_grad_(True) for k, v in P.items()}
    logits = forward(Q, cfg, ids, taus, collect)
    loss = masked_ce(logits, targets, mask.to(dtype))
    loss.backward()
    return logits.detach(), loss.detach(), {k: Q[k].grad.detach() for k in Q}


# ----------------------------------------------------------------------------- fixture writing


def config_json(cfg, extra=None):
    j = {
        "num_layers": cfg["L"],
        "hidden_size": cfg["d"],
        "num_attention_heads": cfg["H"],
        "qkv_slot_num": cfg["n_qkv"],
        "proj_slot_num": cfg["n_proj"],
        "ffn_slot_num": cfg["n_ffn"],
        "norm_activation_type": cfg["norm"],
        "rotary_pct": cfg["rotary_pct"],
        "rotary_emb_base": cfg["rotary_base"],
        "layernorm_epsilon": cfg.get("eps", LN_EPS),
        "max_position_embeddings": MAX_POSITIONS,
        "vocab_size": cfg["vocab"],
    }
    if extra:
        j.update(extra)
    return j


def f32(t):
    return t.detach().to(torch.float32).cpu().numpy()


def write_fixture(outdir, cfg, P, ids, targets, mask, logits, loss, grads, debug, extra_config=None):
    os.makedirs(outdir, exist_ok=True)
    tmp = os.path.join(outdir, "config.json.tmp")
    with open(tmp, "w") as f:
        json.dump(config_json(cfg, extra_config), f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(outdir, "config.json"))
    meta = {"generator": "tools/reference/make_model_goldens.py", "reference_dtype": "float64",
            "fixture": cfg["name"]}
    write_safetensors(os.path.join(outdir, "model.safetensors"),
                      [(k, f32(v)) for k, v in P.items()], meta)
    g = [("input_ids", ids.numpy().astype("<i8")), ("targets", targets.numpy().astype("<i8")),
         ("loss_mask", f32(mask)), ("logits", f32(logits)), ("loss", f32(loss.reshape(())))]
    g += [("grad." + k, f32(v)) for k, v in grads.items()]
    g += [(k, f32(v)) for k, v in debug.items()]
    write_safetensors(os.path.join(outdir, "golden.safetensors"), g, meta)
    # read back: the files must reproduce exactly what was computed
    m, _ = read_safetensors(os.path.join(outdir, "model.safetensors"))
    gg, _ = read_safetensors(os.path.join(outdir, "golden.safetensors"))
    for k, v in P.items():
        assert m[k].dtype == np.float32 and np.array_equal(m[k].astype(np.float64), v.numpy()), k
    for k, v in g:
        assert gg[k].dtype == v.dtype and gg[k].shape == v.shape and np.array_equal(gg[k], v), k
    size = sum(os.path.getsize(os.path.join(outdir, f)) for f in os.listdir(outdir))
    return size


def rel_err(a, b):
    """max |a-b| / max(|b|) (a scale-aware error for a whole tensor)."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def describe(cfg, P, ids, targets, mask, logits, loss, grads):
    """Float32 torch of the same model vs the float64 reference: a realistic tolerance baseline."""
    l32, loss32, g32 = loss_and_grads(P, cfg, ids, targets, mask, dtype=torch.float32)
    worst_g = max(rel_err(g32[k].to(F64), grads[k]) for k in grads)
    # largest Pattention logit |A| seen anywhere (interesting for the softmax variant)
    maxA = max_pattention_logit(P, cfg, ids)
    n_params = sum(v.numel() for v in P.values())
    return dict(params=n_params, loss=float(loss), logits_absmax=float(logits.abs().max()),
                grad_absmax=max(float(g.abs().max()) for g in grads.values()),
                max_abs_A=maxA,
                f32_vs_f64_logits=rel_err(l32.to(F64), logits),
                f32_vs_f64_loss=abs(float(loss32) - float(loss)) / abs(float(loss)),
                f32_vs_f64_grads_worst=worst_g)


def max_pattention_logit(P, cfg, ids):
    seen = []
    with torch.no_grad():
        forward(P, cfg, ids, stats=seen)
    return max(seen)


# ----------------------------------------------------------------------------- self-checks


def normaliser_backward_spec(A, g, kind, tau=None):
    """Hand-written backward of spec section 1.11 (what the C# code implements): returns dL/dA."""
    n = A.shape[-1]
    c = math.sqrt(n) if tau is None else tau
    phi = torch.exp(-0.5 * A * A) / math.sqrt(2 * math.pi)
    if kind == "l2_norm_gelu":
        rr = torch.linalg.vector_norm(A, dim=-1, keepdim=True)
        u = A / rr
        z = c * u
        dgelu = 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        gz = g * dgelu
        return (c / rr) * (gz - u * (u * gz).sum(-1, keepdim=True))
    if kind == "gelu_l2_norm":
        G = gelu(A)
        q = torch.linalg.vector_norm(G, dim=-1, keepdim=True)
        Gh = G / q
        gG = (c / q) * (g - Gh * (Gh * g).sum(-1, keepdim=True))
        return gG * (0.5 * (1 + torch.erf(A / math.sqrt(2))) + A * phi)
    if kind == "softmax":
        p = torch.softmax(A, dim=-1)
        S = n * p
        return S * (g - (p * g).sum(-1, keepdim=True))
    raise ValueError(kind)


def check_normalisers(cfg, P, ids):
    """For the first query Pattention of cfg: A = LN_np(embedding rows) K^T (first 3 token rows); compare,
    for every normalisation type, autograd vs central finite differences vs the spec's analytic formula
    for d/dA of sum(w * Theta(A)) with random weights w."""
    gen = torch.Generator().manual_seed(7)
    a = layer_norm_np(P["sequential.0.word_embeddings.weight"][ids[0, :3]], cfg.get("eps", LN_EPS))
    A0 = a @ P["sequential.2.attention.query.key_param_tokens"].t()  # [3, n_qkv]
    res = {}
    for kind in NORM_TYPES:
        A = A0.clone().requires_grad_(True)
        w = torch.randn(A.shape, generator=gen, dtype=F64)
        f = lambda t: (w * normalise(t, kind)).sum()
        f(A).backward()
        auto = A.grad.clone()
        fd = torch.zeros_like(auto)
        eps = 1e-6
        with torch.no_grad():
            for idx in np.ndindex(*A.shape):
                Ap, Am = A.clone(), A.clone()
                Ap[idx] += eps
                Am[idx] -= eps
                fd[idx] = (f(Ap) - f(Am)) / (2 * eps)
            spec = normaliser_backward_spec(A.detach(), w, kind)
        res[kind] = (rel_err(auto, fd), rel_err(spec, auto))
    return res


def check_model_fd(cfg, P, ids, targets, mask, grads, count=12):
    """Central finite differences of the loss on a few parameter entries (float64) vs autograd."""
    gen = torch.Generator().manual_seed(99)
    keys = list(P.keys())
    worst, lines = 0.0, []
    eps = 1e-6
    for j in range(count):
        k = keys[(j * 7) % len(keys)]
        flat = int(torch.randint(0, P[k].numel(), (1,), generator=gen))
        if k.endswith("word_embeddings.weight"):  # prefer a row that is also an input token
            flat = int(ids[0, 1]) * cfg["d"] + (j % cfg["d"])
        Pp = {kk: vv.clone() for kk, vv in P.items()}
        Pm = {kk: vv.clone() for kk, vv in P.items()}
        Pp[k].view(-1)[flat] += eps
        Pm[k].view(-1)[flat] -= eps
        with torch.no_grad():
            lp = masked_ce(forward(Pp, cfg, ids), targets, mask)
            lm = masked_ce(forward(Pm, cfg, ids), targets, mask)
        fd = float((lp - lm) / (2 * eps))
        an = float(grads[k].view(-1)[flat])
        err = abs(fd - an) / max(abs(an), 1e-3)
        worst = max(worst, err)
        lines.append(f"    {k}[{flat}]: autograd {an:+.10e}  fd {fd:+.10e}  rel {err:.1e}")
    return worst, lines


def check_causality(cfg, P, ids):
    """Changing token t0 must leave logits at positions < t0 bit-identical and change those >= t0."""
    out = []
    with torch.no_grad():
        base = forward(P, cfg, ids)
        for t0 in (cfg["T"] - 1, cfg["T"] // 2):
            ids2 = ids.clone()
            ids2[:, t0] = (ids2[:, t0] + 1) % cfg["vocab"]
            other = forward(P, cfg, ids2)
            before = float((other[:, :t0] - base[:, :t0]).abs().max()) if t0 > 0 else 0.0
            after = float((other[:, t0:] - base[:, t0:]).abs().max())
            out.append((t0, before, after))
    return out


def _tanh_gelu(z):
    return 0.5 * z * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)))


def _ln_unbiased(x, eps):
    mu = x.mean(dim=-1, keepdim=True)
    return (x - mu) / torch.sqrt(x.var(dim=-1, unbiased=True, keepdim=True) + eps)


def _ln_no_eps(x, eps):
    mu = x.mean(dim=-1, keepdim=True)
    return (x - mu) / torch.sqrt(((x - mu) ** 2).mean(dim=-1, keepdim=True))


def _rotary_interleaved(x, cos, sin, r):
    if r == 0:
        return x
    xr, xp = x[..., :r], x[..., r:]
    a, b = xr[..., 0::2], xr[..., 1::2]
    c, s = cos[:, : r // 2].to(x.dtype), sin[:, : r // 2].to(x.dtype)
    return torch.cat([torch.stack([a * c - b * s, b * c + a * s], dim=-1).flatten(-2), xp], dim=-1)


# (module-level function to replace, wrong implementation): typical porting mistakes
MUTATIONS = {
    "tanh GeLU": ("gelu", _tanh_gelu),
    "unbiased var": ("layer_norm_np", _ln_unbiased),
    "LN eps 0": ("layer_norm_np", _ln_no_eps),
    "interleaved rotary": ("apply_rotary", _rotary_interleaved),
}


def check_sensitivity(cfg, P, ids, logits):
    """max |logits(mutated) - logits| / max |logits| for each mutation (how visible the mistake is)."""
    out = {}
    g = globals()
    for label, (fname, fn) in MUTATIONS.items():
        saved = g[fname]
        g[fname] = fn
        try:
            with torch.no_grad():
                other = forward(P, cfg, ids)
        finally:
            g[fname] = saved
        out[label] = float((other - logits).abs().max() / logits.abs().max())
    return out


# ----------------------------------------------------------------------------- growth fixture (spec 5.3)


def grow_preserving(P, cfg, new_n, seed):
    """Append key/value tokens to every Pattention: new keys = 0, new values random (cfg value_std);
    returns (grown params, grown cfg, taus frozen at sqrt(old n))."""
    g = torch.Generator().manual_seed(seed)
    G = {}
    big = dict(cfg, name="growth_grown", n_qkv=new_n["qkv"], n_proj=new_n["proj"], n_ffn=new_n["ffn"])
    group_of = lambda k: "ffn" if ".mlp." in k else ("proj" if ".proj." in k else "qkv")
    for k, v in P.items():
        if not k.endswith("param_tokens"):
            G[k] = v.clone()
            continue
        n_old, d = v.shape
        m = new_n[group_of(k)] - n_old
        if k.endswith("key_param_tokens"):
            extra = torch.zeros(m, d, dtype=F64)
        else:
            extra = (torch.randn(m, d, generator=g, dtype=F64) * cfg["value_std"]).to(torch.float32).to(F64)
        G[k] = torch.cat([v, extra], dim=0)
    taus = {"qkv": math.sqrt(cfg["n_qkv"]), "proj": math.sqrt(cfg["n_proj"]), "ffn": math.sqrt(cfg["n_ffn"])}
    return G, big, taus


GROWTH_BASE = dict(name="growth_small", norm="l2_norm_gelu", L=2, d=32, H=2, n_qkv=40, n_proj=24, n_ffn=48,
                   rotary_pct=0.25, rotary_base=10000, vocab=101, T=10, seed=1101,
                   key_std=0.2, value_std=0.3, emb_std=0.3, ln_std=0.2, mask_zeros=0)
GROWTH_NEW_N = {"qkv": 64, "proj": 40, "ffn": 80}


# ----------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join("tests", "fixtures", "model"))
    ap.add_argument("--check", action="store_true", help="run the self-checks only; write nothing")
    args = ap.parse_args()
    torch.set_num_threads(1)  # determinism and politeness (the machine is shared)

    fd_cfg = CONFIGS[0]
    P = make_params(fd_cfg)
    ids, targets, mask = make_batch(fd_cfg)
    print(f"== self-check 1: normalisation of {fd_cfg['name']} layer 0 query Pattention (A: 3 x {fd_cfg['n_qkv']}), "
          "d/dA: autograd vs central FD (eps 1e-6) vs spec 1.11 formulas (relative to max |grad|)")
    for kind, (e_fd, e_spec) in check_normalisers(fd_cfg, P, ids).items():
        print(f"  {kind:13s} autograd-vs-fd {e_fd:.2e}   spec-formula-vs-autograd {e_spec:.2e}")
        assert e_fd < 1e-7 and e_spec < 1e-12, kind

    for c in (CONFIGS[0], CONFIGS[3], CONFIGS[6]):  # one per normalisation type (CONFIGS[3] has mask zeros)
        Pc = make_params(c)
        idc, tgc, mkc = make_batch(c)
        _, _, grads = loss_and_grads(Pc, c, idc, tgc, mkc)
        worst, lines = check_model_fd(c, Pc, idc, tgc, mkc, grads)
        print(f"== self-check 2: whole-model loss gradient, autograd vs central FD (eps 1e-6), config {c['name']}")
        print("\n".join(lines))
        print(f"  worst relative error {worst:.2e}")
        assert worst < 1e-6

    print("== self-check 3: causality (change token t0; logits before t0 must not move)")
    for c in CONFIGS:
        Pc = make_params(c)
        idc, _, _ = make_batch(c)
        for t0, before, after in check_causality(c, Pc, idc):
            print(f"  {c['name']:22s} t0={t0:2d}: max|dlogits| before t0 {before:.1e}, at/after t0 {after:.2e}")
            assert before == 0.0 and after > 1e-3

    if args.check:
        return

    print("== fixtures (reference float64; 'f32 vs f64' = the same model run by torch in float32, "
          "relative to the tensor's max |value|)")
    for c in CONFIGS:
        Pc = make_params(c)
        idc, tgc, mkc = make_batch(c)
        debug = {}
        logits, loss, grads = loss_and_grads(Pc, c, idc, tgc, mkc, collect=debug)
        size = write_fixture(os.path.join(args.out, c["name"]), c, Pc, idc, tgc, mkc, logits, loss, grads, debug)
        s = describe(c, Pc, idc, tgc, mkc, logits, loss, grads)
        print(f"  {c['name']:22s} {c['norm']:12s} L={c['L']} d={c['d']} H={c['H']} r={rotary_dims(c)} "
              f"n={c['n_qkv']}/{c['n_proj']}/{c['n_ffn']} V={c['vocab']} T={c['T']} mask0={c['mask_zeros']}")
        print(f"      {s['params']} params, {size / 1024:.0f} KiB on disk; loss {s['loss']:.6f}; "
              f"max|logit| {s['logits_absmax']:.3f}; max|grad| {s['grad_absmax']:.3e}; max|A| {s['max_abs_A']:.2f}")
        print(f"      f32 vs f64: logits {s['f32_vs_f64_logits']:.1e}, loss {s['f32_vs_f64_loss']:.1e}, "
              f"worst grad tensor {s['f32_vs_f64_grads_worst']:.1e}")
        sens = check_sensitivity(c, Pc, idc, logits)
        print("      logits moved by mistakes: " + ", ".join(f"{k} {v:.1e}" for k, v in sens.items()))

    # growth pair: the grown model (zero new keys, frozen tau) must reproduce the small model exactly
    print("== growth fixture (spec 5.3 'preserve': new keys 0, new values random, tau frozen at sqrt(n_old))")
    c = GROWTH_BASE
    Pc = make_params(c)
    idc, tgc, mkc = make_batch(c)
    dbg = {}
    logits, loss, grads = loss_and_grads(Pc, c, idc, tgc, mkc, collect=dbg)
    size_s = write_fixture(os.path.join(args.out, "growth_small"), c, Pc, idc, tgc, mkc, logits, loss, grads, dbg)
    G, big, taus = grow_preserving(Pc, c, GROWTH_NEW_N, c["seed"] + 1)
    dbg_g = {}
    logits_g, loss_g, grads_g = loss_and_grads(G, big, idc, tgc, mkc, taus=taus, collect=dbg_g)
    extra = {"pattention_scale_qkv": taus["qkv"], "pattention_scale_proj": taus["proj"],
             "pattention_scale_ffn": taus["ffn"]}
    size_g = write_fixture(os.path.join(args.out, "growth_grown"), big, G, idc, tgc, mkc, logits_g, loss_g,
                           grads_g, dbg_g, extra)
    d_pres = float((logits_g - logits).abs().max())
    with torch.no_grad():
        l_code = forward(G, big, idc)  # same grown weights with the official tau = sqrt(current n)
    d_code = float((l_code - logits).abs().max())
    new_key_grad = max(float(grads_g[k][Pc[k].shape[0]:].abs().max())
                       for k in grads_g if k.endswith("key_param_tokens"))
    print(f"  growth_small {size_s / 1024:.0f} KiB, growth_grown {size_g / 1024:.0f} KiB; "
          f"n {c['n_qkv']}/{c['n_proj']}/{c['n_ffn']} -> {big['n_qkv']}/{big['n_proj']}/{big['n_ffn']}")
    print(f"  max|logits_grown - logits_small| with frozen tau: {d_pres:.1e}; "
          f"with tau = sqrt(current n) (official code): {d_code:.3f}")
    print(f"  loss small {float(loss):.9f}  grown {float(loss_g):.9f}; max |grad| on new key rows {new_key_grad:.3e}")
    assert d_pres < 1e-12 and d_code > 1e-2 and new_key_grad > 1e-4


if __name__ == "__main__":
    sys.exit(main())
