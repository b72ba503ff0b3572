"""Hidden checks of ``channel_mask``: exact patterns against the reference arrays."""
from .checkerboard_mask import exact_patterns

CASES = {"4_0": [4, 0], "4_1": [4, 1], "8_0": [8, 0], "2_1": [2, 1]}
REQUESTS = {name: {"op": "call", "name": "channel_mask", "args": args} for name, args in CASES.items()}


def check_patterns(ask, ref):
    """Each mask equals the reference pattern exactly."""
    exact_patterns(ask, ref, REQUESTS, "channel-mask-wrong-orientation")


HIDDEN = {"channel_mask_reference": [check_patterns]}
