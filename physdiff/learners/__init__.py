"""Physics-hard-coded learners built from physdiff operators and integrators.

Planned (issues: training, PeRCNN/PIMRL). This layer may import ``operators``,
``integrators`` and ``core``, and never ``solvers``, ``data`` or ``training``.
"""

__all__: list[str] = []
