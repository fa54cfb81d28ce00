"""Trajectory data: one HDF5 schema, an atomic streaming writer, validated reading, lazy
windows for training (also inside bursts), observation models (burst sampling,
downsampling, noise), generation/regeneration from provenance, and Moving MNIST video
sequences (digits from installed packages or the user's files; ``docs/moving_mnist.md``).

This layer imports ``core``, ``operators``, ``integrators`` and ``solvers``; h5py is
imported lazily, when a file is first opened. The schema is documented in
``docs/data_format.md``.
"""

from ._burst import BurstSpec as BurstSpec
from ._dataset import BurstWindows as BurstWindows
from ._dataset import TrajectoryWindows as TrajectoryWindows
from ._format import SCHEMA as SCHEMA
from ._format import SCHEMA_VERSION as SCHEMA_VERSION
from ._format import Provenance as Provenance
from ._format import canonical_json as canonical_json
from ._format import config_hash as config_hash
from ._digits import Digits as Digits
from ._digits import load_digits as load_digits
from ._digits import read_digit_csv as read_digit_csv
from ._digits import read_idx_images as read_idx_images
from ._generate import Regeneration as Regeneration
from ._generate import generate as generate
from ._generate import integrator_name as integrator_name
from ._generate import regenerate as regenerate
from ._moving_mnist import MovingMNIST as MovingMNIST
from ._moving_mnist import MovingMNISTStream as MovingMNISTStream
from ._moving_mnist import convert_mnist_test_seq as convert_mnist_test_seq
from ._moving_mnist import read_mnist_test_seq as read_mnist_test_seq
from ._moving_mnist import regenerate_moving_mnist as regenerate_moving_mnist
from ._moving_mnist import write_moving_mnist as write_moving_mnist
from ._reader import TrajectoryFile as TrajectoryFile
from ._reader import TrajectoryInfo as TrajectoryInfo
from ._reader import read_info as read_info
from ._reader import read_trajectories as read_trajectories
from ._sampling import BurstSample as BurstSample
from ._scan import ContentScan as ContentScan
from ._scan import NonFinite as NonFinite
from ._scan import first_nonfinite as first_nonfinite
from ._scan import scan_values as scan_values
from ._sampling import add_noise as add_noise
from ._sampling import burst_sample as burst_sample
from ._sampling import downsample as downsample
from ._writer import TrajectoryWriter as TrajectoryWriter

__all__ = [
    "BurstSample",
    "BurstSpec",
    "Digits",
    "MovingMNIST",
    "MovingMNISTStream",
    "BurstWindows",
    "ContentScan",
    "NonFinite",
    "Provenance",
    "Regeneration",
    "SCHEMA",
    "SCHEMA_VERSION",
    "TrajectoryFile",
    "TrajectoryInfo",
    "TrajectoryWindows",
    "TrajectoryWriter",
    "add_noise",
    "burst_sample",
    "canonical_json",
    "config_hash",
    "convert_mnist_test_seq",
    "downsample",
    "first_nonfinite",
    "generate",
    "integrator_name",
    "load_digits",
    "read_digit_csv",
    "read_idx_images",
    "read_info",
    "read_mnist_test_seq",
    "read_trajectories",
    "regenerate",
    "regenerate_moving_mnist",
    "scan_values",
    "write_moving_mnist",
]
