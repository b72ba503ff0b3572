"""Hidden checks of ``checkerboard_mask``: exact patterns against the reference arrays."""
import numpy as np

from ms_checks import ask_or_fail, mistake, require

CASES = {"8x8_0": [8, 8, 0], "8x8_1": [8, 8, 1], "5x6_0": [5, 6, 0], "4x4_1": [4, 4, 1]}
REQUESTS = {name: {"op": "call", "name": "checkerboard_mask", "args": args} for name, args in CASES.items()}


def check_patterns(ask, ref):
    """Each mask equals the reference pattern exactly, odd sizes included."""
    for name, args in CASES.items():
        got, want = ask_or_fail(ask, REQUESTS[name]), ref[name]
        if got.shape == want.shape[:2]:
            raise mistake("checkerboard-no-channel-axis")
        require(got.shape == want.shape, f"checkerboard_mask{tuple(args)} has shape {list(got.shape)}; "
                                         f"expected {list(want.shape)}.")
        if np.array_equal(got, 1 - want):
            raise mistake("checkerboard-wrong-orientation", f"checkerboard_mask{tuple(args)}")
        require(np.array_equal(got, want), f"checkerboard_mask{tuple(args)} is not the expected pattern "
                                           f"({int((got != want).sum())} of {want.size} entries differ).")


HIDDEN = {"checkerboard_mask_reference": [check_patterns]}
