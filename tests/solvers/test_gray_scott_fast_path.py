"""Gray-Scott fast paths: fused kernels equal the general autograd path; routing and fallbacks."""

from __future__ import annotations

import warnings

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, Euler, Heun
from physdiff.solvers import GrayScott
from physdiff.core import _compiled
from physdiff.solvers import _gray_scott as gray_scott_module
from physdiff.solvers._reaction_diffusion_kernel import fused_update, rk4_update

SHAPES = {1: (12,), 2: (10, 12), 3: (7, 8, 9)}
TOLERANCE = {torch.float32: 2e-6, torch.float64: 1e-14}  # times the largest term of the right-hand side
CASES = [(ndim, dtype, accuracy) for ndim in (2, 3) for dtype in (torch.float32, torch.float64) for accuracy in (2, 4)]
CASES += [(1, torch.float64, 6)]


def make(ndim: int, accuracy: int, backend: str = "auto", **parameters) -> GrayScott:
    spacing = (0.9, 1.1, 1.3)[:ndim]  # anisotropic: per-axis weights must land on the right axes
    parameters = {"Du": 0.2, "Dv": 0.1, "F": 0.025, "k": 0.055, **parameters}
    pde = GrayScott(ndim, spacing=spacing, accuracy=accuracy, **parameters)
    pde.backend = backend
    return pde


def random_state(ndim: int, dtype: torch.dtype, batch: int = 2, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((batch, 2, *SHAPES[ndim]), generator=gen, dtype=torch.float64).to(dtype)


def reference(pde: GrayScott, state: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return pde._reference_rhs(state)


def assert_matches(fast: torch.Tensor, expected: torch.Tensor, scale: float) -> None:
    assert fast.shape == expected.shape and fast.dtype == expected.dtype
    error = (fast - expected).abs().max().item()
    bound = TOLERANCE[expected.dtype] * scale
    assert error <= bound, f"max error {error:.3g} > {bound:.3g}"


def term_scale(pde: GrayScott) -> float:
    """Largest term of the right-hand side for states in [0, 1]: the stencil sum dominates."""
    return 0.2 * sum(abs(w) for weights in pde._axis_weights for w in weights) * 2 + 1.0


@pytest.mark.parametrize("ndim, dtype, accuracy", CASES)
def test_eager_backend_equals_the_reference_path(ndim, dtype, accuracy):
    pde = make(ndim, accuracy, "eager")
    state = random_state(ndim, dtype)
    with torch.no_grad():
        fast = pde(state)
    assert_matches(fast, reference(pde, state), term_scale(pde))


@pytest.mark.parametrize("ndim, dtype, accuracy", CASES)
def test_compile_target_run_eagerly_equals_the_reference_path(ndim, dtype, accuracy):
    # fused_update is what torch.compile traces; its arithmetic is checked here without compiling.
    pde = make(ndim, accuracy)
    state = random_state(ndim, dtype)
    table = pde._table((0.2, 0.1, 0.025, 0.055), state, None)
    assert_matches(fused_update(state, table, pde._radius), reference(pde, state), term_scale(pde))
    with torch.no_grad():
        step = rk4_update(state, table, torch.tensor(0.3, dtype=dtype), pde._radius)
        expected = RK4(make(ndim, accuracy, "reference"))(state, 0.3)
    assert_matches(step, expected, term_scale(pde))


@pytest.mark.parametrize("integrator, steps", [(Euler, 3), (RK4, 2), (Heun, 2)], ids=["Euler", "RK4", "Heun"])
@pytest.mark.parametrize("ndim, dtype", [(2, torch.float64), (3, torch.float32)])
def test_fused_steps_equal_the_generic_integrator_on_the_reference_path(integrator, steps, ndim, dtype):
    pde = make(ndim, 4, "eager")
    state = random_state(ndim, dtype)
    expected = state
    reference_pde = make(ndim, 4, "reference")
    with torch.no_grad():
        fast = pde.step(state, 0.3, integrator=integrator, steps=steps)
        for _ in range(steps):
            expected = integrator(reference_pde)(expected, 0.3)
    assert_matches(fast, expected, steps * term_scale(pde))


def test_step_with_a_tensor_dt_or_gradients_runs_the_generic_integrator():
    pde = make(2, 4)
    state = random_state(2, torch.float64)
    dt = torch.tensor([0.2, 0.3], dtype=torch.float64)  # one step per sample
    with torch.no_grad():
        assert torch.equal(pde.step(state, dt, integrator=RK4), RK4(pde)(state, dt))
    state.requires_grad_()
    out = pde.step(state, 0.3, integrator=Euler, steps=2)
    out.sum().backward()
    assert out.grad_fn is not None and torch.isfinite(state.grad).all() and state.grad.abs().sum() > 0


@pytest.mark.slow
def test_compiled_backend_equals_the_reference_path_or_falls_back():
    # One graph only (the right-hand side, which the Euler step reuses): each costs seconds to
    # compile. The RK4 graph traces the same fused_update (checked eagerly above).
    pde = make(2, 4, "compiled")  # 2D covers both wraps: concatenated inner axis, rolled outer axis
    state = random_state(2, torch.float64, batch=1)
    reference_pde = make(2, 4, "reference")
    with torch.no_grad():
        rhs, euler = pde(state), pde.step(state, 0.3, integrator=Euler)
        expected = (reference(pde, state), Euler(reference_pde)(state, 0.3))
    for fast, exact in zip((rhs, euler), expected):
        assert_matches(fast, exact, term_scale(pde))
    with torch.no_grad():
        key = pde._kernel_key("rhs", state)
    if key in gray_scott_module._RHS_KERNEL._failed:
        pytest.skip("torch.compile is unavailable here; only the eager fallback was checked")
    assert key in gray_scott_module._RHS_KERNEL._ready


def test_gradients_flow_through_tensor_parameters_and_states():
    F = torch.tensor(0.025, dtype=torch.float64, requires_grad=True)
    pde = make(2, 4, F=F)
    state = random_state(2, torch.float64).requires_grad_()
    out = pde(state)
    assert out.grad_fn is not None
    out.square().sum().backward()
    assert F.grad is not None and F.grad.abs() > 0 and state.grad.abs().sum() > 0
    with torch.no_grad():  # the same numbers as the fast path of float parameters
        assert_matches(make(2, 4, "eager")(state), out.detach(), term_scale(pde))


@pytest.mark.parametrize(
    "setup, fast",
    [
        (lambda s: (make(2, 4), s, torch.no_grad()), True),
        (lambda s: (make(2, 4), s, torch.enable_grad()), True),  # nothing requires grad
        (lambda s: (make(2, 4), s.clone().requires_grad_(), torch.enable_grad()), False),
        (lambda s: (make(2, 4), s.clone().requires_grad_(), torch.no_grad()), True),
        (lambda s: (make(2, 4, F=torch.tensor(0.025, dtype=torch.float64)), s, torch.enable_grad()), True),
        (lambda s: (make(2, 4, F=torch.tensor(0.025, requires_grad=True)), s, torch.enable_grad()), False),
        (lambda s: (make(2, 4, F=torch.full((2, 1, 1, 1), 0.025)), s, torch.no_grad()), False),
        (lambda s: (make(2, 4, "reference"), s, torch.no_grad()), False),
    ],
    ids=["no_grad", "grad-free-inputs", "state-requires-grad", "no_grad-wins", "plain-tensor-F",
         "F-requires-grad", "per-sample-F", "reference-backend"],
)
def test_fast_path_runs_only_when_no_gradient_is_needed(monkeypatch, setup, fast):
    calls = []
    original = gray_scott_module.eager_update
    monkeypatch.setattr(gray_scott_module, "eager_update", lambda *a: calls.append(1) or original(*a))
    pde, state, mode = setup(random_state(2, torch.float64))
    with mode:
        out = pde(state)
    assert bool(calls) is fast
    assert_matches(out.detach(), reference(pde, state.detach()), term_scale(pde))


def test_auto_compiles_only_after_about_one_compilation_worth_of_work():
    kernel = _compiled.LazyCompiled(lambda x: x, "a test kernel")
    elements = _compiled.COMPILE_AFTER // 3 + 1
    assert [kernel.wants("key", elements, force=False) for _ in range(3)] == [False, False, True]
    assert kernel.wants("other", 1, force=True)
    kernel._failed.add("broken")
    assert not kernel.wants("broken", 1, force=True)


def test_compilation_failure_warns_once_and_falls_back_to_the_eager_kernel(monkeypatch):
    def unavailable(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch, "compile", unavailable)
    monkeypatch.setattr(gray_scott_module, "_RHS_KERNEL", _compiled.LazyCompiled(fused_update, "test"))
    pde = make(2, 4, "compiled")
    state = random_state(2, torch.float64)
    with pytest.warns(RuntimeWarning, match="no C.. compiler"):
        with torch.no_grad():
            first = pde(state)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning
        with torch.no_grad():
            second = pde(state * 0.5)
    assert_matches(first, reference(pde, state), term_scale(pde))
    assert_matches(second, reference(pde, state * 0.5), term_scale(pde))


def test_bad_backend_and_step_arguments_are_refused():
    pde = make(2, 4, "turbo")
    with pytest.raises(PhysdiffError, match="backend: expected one of"):
        pde(random_state(2, torch.float64))
    pde.backend = "auto"
    with pytest.raises(PhysdiffError, match="steps: expected a positive int"):
        pde.step(random_state(2, torch.float64), 0.1, steps=0)
    with pytest.raises(PhysdiffError, match="finite time step"):
        pde.step(random_state(2, torch.float64), float("nan"), integrator=Euler)


@pytest.mark.parametrize("integrator", [Euler, RK4])
def test_generic_integrators_use_the_fused_step_protocol(integrator):
    """Euler(pde) / RK4(pde) (and so simulate) take the fused step, equal to the reference stages."""
    pde = GrayScott.percnn_3d()
    state = pde.initial_condition(1, (12, 12, 12), seed=4, dtype=torch.float64)
    results = []
    original = pde.fused_step

    def spy(*args):
        results.append(original(*args))
        return results[-1]

    pde.fused_step = spy
    with torch.no_grad():
        fused = integrator(pde)(state, 0.5)
        pde.backend = "reference"
        reference = integrator(pde)(state, 0.5)
    # Consulted both times: the fast backend fused the step, the reference backend declined.
    assert len(results) == 2 and results[0] is not None and results[1] is None
    torch.testing.assert_close(fused, reference, rtol=1e-13, atol=1e-13)
