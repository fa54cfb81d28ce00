"""ConvGRU and the minimal ConvRNNs in the paper's network: equations, parallel == step by step,
exact parameter counts, padding, checkpoints, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from physdiff.core import PhysdiffError
from physdiff.learners import (
    ConvGRU,
    ConvGRUCell,
    ConvRNN,
    MinConvExpLSTM,
    MinConvExpLSTMCell,
    MinConvGRU,
    MinConvGRUCell,
    MinConvLSTM,
    MinConvLSTMCell,
    SequenceLearner,
)

F64 = torch.float64
MINIMAL_CELLS = [MinConvGRUCell, MinConvLSTMCell, MinConvExpLSTMCell]
LEARNERS = [ConvGRU, MinConvGRU, MinConvLSTM, MinConvExpLSTM]


def field(*shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def g(x):
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def reference_step(cell, x, h):
    """The paper's equations in linear space, written out."""
    z = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), cell.conv.weight, cell.conv.bias)
    if isinstance(cell, MinConvGRUCell):
        k, ht = z.chunk(2, 1)
        zg = torch.sigmoid(k)
        return (1 - zg) * h + zg * g(ht)
    f, i, ht = z.chunk(3, 1)
    if isinstance(cell, MinConvLSTMCell):
        sf, si = torch.sigmoid(f), torch.sigmoid(i)
        fp, ip = sf / (sf + si), si / (sf + si)
    else:
        fp, ip = torch.exp(f) / (torch.exp(f) + torch.exp(i)), torch.exp(i) / (torch.exp(f) + torch.exp(i))
    return fp * h + ip * g(ht)


@pytest.mark.parametrize("cls", MINIMAL_CELLS)
def test_minimal_cells_follow_the_paper_equations(cls):
    torch.manual_seed(0)
    cell = cls(2, 3).double()
    x, h = field(2, 2, 5, 6, seed=1) * 3, field(2, 3, 5, 6, seed=2)
    torch.testing.assert_close(cell(x, h), reference_step(cell, x, h), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(cell(x), reference_step(cell, x, torch.zeros_like(h)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", MINIMAL_CELLS)
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_cell_sequence_equals_its_steps_for_every_scan(cls, ndim):
    torch.manual_seed(0)
    cell = cls(2, 3, ndim=ndim).double()
    xs = field(2, 5, 2, *(4,) * ndim, seed=3) * 2
    for h0 in (None, field(2, 3, *(4,) * ndim, seed=4).abs()):
        h, steps = h0, []
        for t in range(xs.shape[1]):
            h = cell(xs[:, t], h)
            steps.append(h)
        expected = torch.stack(steps, 1)
        for method in ("sequential", "log", "auto"):
            torch.testing.assert_close(cell.sequence(xs, h0, method), expected, rtol=1e-10, atol=1e-10)


def test_convgru_cell_equations():
    torch.manual_seed(0)
    cell = ConvGRUCell(2, 3).double()
    x, h = field(2, 2, 5, 5, seed=1), field(2, 3, 5, 5, seed=2)

    def conv(module, v):
        return F.conv2d(F.pad(v, (1, 1, 1, 1), mode="circular"), module.weight, module.bias)

    z, r = torch.sigmoid(conv(cell.conv_gates, torch.cat([x, h], 1))).chunk(2, 1)
    ht = torch.tanh(conv(cell.conv_candidate, torch.cat([x, r * h], 1)))
    torch.testing.assert_close(cell(x, h), (1 - z) * h + z * ht)
    torch.testing.assert_close(cell(x), cell(x, torch.zeros_like(h)))


@pytest.mark.parametrize("cls", LEARNERS)
@pytest.mark.parametrize("scan", ["sequential", "log"])
def test_parallel_equals_step_by_step_from_zero_and_from_a_state(cls, scan):
    torch.manual_seed(0)
    model = cls(2, 2, [4, 4], grid=(5, 6), scan=scan).double()
    context, = (field(2, 6, 2, 5, 6, seed=5),)
    parallel, state = model(context, 3, return_state=True)
    stepwise, state_s = SequenceLearner.forward(model, context, 3, return_state=True)
    torch.testing.assert_close(parallel, stepwise, rtol=1e-10, atol=1e-10)
    # continuing from the returned state: parallel again equals step by step
    more = field(2, 4, 2, 5, 6, seed=6)
    torch.testing.assert_close(model(more, 2, state=state), SequenceLearner.forward(model, more, 2, state=state_s),
                               rtol=1e-10, atol=1e-10)
    # teacher_forced's outputs are the one-step predictions of every context frame
    outputs, _ = model.teacher_forced(context)
    state = None
    for t in range(context.shape[1]):
        u, state = model.step(context[:, t], state)
        torch.testing.assert_close(outputs[:, t], u, rtol=1e-10, atol=1e-10)


PAPER_COUNTS = {  # (cell, hidden): parameters of the reference code (spatiotemporal.md section 4)
    "navier-stokes": ((16, 16), 4, {"convlstm": (25, 182_524), "convgru": (28, 171_813), "minconvgru": (49, 175_460),
                                    "minconvlstm": (40, 175_449), "minconvexplstm": (40, 175_449)}),
    "geopotential": ((16, 32), 3, {"convlstm": (12, 34_357), "convgru": (14, 34_993), "minconvgru": (24, 34_393),
                                   "minconvlstm": (20, 35_713), "minconvexplstm": (20, 35_713)}),
}


@pytest.mark.parametrize("setting", sorted(PAPER_COUNTS))
def test_parameter_counts_equal_the_reference_code(setting):
    grid, layers, counts = PAPER_COUNTS[setting]
    padding = "circular" if setting == "navier-stokes" else "cylinder"
    for cell, (hidden, expected) in counts.items():
        model = ConvRNN(1, 2, [hidden] * layers, cell=cell, grid=grid, padding_mode=padding)
        assert sum(p.numel() for p in model.parameters()) == expected, cell


def test_cylinder_padding_is_periodic_in_longitude_and_zero_in_latitude():
    from physdiff.learners.recurrent._convlstm import same_padding

    x = field(1, 1, 4, 6, seed=7)
    padded = same_padding(x, 3, "cylinder")
    assert padded.shape == (1, 1, 6, 8)
    assert torch.equal(padded[..., 0, :], torch.zeros(1, 1, 8, dtype=F64))
    assert torch.equal(padded[..., -1, :], torch.zeros(1, 1, 8, dtype=F64))
    torch.testing.assert_close(padded[..., 1:-1, 0], x[..., -1])
    torch.testing.assert_close(padded[..., 1:-1, -1], x[..., 0])
    # a model with cylinder padding is equivariant to longitude shifts, not to latitude shifts
    torch.manual_seed(0)
    model = MinConvLSTM(1, 2, [3], grid=(4, 6), padding_mode="cylinder").double()
    frames = field(1, 3, 1, 4, 6, seed=8)
    out = model(frames, 2)
    torch.testing.assert_close(model(frames.roll(2, -1), 2), out.roll(2, -1))
    assert not torch.allclose(model(frames.roll(1, -2), 2), out.roll(1, -2))


def test_group_norm_runs_on_any_grid_and_every_parameter_learns():
    torch.manual_seed(0)
    model = MinConvGRU(1, 1, [3, 3], norm="group", input_noise=1e-2)
    context = torch.randn(2, 4, 1, 8)
    model(context, 3).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert model(torch.randn(1, 2, 1, 12), 2).shape == (1, 2, 1, 12)


def test_input_noise_only_in_training_mode():
    torch.manual_seed(0)
    model = MinConvLSTM(1, 1, [3], norm="none", input_noise=0.1)
    context = torch.randn(1, 3, 1, 8)
    model.eval()
    assert torch.equal(model(context, 2), model(context, 2))
    model.train()
    assert not torch.equal(model(context, 2), model(context, 2))


@pytest.mark.parametrize("cls", LEARNERS)
def test_config_rebuilds_the_model(cls):
    model = cls(1, 2, [3, 3], grid=(4, 4), padding_mode="zeros")
    rebuilt = cls(**model.config())
    assert rebuilt.config() == model.config() and "cell" not in model.config()
    rebuilt.load_state_dict(model.state_dict())
    generic = ConvRNN(cell="convlstm", **model.config())
    assert generic.config()["cell"] == "convlstm"


@pytest.mark.parametrize("make, fragment", [
    (lambda: MinConvGRU(1, 2, [3, 4], grid=(4, 4)), "one width for every layer"),
    (lambda: MinConvGRU(1, 2, [3], grid=None), "norm='layer' normalises over a fixed grid"),
    (lambda: MinConvGRU(1, 1, [3], grid=(4,), padding_mode="cylinder"), "needs a 2D"),
    (lambda: MinConvGRU(1, 2, [3], grid=(4, 4), cell="convgru"), "cell: expected one of \\['minconvgru'\\]"),
    (lambda: ConvRNN(1, 2, [3], grid=(4, 4), cell="lstm"), "cell: expected one of"),
    (lambda: ConvRNN(1, 2, [3], grid=(4, 4), cell="convgru", scan="fast"), "scan: expected one of"),
    (lambda: ConvRNN(1, 2, [3], norm="batch", cell="convgru"), "norm: expected one of"),
    (lambda: MinConvLSTM(1, 2, [3], grid=(4, 4), input_noise=-1.0), "input_noise"),
])
def test_bad_construction_raises(make, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        make()


def test_bad_inputs_raise():
    model = MinConvLSTM(2, 2, [3], grid=(4, 4))
    with pytest.raises(PhysdiffError, match=r"expected frames \(B, T, 2, \*space\)"):
        model(torch.randn(1, 3, 1, 4, 4), 2)  # wrong channel count
    with pytest.raises(PhysdiffError, match=r"expected frames"):
        model(torch.randn(1, 3, 2, 4), 2)  # wrong rank
    with pytest.raises(PhysdiffError, match="differs from the grid"):
        model(torch.randn(1, 3, 2, 4, 6), 2)
    with pytest.raises(PhysdiffError, match="n_steps"):
        model(torch.randn(1, 3, 2, 4, 4), 0)


def test_paper_rollout_splits_teacher_forced_and_closed_loop():
    torch.manual_seed(0)
    model = MinConvGRU(1, 2, [3], grid=(4, 4)).double()
    frames = field(2, 7, 1, 4, 4, seed=9)
    out = model.paper_rollout(frames, 3)
    assert out.shape == frames.shape
    torch.testing.assert_close(out[:, :3], model.teacher_forced(frames[:, :3])[0])
    torch.testing.assert_close(out[:, 2:], model(frames[:, :3], 5))  # closed loop from the last TF prediction
    with pytest.raises(PhysdiffError, match="at least as long as its teacher-forced part"):
        model.paper_rollout(frames[:, :2], 3)
