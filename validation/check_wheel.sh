#!/usr/bin/env bash
# Build physdiff's wheel and sdist, check their metadata, install the wheel into a clean virtual
# environment with the pinned torch, and run the installed package: `physdiff info`, `physdiff
# stencil`, and one example at toy size, from outside the repository so that nothing is imported
# from the source tree.    bash validation/check_wheel.sh   (make wheel; a few minutes)
# The wheel and sdist are left in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "== build (python -m build: sdist, then the wheel from it)"
"$PYTHON" -m venv "$WORK/build"
"$WORK/build/bin/pip" install --quiet -c constraints.txt build
rm -rf dist
"$WORK/build/bin/python" -m build --outdir dist . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
WHEEL="$(ls dist/physdiff-*.whl)"
SDIST="$(ls dist/physdiff-*.tar.gz)"
echo "built $WHEEL and $SDIST"

echo "== metadata"
"$WORK/build/bin/python" - "$WHEEL" "$SDIST" <<'PY'
import sys, tarfile, zipfile
wheel, sdist = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
head, _, description = meta.partition("\n\n")
fields = [line.split(": ", 1) for line in head.splitlines() if ": " in line]
get = lambda key: [v for k, v in fields if k == key]
problems = []
def need(ok, what):
    print(("ok      " if ok else "MISSING ") + what)
    if not ok:
        problems.append(what)
need(get("Name") == ["physdiff"], "Name: physdiff")
need(get("License-Expression") == ["MIT"], "License-Expression: MIT")
need("LICENSE" in get("License-File"), "License-File: LICENSE (and in the wheel: %s)" % any(n.endswith("licenses/LICENSE") for n in names))
need(any(n.endswith("licenses/LICENSE") for n in names), "LICENSE inside the wheel")
need(get("Description-Content-Type") == ["text/markdown"], "Description-Content-Type: text/markdown")
need(description.startswith("# physdiff") and "make demo" in description, "long description = README.md")
need(len(get("Classifier")) >= 5, f"classifiers ({len(get('Classifier'))})")
need(any(r.startswith("torch") for r in get("Requires-Dist")), "Requires-Dist includes torch")
need(get("Requires-Python") == [">=3.10"], "Requires-Python: >=3.10")
need(any(n == "physdiff/cli/__init__.py" for n in names), "physdiff/cli in the wheel")
need(not any(n.startswith(("tests/", "docs/", "examples/")) for n in names), "no tests/docs/examples in the wheel")
with tarfile.open(sdist) as t:
    members = {m.name.split("/", 1)[1] for m in t.getmembers() if "/" in m.name}
for required in ("LICENSE", "README.md", "pyproject.toml", "physdiff/__init__.py"):
    need(required in members, f"{required} in the sdist")
print("URLs:", get("Project-URL") or "none declared (no public repository or site yet)")
sys.exit(1 if problems else 0)
PY

echo "== install the wheel into a clean venv (torch 2.13.0 first, then the tested set)"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet torch==2.13.0
"$WORK/venv/bin/pip" install --quiet -c constraints.txt "$WHEEL"

echo "== run it from outside the repository"
mkdir "$WORK/run"
cd "$WORK/run"
"$WORK/venv/bin/python" -c "import physdiff, sys; p = physdiff.__file__; print('physdiff', physdiff.__version__, 'from', p); sys.exit(0 if p.startswith('$WORK/venv') else 1)"
"$WORK/venv/bin/physdiff" info
"$WORK/venv/bin/physdiff" stencil 2 4
"$WORK/venv/bin/physdiff" simulate gray-scott --preset percnn-2d --grid 16 --steps 20 --save-every 10 --out gs.h5
"$WORK/venv/bin/physdiff" info gs.h5 | head -5
# One example at toy size: the inverse problem (24x24 grid, 40 solver steps, seconds).
"$WORK/venv/bin/python" "$ROOT/examples/inverse_gray_scott.py"
echo "check_wheel: OK"
