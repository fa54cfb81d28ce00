"""Leaf layer: the exception type and argument checks. Depends on torch only."""

from ._errors import PhysdiffError as PhysdiffError
from ._grid import Grid as Grid
from ._validation import as_spacing as as_spacing
from ._validation import positive_per_axis as positive_per_axis
from ._validation import check_field as check_field
from ._validation import check_ndim as check_ndim

from ._atomic import atomic_write as atomic_write
from ._atomic import atomic_write_json as atomic_write_json
from ._atomic import fsync_directory as fsync_directory
from ._atomic import new_temporary as new_temporary
from ._atomic import remove_stale_temporaries as remove_stale_temporaries
from ._atomic import temporary_target as temporary_target

__all__ = [
    "Grid", "PhysdiffError", "as_spacing", "atomic_write", "atomic_write_json", "check_field", "check_ndim",
    "fsync_directory", "new_temporary", "positive_per_axis", "remove_stale_temporaries", "temporary_target",
]
