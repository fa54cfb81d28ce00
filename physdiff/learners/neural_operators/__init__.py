"""Neural operators: learners that map a field to the next one through spectral layers (FNO)."""

from ._fno import FNO as FNO

__all__: list[str] = ["FNO"]
