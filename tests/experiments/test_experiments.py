"""The comparison pipeline end to end at toy size: data, every arm, resumption, tables, plots."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.data import BurstSpec, read_info
from physdiff.experiments import (
    ARMS,
    BENCHMARK_SETUPS,
    PI_INIT_GAIN,
    aggregate,
    arms,
    format_table,
    gray_scott_3d,
    kdv,
    plot_comparison,
    run_experiment,
)


def tiny_setup():
    """KdV on 16 points, 1 + 1 + 1 trajectories of 21 frames, two training steps per stage."""
    return replace(
        kdv(16), frames=21, burst=BurstSpec(burst_length=3, burst_every=10, macro_every=2), n_train=1, n_val=1,
        n_test=1, horizon=2, steps=2, micro_steps=2, batch_size=2,
        percnn={"hidden": 2, "kernel_size": 3, "known_term": None},
        convlstm={"hidden_channels": (4,)}, fno={"n_modes": (4,), "hidden_channels": 4, "n_layers": 1},
        macro={"latent_channels": 4, "hidden_channels": (4,)},
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiment")
    setup = tiny_setup()
    messages: list[str] = []
    bars: dict[str, list[tuple[int, int]]] = {}

    def bar_factory(label):
        return lambda done, total: bars.setdefault(label, []).append((done, total))

    results = run_experiment(setup, out, seeds=(0,), device="cpu", report=messages.append, bar_factory=bar_factory)
    return setup, out, results, messages, bars


def test_every_arm_trains_and_is_scored(finished):
    setup, out, results, _, _ = finished
    assert [r["model"] for r in results] == [a.name for a in ARMS]
    n_steps = (setup.frames - 1) // setup.k + 1 - setup.context_frames
    for r in results:
        assert len(r["error_curve"]) == n_steps and len(r["time"]) == n_steps
        assert r["time"][0] == pytest.approx(setup.macro_dt)
        assert math.isfinite(r["rmse"]) and r["rmse"] > 0
        assert 0 <= r["hct_mean"] <= n_steps * setup.macro_dt + 1e-12
        assert r["params"] > 0
        assert (out / "runs" / r["model"] / "seed0" / "result.json").exists()
    info = read_info(out / "data" / "train.h5")
    assert info.burst == setup.burst and info.shape[:2] == (setup.n_train + setup.n_val, setup.frames)


def test_training_records_the_budget_and_how_each_stage_ended(finished):
    setup, _, results, _, _ = finished
    for r in results:
        stages = r["training"]
        assert set(stages) == ({"micro", "macro"} if arms((r["model"],))[0].pretrain_micro else {"macro"})
        for name, stage in stages.items():
            micro_budget = name == "micro" or arms((r["model"],))[0].physics_budget
            assert stage["max_steps"] == (setup.micro_steps if micro_budget else setup.steps)
            if r["model"] == "pimrl-micro-only" and name == "macro":  # the frozen pretrained micro module
                assert stage == {"steps": 0, "max_steps": setup.steps, "stopped": "nothing to train"}
                continue
            assert stage["stopped"] in ("early_stopping", "completed")
            assert 1 <= stage["steps"] <= stage["max_steps"]
            assert stage["stopped"] == "early_stopping" or stage["steps"] == stage["max_steps"]


def test_early_stopping_config_follows_the_setup():
    from physdiff.experiments._run import _config

    setup = replace(tiny_setup(), steps=100, validate_every=7, patience=3, micro_steps=50, micro_validate_every=9,
                    micro_patience=4, lr=1e-3, micro_lr=3e-2)
    cfg = _config(setup, setup.horizon, setup.context_frames, 0, "cpu")
    assert (cfg.steps, cfg.validate_every, cfg.early_stopping_patience, cfg.optimizer.lr) == (100, 7, 3, 1e-3)
    cfg = _config(setup, setup.horizon, setup.context_frames, 0, "cpu", micro=True)
    assert (cfg.steps, cfg.validate_every, cfg.early_stopping_patience, cfg.optimizer.lr) == (50, 9, 4, 3e-2)
    assert _config(replace(setup, micro_lr=None), 2, 2, 0, "cpu", micro=True).optimizer.lr == 1e-3  # None: lr
    assert _config(replace(setup, steps=5), 2, 2, 0, "cpu").validate_every == 5  # never less often than once per run


def test_progress_bars_per_training_stage(finished):
    setup, _, _, _, bars = finished
    assert bars["PIMRL seed 0 (bursts)"][-1] == (setup.micro_steps, setup.micro_steps)
    assert bars["PIMRL seed 0 (macro)"][-1] == (setup.steps, setup.steps)
    assert "PeRCNN seed 0 (bursts)" not in bars


def test_parameter_counts_cover_the_modules_used(finished):
    _, _, results, _, _ = finished
    params = {r["model"]: r["params"] for r in results}
    assert params["pimrl-micro-only"] == params["percnn"]  # the PeRCNN alone: same architecture
    assert params["pimrl"] == params["pimrl-macro-only"] + params["percnn"]  # frozen micro module included


def test_pimrl_arms_share_one_micro_pretraining(finished):
    _, out, results, messages, bars = finished
    assert (out / "runs" / "micro-pretraining" / "seed0" / "last.pt").exists()
    for arm in ARMS:
        assert not (out / "runs" / arm.name / "seed0" / "micro").exists(), arm.name
    # trained once (the first PIMRL arm), reused by the ablations, whose time includes it
    assert len(bars["PIMRL seed 0 (bursts)"]) > 1
    assert len(bars.get("PIMRL no message passing seed 0 (bursts)", [])) <= 1
    micro = {r["model"]: r["training"]["micro"] for r in results if "micro" in r["training"]}
    assert set(micro) == {a.name for a in ARMS if a.pretrain_micro}
    assert len({(m["steps"], m["stopped"]) for m in micro.values()}) == 1
    seconds = {r["model"]: r["train_seconds"] for r in results}
    assert seconds["pimrl-micro-only"] > 0  # its whole training is the shared pretraining


def test_a_rerun_reuses_finished_runs_and_data(finished):
    setup, out, results, _, _ = finished
    before = (out / "data" / "train.h5").stat().st_mtime_ns
    messages: list[str] = []
    again = run_experiment(setup, out, seeds=(0,), models=arms(("percnn",)), device="cpu", report=messages.append)
    assert again[0]["rmse"] == next(r["rmse"] for r in results if r["model"] == "percnn")
    assert any("done earlier" in m for m in messages)
    assert (out / "data" / "train.h5").stat().st_mtime_ns == before


def test_a_stale_result_is_not_trusted_over_the_data_shape(finished, tmp_path):
    setup, out, _, _, _ = finished
    changed = replace(setup, frames=setup.frames - 2)
    messages: list[str] = []
    from physdiff.experiments import make_data

    make_data(changed, out / "data", report=messages.append)
    assert read_info(out / "data" / "train.h5").shape[1] == changed.frames
    assert any("regenerating" in m for m in messages)
    with pytest.raises(PhysdiffError, match="trained on other data"):
        run_experiment(changed, out, seeds=(0,), models=arms(("percnn",)), device="cpu", report=messages.append)
    make_data(setup, out / "data", report=messages.append)  # restore for the other tests


def test_a_finished_run_of_another_model_configuration_is_refused(finished):
    setup, out, _, _, _ = finished
    changed = replace(setup, percnn={**setup.percnn, "init_gain": 0.5})
    for name in ("percnn", "pimrl-micro-only"):  # macro checkpoint; micro pretraining only
        with pytest.raises(PhysdiffError, match="init_gain.*move the run folder away"):
            run_experiment(changed, out, seeds=(0,), models=arms((name,)), device="cpu", report=lambda _: None)


def test_tables_and_plots(finished):
    setup, out, results, _, _ = finished
    rows = aggregate(results + [dict(results[0], seed=1, rmse=results[0]["rmse"] * 3)])
    first = rows[0]
    assert first["seeds"] == 2
    assert first["rmse"][0] == pytest.approx(2 * results[0]["rmse"])
    assert first["rmse"][1] == pytest.approx(math.sqrt(2) * results[0]["rmse"])  # sample std of (r, 3r)
    markdown = format_table(rows, paper={"pimrl": 0.0457})
    assert markdown.splitlines()[0].startswith("| model | RMSE | paper RMSE |")
    assert "| 0.0457 |" in markdown
    assert "artefact ratio" in markdown.splitlines()[0] and "steps (early-stopped seeds)" in markdown
    assert first["artefact_ratio"][0] == pytest.approx(results[0]["artefact_ratio"])
    old = aggregate([{k: v for k, v in results[0].items() if k != "artefact_ratio"}])  # a run from before the metric
    assert old[0]["artefact_ratio"] is None and "| n/a |" in format_table(old)
    assert "PIMRL" in format_table(rows, markdown=False)
    paths = plot_comparison(setup, out, results)
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)


def test_a_diverged_seed_is_reported_as_diverged(finished):
    _, _, results, _, _ = finished
    rows = aggregate([results[0], dict(results[0], seed=1, rmse=float("nan"))])
    assert rows[0]["rmse"][0] != rows[0]["rmse"][0]  # NaN mean
    assert "diverged" in format_table(rows)


def test_arm_selection():
    assert [a.name for a in arms(ablations=False)] == ["pimrl", "percnn", "convlstm", "fno"]
    assert [a.name for a in arms(("fno", "pimrl"))] == ["pimrl", "fno"]
    with pytest.raises(PhysdiffError, match="unknown model"):
        arms(("transformer",))


@pytest.mark.parametrize("build", BENCHMARK_SETUPS)
def test_benchmark_setups_are_consistent(build):
    """Every setup builds all of its models on its grid, and its data can hold a training window."""
    setup = build()
    spacing = (1.0,) * setup.ndim
    torch.manual_seed(0)
    for arm in ARMS:
        model = arm.build(setup, 2 if setup.name != "kdv" else 1, spacing)
        assert model.time_step == pytest.approx(setup.macro_dt), arm.name
        if arm.name == "percnn":  # every dataset's PeRCNNs start from the init chosen on validation bursts
            assert model.init_gain == PI_INIT_GAIN
    macro_frames = (setup.frames - 1) // setup.k + 1
    assert macro_frames >= setup.context_frames + setup.horizon + 10


def test_scaled_keeps_at_least_one_step():
    assert gray_scott_3d(8).scaled(1e-6).steps == 1
    assert gray_scott_3d(8).scaled(2).steps == 2 * gray_scott_3d(8).steps
    macro_only = gray_scott_3d(8).scaled(5, micro_factor=1)  # the table's --macro-scale
    assert macro_only.steps == 5 * gray_scott_3d(8).steps
    assert macro_only.micro_steps == gray_scott_3d(8).micro_steps


def test_until_converged_uses_the_plateau_schedule_for_the_macro_frame_learners_only():
    from physdiff.experiments import PLATEAU_FLOOR, PLATEAU_GAMMA, PLATEAU_THRESHOLD
    from physdiff.experiments._run import _config

    base = gray_scott_3d(8)
    setup = base.until_converged(15)
    assert (setup.steps, setup.micro_steps, setup.macro_schedule) == (15 * base.steps, base.micro_steps, "plateau")
    macro = _config(setup, setup.horizon, setup.context_frames, 0, "cpu")
    assert macro.early_stopping_patience is None  # the schedule's own rule stops the run
    assert (macro.schedule.name, macro.schedule.gamma, macro.schedule.min_factor, macro.schedule.threshold,
            macro.schedule.patience) == ("plateau", PLATEAU_GAMMA, PLATEAU_FLOOR, PLATEAU_THRESHOLD, base.patience)
    micro = _config(setup, setup.horizon, setup.context_frames, 0, "cpu", micro=True)
    assert (micro.schedule.name, micro.steps, micro.early_stopping_patience) == ("cosine", base.micro_steps,
                                                                                 base.micro_patience)
    both = base.until_converged(3, micro=True)  # the PeRCNNs trained on their own converge too
    micro = _config(both, both.horizon, both.context_frames, 0, "cpu", micro=True)
    assert (micro.schedule.name, micro.schedule.patience, micro.steps, micro.early_stopping_patience) == (
        "plateau", base.micro_patience, 3 * base.micro_steps, None)


def test_a_converged_stage_counts_as_stopped_by_validation():
    run = {"model": "convlstm", "label": "ConvLSTM", "seed": 0, "rmse": 1.0, "mae": 1.0, "nrmse": 1.0,
           "hct_mean": 1.0, "train_seconds": 1.0, "params": 3, "artefact_ratio": 1.0,
           "training": {"macro": {"steps": 120, "max_steps": 6000, "stopped": "converged"}}}
    row, = aggregate([run, {**run, "seed": 1, "training": {"macro": {"steps": 6000, "max_steps": 6000,
                                                                     "stopped": "completed"}}}])
    assert (row["steps"], row["early_stopped"], row["seeds"]) == (3060, 1, 2)


@pytest.mark.parametrize("changes, match", [
    ({"macro_schedule": "linear"}, "macro_schedule: expected 'cosine' or 'plateau'"),
    ({"micro_schedule": "step"}, "micro_schedule: expected 'cosine' or 'plateau'"),
    ({"burst": BurstSpec(burst_length=2, burst_every=10, macro_every=2)}, "fewer than the k = 2 micro steps"),
    ({"frames": 20}, "does not divide"),
    ({"frames": 5}, "cannot hold a training window"),
])
def test_inconsistent_setups_are_refused(changes, match):
    with pytest.raises(PhysdiffError, match=match):
        replace(tiny_setup(), **changes)
