"""Hidden checks of ``channel_mask``: exact patterns against the reference arrays."""
import numpy as np

from ms_checks import ask_or_fail, mistake, require

CASES = {"4_0": [4, 0], "4_1": [4, 1], "8_0": [8, 0], "2_1": [2, 1]}
REQUESTS = {name: {"op": "call", "name": "channel_mask", "args": args} for name, args in CASES.items()}


def check_patterns(ask, ref):
    """Each mask equals the reference pattern exactly."""
    for name, args in CASES.items():
        got, want = ask_or_fail(ask, REQUESTS[name]), ref[name]
        require(got.shape == want.shape, f"channel_mask{tuple(args)} has shape {list(got.shape)}; "
                                         f"expected {list(want.shape)}.")
        if np.array_equal(got, 1 - want):
            raise mistake("channel-mask-wrong-orientation", f"channel_mask{tuple(args)}")
        require(np.array_equal(got, want), f"channel_mask{tuple(args)} is not the expected pattern "
                                           f"({int((got != want).sum())} of {want.size} entries differ).")


HIDDEN = {"channel_mask_reference": [check_patterns]}
