"""The layer rules of docs/concepts.md, checked by parsing every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "physdiff"

# For each subpackage: the physdiff subpackages it may import (itself always allowed).
ALLOWED = {
    "core": set(),
    "operators": {"core"},
    "integrators": {"core"},
    "testing": {"core"},
    "solvers": {"core", "operators", "integrators"},
    "learners": {"core", "operators", "integrators"},
    "metrics": {"core"},
    "training": {"core", "operators", "integrators", "learners", "metrics", "data"},
    "data": {"core", "operators", "integrators", "solvers"},
    "experiments": {"core", "operators", "integrators", "solvers", "learners", "data", "metrics", "training"},
    "cli": {"core", "operators", "integrators", "solvers", "learners", "data", "testing", "metrics", "training",
            "experiments"},
}


def _physdiff_imports(path: Path) -> set[str]:
    """Top-level physdiff subpackages imported by a module (absolute or relative)."""
    tree = ast.parse(path.read_text())
    package_parts = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join(base + ((node.module,) if node.module else ()))
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "physdiff" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer):
    offending = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        bad = _physdiff_imports(path) - ALLOWED[layer] - {layer}
        if bad:
            offending[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert not offending, f"layer '{layer}' may import only {sorted(ALLOWED[layer])}; found {offending}"
