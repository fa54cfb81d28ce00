"""Comparisons of learners on reference datasets: PIMRL's benchmark at CPU scale, Moving MNIST.

The top layer next to the CLI: it makes data with ``solvers``/``data``, builds ``learners``,
trains them with ``training`` and scores them with ``metrics``. ``examples/gray_scott_3d.py``
and ``benchmarks/pimrl_table.py`` are thin scripts over :func:`run_experiment`.
"""

from ._arms import ARMS as ARMS
from ._arms import Arm as Arm
from ._arms import arms as arms
from ._report import aggregate as aggregate
from ._report import format_table as format_table
from ._report import plot_comparison as plot_comparison
from ._report import write_marked_block as write_marked_block
from ._run import PLATEAU_FLOOR as PLATEAU_FLOOR
from ._run import PLATEAU_GAMMA as PLATEAU_GAMMA
from ._run import PLATEAU_THRESHOLD as PLATEAU_THRESHOLD
from ._run import ExperimentData as ExperimentData
from ._run import evaluate_arm as evaluate_arm
from ._run import make_data as make_data
from ._run import run_experiment as run_experiment
from ._run import train_arm as train_arm
from ._setups import BENCHMARK_SETUPS as BENCHMARK_SETUPS
from ._setups import PI_INIT_GAIN as PI_INIT_GAIN
from ._setups import ExperimentSetup as ExperimentSetup
from ._setups import burgers_2d as burgers_2d
from ._setups import fitzhugh_nagumo_2d as fitzhugh_nagumo_2d
from ._setups import gray_scott_2d as gray_scott_2d
from ._setups import gray_scott_3d as gray_scott_3d
from ._setups import kdv as kdv
from ._video import Blank as Blank
from ._video import CopyLast as CopyLast
from ._video import VideoModel as VideoModel
from ._video import VideoProtocol as VideoProtocol
from ._video import run_video_model as run_video_model
from ._video import video_test_file as video_test_file

__all__ = [
    "ARMS", "Arm", "BENCHMARK_SETUPS", "PI_INIT_GAIN", "PLATEAU_FLOOR", "PLATEAU_GAMMA", "PLATEAU_THRESHOLD",
    "ExperimentData", "ExperimentSetup", "aggregate", "arms",
    "burgers_2d", "evaluate_arm", "fitzhugh_nagumo_2d", "format_table", "gray_scott_2d", "gray_scott_3d", "kdv",
    "make_data", "plot_comparison", "run_experiment", "train_arm",
    "Blank", "CopyLast", "VideoModel", "VideoProtocol", "run_video_model", "video_test_file", "write_marked_block",
]
