"""Hidden checks of ``checkerboard_mask``: exact patterns against the reference arrays.

The visible check names the wrong orientation (the top-left pixel) and a missing channel axis; this check
follows through on them (``charge``) and judges the rest of the pattern.
"""
import numpy as np
from ms_checks import ask_or_fail, require

from . import charge

CASES = {"8x8_0": [8, 8, 0], "8x8_1": [8, 8, 1], "5x6_0": [5, 6, 0], "4x4_1": [4, 4, 1]}
REQUESTS = {name: {"op": "call", "name": "checkerboard_mask", "args": args} for name, args in CASES.items()}


def exact_patterns(ask, ref, requests, wrong_orientation, no_channel_axis=None):
    """Each mask equals its reference pattern exactly; the complement is the wrong-orientation mistake, and
    a [height, width] mask the ``no_channel_axis`` one."""
    for name, request in requests.items():
        call = f"{request['name']}{tuple(request['args'])}"
        got, want = ask_or_fail(ask, request), ref[name]
        if no_channel_axis and got.shape == want.shape[:2]:
            charge(ask, no_channel_axis)
            got = got[:, :, None]  # follow through: judge the pattern itself
        require(got.shape == want.shape, f"{call} has shape {list(got.shape)}; expected {list(want.shape)}.")
        if np.array_equal(got, 1 - want):
            charge(ask, wrong_orientation, call)
            continue  # follow through: the complement of the expected pattern is that mistake's model
        require(np.array_equal(got, want), f"{call} is not the expected pattern "
                                           f"({int((got != want).sum())} of {want.size} entries differ).")


def check_patterns(ask, ref):
    """Each mask equals the reference pattern exactly, odd sizes included."""
    exact_patterns(ask, ref, REQUESTS, "checkerboard-wrong-orientation", "checkerboard-no-channel-axis")


HIDDEN = {"checkerboard_mask_reference": [check_patterns]}
