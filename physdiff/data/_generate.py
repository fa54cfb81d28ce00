"""Generate trajectory files from a PDE, and regenerate a file from its own provenance."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core import PhysdiffError
from ..integrators import RK4
from ..solvers import PDE, simulate
from . import _format as fmt
from ._burst import BurstSpec
from ._format import Provenance
from ._reader import TrajectoryFile, TrajectoryInfo, read_info
from ._writer import TrajectoryWriter

Progress = Callable[[int, int], None]


def integrator_name(integrator: type) -> str:
    """The name stored in provenance: the tableau's name (``"rk4"``), a class ``NAME``, or the class name."""
    tableau = getattr(integrator, "TABLEAU", None)
    return tableau.name if tableau is not None else getattr(integrator, "NAME", integrator.__name__)


def generate(
    pde: PDE, out: str | os.PathLike, *, shape: tuple[int, ...], dt: float, steps: int, save_every: int = 1,
    integrator: type = RK4, n_trajectories: int = 1, seed: int = 0, dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None, ic_options: Mapping[str, Any] | None = None,
    batch_size: int | None = None, compression: str | None = "gzip", progress: Progress | None = None,
    burst: BurstSpec | None = None, burn_in: int = 0,
) -> TrajectoryInfo:
    """Simulate ``n_trajectories`` runs of ``pde`` and stream them into the trajectory file ``out``.

    Trajectory ``i`` starts from ``pde.initial_condition(1, shape, seed=seed + i, **ic_options)``,
    so each trajectory depends on its own seed only, not on how many were generated. Runs
    are batched ``batch_size`` at a time (default: all) and streamed through
    :class:`TrajectoryWriter` (atomic; memory holds one batch). Frame ``j`` is at
    ``t = j * save_every * dt``; the initial state is frame 0. Everything needed to
    regenerate the file is stored as its provenance (see ``docs/data_format.md``).

    Args:
        pde: the right-hand side (any :class:`physdiff.solvers.PDE`); moved to ``device`` in place.
        out: destination ``.h5`` path.
        shape: grid points per spatial axis.
        dt, steps, save_every, integrator: as in :func:`physdiff.solvers.simulate`.
        n_trajectories, seed: number of runs and the seed of the first.
        dtype: simulation and storage dtype (float32 or float64).
        device: where to simulate (default CPU); files are bit-reproducible on the same device.
        ic_options: extra JSON-serialisable keyword arguments of ``pde.initial_condition``.
        batch_size: runs simulated together (default: all ``n_trajectories``).
        compression: ``"gzip"``, ``"lzf"`` or None.
        progress: called as ``progress(done, total)`` in steps over all batches.
        burst: the burst layout to store with the frames (a :class:`BurstSpec`; its micro
            interval is the frame interval ``save_every * dt``), or None. It describes how the
            data is to be observed, not what was computed, so it is outside the setup hash.
        burn_in: solver steps run from the initial condition before frame 0 and not stored
            (skips the transient, as PeRCNN's 3D data start at step 1000); frame ``j`` is then at
            ``t = (burn_in + j * save_every) * dt``.

    Returns:
        The :class:`TrajectoryInfo` of the written file.

    Raises:
        PhysdiffError: invalid arguments, an unstable ``dt``, or a run that became non-finite
            (no file is written then).
    """
    batch_size = n_trajectories if batch_size is None else batch_size
    setup = _setup(pde, integrator, shape=shape, dt=dt, steps=steps, save_every=save_every,
                   n_trajectories=n_trajectories, seed=seed, dtype=dtype, ic_options=ic_options, batch_size=batch_size,
                   burn_in=burn_in)
    return _run(pde, integrator, setup, Path(out), device=device, compression=compression, progress=progress,
                burst=burst)


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhysdiffError(f"generate: {name}: expected a positive int, got {value!r}.")
    return value


def _setup(pde: PDE, integrator: type, *, shape: tuple[int, ...], dt: float, steps: int, save_every: int,
           n_trajectories: int, seed: int, dtype: torch.dtype, ic_options: Mapping[str, Any] | None,
           batch_size: int, burn_in: int = 0) -> dict[str, Any]:
    """The hashed provenance of one generation run (validated; JSON types only)."""
    shape = tuple(shape)
    for n in shape:
        _positive(n, "shape")
    if len(shape) != pde.ndim:
        raise PhysdiffError(
            f"generate: shape: expected {pde.ndim} grid sizes for a {pde.ndim}D {type(pde).__name__}, got {shape}."
        )
    counts = {"steps": steps, "save_every": save_every, "n_trajectories": n_trajectories, "batch_size": batch_size}
    for name, value in counts.items():
        _positive(value, name)
    if steps % save_every:
        raise PhysdiffError(
            f"generate: save_every={save_every} must divide steps={steps}; choose steps as a multiple of save_every."
        )
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (math.isfinite(dt) and dt > 0):
        raise PhysdiffError(f"generate: dt: expected a finite positive time step, got {dt!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise PhysdiffError(f"generate: seed: expected an int, got {seed!r}.")
    if isinstance(burn_in, bool) or not isinstance(burn_in, int) or burn_in < 0:
        raise PhysdiffError(f"generate: burn_in: expected a non-negative int (solver steps), got {burn_in!r}.")
    spacing = getattr(pde, "spacing", None)
    accuracy = getattr(pde, "accuracy", None)
    setup = {
        "pde": pde.config(), "integrator": integrator_name(integrator), "dt": float(dt), "steps": steps,
        "save_every": save_every, "include_initial": True, "shape": list(shape),
        "spacing": None if spacing is None else [float(h) for h in spacing],
        "accuracy": None if accuracy is None else int(accuracy),
        "initial_condition": {
            "name": f"{type(pde).__name__}.initial_condition", "options": dict(ic_options or {}),
            "seeds": [seed + i for i in range(n_trajectories)],
        },
        "batch_size": batch_size, "dtype": fmt.dtype_name(dtype),
    }
    if burn_in:  # only when used, so files made before the option keep their setup hash
        setup["burn_in"] = burn_in
    fmt.canonical_json(setup)  # fails early, with the offending value, if anything is not JSON
    return setup


def _coordinates(pde: PDE, shape: tuple[int, ...]) -> list[np.ndarray] | None:
    """Sample positions per axis from the PDE's ``coordinates(shape)`` (None: store indices)."""
    coordinates = pde.coordinates(shape)
    if coordinates is None:
        return None
    return [np.asarray(torch.as_tensor(c, dtype=torch.float64).cpu()) for c in coordinates]


def _run(pde: PDE, integrator: type, setup: dict[str, Any], out: Path, *, device: torch.device | str | None,
         compression: str | None, progress: Progress | None, burst: BurstSpec | None = None) -> TrajectoryInfo:
    device = torch.device(device) if device is not None else torch.device("cpu")
    dtype = fmt.DTYPES[setup["dtype"]]
    shape, steps, save_every = tuple(setup["shape"]), setup["steps"], setup["save_every"]
    seeds, batch_size = setup["initial_condition"]["seeds"], setup["batch_size"]
    options = setup["initial_condition"]["options"]
    frames = steps // save_every + 1
    burn_in = setup.get("burn_in", 0)
    provenance = Provenance(
        setup=setup, physdiff_version=_physdiff_version(), torch_version=str(torch.__version__), device=str(device)
    )
    pde = pde.to(device)
    batches = [seeds[i : i + batch_size] for i in range(0, len(seeds), batch_size)]
    writer = TrajectoryWriter(
        out, n_trajectories=len(seeds), n_frames=frames, channel_names=pde.channel_names, space_shape=shape,
        dtype=dtype, time=[(burn_in + j * save_every) * setup["dt"] for j in range(frames)], coordinates=_coordinates(pde, shape),
        provenance=provenance, compression=compression, burst=burst,
    )
    # Parameters may require grad (inverse problems); data generation never needs the graph.
    with torch.no_grad(), writer:
        for index, batch in enumerate(batches):
            u0 = torch.cat([pde.initial_condition(1, shape, seed=s, dtype=dtype, device=device, **options) for s in batch])
            report = None if progress is None else _offset(progress, index * steps, len(batches) * steps)
            if burn_in:
                u0 = simulate(pde, u0, dt=setup["dt"], steps=burn_in, save_every=burn_in, integrator=integrator)[:, -1]
            simulate(pde, u0, dt=setup["dt"], steps=steps, save_every=save_every, integrator=integrator,
                     sink=writer, progress=report)
    return writer.written  # this process's file, even if another one has replaced `out` since


def _offset(progress: Progress, done: int, total: int) -> Progress:
    return lambda step, _: progress(done + step, total)


def _physdiff_version() -> str:
    from physdiff import __version__

    return __version__


@dataclass(frozen=True)
class Regeneration:
    """Outcome of :func:`regenerate`: where the new file is and whether it equals the original.

    ``identical`` means every stored value and the per-channel statistics are bit-for-bit
    equal; ``max_abs_diff`` is the largest absolute difference of stored values.
    """

    path: Path
    identical: bool
    max_abs_diff: float
    device: str
    sha256: str


def regenerate(
    path: str | os.PathLike, out: str | os.PathLike, *, resolve_pde: Callable[[dict[str, Any]], PDE],
    resolve_integrator: Callable[[str], type], device: torch.device | str | None = None,
    progress: Progress | None = None,
) -> Regeneration:
    """Rebuild the file ``path`` from its provenance into ``out`` and compare the two.

    The burst layout (if any) and the compression are copied from the original. The PDE and
    the integrator are rebuilt by the caller's resolvers (the command line
    passes its registry: strings become classes only there). The rebuilt PDE must report
    the stored ``config()`` exactly, so the setup hash of ``out`` equals the original's.

    Args:
        path: a complete trajectory file with provenance.
        out: destination (must differ from ``path``).
        resolve_pde: ``config -> PDE`` (the stored ``pde.config()``).
        resolve_integrator: stored integrator name -> integrator class.
        device: where to simulate (default: the original device if available, else CPU).
        progress: as in :func:`generate`.

    Raises:
        PhysdiffError: no provenance, a PDE or integrator that cannot be rebuilt exactly, or ``out == path``.
    """
    info = read_info(path)
    where = f"regenerate({str(path)!r})"
    if info.provenance is None:
        raise PhysdiffError(
            f"{where}: the file has no provenance ('setup' attribute); only files made by generate() can be regenerated."
        )
    if Path(out).resolve() == Path(path).resolve():
        raise PhysdiffError(f"{where}: out must differ from the original file, got the same path {str(out)!r}.")
    if info.provenance.is_video:  # Moving MNIST: no PDE, no integrator; made on the CPU with NumPy
        from ._moving_mnist import regenerate_moving_mnist

        new = regenerate_moving_mnist(info, out, progress=progress)
        identical, diff = _compare(info, new)
        return Regeneration(path=Path(out), identical=identical, max_abs_diff=diff, device="cpu",
                            sha256=new.provenance.sha256)
    setup = info.provenance.setup
    pde = resolve_pde(dict(setup["pde"]))
    if fmt.canonical_json(pde.config()) != fmt.canonical_json(setup["pde"]):
        raise PhysdiffError(
            f"{where}: the rebuilt PDE reports config {pde.config()}, the file stores {setup['pde']}; "
            "this physdiff builds a different PDE from the stored parameters, so it cannot reproduce the file."
        )
    integrator = resolve_integrator(setup["integrator"])
    if integrator_name(integrator) != setup["integrator"]:
        raise PhysdiffError(
            f"{where}: integrator {setup['integrator']!r} resolved to {integrator.__name__}, "
            f"whose name is {integrator_name(integrator)!r}; the resolver must return the named method."
        )
    if device is None:
        stored = torch.device(info.provenance.device)
        device = stored if stored.type == "cpu" or (stored.type == "cuda" and torch.cuda.is_available()) else "cpu"
    new = _run(pde, integrator, setup, Path(out), device=device, compression=info.compression, progress=progress,
               burst=info.burst)  # the burst layout is kept, as are the storage details
    try:
        identical, diff = _compare(info, new)
    except PhysdiffError as exc:
        raise PhysdiffError(
            f"{where}: the regenerated file {str(out)!r} was written and is complete and valid, but it could not be "
            f"compared with the original: {exc} The regenerated file can replace the original."
        ) from None
    return Regeneration(
        path=Path(out), identical=identical, max_abs_diff=diff, device=str(device), sha256=new.provenance.sha256
    )


def _compare(a: TrajectoryInfo, b: TrajectoryInfo) -> tuple[bool, float]:
    """Bit equality and max |difference|, one trajectory in memory at a time."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False, math.inf
    identical = np.array_equal(a.mean, b.mean) and np.array_equal(a.std, b.std)
    largest = 0.0
    with TrajectoryFile(a.path) as fa, TrajectoryFile(b.path) as fb:
        for n in range(a.n_trajectories):
            x, y = fa.read(n), fb.read(n)
            identical = identical and np.array_equal(x, y)
            largest = max(largest, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))))
    return identical, largest
