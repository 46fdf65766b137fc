#!/usr/bin/python3
"""Official-format PyTorch checkpoints (torch.save of a state dict) for the C# importer, plus expected logits.

Run by hand (never by CI), from the repository root, with the Debian interpreter that has PyTorch:

    /usr/bin/python3 tools/reference/make_torch_checkpoints.py                 # (re)write tests/fixtures/torch/*
    /usr/bin/python3 tools/reference/make_torch_checkpoints.py --out DIR       # write elsewhere
    /usr/bin/python3 tools/reference/make_torch_checkpoints.py --full 150m --out /tmp/tf150m
        # a full-size random 150M release folder (config.json + pytorch_model.bin, 608 MB) for the import benchmark

Each small fixture is a "release folder" like the ones on the Hugging Face Hub:
    config.json         the NeoX fields of the official release config (+ architectures / torch_dtype noise)
    pytorch_model.bin   torch.save(OrderedDict) with exactly the official key names, order and shapes (spec 6.1)
    golden.safetensors  input_ids / targets I64 [1, T], logits F32 [1, T, V], loss F32 [] (mean next-token CE)
The reference forward is the float64 model of tools/reference/make_model_goldens.py (imported, not changed),
evaluated on the exact values stored in the checkpoint (float16 / bfloat16 values widen exactly to float32).

Fixtures:
    fp32         float32 tensors, each with its own storage; the state dict carries _metadata (BUILD opcode);
                 also written: official.yml, the same config in the official YAML style (comments, False/True)
    fp16         float16 storages (torch.HalfStorage)
    bf16         bfloat16 storages (torch.BFloat16Storage)
    shared_views one float32 storage holding every parameter; the tensors are views into it with storage offsets
                 (as DeepSpeed's zero_to_fp32 narrow().view() writes), and two of them are transposed (strided) views
"""
import argparse
import collections
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model_goldens as mg  # noqa: E402  (reference math; not modified)

F64 = torch.float64

BASE = dict(norm="l2_norm_gelu", rotary_pct=0.25, rotary_base=10000, key_std=0.2, value_std=0.3, emb_std=0.25, ln_std=0.2,
            mask_zeros=0)
FIXTURES = [
    dict(BASE, name="fp32", L=2, d=32, H=2, n_qkv=24, n_proj=16, n_ffn=48, vocab=101, T=12, seed=2001, dtype="float32"),
    dict(BASE, name="fp16", L=2, d=48, H=3, n_qkv=20, n_proj=12, n_ffn=40, vocab=89, T=10, seed=2002, dtype="float16"),
    dict(BASE, name="bf16", L=1, d=32, H=2, n_qkv=16, n_proj=8, n_ffn=32, vocab=67, T=8, seed=2003, dtype="bfloat16"),
    dict(BASE, name="shared_views", L=3, d=32, H=4, n_qkv=16, n_proj=12, n_ffn=40, vocab=83, T=11, seed=2004,
         dtype="float32", norm="gelu_l2_norm", rotary_pct=0.5),
]
MAX_POSITIONS = 64
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def official_config(cfg, max_pos=MAX_POSITIONS):
    """The NeoX fields the released config.json / YAML carry (names as in configs/tokenformer/*.yml)."""
    return collections.OrderedDict([
        ("architectures", ["TokenFormerForCausalLM"]),
        ("pipe_parallel_size", 1), ("model_parallel_size", 1),
        ("num_layers", cfg["L"]), ("hidden_size", cfg["d"]), ("num_attention_heads", cfg["H"]),
        ("qkv_slot_num", cfg["n_qkv"]), ("proj_slot_num", cfg["n_proj"]), ("ffn_slot_num", cfg["n_ffn"]),
        ("seq_length", max_pos), ("max_position_embeddings", max_pos),
        ("pos_emb", "rotary"), ("rotary_pct", cfg["rotary_pct"]), ("rotary_emb_base", cfg["rotary_base"]),
        ("no_weight_tying", False), ("norm", "layernorm_nonparam"), ("final_norm", "layernorm"),
        ("gpt_j_residual", False), ("output_layer_parallelism", "column"), ("use_bias_in_attn_linear", False),
        ("attention_config", [[["tokenformer"], cfg["L"]]]), ("norm_activation_type", cfg["norm"]),
        ("init_method", "normal"), ("output_layer_init_method", "wang_init"),
        ("torch_dtype", "float16"),  # as in the released config.json (misleading: the tensors are float32)
    ])


def official_yaml(cfg):
    """The same fields in the style of configs/tokenformer/*_eval.yml: a flow mapping with # comments and False."""
    c = official_config(cfg)
    lines = ["# written by tools/reference/make_torch_checkpoints.py in the style of the official NeoX configs", "{"]
    for k, v in c.items():
        if k in ("architectures", "torch_dtype"):
            continue
        if isinstance(v, bool):
            text = "True" if v else "False"
        elif isinstance(v, str):
            text = json.dumps(v)
        else:
            text = json.dumps(v)
        comment = ""
        if k == "norm_activation_type":
            comment = ' # "l2_norm_gelu", "gelu_l2_norm", "softmax"'
        lines.append(f'  "{k}": {text},{comment}')
        if k == "use_bias_in_attn_linear":
            lines.append("")
            lines.append("  # these should provide some speedup but takes a while to build, set to true if desired")
    lines.append('  "optimizer": {"type": "Adam", "params": {"lr": 0.0006, "betas": [0.9, 0.95], "eps": 1.0e-8}},')
    lines.append('  "min_lr": 0.00006,')
    lines.append('  "checkpoint_validation_with_forward_pass": False,')
    lines.append('  "tokenizer-type": "HFTokenizer",')
    lines.append('  "vocab-file": "./tokenizer.json", # from GPT-NeoX 20B')
    lines.append("}")
    return "\n".join(lines) + "\n"


def stored_params(cfg):
    """Random parameters rounded to the storage dtype; returns (float64 values, tensors in the storage dtype)."""
    P = mg.make_params(cfg)
    dt = TORCH_DTYPES[cfg["dtype"]]
    stored = collections.OrderedDict((k, v.to(dt)) for k, v in P.items())
    exact = {k: v.to(F64) for k, v in stored.items()}
    return exact, stored


def shared_storage(stored):
    """One flat storage, every tensor a view into it; two tensors are transposed views (non-contiguous)."""
    total = sum(v.numel() for v in stored.values())
    flat = torch.empty(total, dtype=torch.float32)
    out, off = collections.OrderedDict(), 0
    transposed = {k for k in stored if k.endswith("2.mlp.value_param_tokens") or k.endswith("3.attention.proj.key_param_tokens")}
    for k, v in stored.items():
        n = v.numel()
        region = flat.narrow(0, off, n)
        if k in transposed:
            rows, cols = v.shape
            view = region.view(cols, rows).t()  # shape [rows, cols], strides (1, rows)
            view.copy_(v)
            assert not view.is_contiguous()
        else:
            view = region.view(v.shape)
            view.copy_(v)
        out[k] = view
        off += n
    return out


def expected(cfg, P):
    g = torch.Generator().manual_seed(cfg["seed"] + 7)
    seq = torch.randint(0, cfg["vocab"], (1, cfg["T"] + 1), generator=g, dtype=torch.int64)
    seq[0, 0] = cfg["vocab"] - 1
    ids, targets = seq[:, :-1].clone(), seq[:, 1:].clone()
    cfg_eps = dict(cfg, eps=1e-5)
    with torch.no_grad():
        logits = mg.forward(P, cfg_eps, ids)
        loss = mg.masked_ce(logits, targets, torch.ones(ids.shape, dtype=F64))
    return ids, targets, logits, loss


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def write_fixture(outdir, cfg):
    os.makedirs(outdir, exist_ok=True)
    P, stored = stored_params(cfg)
    sd = shared_storage(stored) if cfg["name"] == "shared_views" else collections.OrderedDict(
        (k, v.clone()) for k, v in stored.items())
    assert list(sd.keys()) == mg.param_keys(cfg["L"])
    if cfg["name"] == "fp32":
        sd._metadata = collections.OrderedDict([("", {"version": 1}), ("sequential", {"version": 1})])
    # saved under its final file name in a scratch folder, so the archive's member prefix is "pytorch_model/"
    # as in the released files, then moved into place
    scratch = os.path.join(outdir, ".tmp")
    os.makedirs(scratch, exist_ok=True)
    torch.save(sd, os.path.join(scratch, "pytorch_model.bin"))
    os.replace(os.path.join(scratch, "pytorch_model.bin"), os.path.join(outdir, "pytorch_model.bin"))
    os.rmdir(scratch)
    write_json(os.path.join(outdir, "config.json"), official_config(cfg))
    if cfg["name"] == "fp32":
        with open(os.path.join(outdir, "official.yml"), "w") as f:
            f.write(official_yaml(cfg))
    # check: torch.load gives back exactly the values the reference uses
    back = torch.load(os.path.join(outdir, "pytorch_model.bin"))
    for k in P:
        assert torch.equal(back[k].to(F64), P[k]), k
    ids, targets, logits, loss = expected(cfg, P)
    mg.write_safetensors(os.path.join(outdir, "golden.safetensors"), [
        ("input_ids", ids.numpy()), ("targets", targets.numpy()),
        ("logits", mg.f32(logits)), ("loss", mg.f32(loss)),
    ], {"generator": "tools/reference/make_torch_checkpoints.py", "reference_dtype": "float64", "fixture": cfg["name"]})
    size = sum(os.path.getsize(os.path.join(outdir, f)) for f in os.listdir(outdir))
    print(f"  {cfg['name']:13s} {cfg['dtype']:9s} L{cfg['L']} d{cfg['d']} V{cfg['vocab']}: {len(sd)} tensors, "
          f"{len({v.storage().data_ptr() for v in sd.values()})} storage(s), loss {float(loss):.6f}, "
          f"max|logit| {float(logits.abs().max()):.3f}, {size / 1024:.0f} KiB")


def write_full(outdir, preset):
    """A full-size release folder with random float32 weights at the official init scale (for benchmarks)."""
    sizes = {"150m": (12, 768, 12, 768, 768, 3072), "450m": (24, 1024, 16, 1024, 1024, 4096)}
    L, d, H, nq, npj, nf = sizes[preset]
    cfg = dict(BASE, name=preset, L=L, d=d, H=H, n_qkv=nq, n_proj=npj, n_ffn=nf, vocab=50304)
    os.makedirs(outdir, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    sd = collections.OrderedDict()
    for k in mg.param_keys(L):
        if k.endswith("word_embeddings.weight"):
            shape = (50304, d)
        elif k.endswith("norm.weight") or k.endswith("norm.bias"):
            shape = (d,)
        else:
            n = nf if ".mlp." in k else (npj if ".proj." in k else nq)
            shape = (n, d)
        std = 2 / (L * math.sqrt(d)) if k.endswith("value_param_tokens") else 0.02
        t = torch.randn(*shape, generator=g) * std
        if k.endswith("norm.weight"):
            t = torch.ones(shape)
        if k.endswith("norm.bias"):
            t = torch.zeros(shape)
        sd[k] = t
    torch.save(sd, os.path.join(outdir, "pytorch_model.bin"))
    write_json(os.path.join(outdir, "config.json"), official_config(cfg, 2048))
    n = sum(v.numel() for v in sd.values())
    print(f"wrote {outdir}: {len(sd)} tensors, {n:,} parameters, {os.path.getsize(os.path.join(outdir, 'pytorch_model.bin')):,} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join("tests", "fixtures", "torch"))
    ap.add_argument("--full", choices=["150m", "450m"], help="write one full-size random release folder to --out instead")
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.full:
        write_full(args.out, args.full)
        return 0
    print(f"torch {torch.__version__}: writing {args.out}")
    for cfg in FIXTURES:
        write_fixture(os.path.join(args.out, cfg["name"]), cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
