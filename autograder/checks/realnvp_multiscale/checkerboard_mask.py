"""Hidden checks of ``checkerboard_mask``: exact patterns against the reference arrays."""
import numpy as np
from ms_checks import ask_or_fail, mistake, require

CASES = {"8x8_0": [8, 8, 0], "8x8_1": [8, 8, 1], "5x6_0": [5, 6, 0], "4x4_1": [4, 4, 1]}
REQUESTS = {name: {"op": "call", "name": "checkerboard_mask", "args": args} for name, args in CASES.items()}


def exact_patterns(ask, ref, requests, wrong_orientation, recognise=lambda got, want: None):
    """Each mask equals its reference pattern exactly; the complement is the wrong-orientation mistake."""
    for name, request in requests.items():
        call = f"{request['name']}{tuple(request['args'])}"
        got, want = ask_or_fail(ask, request), ref[name]
        recognise(got, want)
        require(got.shape == want.shape, f"{call} has shape {list(got.shape)}; expected {list(want.shape)}.")
        if np.array_equal(got, 1 - want):
            raise mistake(wrong_orientation, call)
        require(np.array_equal(got, want), f"{call} is not the expected pattern "
                                           f"({int((got != want).sum())} of {want.size} entries differ).")


def _no_channel_axis(got, want):
    if got.shape == want.shape[:2]:
        raise mistake("checkerboard-no-channel-axis")


def check_patterns(ask, ref):
    """Each mask equals the reference pattern exactly, odd sizes included."""
    exact_patterns(ask, ref, REQUESTS, "checkerboard-wrong-orientation", _no_channel_axis)


HIDDEN = {"checkerboard_mask_reference": [check_patterns]}
