"""Local views: random and tiled corners, crop and paste."""

from __future__ import annotations

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.learners import crop, paste, random_corners, tiling_corners


def test_tiling_covers_the_frame_deterministically():
    corners = tiling_corners(2, 32, 64, 64)
    assert corners[0].tolist() == [[0, 0], [0, 32], [32, 0], [32, 32]]
    assert torch.equal(corners, tiling_corners(2, 32, 64, 64))
    ones = torch.ones(2, 4, 1, 32, 32)
    assert torch.equal(paste(ones, corners, 64, 64), torch.ones(2, 1, 64, 64))  # exact tiling, no overlap
    # a frame that the size does not divide: the last window aligns with the edge, everything covered
    corners = tiling_corners(1, 16, 40, 24)
    assert corners[0, :, 0].unique().tolist() == [0, 16, 24] and corners[0, :, 1].unique().tolist() == [0, 8]
    assert (paste(torch.ones(1, 6, 1, 16, 16), corners, 40, 24) >= 1).all()


def test_random_corners_stay_inside_and_differ_per_sequence():
    g = torch.Generator().manual_seed(0)
    corners = random_corners(64, 4, 32, 48, 40, generator=g)
    assert corners.shape == (64, 4, 2)
    assert corners[..., 0].min() >= 0 and corners[..., 0].max() <= 16
    assert corners[..., 1].min() >= 0 and corners[..., 1].max() <= 8
    assert corners[..., 0].max() == 16 and corners[..., 0].min() == 0  # every position reachable
    assert not torch.equal(corners[0], corners[1])


def test_crop_cuts_the_windows_and_paste_is_its_adjoint():
    g = torch.Generator().manual_seed(1)
    frames = torch.randn(3, 2, 10, 12, generator=g, dtype=torch.float64)
    corners = random_corners(3, 5, 4, 10, 12, generator=g)
    windows = crop(frames, corners, 4)
    assert windows.shape == (3, 5, 2, 4, 4)
    for b in range(3):
        for k in range(5):
            r, c = corners[b, k].tolist()
            assert torch.equal(windows[b, k], frames[b, :, r:r + 4, c:c + 4])
    # <crop(x), w> = <x, paste(w)> (overlaps sum)
    w = torch.randn(3, 5, 2, 4, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close((windows * w).sum(), (frames * paste(w, corners, 10, 12)).sum())


def test_a_crop_larger_than_the_frame_is_refused():
    with pytest.raises(PhysdiffError, match="crop size 32 x 32 is larger than the frame 16 x 64"):
        tiling_corners(1, 32, 16, 64)
    with pytest.raises(PhysdiffError, match="larger than the frame"):
        random_corners(1, 4, 32, 64, 20)
    with pytest.raises(PhysdiffError, match="larger than the frame"):
        crop(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 2, dtype=torch.long), 9)
