"""The documentation site's structure, checked without building it (`make docs` builds it strictly).

Pages, reference blocks and gallery entries are added by hand in three places; these tests catch
the omissions: a page missing from the nav (mkdocs would only warn about it as 'not included'),
a subpackage without a `:::` block, a script without a gallery page.
"""

from __future__ import annotations

import ast
import pkgutil
import re
from pathlib import Path

import physdiff
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIG = (ROOT / "mkdocs.yml").read_text()


def _nav_pages() -> list[str]:
    nav = CONFIG.split("\nnav:\n", 1)[1]
    return re.findall(r"^\s+- (?:[^:\n]+: )?(\S+\.md)\s*$", nav, flags=re.M)


def _gallery_entries() -> tuple[dict[str, str], set[str]]:
    """``{name: script}`` of the gallery's ENTRIES and its PENDING names, read from its source (no import, no run)."""
    tree = ast.parse((DOCS / "_site" / "gallery.py").read_text())
    entries, pending = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Entry":
            name, script = (arg.value for arg in node.args[:2])
            entries[name] = script
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "PENDING":
            pending = set(ast.literal_eval(node.value))
    return entries, pending


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    nav = _nav_pages()
    assert len(nav) == len(set(nav)), f"pages listed twice in mkdocs.yml's nav: {sorted({p for p in nav if nav.count(p) > 1})}"
    assert sorted(pages - set(nav)) == [], "add these pages to `nav` in mkdocs.yml (one line each)"
    assert sorted(set(nav) - pages) == [], "mkdocs.yml's nav lists pages that do not exist"


def test_every_public_subpackage_has_a_reference_block():
    blocks = set()
    for page in (DOCS / "reference").glob("*.md"):
        blocks |= set(re.findall(r"^::: (physdiff[\w.]*)\s*$", page.read_text(), flags=re.M))
    packages = {
        info.name for info in pkgutil.walk_packages(physdiff.__path__, "physdiff.")
        if info.ispkg and not any(part.startswith("_") for part in info.name.split("."))
    }
    assert "physdiff.learners.recurrent" in packages  # the walk reaches the learner families
    assert sorted(packages - blocks) == [], "add a `::: physdiff.NAME` block to a page of docs/reference/"


def test_every_example_and_results_script_has_a_gallery_page():
    """Examples, the scripts `make results` runs, and every benchmark script that writes a results page."""
    entries, pending = _gallery_entries()
    results_recipe = re.search(r"^results:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), flags=re.M)
    assert results_recipe is not None, "the Makefile has no `results` target"
    scripts = {str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.py")}
    scripts |= set(re.findall(r"python (\S+\.py)", results_recipe.group(1)))
    # A results script is one that writes a results page of docs/ (results.md, results_video.md, ...).
    scripts |= {str(p.relative_to(ROOT)) for p in (ROOT / "benchmarks").glob("*.py")
                if re.search(r"results(_\w+)?\.md", p.read_text())}
    assert sorted(scripts - set(entries.values())) == [], "add an Entry to ENTRIES in docs/_site/gallery.py"
    nav = set(_nav_pages())
    assert pending <= set(entries), "PENDING in docs/_site/gallery.py names entries that do not exist"
    for name in entries:
        page = DOCS / "gallery" / f"{name}.md"
        if name in pending:
            assert not page.exists(), f"{page.name} exists: remove {name!r} from PENDING and add it to the nav"
        else:
            assert f"gallery/{name}.md" in nav, f"add gallery/{name}.md to the Gallery section of mkdocs.yml's nav"


def test_gallery_pages_show_only_figures_that_exist():
    for page in (DOCS / "gallery").glob("*.md"):
        text = re.sub(r"(`{3,})[^\n]*\n.*?\n\1", "", page.read_text(), flags=re.S)  # not what scripts printed
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
            assert (page.parent / image).is_file(), f"{page.name} shows {image}, which does not exist; run make gallery"


def _site_module(name: str):
    """A module of docs/_site (the build's hooks), importable only with the `docs` extra installed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_docs_site_{name}", DOCS / "_site" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tex_becomes_mathml_and_unsupported_tex_fails_the_build():
    pytest.importorskip("latex2mathml")
    mathml = _site_module("mathml")

    class Page:
        class file:
            src_uri = "page.md"

    html = mathml.on_page_content(
        '<p>with <span class="arithmatex">\\(k_a = 2\\pi q_a / L\\)</span>:</p>'
        '<div class="arithmatex">\\[\\frac{a &lt; b}{2}\\]</div>', page=Page
    )
    assert "arithmatex" not in html
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html
    assert '<div class="math-block"><math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html
    assert "<mfrac>" in html and "<mi>&#x003C0;</mi>" in html  # the fraction and pi were understood
    for tex in ("\\foo x", "\\begin{aligned} a &amp;= b \\end{aligned}"):
        with pytest.raises(ValueError, match="page.md"):
            mathml.on_page_content(f'<div class="arithmatex">\\[{tex}\\]</div>', page=Page)


def test_grouped_arguments_get_one_entry_each():
    pytest.importorskip("griffe")
    roles = _site_module("sphinx_roles")
    doc = "Intro, a, b: not a section.\n\nArgs:\n    n: size.\n    Du, Dv (float): diffusivities,\n        tensors allowed.\n    k: rate.\n\nReturns:\n    x, y: unchanged.\n"
    assert roles.split_grouped_parameters(doc) == (
        "Intro, a, b: not a section.\n\nArgs:\n    n: size.\n"
        "    Du (float): diffusivities,\n        tensors allowed.\n    Dv (float): diffusivities,\n        tensors allowed.\n"
        "    k: rate.\n\nReturns:\n    x, y: unchanged."
    )


def test_literal_block_markers_read_as_sphinx_shows_them():
    pytest.importorskip("griffe")
    roles = _site_module("sphinx_roles")
    doc = "One step of fit::\n\n    s = 0\n\nAlone:\n\n::\n\n    x\n\nA C++ name like a::b stays."
    assert roles.literal_block_markers(doc) == "One step of fit:\n\n    s = 0\n\nAlone:\n\n\n    x\n\nA C++ name like a::b stays."
