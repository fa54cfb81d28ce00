"""Griffe extension: turn the Sphinx roles of physdiff's docstrings into site cross-references.

physdiff's docstrings are Google style and name other objects with Sphinx roles
(``:class:`PDE```, ``:meth:`stable_dt```, ``:func:`~physdiff.solvers.simulate```), which read well
in ``help()`` and in an editor. mkdocstrings does not know these roles, so this extension rewrites
each one, when the site is built, into an autorefs cross-reference: the name is resolved in the
scope of the docstring's object (a method's docstring sees its class's members, a module's its
imports) and linked, under its canonical path and, as a second choice, the public path the
reference pages show it under (``physdiff.solvers._gray_scott.GrayScott`` ->
``physdiff.solvers.GrayScott``). The reference is *optional*: a name that resolves to nothing
rendered on the site (a private helper, a torch class) shows as code without a link, instead of
failing the strict build. The source files are never changed, so docstrings written by anyone
are handled.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import griffe

# :role:`target` or :role:`~target`; roles are Sphinx's Python-domain ones.
_ROLE = re.compile(r":(?:py:)?(class|meth|func|attr|data|mod|exc|obj|const):`(~?)([^`<>]+?)`")


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if member.is_alias:
            continue  # visited where it is defined
        found.extend(_walk(member))
    return found


# In an ``Args:`` section, one entry may name several parameters: ``Du, Dv, F, k: parameters``.
_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Attributes|Other Parameters):\s*$")
_GROUPED = re.compile(r"^(\s+)(\w+(?:\s*,\s*\w+)+)(\s*\([^)]*\))?:(.*)$")


def split_grouped_parameters(text: str) -> str:
    """Write ``a, b: text`` in an Args-like section as one entry per name, each with the text.

    The Google style has one name per entry; physdiff's docstrings group parameters that share
    a meaning, which reads better in ``help()``. The site's parameter tables need one row per
    name (and griffe warns about a parameter named ``"a, b"``), so the group is expanded here.
    """
    lines, out, section_indent, i = text.splitlines(), [], None, 0
    while i < len(lines):
        line = lines[i]
        if (header := _SECTION.match(line)) is not None:
            section_indent = len(header.group(1))
        elif line.strip() and section_indent is not None and len(line) - len(line.lstrip()) <= section_indent:
            section_indent = None  # dedented: the section ended
        match = _GROUPED.match(line) if section_indent is not None else None
        if match is None:
            out.append(line)
            i += 1
            continue
        indent, names, annotation, description = match.groups()
        body = [description]
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            if not lines[i].strip() and (i + 1 >= len(lines) or len(lines[i + 1]) - len(lines[i + 1].lstrip()) <= len(indent)):
                break
            body.append("\n" + lines[i])
            i += 1
        for name in (n.strip() for n in names.split(",")):
            out.append(f"{indent}{name}{annotation or ''}:{''.join(body)}")
    return "\n".join(out)


def literal_block_markers(text: str) -> str:
    """Write reStructuredText's ``text::`` (a literal block follows) as Sphinx shows it: ``text:``.

    The indented block after it is already a code block in Markdown; only the marker would show.
    """
    return re.sub(r"(?m)^[ \t]*::[ \t]*$\n?", "", re.sub(r"(?m)(\S)::[ \t]*$", r"\1:", text))


def _comment_docstring(obj: griffe.Object) -> str | None:
    """The ``#:`` comment lines right above an attribute (Sphinx autodoc's convention), if any."""
    if obj.lineno is None or not isinstance(obj.filepath, Path):
        return None
    lines = obj.filepath.read_text().splitlines()[: obj.lineno - 1]
    comment: list[str] = []
    while lines and lines[-1].strip().startswith("#:"):
        comment.insert(0, lines.pop().strip()[2:].strip())
    return "\n".join(comment) or None


class SphinxRoles(griffe.Extension):
    """Rewrites ``:role:`target``` in every docstring of a package into an optional autoref.

    Also expands grouped ``a, b: text`` parameter entries (:func:`split_grouped_parameters`) and
    drops reStructuredText's literal-block markers (:func:`literal_block_markers`), and
    gives an attribute without a docstring the ``#:`` comment above it, physdiff's convention for
    documenting constants.
    """

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        public = self._public_paths(pkg)
        for obj in _walk(pkg):
            if obj.is_attribute and obj.docstring is None and (comment := _comment_docstring(obj)):
                obj.docstring = griffe.Docstring(comment, parent=obj, lineno=obj.lineno)
            if obj.docstring is not None:
                value = literal_block_markers(split_grouped_parameters(obj.docstring.value))
                obj.docstring.value = _ROLE.sub(lambda m, o=obj: self._link(m, o, public), value)

    @staticmethod
    def _public_paths(pkg: griffe.Module) -> dict[str, str]:
        """Canonical path -> public path, for every name a subpackage re-exports."""
        mapping: dict[str, str] = {}
        for module in _walk(pkg):
            if not module.is_module or any(part.startswith("_") for part in module.path.split(".")):
                continue
            for name, member in module.members.items():
                if member.is_alias and not name.startswith("_"):
                    try:
                        target = member.final_target.path
                    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                        continue
                    # The shortest public path wins (physdiff.learners.PIMRL over the family package).
                    if target not in mapping or len(member.path) < len(mapping[target]):
                        mapping[target] = member.path
        return mapping

    @staticmethod
    def _resolve(name: str, obj: griffe.Object) -> str | None:
        head, _, rest = name.partition(".")
        scope: griffe.Object | None = obj
        while scope is not None:
            try:
                resolved = scope.resolve(head)
            except (griffe.NameResolutionError, Exception):  # griffe raises NameResolutionError; aliases may raise more
                scope = scope.parent
                continue
            return f"{resolved}.{rest}" if rest else resolved
        return name if name.startswith("physdiff.") else None

    def _link(self, match: re.Match[str], obj: griffe.Object, public: dict[str, str]) -> str:
        role, tilde, target = match.groups()
        target = target.strip().removesuffix("()")
        title = target.rsplit(".", 1)[-1] if tilde else target
        if role in ("meth", "func"):
            title += "()"
        path = self._resolve(target, obj)
        if path is None:
            return f"`{title}`"
        # mkdocstrings registers a rendered object under its canonical path as well as the path it
        # is rendered at; the public path (the longest canonical prefix that has one, for a method
        # of a re-exported class) is the second identifier autorefs tries (its `slug`).
        parts, public_path = path.split("."), path
        for cut in range(len(parts), 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in public:
                public_path = ".".join([public[prefix], *parts[cut:]])
                break
        return (f'<autoref identifier="{html.escape(path)}" slug="{html.escape(public_path)}" optional>'
                f"<code>{html.escape(title)}</code></autoref>")
