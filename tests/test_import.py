"""Importing physdiff has no side effects and pulls in no heavy optional modules."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import json, os, random, sys, warnings
import torch
env_before = dict(os.environ)
filters_before = list(warnings.filters)
rng_before = torch.random.get_rng_state().clone()
py_rng_before = random.getstate()
import physdiff, physdiff.operators, physdiff.integrators, physdiff.testing, physdiff.solvers, physdiff.learners
print(json.dumps({
    "env_changed": dict(os.environ) != env_before,
    "filters_changed": list(warnings.filters) != filters_before,
    "torch_rng_changed": not torch.equal(torch.random.get_rng_state(), rng_before),
    "python_rng_changed": random.getstate() != py_rng_before,
    "default_dtype": str(torch.get_default_dtype()),
    "heavy": sorted(m for m in ("matplotlib", "sympy", "torch_harmonics", "h5py", "scipy") if m in sys.modules),
}))
"""


def test_import_has_no_side_effects():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "env_changed": False,
        "filters_changed": False,
        "torch_rng_changed": False,
        "python_rng_changed": False,
        "default_dtype": "torch.float32",
        "heavy": [],
    }
