"""PhyDNet and MoDeRNN training speed and peak memory against straightforward reference implementations.

For each model (at its paper size: 64x64 one-channel frames; PhyDNet F = 32, 7x7 PhyCell, ConvLSTM
(128, 128, 64); MoDeRNN patch 4, 4 layers x 64, 3x3 gates) and each batch size, one training
iteration is: zero_grad, the rollout (``--context`` frames in, ``--horizon`` out: warm-up on the
context, then free prediction), the MSE on the predicted frames plus the model's auxiliary loss
(PhyDNet's moment loss), backward, an Adam step.

The references are written below the way the papers' layer lists read, independently of
physdiff (same layers, no fusion, no shortcuts): PhyDNet's 7x7 filter bank is one ``nn.Conv2d``
whose moment loss loops over the input channels (K2M by two float64 matrix products each); its
ConvLSTM cell convolves ``cat([x, h])`` every step, zeros included; MoDeRNN is a
``Sequential(conv, LayerNorm)`` per convolution, its DCB and cell as in the paper's equations.
Each reference is loaded with the physdiff model's weights and the largest difference of the two
rollouts and losses is printed, so both compute the same function.

Speed: a timing is the median iteration time over ``--repeat`` seconds (at least ``--min-iters``
iterations after one warm-up); routes are timed back to back in this process, ``--runs`` rounds,
and the ratio is the median of per-round ratios. Both the process CPU time and the wall time of
each iteration are taken; with ``--threads 1`` on a machine shared with other jobs the CPU time
is the figure to read (it does not count the time the process waits for a core, which under a
load average of 10-20 on 2 cores makes wall times vary several-fold between iterations).

Memory: each (model, route, batch) runs one iteration in a fresh subprocess that reports the
growth of its peak resident set size over the iteration (``VmHWM`` after resetting it, Linux).
``--profile`` prints where the time of one physdiff iteration goes (torch.profiler, self CPU time
by operator and kernel shape). Usage::

    python benchmarks/video_learners.py [--threads 1] [--batches 8 16] [--context 10] [--horizon 10]
        [--models phydnet modernn] [--repeat SECONDS] [--runs N] [--min-iters N] [--skip-memory] [--profile]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from physdiff.learners import MoDeRNN, PhyDNet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convlstm import _proc_status_mib, _reset_peak_rss  # noqa: E402  (the same /proc readers as the ConvLSTM benchmark)


# ------------------------------------------------------------------------------------------ PhyDNet reference
def conv_block(nin, nout, stride):
    return nn.Sequential(nn.Conv2d(nin, nout, 3, stride, 1), nn.GroupNorm(16, nout), nn.LeakyReLU(0.2))


def upconv_block(nin, nout, stride):
    return nn.Sequential(nn.ConvTranspose2d(nin, nout, 3, stride, 1, output_padding=stride - 1),
                         nn.GroupNorm(16, nout), nn.LeakyReLU(0.2))


class RefPhyCell(nn.Module):
    def __init__(self, channels=64, k=7):
        super().__init__()
        self.k = k
        self.conv1 = nn.Conv2d(channels, k * k, k, padding=k // 2)
        self.norm = nn.GroupNorm(7, k * k)
        self.conv2 = nn.Conv2d(k * k, channels, 1)
        self.gate = nn.Conv2d(2 * channels, channels, 3, padding=1)
        # moment matrix M[p, a] = (a - c)^p / p!
        c = (k - 1) // 2
        m = torch.tensor([[(a - c) ** p / math.factorial(p) for a in range(k)] for p in range(k)], dtype=torch.float64)
        self.register_buffer("m", m)
        target = torch.zeros(k * k, k, k, dtype=torch.float64)
        for n in range(k * k):
            target[n, n // k, n % k] = 1.0
        self.register_buffer("target", target)

    def forward(self, x, h):
        gate = torch.sigmoid(self.gate(torch.cat([x, h], 1)))
        h_tilde = h + self.conv2(self.norm(self.conv1(h)))
        return h_tilde + gate * (x - h_tilde)

    def moment_loss(self):
        loss = 0.0
        for b in range(self.conv1.weight.shape[1]):
            moments = self.m @ self.conv1.weight[:, b].double() @ self.m.T
            loss = loss + F.mse_loss(moments, self.target).float()
        return loss


class RefConvLSTMCell(nn.Module):
    def __init__(self, nin, hidden, k=3):
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(nin + hidden, 4 * hidden, k, padding=k // 2)

    def forward(self, x, state):
        h, c = state
        zi, zf, zo, zg = torch.split(self.conv(torch.cat([x, h], 1)), self.hidden, 1)
        c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
        return torch.sigmoid(zo) * torch.tanh(c), c


class RefPhyDNet(nn.Module):
    def __init__(self, hidden=(128, 128, 64)):
        super().__init__()
        self.enc = nn.Sequential(conv_block(1, 32, 2), conv_block(32, 32, 1), conv_block(32, 64, 2))
        self.enc_p = nn.Sequential(conv_block(64, 64, 1), conv_block(64, 64, 1))
        self.enc_r = nn.Sequential(conv_block(64, 64, 1), conv_block(64, 64, 1))
        self.phycell = RefPhyCell()
        ins = (64, *hidden[:-1])
        self.cells = nn.ModuleList(RefConvLSTMCell(i, h) for i, h in zip(ins, hidden))
        self.dec_p = nn.Sequential(upconv_block(64, 64, 1), upconv_block(64, 64, 1))
        self.dec_r = nn.Sequential(upconv_block(hidden[-1], 64, 1), upconv_block(64, 64, 1))
        self.dec = nn.Sequential(upconv_block(64, 32, 2), upconv_block(32, 32, 1),
                                 nn.ConvTranspose2d(32, 1, 3, 2, 1, output_padding=1))

    def step(self, u, hp, lstm):
        z = self.enc(u)
        hp = self.phycell(self.enc_p(z), hp)
        x, new = self.enc_r(z), []
        for cell, s in zip(self.cells, lstm):
            x, c = cell(x, s)
            new.append((x, c))
        return torch.sigmoid(self.dec(self.dec_p(hp) + self.dec_r(x))), hp, new

    def forward(self, context, n_steps):
        b, _, _, hh, ww = context.shape
        hp = context.new_zeros(b, 64, hh // 4, ww // 4)
        lstm = [(context.new_zeros(b, c.hidden, hh // 4, ww // 4),) * 2 for c in self.cells]
        for t in range(context.shape[1] - 1):
            _, hp, lstm = self.step(context[:, t], hp, lstm)
        u, outs = context[:, -1], []
        for _ in range(n_steps):
            u, hp, lstm = self.step(u, hp, lstm)
            outs.append(u)
        return torch.stack(outs, 1)

    def auxiliary_loss(self, context):
        return self.phycell.moment_loss()

    def load_from(self, model: PhyDNet):
        mine = dict(model.named_parameters())
        with torch.no_grad():
            self.phycell.conv1.weight.copy_(model.phycell.filters())
            self.phycell.conv1.bias.copy_(model.phycell.bias)
            pairs = [(self.phycell.norm, model.phycell.norm), (self.phycell.conv2, model.phycell.mix),
                     (self.phycell.gate, model.phycell.gate), (self.enc, model.encoder),
                     (self.enc_p, model.encoder_phys),
                     (self.enc_r, model.encoder_conv), (self.dec_p, model.decoder_phys),
                     (self.dec_r, model.decoder_conv), (self.dec, model.decoder)]
            for ref, phys in pairs:
                ref.load_state_dict(phys.state_dict())
            for ref, cell in zip(self.cells, model.convlstm):
                ref.conv.weight.copy_(cell.weight)
                ref.conv.bias.copy_(cell.bias)
        assert sum(p.numel() for p in self.parameters()) == sum(p.numel() for p in mine.values())
        return self


# ------------------------------------------------------------------------------------------ MoDeRNN reference
def conv_ln(nin, nout, k, grid):
    return nn.Sequential(nn.Conv2d(nin, nout, k, 1, k // 2, bias=False), nn.LayerNorm([nout, grid, grid]))


class RefMoDeRNNCell(nn.Module):
    def __init__(self, hid, k, grid):
        super().__init__()
        self.hid = hid
        self.x_convs = nn.ModuleList(conv_ln(hid, hid, s, grid) for s in (3, 5, 7))  # x -> h attention
        self.h_convs = nn.ModuleList(conv_ln(hid, hid, s, grid) for s in (3, 5, 7))  # h -> x attention
        self.i2h = conv_ln(hid, 4 * hid, k, grid)
        self.h2h = conv_ln(hid, 4 * hid, k, grid)
        self.norm_c = nn.LayerNorm([hid, grid, grid])

    def forward(self, x, h, c):
        for i in range(1, 6):
            if i % 2 == 0:
                h = 2 * torch.sigmoid(sum(conv(x) for conv in self.x_convs) / 3) * h
            else:
                x = 2 * torch.sigmoid(sum(conv(h) for conv in self.h_convs) / 3) * x
        i, f, g, o = torch.split(self.i2h(x) + self.h2h(h), self.hid, 1)
        c = self.norm_c(torch.sigmoid(f + 1.0) * c + torch.sigmoid(i) * torch.tanh(g))
        return torch.sigmoid(o) * torch.tanh(c), c


class RefMoDeRNN(nn.Module):
    def __init__(self, hid=64, layers=4, k=3, patch=4, size=64):
        super().__init__()
        self.p, self.hid = patch, hid
        self.grid = size // patch
        self.embed = nn.Conv2d(patch * patch, hid, 1)
        self.cells = nn.ModuleList(RefMoDeRNNCell(hid, k, self.grid) for _ in range(layers))
        self.out = nn.Conv2d(hid, patch * patch, 1)

    def step(self, u, state):
        x = self.embed(F.pixel_unshuffle(u, self.p))
        new = []
        for cell, (h, c) in zip(self.cells, state):
            x, c = cell(x, h, c)
            new.append((x, c))
        return F.pixel_shuffle(self.out(x), self.p), new

    def forward(self, context, n_steps):
        zeros = context.new_zeros(context.shape[0], self.hid, self.grid, self.grid)
        state = [(zeros, zeros)] * len(self.cells)
        for t in range(context.shape[1] - 1):
            _, state = self.step(context[:, t], state)
        u, outs = context[:, -1], []
        for _ in range(n_steps):
            u, state = self.step(u, state)
            outs.append(u)
        return torch.stack(outs, 1)

    def auxiliary_loss(self, context):
        return None

    def load_from(self, model: MoDeRNN):
        with torch.no_grad():
            self.embed.load_state_dict(model.embed.state_dict())
            self.out.load_state_dict(model.output.state_dict())
            for ref, block, cell in zip(self.cells, model.blocks, model.cells):
                for mine, theirs in ((block.from_x, ref.x_convs), (block.from_h, ref.h_convs)):
                    for conv, norm, seq in zip(mine.convs, mine.norms, theirs):
                        seq[0].load_state_dict(conv.state_dict())
                        seq[1].load_state_dict(norm.state_dict())
                ref.i2h[0].load_state_dict(cell.conv_x.state_dict())
                ref.i2h[1].load_state_dict(cell.norm_x.state_dict())
                ref.h2h[0].load_state_dict(cell.conv_h.state_dict())
                ref.h2h[1].load_state_dict(cell.norm_h.state_dict())
                ref.norm_c.load_state_dict(cell.norm_c.state_dict())
        assert sum(p.numel() for p in self.parameters()) == sum(p.numel() for p in model.parameters())
        return self


# ------------------------------------------------------------------------------------------ harness
def build(name: str):
    torch.manual_seed(0)
    model = PhyDNet() if name == "phydnet" else MoDeRNN()
    reference = (RefPhyDNet() if name == "phydnet" else RefMoDeRNN()).load_from(model)
    return model, reference


def data(batch: int, args):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(batch, args.context + args.horizon, 1, 64, 64, generator=g)
    return x[:, :args.context], x[:, args.context:]


def loss_of(model, context, target, args):
    loss = F.mse_loss(model(context, args.horizon), target)
    aux = model.auxiliary_loss(context)
    return loss if aux is None else loss + aux


def iteration_times(model, context, target, args) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of one training iteration."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def iteration():
        optimizer.zero_grad(set_to_none=True)
        loss_of(model, context, target, args).backward()
        optimizer.step()

    iteration()  # warm-up
    cpu: list[float] = []
    wall: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < args.repeat or len(wall) < args.min_iters:
        c0, t0 = time.process_time(), time.perf_counter()
        iteration()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(cpu), statistics.median(wall)


def speed(name: str, args) -> None:
    for batch in args.batches:
        model, reference = build(name)  # fresh, identical weights (Adam steps of the timing change them)
        context, target = data(batch, args)
        with torch.no_grad():
            diff = (model(context, args.horizon) - reference(context, args.horizon)).abs().max().item()
            dloss = abs(loss_of(model, context, target, args).item() - loss_of(reference, context, target, args).item())
        rounds = []
        for _ in range(args.runs):
            rounds.append({route: iteration_times(m, context, target, args)
                           for route, m in (("reference", reference), ("physdiff", model))})
        for kind, i in (("CPU", 0), ("wall", 1)):
            ref = statistics.median(r["reference"][i] for r in rounds)
            mine = statistics.median(r["physdiff"][i] for r in rounds)
            ratio = statistics.median(r["reference"][i] / r["physdiff"][i] for r in rounds)
            print(f"{name:<8} batch {batch:>3} {kind:<4}: reference {1 / ref:8.4f} it/s ({ref:7.2f} s), physdiff "
                  f"{1 / mine:8.4f} it/s ({mine:7.2f} s), physdiff/reference speed {ratio:5.2f}x", flush=True)
        print(f"{name:<8} batch {batch:>3}: max |rollout diff| {diff:.1e}, |loss diff| {dloss:.1e} (same weights)")


def memory_case(args) -> dict[str, float]:
    """One training iteration of ``args.memory_case = "model:route:batch"``; its peak RSS growth in MiB."""
    name, route, batch = args.memory_case.split(":")
    model, reference = build(name)
    model = model if route == "physdiff" else reference
    context, target = data(int(batch), args)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    if _reset_peak_rss() and _proc_status_mib("VmRSS") is not None:
        before = _proc_status_mib("VmRSS")
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loss_of(model, context, target, args).backward()
    optimizer.step()
    peak = _proc_status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"growth_mib": peak - before}


def memory(name: str, args) -> None:
    for batch in args.batches:
        growth = {}
        for route in ("reference", "physdiff"):
            command = [sys.executable, __file__, "--memory-case", f"{name}:{route}:{batch}", *sys.argv[1:]]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()
            growth[route] = json.loads(out[-1])["growth_mib"]
        print(f"{name:<8} batch {batch:>3}: peak RSS growth over one iteration: "
              f"reference {growth['reference']:7.0f} MiB, physdiff {growth['physdiff']:7.0f} MiB "
              f"({growth['reference'] / growth['physdiff']:.2f}x less)", flush=True)


def profile(name: str, args) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model, _ = build(name)
    context, target = data(args.batches[0], args)
    loss_of(model, context, target, args).backward()  # warm-up
    with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        loss_of(model, context, target, args).backward()
    table = prof.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in table)
    rows = sorted(table, key=lambda e: -e.self_cpu_time_total)[:args.profile_rows]
    print(f"{name}: where one iteration's time goes (batch {args.batches[0]}, self CPU time, top {args.profile_rows})")
    for e in rows:
        shapes = str(e.input_shapes[:2])[:70]
        print(f"  {100 * e.self_cpu_time_total / total:5.1f}%  {e.key:<34} {shapes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--models", nargs="+", default=["phydnet", "modernn"], choices=["phydnet", "modernn"])
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--context", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--repeat", type=float, default=10.0, help="seconds of timing per route, batch and round")
    parser.add_argument("--min-iters", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-rows", type=int, default=15)
    parser.add_argument("--memory-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_case:
        print(json.dumps(memory_case(args)))
        return
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"threads {torch.get_num_threads()}, {args.context} frames in, {args.horizon} out, 64x64; "
          f"load average before {os.getloadavg()[0]:.2f}", flush=True)
    for name in args.models:
        if args.profile:
            profile(name, args)
        if not args.skip_speed:
            speed(name, args)
        if not args.skip_memory:
            memory(name, args)
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
