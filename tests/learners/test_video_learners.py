"""PhyDNet and MoDeRNN: shapes, frame sizes, bad input, gradients, parameter counts, registry, training."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.learners import MoDeRNN, PhyDNet


def tiny_phydnet(**kw):
    torch.manual_seed(0)
    args = dict(base_channels=8, phycell_kernel_size=3, convlstm_hidden=(8, 8), convlstm_kernel_size=3)
    args.update(kw)
    return PhyDNet(**args)


def tiny_modernn(**kw):
    torch.manual_seed(0)
    args = dict(grid=(8, 12), patch_size=2, hidden_channels=4, num_layers=2)
    args.update(kw)
    return MoDeRNN(**args)


def frames(b, t, c, h, w, seed=0):
    return torch.rand(b, t, c, h, w, generator=torch.Generator().manual_seed(seed))


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------ parameter counts at the papers' settings
def modernn_count(hid=64, layers=4, k=3, patched=16, grid=16 * 16, dcb=(3, 5, 7)):
    """MoDeRNN's parameters from its layer list (Chai et al.'s code): per layer 6 DCB convolutions
    hid -> hid without bias, each with a LayerNorm (hid, grid); the gate convolutions x, h -> 4 hid
    without bias with LayerNorms (4 hid, grid); the cell-state LayerNorm (hid, grid); 1x1 embed / output."""
    dcb_convs = 2 * hid * hid * sum(d * d for d in dcb)
    dcb_norms = 2 * len(dcb) * 2 * hid * grid
    gates = 2 * 4 * hid * hid * k * k + 2 * 2 * 4 * hid * grid + 2 * hid * grid
    return layers * (dcb_convs + dcb_norms + gates) + (patched * hid + hid) + (hid * patched + patched)


def test_parameter_counts_at_the_papers_settings():
    phydnet = PhyDNet()  # F = 32, k = 7 (49 derivatives), ConvLSTM (128, 128, 64)
    modernn_script = MoDeRNN()  # 64x64, patch 4, 4 x 64, gate kernel 3 (training script)
    modernn_paper = MoDeRNN(kernel_size=5)  # gate kernel 5 (paper text)
    counts = {"PhyDNet": n_params(phydnet), "MoDeRNN k=3": n_params(modernn_script),
              "MoDeRNN k=5": n_params(modernn_paper)}
    print("parameter counts:", counts, "(published: PhyDNet 3.1 M (OpenSTL), MoDeRNN 4.590 M (paper))")
    assert abs(counts["PhyDNet"] - 3.1e6) / 3.1e6 < 0.01
    assert counts["PhyDNet"] == 3_091_732
    assert counts["MoDeRNN k=3"] == modernn_count(k=3) == 5_867_600
    assert counts["MoDeRNN k=5"] == modernn_count(k=5) == 7_964_752
    # the published 4.590 M is not reproduced by the released code (docs/video_learners.md):
    # LayerNorm affine maps over (C, 16, 16) alone hold 1.97 M of the 5.87 M
    norms = sum(p.numel() for name, p in modernn_script.named_parameters() if "norm" in name)
    assert norms == 4 * (6 * 2 * 64 * 256 + 2 * 2 * 256 * 256 + 2 * 64 * 256) == 1_966_080


# ------------------------------------------------------------------ shapes and frame sizes
@pytest.mark.parametrize("size", [(8, 8), (12, 20), (16, 4)])
def test_phydnet_takes_any_frame_size_divisible_by_4(size):
    model = tiny_phydnet(channels=2)
    out, state = model(frames(3, 2, 2, *size), 3, return_state=True)
    assert out.shape == (3, 3, 2, *size)
    assert ((out > 0) & (out < 1)).all()  # sigmoid output
    assert state[0].shape == (3, 16, size[0] // 4, size[1] // 4)


@pytest.mark.parametrize("size", [(10, 8), (8, 6), (9, 12)])
def test_phydnet_refuses_frame_sizes_not_divisible_by_4(size):
    with pytest.raises(PhysdiffError, match="divisible by 4"):
        tiny_phydnet()(frames(1, 2, 1, *size), 1)


@pytest.mark.parametrize("patch, size", [(1, (6, 10)), (2, (8, 12)), (4, (8, 12))])
def test_modernn_shapes_for_its_grid(patch, size):
    model = tiny_modernn(channels=3, patch_size=patch, grid=size)
    out, state = model(frames(2, 3, 3, *size), 2, return_state=True)
    assert out.shape == (2, 2, 3, *size)
    assert [s[0].shape for s in state] == [(2, 4, size[0] // patch, size[1] // patch)] * 2


def test_modernn_grid_is_fixed_by_its_layernorms_and_must_be_divisible_by_the_patch_size():
    model = tiny_modernn()
    with pytest.raises(PhysdiffError, match=r"LayerNorms fix the frame size.*grid=\(8, 8\)"):
        model(frames(1, 2, 1, 8, 8), 1)
    with pytest.raises(PhysdiffError, match=r"\(10, 12\) is not divisible by the patch size 4"):
        MoDeRNN(grid=(10, 12), patch_size=4)
    with pytest.raises(PhysdiffError, match="grid"):
        MoDeRNN(grid=64)


def test_bad_input_is_refused_with_what_was_expected():
    with pytest.raises(PhysdiffError, match="ndim"):
        PhyDNet(ndim=1)
    with pytest.raises(PhysdiffError, match="ndim"):
        MoDeRNN(ndim=3)
    with pytest.raises(PhysdiffError, match="moment_weight"):
        PhyDNet(moment_weight=-1.0)
    with pytest.raises(PhysdiffError, match="expected frames"):
        tiny_phydnet()(frames(1, 2, 2, 8, 8), 1)  # 2 channels for a 1-channel model
    with pytest.raises(PhysdiffError, match="expected frames"):
        tiny_modernn()(frames(1, 2, 1, 8, 12)[..., 0], 1)  # one spatial axis short
    with pytest.raises(PhysdiffError, match="floating-point"):
        tiny_modernn()(torch.zeros(1, 2, 1, 8, 12, dtype=torch.long), 1)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("build", [tiny_phydnet, tiny_modernn])
def test_gradients_reach_every_parameter(build):
    model = build().double()
    x = frames(2, 4, 1, 8, 12).double()
    loss = (model(x[:, :2], 2) - x[:, 2:]).square().mean()
    aux = model.auxiliary_loss(x[:, :2])
    if aux is not None:
        loss = loss + aux
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_phydnet_declares_the_moment_loss_as_its_auxiliary_loss():
    model = tiny_phydnet(moment_weight=0.5)
    torch.testing.assert_close(model.auxiliary_loss(None), 0.5 * model.phycell.moment_loss())
    assert tiny_phydnet(moment_weight=0.0).auxiliary_loss(None) is None
    assert PhyDNet(base_channels=8, convlstm_hidden=(8,), phycell_init="exact").auxiliary_loss(None).item() < 1e-10
    records = tiny_phydnet(phycell_init="exact").phycell_derivatives(tol=1e-5)
    assert len(records) == 9 and all(r.identified == r.target and r.matched == 1.0 for r in records)


def test_gradcheck_through_a_short_modernn_rollout():
    model = tiny_modernn(grid=(4, 4), patch_size=2, hidden_channels=2, num_layers=1).double()
    x = frames(1, 2, 1, 4, 4).double().requires_grad_()
    assert torch.autograd.gradcheck(lambda c: model(c, 2), (x,))


# ------------------------------------------------------------------ registry, checkpoints, training
def test_registry_names_rebuild_the_models_and_grid_is_filled_from_the_data():
    from physdiff.cli._registry import build_learner, learner_class, learner_name
    from physdiff.cli._train import filled_options

    for name, model in [("phydnet", tiny_phydnet(channels=2)), ("modernn", tiny_modernn(channels=2))]:
        assert learner_class(name) is type(model) and learner_name(type(model)) == name
        rebuilt = build_learner(type(model).__name__, model.config())
        assert rebuilt.config() == model.config()
        rebuilt.load_state_dict(model.state_dict())
        x = frames(1, 2, 2, 8, 12)
        torch.testing.assert_close(rebuilt.predict(x, 2), model.predict(x, 2))
    info = SimpleNamespace(channel_names=["intensity"], space_shape=(32, 48))
    assert filled_options("modernn", {}, info, "here") == {"channels": 1, "ndim": 2, "grid": [32, 48]}
    # a configuration written before the rename keeps its frame_size, and grid is then not added
    old = filled_options("modernn", {"frame_size": [32, 48]}, info, "here")
    assert old == {"channels": 1, "ndim": 2, "frame_size": [32, 48]}


def moving_blobs(n, t=6, size=8, seed=0):
    """``n`` sequences of a Gaussian blob (width 2^0.5 pixels) moving half a pixel per frame in a
    random direction on a periodic ``size^2`` frame; intensities in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    out = torch.zeros(n, t, 1, size, size)
    for i in range(n):
        y0, x0, turn = torch.rand(3, generator=g).tolist()
        for s in range(t):
            cy = y0 * size + 0.5 * s * math.sin(2 * math.pi * turn)
            cx = x0 * size + 0.5 * s * math.cos(2 * math.pi * turn)
            dy, dx = (yy - cy + size / 2) % size - size / 2, (xx - cx + size / 2) % size - size / 2
            out[i, s, 0] = torch.exp(-(dy ** 2 + dx ** 2) / 4.0)
    return out


@pytest.mark.parametrize("build", [tiny_phydnet, lambda: tiny_modernn(grid=(8, 8), hidden_channels=8)])
def test_a_short_training_with_the_library_trainer_lowers_the_validation_error(build, tmp_path):
    from physdiff.cli._registry import build_learner
    from physdiff.training import TrainConfig, Trainer, load_learner

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = moving_blobs(16)
        train, val = list(data[:12]), data[12:]
        model = build()
        before = (model.predict(val[:, :3], 3) - val[:, 3:]).square().mean().sqrt().item()
        config = TrainConfig(steps=30, batch_size=4, context_frames=3, horizon=3, validate_every=10,
                             checkpoint_every=30, log_every=1, optimizer={"lr": 1e-2}, seed=0)
        result = Trainer(model, config, train, list(val), out_dir=tmp_path).fit()
    finally:
        torch.set_num_threads(threads)
    vals = [r["val_rmse"] for r in result.history if r["kind"] == "val"]
    losses = [r["loss"] for r in result.history if r["kind"] == "train"]
    # 30 steps take the free 3-frame rollout from the untrained model's RMSE (about 0.4: PhyDNet's
    # sigmoid starts near 0.5 everywhere) to about 0.26; beating the copy-last-frame forecast (0.16
    # here) takes far longer training (docs/results_video.md)
    assert vals[-1] < 0.8 * before, (before, vals)
    assert sum(losses[-5:]) < sum(losses[:5]), losses
    best = load_learner(result.best_checkpoint, build_learner)  # the checkpoint rebuilds the model
    assert type(best) is type(model) and best.config() == model.config()


def test_physdiff_train_and_predict_run_both_models_from_the_command_line(tmp_path, capsys):
    import json

    from physdiff.cli import main
    from physdiff.data import generate, read_info
    from physdiff.solvers import GrayScott

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # 12 x 12 Gray-Scott (two channels in [0, 1]): a 2D trajectory file like any other
        generate(GrayScott.percnn_2d(), tmp_path / "train.h5", n_trajectories=2, seed=0, shape=(12, 12), dt=0.5,
                 steps=12, save_every=2)
        models = {"phydnet": {"base_channels": 8, "phycell_kernel_size": 3, "convlstm_hidden": [8]},
                  "modernn": {"hidden_channels": 4, "num_layers": 1}}
        for name, options in models.items():
            config = {"out": f"run_{name}", "data": {"path": "train.h5", "val_fraction": 0.5},
                      "model": {"name": name, **options},
                      "training": {"steps": 2, "batch_size": 2, "context_frames": 2, "horizon": 2,
                                   "validate_every": 2, "checkpoint_every": 2, "log_every": 1}}
            (tmp_path / f"{name}.json").write_text(json.dumps(config))
            assert main(["train", "--config", str(tmp_path / f"{name}.json"), "--quiet"]) == 0
            record = json.loads((tmp_path / f"run_{name}" / "run.json").read_text())
            assert record["model"]["config"]["channels"] == 2  # filled from the data
            if name == "modernn":
                assert record["model"]["config"]["grid"] == [12, 12]
            assert main(["predict", str(tmp_path / f"run_{name}" / "best.pt"), "--data", str(tmp_path / "train.h5"),
                         "--out", str(tmp_path / f"{name}.h5"), "--steps", "3"]) == 0
            assert read_info(tmp_path / f"{name}.h5").space_shape == (12, 12)
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------ grid, and the deprecated frame_size
def test_frame_size_is_a_deprecated_alias_of_grid_for_modernn_and_arkmnet():
    from physdiff.learners import ARKMNet

    small = {MoDeRNN: dict(patch_size=2, hidden_channels=2, num_layers=1),
             ARKMNet: dict(patch_size=4, hidden=4, swin_depth=1, heads=1, window=2, n_fourier=1)}
    for cls, args in small.items():
        torch.manual_seed(0)
        new = cls(grid=(8, 16), **args)
        with pytest.warns(DeprecationWarning, match="frame_size is deprecated, use grid"):
            torch.manual_seed(0)
            old = cls(frame_size=(8, 16), **args)
        assert old.grid == new.grid == (8, 16) and old.config() == new.config()
        assert new.config()["grid"] == [8, 16] and "frame_size" not in new.config()
        for a, b in zip(old.state_dict().values(), new.state_dict().values()):
            assert torch.equal(a, b)
        with pytest.raises(PhysdiffError, match="both grid=.*and frame_size=.*Pass grid only"):
            cls(grid=(8, 16), frame_size=(8, 16), **args)
        assert cls(**args).grid == (64, 64)  # the default is unchanged


def test_a_checkpoint_config_written_with_frame_size_still_loads(tmp_path):
    from physdiff.cli._registry import build_learner
    from physdiff.training import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, load_learner, save_checkpoint

    model = tiny_modernn()
    old_config = {("frame_size" if k == "grid" else k): v for k, v in model.config().items()}
    assert old_config["frame_size"] == [8, 12] and "grid" not in old_config
    with pytest.warns(DeprecationWarning, match="use grid"):
        rebuilt = build_learner("MoDeRNN", old_config)
    assert rebuilt.config() == model.config()
    # a checkpoint file of that time: load_learner rebuilds the model and accepts the old key
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "model_class": "MoDeRNN",
               "model_config": old_config, "model_state": model.state_dict(), "step": 0}
    save_checkpoint(tmp_path / "old.pt", payload)
    with pytest.warns(DeprecationWarning, match="use grid"):
        loaded = load_learner(tmp_path / "old.pt", build_learner)
    x = frames(1, 2, 1, 8, 12)
    torch.testing.assert_close(loaded.predict(x, 2), model.predict(x, 2))
    # another configuration is still refused
    payload["model_config"] = {**old_config, "hidden_channels": 5}
    save_checkpoint(tmp_path / "other.pt", payload)
    with pytest.warns(DeprecationWarning), pytest.raises(PhysdiffError):
        load_learner(tmp_path / "other.pt", build_learner)
