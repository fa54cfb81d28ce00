"""``physdiff moving-mnist`` and the other commands on video files (info, plot, regenerate)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from physdiff.cli import main
from physdiff.data import read_info, read_trajectories


@pytest.fixture()
def idx_file(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = b"".join(int(v).to_bytes(4, "big") for v in (0x803, *images.shape))
    path.write_bytes(gzip.compress(header + images.tobytes()))
    return path


def test_moving_mnist_command_info_plot(tmp_path, idx_file, capsys):
    out = tmp_path / "mm.h5"
    code = main(["moving-mnist", "--source", "idx", "--idx", str(idx_file), "--sequences", "3", "--frames", "5",
                 "--canvas", "32x40", "--digits", "3", "--seed", "4", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0 and f"wrote {out}" in captured.out and "100% (3/3 steps)" in captured.err
    info = read_info(out)
    assert info.shape == (3, 5, 1, 32, 40)
    assert info.provenance.setup["options"] == {"n_digits": 3, "frames": 5, "canvas": [32, 40], "step_length": 0.1}
    data = read_trajectories(out)
    assert 0.0 <= float(data.min()) and float(data.max()) <= 1.0
    assert main(["info", str(out)]) == 0
    described = capsys.readouterr().out
    assert "generator       moving_mnist" in described and "idx train split, 6 images [28, 28]" in described
    assert "sequences       3 (indices 0 .. 2 of seed 4)" in described
    assert main(["plot", str(out), "--out", str(tmp_path / "plots"), "--max-frames", "2"]) == 0
    assert (tmp_path / "plots" / "trajectory.gif").is_file()


@pytest.mark.parametrize("args, message", [
    (["--canvas", "20"], "smaller than a digit"),
    (["--canvas", "0x5"], "--canvas: expected N or HxW"),
    (["--digits", "0"], "n_digits: expected a positive int"),
])
def test_bad_input_exits_2_with_a_message(tmp_path, idx_file, capsys, args, message):
    code = main(["moving-mnist", "--source", "idx", "--idx", str(idx_file), "--sequences", "1", "--quiet",
                 "--out", str(tmp_path / "x.h5"), *args])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_train_and_evaluate_report_video_metrics(tmp_path, idx_file, capsys):
    import json

    data = tmp_path / "mm.h5"
    assert main(["moving-mnist", "--source", "idx", "--idx", str(idx_file), "--sequences", "4", "--frames", "6",
                 "--canvas", "28", "--digits", "1", "--quiet", "--out", str(data)]) == 0
    config = tmp_path / "run.json"
    config.write_text(json.dumps({
        "data": {"path": "mm.h5", "val_fraction": 0.25},
        "model": {"name": "convlstm", "hidden_channels": [4], "kernel_size": 3},
        "training": {"steps": 2, "batch_size": 2, "context_frames": 3, "horizon": 3, "loss": "l1_mse",
                     "loss_on_context": True, "reverse_sequences": True, "validate_every": 1,
                     "teacher_forcing": {"start": 1.0, "end": 0.0, "decay_steps": 2, "per_sample": True}},
    }))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run" / "best.pt"), "--data", str(data), "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert "video metrics (per-frame sums over pixels" in printed and "SSIM" in printed
    record = json.loads((tmp_path / "run" / "eval_mm" / "metrics.json").read_text())
    assert set(record["video"]) == {"mse", "mae", "psnr", "ssim", "ssim_published", "exact_frames"}
    assert record["video"]["mse"] > 0 and 0 < record["video"]["ssim"] <= 1
    predicted = tmp_path / "pred.h5"
    assert main(["predict", str(tmp_path / "run" / "best.pt"), "--data", str(data), "--out", str(predicted)]) == 0
    assert read_info(predicted).shape == (4, 6, 1, 28, 28)


@pytest.mark.parametrize("name", ["phydnet_moving_mnist.toml", "modernn_moving_mnist.toml"])
def test_example_video_configs_parse(name):
    from pathlib import Path

    from physdiff.cli._config_file import load_run_config

    config = load_run_config(Path(__file__).resolve().parents[1] / "examples" / "configs" / name)
    assert config.training.context_frames == 10 and config.training.horizon == 10
    assert config.training.loss_on_context or config.training.teacher_forcing.per_sample
