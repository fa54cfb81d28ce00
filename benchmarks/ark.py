"""ARKMNet training throughput with the window attention through SDPA vs a naive attention, same model.

(a) Training iterations per second of ``physdiff.learners.ARKMNet`` at the setting of
spatiotemporal.md 1.2 (patch 4, C = 64, Swin depth 8, 8 heads, window 4, 8 Fourier blocks, 7x7
moments; 64x64 frames, batch 8): one iteration = a rollout of ``--context`` input frames and
``--horizon`` predicted frames, MSE + H1 + moment loss, backward, Adam step. The same model (same
weights) runs with ``attention="sdpa"`` (``torch.nn.functional.scaled_dot_product_attention``) and
``attention="naive"`` (matmul, softmax, matmul with the bias and mask added); the script checks that
the two rollouts agree. (b) The window attention alone (forward + backward of the 8 blocks' worth
of windows), and both without gradients (inference). A timing is the median over ``--repeat`` seconds; each of ``--runs`` rounds times the
two routes back to back, so the printed ratios compare runs under the same machine load. Usage::

    python benchmarks/ark.py [--threads 1] [--batch 8] [--size 64] [--context 2] [--horizon 2]
                             [--repeat 20] [--runs 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from physdiff.learners import ARKMNet
from physdiff.learners.blocks import WindowAttention, shifted_window_mask


def set_attention(model: torch.nn.Module, kind: str) -> None:
    for module in model.modules():
        if isinstance(module, WindowAttention):
            module.attention = kind


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_time(fn, repeat: float, device: torch.device) -> float:
    fn()  # warm-up
    sync(device)
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < repeat or len(times) < 3:
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--context", type=int, default=2)
    parser.add_argument("--horizon", type=int, default=2)
    parser.add_argument("--repeat", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, device {device}, "
          f"threads {torch.get_num_threads()}, load average before {os.getloadavg()[0]:.1f}")
    torch.manual_seed(0)
    model = ARKMNet(1, grid=(args.size, args.size)).to(device)
    params = sum(p.numel() for p in model.parameters())
    frames = torch.rand(args.batch, args.context + args.horizon, 1, args.size, args.size, device=device)
    context, targets = frames[:, : args.context], frames[:, args.context :]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    model.eval()  # no drop-path randomness for the agreement check
    outs = {}
    for kind in ("sdpa", "naive"):
        set_attention(model, kind)
        with torch.no_grad():
            outs[kind] = model(context, args.horizon)
    print(f"ARKMNet {params:,} parameters; max |sdpa - naive| over the rollout: "
          f"{(outs['sdpa'] - outs['naive']).abs().max().item():.2e}")
    model.train()

    def iteration() -> None:
        optimizer.zero_grad(set_to_none=True)
        pred = model(context, args.horizon)
        loss = torch.nn.functional.mse_loss(pred, targets) + model.auxiliary_loss(context)
        loss = loss + model.prediction_loss(pred, targets)
        loss.backward()
        optimizer.step()

    tokens = (args.size // 4) ** 2
    windows = args.batch * tokens // 16
    attn = WindowAttention(64, 8, 4).to(device)
    x = torch.randn(windows, 16, 64, device=device, requires_grad=True)
    mask = shifted_window_mask(args.size // 4, args.size // 4, 4, 2, device=device)

    def attention_only() -> None:
        for i in range(8):  # the 8 blocks of one cell step: W-MSA, SW-MSA alternating
            attn(x, mask if i % 2 else None).sum().backward()

    def inference() -> None:
        with torch.no_grad():
            model(context, args.horizon)

    def attention_inference() -> None:
        with torch.no_grad():
            for i in range(8):
                attn(x, mask if i % 2 else None)

    cases = {"train": (iteration, 1.0), "attention": (attention_only, 0.25), "inference": (inference, 0.5),
             "attention_inference": (attention_inference, 0.25)}
    rows = {name: {"sdpa": [], "naive": []} for name in cases}
    for _ in range(args.runs):
        for kind in ("sdpa", "naive"):
            set_attention(model, kind)
            attn.attention = kind
            for name, (fn, share) in cases.items():
                rows[name][kind].append(median_time(fn, args.repeat * share, device))
    print(f"\nbatch {args.batch}, {args.size}x{args.size}, {args.context} -> {args.horizon} frames per iteration; "
          f"median of {args.runs} rounds")
    print(f"{'':36s} {'sdpa':>10s} {'naive':>10s} {'sdpa speed-up':>14s}")
    for name, label in (("train", "training iterations/s (full model)"),
                        ("attention", "8 window attentions fwd+bwd /s"),
                        ("inference", "rollouts/s, no grad (full model)"),
                        ("attention_inference", "8 window attentions fwd, no grad /s")):
        s, n = statistics.median(rows[name]["sdpa"]), statistics.median(rows[name]["naive"])
        print(f"{label:36s} {1 / s:10.3f} {1 / n:10.3f} {n / s:13.2f}x")
    print(f"load average after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
