#!/usr/bin/python3
"""Training and inference throughput (images/s) of the vision TokenFormer in PyTorch, the counterpart of
`tokenformer vision bench` (docs/vision.md, Throughput): the same model (presets of src/TokenFormer.Vision/VisionPresets.cs),
batch and random 28x28 greyscale input, float32, a training step = forward, cross-entropy, backward, clipping at 1,
AdamW; the median of --reps timed repetitions after two untimed ones. The Q/K/V score products run as one matmul, as
in the C# code. Run with Debian's interpreter: /usr/bin/python3 tools/reference/vision_bench.py --threads 2
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

PRESETS = {  # name: (layers, hidden, heads, patch, n_qkv, n_proj, n_ffn)
    "tiny": (2, 32, 2, 7, 32, 32, 64),
    "small": (6, 64, 4, 7, 64, 64, 256),
    "small-p4": (4, 64, 4, 4, 64, 64, 128),
    "base": (6, 96, 4, 7, 96, 96, 384),
}


def l2_norm_gelu(a, n):
    return F.gelu(math.sqrt(n) * a / a.norm(dim=-1, keepdim=True))


def layernorm(x):
    return F.layer_norm(x, x.shape[-1:], eps=1e-5)


class VisionTokenFormer(torch.nn.Module):
    def __init__(self, layers, d, heads, patch, nq, np_, nf, classes=10, size=28):
        super().__init__()
        self.d, self.h, self.p, self.nq, self.np, self.nf = d, heads, patch, nq, np_, nf
        t = (size // patch) ** 2
        P = torch.nn.Parameter
        self.patch_w = P(torch.randn(d, patch * patch) / patch)
        self.patch_b = P(torch.zeros(d))
        self.pos = P(torch.randn(t, d) * 0.02)
        self.blocks = torch.nn.ParameterList()
        for _ in range(layers):
            for shape, std in (((3 * nq, d), 0.02), ((3, nq, d), 0.02), ((np_, d), 0.02), ((np_, d), 0.02), ((nf, d), 0.02), ((nf, d), 0.02)):
                self.blocks.append(P(torch.randn(*shape) * std))
        self.norm_w = P(torch.ones(d))
        self.norm_b = P(torch.zeros(d))
        self.head_w = P(torch.randn(classes, d) * 0.02)
        self.head_b = P(torch.zeros(classes))

    def forward(self, images):
        B, p, d, H = images.shape[0], self.p, self.d, self.h
        g = images.shape[-1] // p
        x = images.reshape(B, 1, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(B, g * g, p * p)
        x = x @ self.patch_w.T + self.patch_b + self.pos
        T = x.shape[1]
        for l in range(len(self.blocks) // 6):
            kqkv, vqkv, kp, vp, kf, vf = self.blocks[6 * l: 6 * l + 6]
            a1 = layernorm(x)
            s = (a1 @ kqkv.T).reshape(B, T, 3, self.nq)
            s = l2_norm_gelu(s, self.nq)
            q = s[:, :, 0] @ vqkv[0]
            k = s[:, :, 1] @ vqkv[1]
            v = s[:, :, 2] @ vqkv[2]
            q, k, v = (t.reshape(B, T, H, d // H).transpose(1, 2) for t in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // H), dim=-1) @ v
            att = att.transpose(1, 2).reshape(B, T, d)
            x = x + l2_norm_gelu(att @ kp.T, self.np) @ vp
            x = x + l2_norm_gelu(layernorm(x) @ kf.T, self.nf) @ vf
        z = F.layer_norm(x.mean(1), (d,), self.norm_w, self.norm_b, 1e-5)
        return z @ self.head_w.T + self.head_b


def median_time(fn, reps):
    times = []
    for i in range(reps + 2):
        t0 = time.perf_counter()
        fn()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = VisionTokenFormer(*PRESETS[a.preset])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
    images = torch.rand(a.batch, 1, 28, 28) * 2 - 1
    labels = torch.arange(a.batch) % 10

    def train():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def infer():
        with torch.no_grad():
            model(images)

    tr = median_time(train, a.reps)
    inf = median_time(infer, a.reps)
    n = sum(p.numel() for p in model.parameters())
    print(f"pytorch {torch.__version__} vision bench: preset {a.preset} ({n:,} parameters), batch {a.batch}, {a.threads} threads, median of {a.reps}")
    print(f"train step {tr * 1000:.1f} ms = {a.batch / tr:.0f} images/s; inference {inf * 1000:.1f} ms = {a.batch / inf:.0f} images/s")


if __name__ == "__main__":
    main()
