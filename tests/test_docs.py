"""Every ```python block in README.md and docs/ runs (blocks of one page share a namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page, capsys):
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in _blocks(page):
        exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - our own docs
