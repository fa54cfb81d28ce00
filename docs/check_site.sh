#!/usr/bin/env bash
# Look at the built site the way a reader does: headless Chromium screenshots of the home page,
# an API page with equations, a generated reference page and a gallery page, written as PNGs to
# OUT (default runs/site_check). Open them and look. CI does not run this (it needs a browser):
#     make docs && bash docs/check_site.sh [OUT]
# Needs Debian's chromium (`apt-get install -y chromium`). The pages are served from site/ on a
# loopback port, as `mkdocs serve` would, so the search index and relative links load as online.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/site_check}"
BROWSER="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$BROWSER" ]]; then
    echo "check_site: no chromium found; install it with: apt-get install -y chromium" >&2
    exit 2
fi
if [[ ! -f site/index.html ]]; then
    echo "check_site: site/ is not built; run: make docs" >&2
    exit 2
fi
mkdir -p "$OUT"
PROFILE="$(mktemp -d)"
PORT="${PORT:-8765}"
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory site >/dev/null 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$PROFILE"' EXIT
for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/index.html')" 2>/dev/null && break
    sleep 0.1
done

shot() {  # shot NAME PAGE [HEIGHT]
    "$BROWSER" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$PROFILE" \
        --hide-scrollbars --window-size=1280,"${3:-1600}" --virtual-time-budget=10000 \
        --screenshot="$OUT/$1.png" "http://127.0.0.1:$PORT/$2" >/dev/null 2>&1
    echo "check_site: $OUT/$1.png <- $2"
}
BLANK=0
blank() {  # a screenshot taken before the page painted is one flat colour
    .venv/bin/python - "$OUT/$1.png" <<'PY' || BLANK=1
import sys
from PIL import Image
image = Image.open(sys.argv[1]).convert("L")
colours = len(image.getcolors(maxcolors=1 << 16) or range(1 << 16))
print(f"check_site: {sys.argv[1]}: {colours} grey levels" + ("  <- BLANK" if colours < 8 else ""))
sys.exit(colours < 8)
PY
}
shot home index.html
shot api_equations api/moments.html
shot reference_solvers reference/solvers.html 4200   # down to GrayScott, whose docstring has TeX
shot gallery gallery/gray_scott_3d.html 2400
for name in home api_equations reference_solvers gallery; do blank "$name"; done
[[ "$BLANK" == 0 ]] || { echo "check_site: blank screenshots (the machine may be too loaded: rerun)" >&2; exit 1; }
