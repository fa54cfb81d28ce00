"""ARKMNet at toy size: shapes, outputs, ablations, losses, the RK modes, config round trip, bad input."""

from __future__ import annotations

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import AdaptiveRK2, Euler, Heun
from physdiff.learners import ARKMNet
from physdiff.operators import sobolev_loss

TOY = dict(grid=(16, 16), patch_size=4, hidden=8, swin_depth=2, heads=2, window=2, n_fourier=1,
           moment_kernel_size=3, drop_path=0.0)


def toy(**kwargs) -> ARKMNet:
    torch.manual_seed(0)
    return ARKMNet(1, **{**TOY, **kwargs})


def frames(t: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.rand(2, t, 1, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_rollout_shapes_and_output_functions():
    out = toy()(frames(), 2)
    assert out.shape == (2, 2, 1, 16, 16) and bool(((out > 0) & (out < 1)).all())
    field = toy(output="identity")(frames(), 2)
    assert field.shape == out.shape and (field < 0).any()


@pytest.mark.parametrize(
    "kwargs",
    [dict(n_fourier=0), dict(correction=False), dict(rk_mode="heun"), dict(rk_mode="euler"),
     dict(decoder="bilinear"), dict(n_layers=2), dict(padding="circular"), dict(attention="naive")],
    ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()),
)
def test_ablations_run_and_train(kwargs):
    model = toy(**kwargs)
    out = model(frames(), 2)
    loss = out.square().mean() + model.auxiliary_loss(None) + model.prediction_loss(out, frames(2, 3))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_ablation_switches_change_the_structure():
    cell = toy(n_fourier=0, correction=False, rk_mode="euler").cells[0]
    assert cell.fourier is None and cell.swin is None and isinstance(cell.rk, Euler)
    assert isinstance(toy(rk_mode="heun").cells[0].rk, Heun)
    rk = toy().cells[0].rk
    assert isinstance(rk, AdaptiveRK2) and rk.form == "stages" and rk.stage_maps is not None


def test_adaptive_module_with_gate_half_and_no_maps_is_the_heun_model():
    adaptive, heun = toy(), toy(rk_mode="heun")
    heun.load_state_dict(adaptive.state_dict(), strict=False)
    adaptive.cells[0].rk.fixed_gate, adaptive.cells[0].rk.stage_maps = 0.5, None
    torch.testing.assert_close(adaptive.predict(frames(), 2), heun.predict(frames(), 2), rtol=0, atol=0)


def test_losses():
    model = toy()
    pred, target = frames(2, 4), frames(2, 5)
    torch.testing.assert_close(model.prediction_loss(pred, target),
                               sobolev_loss(pred.flatten(0, 1), target.flatten(0, 1), ndim=2))
    torch.testing.assert_close(model.auxiliary_loss(None), model.cells[0].rhs.moment_loss())
    assert toy(h1_weight=0).prediction_loss(pred, target) is None
    assert toy(moment_weight=0).auxiliary_loss(None) is None
    assert len(model.derivative_read_back()[0]) == 9


def test_config_round_trip_rebuilds_the_same_model():
    model = toy(rk_mode="heun", decoder="bilinear", output="identity")
    clone = ARKMNet(**model.config())
    clone.load_state_dict(model.state_dict())
    torch.testing.assert_close(clone.predict(frames(), 2), model.predict(frames(), 2))


def test_window_not_smaller_than_the_token_grid_shrinks():
    model = toy(window=8)  # token grid 4x4: Swin's rule, window 4 and no shift
    assert model.cells[0].swin.window == 4 and all(b.shift == 0 for b in model.cells[0].swin.blocks)
    assert model(frames(), 1).shape == (2, 1, 1, 16, 16)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(grid=(18, 16)), "not divisible by patch_size 4"),
        (dict(grid=(24, 16), window=4), "not divisible by window 4"),
        (dict(heads=3), "does not divide hidden=8"),
        (dict(moment_kernel_size=3, moment_order=3), "orders 0..2"),
        (dict(rk_mode="rk4"), "rk_mode"),
        (dict(decoder="pixelshuffle"), "decoder"),
        (dict(h1_weight=-1.0), "h1_weight"),
        (dict(ndim=3), "ndim"),
    ],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        toy(**kwargs)


def test_frames_of_another_size_are_refused():
    with pytest.raises(PhysdiffError, match="grid=\\(32, 32\\)"):
        toy()(torch.rand(1, 2, 1, 32, 32), 1)
