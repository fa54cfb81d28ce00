"""MkDocs hook: fail the build when a public name of physdiff has no entry in the API reference.

The reference pages (``docs/reference/*.md``) render whole subpackages with ``:::`` blocks, so a
name added to a subpackage's ``__all__`` appears with no edit to the docs. What can still go
wrong is a new subpackage without a block, or a name mkdocstrings leaves out (an attribute
without a docstring or ``#:`` comment). After the build this hook imports every public
subpackage, and checks that each name of its ``__all__`` has an anchor on a reference page:
``physdiff.PKG.NAME`` or, for the learner families, ``physdiff.PKG.FAMILY.NAME``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError


def public_packages() -> list[str]:
    """Every public subpackage of physdiff, recursively (``physdiff.learners.video`` included)."""
    import physdiff

    return sorted(
        info.name for info in pkgutil.walk_packages(physdiff.__path__, "physdiff.")
        if info.ispkg and not any(part.startswith("_") for part in info.name.split("."))
    )


def on_post_build(config: Any, **kwargs: Any) -> None:
    site = Path(config["site_dir"])
    anchors: set[str] = set()
    for page in (site / "reference").glob("*.html"):
        anchors |= set(re.findall(r'id="(physdiff\.[^"]+)"', page.read_text()))
    missing = []
    for package in public_packages():
        for name in getattr(importlib.import_module(package), "__all__", []):
            if f"{package}.{name}" in anchors or any(a.startswith(package + ".") and a.endswith("." + name) for a in anchors):
                continue
            missing.append(f"{package}.{name}")
    if missing:
        raise PluginError(
            f"{len(missing)} public names have no entry in docs/reference/: {', '.join(missing)}. Give each a "
            "docstring (or a `#:` comment above a constant), and give a new subpackage a `::: physdiff.NAME` block."
        )
