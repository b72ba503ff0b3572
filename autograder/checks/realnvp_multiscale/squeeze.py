"""Hidden checks of ``Squeeze``: the element order of the notes' figure, the inverse, extra batch axes.

The visible check compares forward with tf.nn.space_to_depth and names the catalogued wrong orders; these
checks follow through on them (``charge``): an answer that is the charged mistake's model, in forward
or inverse, is not charged again, and what the mistake does not break (batch axes, the log-det) is judged.
"""
import numpy as np
from ms_checks import SQUEEZE_SPEC, ask_or_fail, close, first_difference, require, rng

from . import charge
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


def _naive(x):
    *batch, h, w, c = x.shape
    return x.reshape(*batch, h // 2, w // 2, 4 * c)


def _naive_inverse(y):
    *batch, h, w, c4 = y.shape
    return y.reshape(*batch, 2 * h, 2 * w, c4 // 4)


def _transposed(fn):
    """``fn`` applied to the images with their rows and columns swapped, and the result swapped back: the squeeze
    whose 2x2 blocks are numbered column by column."""
    return lambda v: np.swapaxes(fn(np.swapaxes(v, -3, -2)), -3, -2)


#: Each catalogued wrong order: (forward, inverse) in float64.
MODELS = {"squeeze-naive-reshape": (_naive, _naive_inverse),
          "squeeze-channel-major": (lambda x: im.squeeze(x, channel_major=True),
                                    lambda y: im.unsqueeze(y, channel_major=True)),
          "squeeze-block-column-major": (_transposed(im.squeeze), _transposed(im.unsqueeze))}


def _judge(ask, got, want, given, direction, what, hint=""):
    """``got`` is the reference ``want``, or a catalogued mistake's model of it (charged once per item)."""
    if close(got, want, atol=1e-6):
        return
    for mistake_id, model in MODELS.items():
        if got.shape == want.shape and close(got, model[direction](given), atol=1e-6):
            charge(ask, mistake_id)
            return  # follow through: the charged mistake's model
    require(False, what + first_difference(got, want, atol=1e-6, hidden=True) + hint)


def check_order(ask, ref):
    """forward puts every entry where the notes' figure puts it."""
    y = ask_or_fail(ask, REQUESTS["forward"])
    require(y.shape == ref["forward"].shape, f"forward of a [2, 4, 6, 3] batch has shape {list(y.shape)}; "
                                             f"expected {list(ref['forward'].shape)}.")
    _judge(ask, y, ref["forward"], X, 0,
           "forward moves entries to the wrong places: ", ". Output channel k*C + c holds position k (row-major "
           "in the 2x2 block) of input channel c.")


def check_inverse_and_batches(ask, ref):
    """inverse on fresh tensors, two batch axes, and a zero log-det per image."""
    x = ask_or_fail(ask, REQUESTS["inverse"])
    _judge(ask, x, ref["inverse"], Y, 1, "inverse puts entries in the wrong places: ")
    y = ask_or_fail(ask, REQUESTS["forward_batch"])
    _judge(ask, y, ref["forward_batch"], X_BATCH, 0, "forward on a batch of shape [2, 3] of [4, 4, 2] images "
           "should squeeze each image (keep every leading batch axis, tf.shape(x)[:-3]): ")
    ldj = ask_or_fail(ask, REQUESTS["fldj"])
    require(np.allclose(ldj, 0.0) and ldj.size in (1, 2), "the log-det-Jacobian of squeeze is 0 (one value, or "
            f"one per image); got shape {list(ldj.shape)}.")


HIDDEN = {"squeeze_order": [check_order], "squeeze_inverse_and_batches": [check_inverse_and_batches]}
