"""Hidden checks of ``Squeeze``: the element order of the notes' figure, the inverse, extra batch axes."""
import numpy as np
from ms_checks import SQUEEZE_SPEC, ask_or_fail, close, first_difference, mistake, require, rng

from . import image_math as im

X = rng(81).normal(size=(2, 4, 6, 3))
Y = rng(82).normal(size=(2, 2, 3, 12))
X_BATCH = rng(83).normal(size=(2, 3, 4, 4, 2))  # two batch axes
REQUESTS = {
    "forward": {"op": "bijector", "spec": SQUEEZE_SPEC, "method": "forward", "x": X},
    "inverse": {"op": "bijector", "spec": SQUEEZE_SPEC, "method": "inverse", "x": Y},
    "forward_batch": {"op": "bijector", "spec": SQUEEZE_SPEC, "method": "forward", "x": X_BATCH},
    "fldj": {"op": "bijector", "spec": SQUEEZE_SPEC, "method": "fldj", "x": X},
}


def check_order(ask, ref):
    """forward puts every entry where the notes' figure puts it."""
    y = ask_or_fail(ask, REQUESTS["forward"])
    require(y.shape == ref["forward"].shape, f"forward of a [2, 4, 6, 3] batch has shape {list(y.shape)}; "
                                             f"expected {list(ref['forward'].shape)}.")
    if close(y, X.reshape(2, 2, 3, 12), atol=1e-6):
        raise mistake("squeeze-naive-reshape")
    if close(y, im.squeeze(X, channel_major=True), atol=1e-6):
        raise mistake("squeeze-channel-major")
    require(close(y, ref["forward"], atol=1e-6), "forward moves entries to the wrong places: "
            + first_difference(y, ref["forward"], atol=1e-6, hidden=True)
            + ". Output channel k*C + c holds position k (row-major in the 2x2 block) of input channel c.")


def check_inverse_and_batches(ask, ref):
    """inverse on fresh tensors, two batch axes, and a zero log-det per image."""
    x = ask_or_fail(ask, REQUESTS["inverse"])
    require(close(x, ref["inverse"], atol=1e-6), "inverse puts entries in the wrong places: "
            + first_difference(x, ref["inverse"], atol=1e-6, hidden=True))
    y = ask_or_fail(ask, REQUESTS["forward_batch"])
    require(close(y, ref["forward_batch"], atol=1e-6), "forward on a batch of shape [2, 3] of [4, 4, 2] images "
            "should squeeze each image: " + first_difference(y, ref["forward_batch"], atol=1e-6, hidden=True)
            + ". Keep every leading batch axis (tf.shape(x)[:-3]).")
    ldj = ask_or_fail(ask, REQUESTS["fldj"])
    require(np.allclose(ldj, 0.0) and ldj.size in (1, 2), "the log-det-Jacobian of squeeze is 0 (one value, or "
            f"one per image); got shape {list(ldj.shape)}.")


HIDDEN = {"squeeze_order": [check_order], "squeeze_inverse_and_batches": [check_inverse_and_batches]}
