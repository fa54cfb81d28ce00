"""PhysicNet training throughput and where its time goes, against ConvLSTM in the same process.

(a) Training iterations per second (forward of a 10-in / 10-out free rollout, MSE plus the
auxiliary loss, backward, Adam step) at batch ``--batch``, ``--size`` x ``--size`` frames, 1
channel, for ConvLSTM (the baseline, ``--convlstm-hidden``), PhysicNet at the sizes
``spatiotemporal.md`` 3.3 proposes (hidden 128, D = 64, K = 512: the constructor defaults) and
at the reduced sizes of ``benchmarks/physicnet_table.py`` (hidden 32, D = 16, K = 64). A timing
is the median over ``--repeat`` iterations after one warm-up.

(b) The cost split of one PhysicNet training iteration: each part is timed on its own (forward
and backward, median of ``--repeat``) at the shapes it has inside the iteration and multiplied
by its calls per iteration (10 prediction steps): the encoders (global on ``(B, 10, H, W)``, local
on the ``4 B`` crops), the quantiser (both levels' latents), the flow experts (flow and residual
heads, without the warp), the warp (``physdiff.operators.warp`` of the frame and of the crops).
The rest of the measured iteration (crop/paste, fusion, loss, optimiser, Python) is "other".
Usage::

    python benchmarks/physicnet.py [--batch 8] [--size 64] [--threads 1] [--repeat 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch

from physdiff.learners import ConvLSTM, PhysicNet
from physdiff.operators import warp

SMALL = dict(latent_channels=16, hidden=32, residual_hidden=16, head_hidden=16, num_codes=64)


def median_seconds(run: Callable[[], None], repeat: int, device: torch.device) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def iteration(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def run() -> None:
        prediction = model(x[:, :10], 10)
        loss = (prediction - x[:, 10:]).square().mean()
        aux = model.auxiliary_loss(x[:, :10])
        if aux is not None:
            loss = loss + aux
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return run


def forward_backward(fn: Callable[[], torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        out = fn()
        out = out if isinstance(out, torch.Tensor) else out[0]
        out.square().mean().backward()

    return run


def split(model: PhysicNet, x: torch.Tensor, repeat: int, device: torch.device) -> dict[str, float]:
    """Seconds per training iteration spent in each part (10 prediction steps)."""
    model.train()
    b, _, c, h, w = x.shape
    s, n = model.crop_size, model.num_crops
    window = x[:, :10].reshape(b, 10 * c, h, w).clone().requires_grad_(True)
    views = torch.randn(b * n, 10 * c, s, s, device=device, requires_grad=True)
    d = model.quantizer.dim
    zg = torch.randn(b, d, h // 4, w // 4, device=device, requires_grad=True)
    zl = torch.randn(b * n, d, s // 4, s // 4, device=device, requires_grad=True)
    frame = x[:, 9].clone().requires_grad_(True)
    crops = torch.randn(b * n, c, s, s, device=device, requires_grad=True)
    flow_g = torch.randn(b, 2, h, w, device=device, requires_grad=True)
    flow_l = torch.randn(b * n, 2, s, s, device=device, requires_grad=True)
    feat_g = torch.cat([zg, zg], 1).detach().requires_grad_(True)
    feat_l = torch.cat([zl, zl], 1).detach().requires_grad_(True)

    def heads() -> torch.Tensor:
        # flow and residual heads of both levels, warp excluded: the head's own layers
        total = 0.0
        for head, feat, last in ((model.global_head, feat_g, frame), (model.local_head, feat_l, crops)):
            flow = torch.nn.functional.interpolate(head.flow(feat), size=last.shape[-2:], mode="bilinear")
            up = torch.nn.functional.interpolate(feat, size=last.shape[-2:], mode="bilinear")
            total = total + flow.square().mean() + head.residual(torch.cat([last, up], 1)).square().mean()
        return total

    parts = {
        "encoders": forward_backward(lambda: model.global_encoder(window).sum() + model.local_encoder(views).sum()),
        "quantiser": forward_backward(lambda: model.quantizer(zg).quantized.sum() + model.quantizer(zl).quantized.sum()),
        "flow experts (heads)": forward_backward(heads),
        "warp": forward_backward(lambda: warp(frame, flow_g, boundary="periodic").sum()
                                 + warp(crops, flow_l, boundary="border").sum()),
    }
    return {name: 10 * median_seconds(run, repeat, device) for name, run in parts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--convlstm-hidden", type=int, nargs="+", default=[16, 16])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 20, 1, args.size, args.size, device=device)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, {args.threads} thread(s), "
          f"device {device}, batch {args.batch}, {args.size}x{args.size}, 10 in / 10 out, load average {load:.1f}")
    models = {
        f"ConvLSTM {tuple(args.convlstm_hidden)} (baseline)": ConvLSTM(1, 2, hidden_channels=tuple(args.convlstm_hidden)),
        "PhysicNet (spec sizes: hidden 128, D 64, K 512)": PhysicNet(1, 2),
        "PhysicNet (table sizes: hidden 32, D 16, K 64)": PhysicNet(1, 2, **SMALL),
    }
    rows = []
    for name, model in models.items():
        model.to(device)
        seconds = median_seconds(iteration(model, x), args.repeat, device)
        params = sum(p.numel() for p in model.parameters())
        rows.append((name, seconds, params))
    base = rows[0][1]
    print("\n| model | params | s / iteration | iterations / s | time vs baseline |\n|---|---|---|---|---|")
    for name, seconds, params in rows:
        print(f"| {name} | {params:,} | {seconds:.3f} | {1 / seconds:.3f} | {seconds / base:.2f}x |")
    for (name, seconds, _), model in zip(rows[1:], list(models.values())[1:]):
        parts = split(model, x, args.repeat, device)
        print(f"\ncost split of one training iteration, {name} (measured iteration {seconds:.3f} s):\n"
              "| part | s / iteration | share |\n|---|---|---|")
        for part, t in parts.items():
            print(f"| {part} | {t:.3f} | {100 * t / seconds:.0f} % |")
        other = seconds - sum(parts.values())
        print(f"| other (crop/paste, fusion, loss, optimiser, Python) | {other:.3f} | {100 * other / seconds:.0f} % |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average after: {load:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
