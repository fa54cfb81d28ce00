"""MkDocs hook: render the TeX that ``pymdownx.arithmatex`` marks as MathML at build time.

Arithmatex (``generic: true``) wraps ``$...$`` in ``<span class="arithmatex">\\(...\\)</span>`` and
``$$...$$`` in ``<div class="arithmatex">\\[...\\]</div>``, for a JavaScript renderer to typeset in
the reader's browser. Converting them here with ``latex2mathml`` instead lets every browser
render the equations natively, with no script, no CDN and nothing to download: the site works
offline, and equations inside docstrings (rendered by mkdocstrings through the same Markdown
extensions) are converted the same way. TeX that cannot be converted fails the build with the
page and the expression, rather than showing raw TeX to readers.
"""

from __future__ import annotations

import html
import re
from typing import Any

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)
# latex2mathml keeps what it does not know as an identifier: an unknown command (<mi>\foo</mi>) or
# the column separator of an environment it does not support (<mi>&</mi>, as in `aligned`).
_UNKNOWN = re.compile(r"<mi>(\\[A-Za-z]+|&)</mi>")


def _mathml(tex: str, display: str, where: str) -> str:
    source = html.unescape(tex).strip()
    try:
        mathml = convert(source, display=display)
    except Exception as error:  # latex2mathml raises several types; any of them is a broken page
        raise ValueError(f"{where}: cannot convert the TeX {source!r} to MathML ({error}); fix the expression") from error
    if (unknown := _UNKNOWN.search(mathml)) is not None:
        raise ValueError(
            f"{where}: the TeX {source!r} uses {unknown.group(1)!r}, which latex2mathml does not support "
            "(for aligned equations use `align*` or `array`); rewrite the expression"
        )
    return mathml


def on_page_content(html_text: str, page: Any, **kwargs: Any) -> str:
    """Replace every arithmatex span and div of ``page`` by MathML."""
    where = page.file.src_uri
    html_text = _BLOCK.sub(lambda m: f'<div class="math-block">{_mathml(m.group(1), "block", where)}</div>', html_text)
    return _INLINE.sub(lambda m: _mathml(m.group(1), "inline", where), html_text)
