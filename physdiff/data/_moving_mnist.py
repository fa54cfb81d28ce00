"""Moving MNIST: seeded bouncing-digit sequences, streamed for training or written to trajectory files.

The standard rules (Srivastava et al. 2015's generator, as in PhyDNet, MoDeRNN, SwinLSTM and
OpenSTL; ``docs/moving_mnist.md``), for each of ``n_digits`` digits of size ``d x d`` on an
``H x W`` canvas:

* start position ``(y, x) ~ U(0, 1)^2`` (normalised), direction ``theta ~ U(0, 2 pi)``,
  velocity ``(v_y, v_x) = (sin theta, cos theta)`` (unit speed);
* every frame: move ``y += step v_y``, ``x += step v_x``; then bounce: a coordinate ``<= 0`` is
  set to 0 and its velocity negated, one ``>= 1`` is set to 1 and negated. The position is
  recorded after the move, so frame 0 is already one step from the start;
* the digit's top-left pixel is ``(int(y (H - d)), int(x (W - d)))`` (truncation);
* digits are composed by element-wise maximum and the frame is divided by 255: values in [0, 1].

Randomness: sequence ``i`` of seed ``s`` draws everything from one
``numpy.random.default_rng([s, i])``, in the order ``y, x, theta, digit index`` per digit. So a
sequence depends only on ``(s, i)`` and the digit images, never on how many were generated
before it: the stream and the file give the same sequences. They are not bit-identical to
the fixed ``mnist_test_seq.npy`` (which was made with another RNG and cannot be regenerated).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..core import PhysdiffError
from ._digits import Digits
from ._format import Provenance
from ._reader import TrajectoryInfo, read_info
from ._writer import TrajectoryWriter

Progress = Callable[[int, int], None]
CHANNEL = "intensity"
#: Sequences generated per block written to the file (memory holds one block).
BLOCK = 64


def _positive_int(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
    return value


@dataclass(frozen=True)
class MovingMNIST:
    """The rules of one Moving MNIST variant (defaults: the standard 2 digits, 20 frames, 64 x 64).

    Attributes:
        n_digits: digits per sequence (>= 1).
        frames: frames per sequence (>= 1).
        canvas: ``(H, W)`` in pixels; every side must be at least the digit size.
        step_length: distance per frame in normalised units (the span ``H - d`` is 1).

    Raises:
        PhysdiffError: non-positive counts or sizes, or a non-positive or non-finite step.
    """

    n_digits: int = 2
    frames: int = 20
    canvas: tuple[int, int] = (64, 64)
    step_length: float = 0.1

    def __post_init__(self) -> None:
        where = "MovingMNIST"
        _positive_int(self.n_digits, "n_digits", where)
        _positive_int(self.frames, "frames", where)
        canvas = tuple(self.canvas) if isinstance(self.canvas, (tuple, list)) else ()
        if len(canvas) != 2:
            raise PhysdiffError(f"{where}: canvas: expected (height, width) in pixels, got {self.canvas!r}.")
        for side in canvas:
            _positive_int(side, "canvas", where)
        object.__setattr__(self, "canvas", canvas)
        step = self.step_length
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not (math.isfinite(step) and step > 0):
            raise PhysdiffError(f"{where}: step_length: expected a finite positive number (normalised units; the "
                                f"standard is 0.1), got {step!r}.")

    def check_digits(self, digits: np.ndarray, where: str = "MovingMNIST") -> None:
        """Refuse digit images that are not ``uint8 (N, h, w)`` or do not fit on the canvas."""
        if not isinstance(digits, np.ndarray) or digits.ndim != 3 or digits.dtype != np.uint8 or len(digits) == 0:
            got = f"{digits.dtype} {digits.shape}" if isinstance(digits, np.ndarray) else type(digits).__name__
            raise PhysdiffError(f"{where}: digits: expected uint8 images (N, h, w) with N >= 1 (see "
                                f"physdiff.data.load_digits), got {got}.")
        h, w = digits.shape[1:]
        if h > self.canvas[0] or w > self.canvas[1]:
            raise PhysdiffError(
                f"{where}: canvas {self.canvas[0]} x {self.canvas[1]} is smaller than a digit ({h} x {w}); the canvas "
                f"must be at least the digit size on each side. Use a canvas of at least {h} x {w} (the standard is "
                "64 x 64 for 28 x 28 digits)."
            )

    def sequence(self, digits: np.ndarray, seed: int, index: int) -> np.ndarray:
        """Sequence ``index`` of ``seed``: ``float32 (frames, H, W)`` with values in [0, 1]."""
        self.check_digits(digits)
        rng = np.random.default_rng([seed, index])
        h, w = digits.shape[1:]
        frames = np.zeros((self.frames, *self.canvas), dtype=np.uint8)
        for k in range(self.n_digits):
            corners = bounce_corners(rng, self.frames, self.canvas, (h, w), self.step_length)
            image = digits[rng.integers(len(digits))]
            for t, (top, left) in enumerate(corners):
                patch = frames[t, top : top + h, left : left + w]
                np.maximum(patch, image, out=patch)
        return frames.astype(np.float32) / np.float32(255.0)

    def config(self) -> dict[str, Any]:
        return {"n_digits": self.n_digits, "frames": self.frames, "canvas": list(self.canvas),
                "step_length": float(self.step_length)}


def bounce_corners(rng: np.random.Generator, frames: int, canvas: tuple[int, int], digit: tuple[int, int],
                   step_length: float) -> np.ndarray:
    """Top-left pixel ``(row, column)`` of one digit in each frame, ``int (frames, 2)``.

    Draws ``y, x`` (``U(0, 1)``) and ``theta`` (``U(0, 2 pi)``) from ``rng``, then moves and bounces
    as in the module docstring; the pixel is ``int(position (canvas - digit))`` per axis.
    """
    spans = np.array([canvas[0] - digit[0], canvas[1] - digit[1]], dtype=np.float64)
    position = rng.random(2)  # (y, x), normalised
    theta = rng.random() * 2.0 * math.pi
    velocity = np.array([math.sin(theta), math.cos(theta)])
    corners = np.empty((frames, 2), dtype=np.int64)
    for t in range(frames):
        position = position + step_length * velocity  # move first, then bounce, then record
        low, high = position <= 0.0, position >= 1.0
        position = np.where(low, 0.0, np.where(high, 1.0, position))
        velocity = np.where(low | high, -velocity, velocity)
        corners[t] = (position * spans).astype(np.int64)  # truncation, as the reference generator
    return corners


def _seed(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PhysdiffError(f"{where}: {name}: expected a non-negative int, got {value!r}.")
    return value


class MovingMNISTStream(Dataset):
    """Moving MNIST sequences made on the fly: item ``i`` is sequence ``first_index + i`` of ``seed``,
    a tensor ``(frames, 1, H, W)`` in [0, 1].

    Nothing is stored: with ``length`` at least ``steps x batch_size`` every training batch is new
    (OpenSTL's and MoDeRNN's on-the-fly training), and a run is still exactly reproducible and
    resumable, because item ``i`` is a function of ``(seed, i)``.

    Args:
        digits: the digit images (a :class:`~physdiff.data.Digits` or ``uint8 (N, h, w)``).
        rules: the :class:`MovingMNIST` variant.
        length: number of items.
        seed: the seed of every sequence's generator.
        first_index: index of item 0 (e.g. to keep a validation stream apart from the training stream).
        dtype: dtype of the items.
    """

    def __init__(self, digits: Digits | np.ndarray, rules: MovingMNIST = MovingMNIST(), *, length: int = 10_000,
                 seed: int = 0, first_index: int = 0, dtype: torch.dtype = torch.float32) -> None:
        where = "MovingMNISTStream"
        images = digits.images if isinstance(digits, Digits) else digits
        rules.check_digits(images, where)
        self.images, self.rules, self.dtype = images, rules, dtype
        self.length = _positive_int(length, "length", where)
        self.seed = _seed(seed, "seed", where)
        self.first_index = _seed(first_index, "first_index", where)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self.length:
            raise IndexError(f"MovingMNISTStream: index {index} out of range for {self.length} sequences.")
        frames = self.rules.sequence(self.images, self.seed, self.first_index + index)
        return torch.from_numpy(frames[:, None]).to(self.dtype)


def moving_mnist_setup(rules: MovingMNIST, digits: Digits, *, n_sequences: int, seed: int, first_index: int = 0,
                       dtype: str = "float32") -> dict[str, Any]:
    """The hashed provenance of a Moving MNIST file (``kind = "video"``; see ``docs/data_format.md``)."""
    return {"kind": "video", "generator": "moving_mnist", "options": rules.config(), "digits": digits.describe(),
            "seed": seed, "first_index": first_index, "n_sequences": n_sequences, "frames": rules.frames,
            "shape": list(rules.canvas), "dtype": dtype}


def write_moving_mnist(
    out: str | os.PathLike, digits: Digits, rules: MovingMNIST = MovingMNIST(), *, n_sequences: int, seed: int = 0,
    first_index: int = 0, compression: str | None = "gzip", progress: Progress | None = None,
) -> TrajectoryInfo:
    """Write sequences ``first_index .. first_index + n_sequences - 1`` of ``seed`` to the trajectory file ``out``.

    Shape ``(n_sequences, frames, 1, H, W)`` float32 in [0, 1], channel ``intensity``, time = frame
    index, coordinates = pixel indices (row, column). The provenance (``kind = "video"``) holds the
    rules, the seed, the indices and the digits' source, split and SHA-256, so ``physdiff info``
    describes the file and :func:`regenerate_moving_mnist` can rebuild it.

    Raises:
        PhysdiffError: invalid counts or seed, digits that do not fit the canvas, or an unwritable path.
    """
    where = "write_moving_mnist"
    if not isinstance(digits, Digits):
        raise PhysdiffError(f"{where}: digits: expected a physdiff.data.Digits (from load_digits), got "
                            f"{type(digits).__name__}; provenance needs the digits' source.")
    rules.check_digits(digits.images, where)
    n_sequences = _positive_int(n_sequences, "n_sequences", where)
    seed, first_index = _seed(seed, "seed", where), _seed(first_index, "first_index", where)
    setup = moving_mnist_setup(rules, digits, n_sequences=n_sequences, seed=seed, first_index=first_index)
    return _write(out, setup, rules.canvas, rules.frames, compression, progress,
                  lambda i: rules.sequence(digits.images, seed, first_index + i))


def _write(out: str | os.PathLike, setup: dict[str, Any], canvas: Sequence[int], frames: int,
           compression: str | None, progress: Progress | None, make: Callable[[int], np.ndarray]) -> TrajectoryInfo:
    from ._generate import _physdiff_version

    provenance = Provenance(setup=setup, physdiff_version=_physdiff_version(), torch_version=str(torch.__version__),
                            device="cpu")
    n = setup["n_sequences"]
    writer = TrajectoryWriter(out, n_trajectories=n, n_frames=frames, channel_names=[CHANNEL], space_shape=canvas,
                              dtype=torch.float32, provenance=provenance, compression=compression)
    with writer:
        for start in range(0, n, BLOCK):
            block = np.stack([make(i) for i in range(start, min(start + BLOCK, n))])
            writer.append(block[:, :, None])
            if progress is not None:
                progress(start + len(block), n)
    return read_info(out)


def read_mnist_test_seq(path: str | os.PathLike) -> np.ndarray:
    """The fixed Moving MNIST test set ``mnist_test_seq.npy``: ``uint8 (frames, N, H, W)``
    (the published file is ``(20, 10000, 64, 64)``), returned as ``(N, frames, H, W)``.

    Raises:
        PhysdiffError: a missing or unreadable file, or an array that is not uint8 ``(T, N, H, W)``.
    """
    path = Path(path)
    where = f"Moving MNIST test file {str(path)!r}"
    if not path.is_file():
        raise PhysdiffError(f"{where}: no such file. It is the fixed test set of the papers (mnist_test_seq.npy, "
                            "uint8 (20, 10000, 64, 64)); physdiff cannot download it.")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PhysdiffError(f"{where}: not a NumPy .npy array ({exc}).") from exc
    if array.ndim != 4 or array.dtype != np.uint8 or 0 in array.shape:
        raise PhysdiffError(f"{where}: expected a uint8 array (frames, sequences, H, W) such as (20, 10000, 64, 64), "
                            f"got {array.dtype} {array.shape}.")
    return np.ascontiguousarray(array.transpose(1, 0, 2, 3))


def convert_mnist_test_seq(path: str | os.PathLike, out: str | os.PathLike, *, compression: str | None = "gzip",
                           progress: Progress | None = None) -> TrajectoryInfo:
    """Write ``mnist_test_seq.npy`` as a trajectory file (values / 255, float32, ``(N, T, 1, H, W)``).

    The provenance records the file's name and SHA-256; only numbers on this file are comparable
    with published Moving MNIST results.
    """
    import hashlib

    sequences = read_mnist_test_seq(path)
    n, frames, height, width = sequences.shape
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    setup = {"kind": "video", "generator": "mnist_test_seq",
             "options": {"file": Path(path).name, "file_sha256": digest}, "seed": None, "first_index": 0,
             "n_sequences": n, "frames": frames, "shape": [height, width], "dtype": "float32"}
    return _write(out, setup, (height, width), frames, compression, progress,
                  lambda i: sequences[i].astype(np.float32) / np.float32(255.0))


def regenerate_moving_mnist(info: TrajectoryInfo, out: str | os.PathLike, *, progress: Progress | None = None,
                            digits_path: str | os.PathLike | None = None) -> TrajectoryInfo:
    """Rebuild a Moving MNIST file from its provenance (the digits are reloaded and checked by SHA-256).

    Args:
        info: the original file's info (``provenance.is_video``).
        out: the new file.
        progress: as in :func:`write_moving_mnist`.
        digits_path: the IDX file, for files made from one (only its name is stored).

    Raises:
        PhysdiffError: a file that is not a Moving MNIST file (e.g. a converted ``mnist_test_seq.npy``,
            which has no generator to rerun), or digits that differ from the ones it was made with.
    """
    from ._digits import load_digits

    setup = info.provenance.setup
    where = f"regenerate({str(info.path)!r})"
    if setup.get("generator") != "moving_mnist":
        raise PhysdiffError(f"{where}: made by {setup.get('generator')!r}, not by the Moving MNIST generator; it is a "
                            "copy of a fixed file and cannot be regenerated. Convert the original file again.")
    source = setup["digits"]
    if source["source"] == "idx" and digits_path is None:
        raise PhysdiffError(f"{where}: made from the IDX file {source['file']!r}, whose path is not stored; rebuild it "
                            "with physdiff.data.regenerate_moving_mnist(read_info(file), out, digits_path=PATH).")
    digits = load_digits(source["source"], source["split"], path=digits_path if source["source"] == "idx" else None)
    if source.get("resized_from") is not None:
        digits = digits.resized(int(source["size"][0]))
    if digits.sha256 != source["sha256"]:
        raise PhysdiffError(f"{where}: the digits loaded now ({digits.source}, {digits.split}, {len(digits.images)} "
                            f"images, sha256 {digits.sha256[:12]}...) differ from the ones the file was made with "
                            f"({source['count']} images, sha256 {source['sha256'][:12]}...): another package version "
                            "or file. Install the versions of constraints.txt, or give the original IDX file.")
    options = setup["options"]
    rules = MovingMNIST(options["n_digits"], options["frames"], tuple(options["canvas"]), options["step_length"])
    return write_moving_mnist(out, digits, rules, n_sequences=setup["n_sequences"], seed=setup["seed"],
                              first_index=setup["first_index"], compression=info.compression, progress=progress)
