"""Reference PDE solvers built from physdiff operators and integrators.

Planned (issue: reference PDE solvers); this layer may import ``operators``,
``integrators`` and ``core``.
"""

__all__: list[str] = []
