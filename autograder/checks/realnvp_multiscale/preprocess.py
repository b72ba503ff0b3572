"""Hidden checks of ``preprocess``: y and the log-det against reference values.

The visible check already judges the log-det against autodiff and names its catalogued mistakes; this check
follows through on them (``charge``), so a log-det mistake costs the visible check only, and y, which
it does not spoil, is still judged here.
"""
import numpy as np
from ms_checks import ask_or_fail, close, digits_like, first_difference, require

from . import charge
from . import image_math as im

PIXELS, NOISE = digits_like(71, n=3)
REQUESTS = {"values": {"op": "preprocess", "pixels": PIXELS, "noise": NOISE}}


def log_det_models(want_ld):
    """The log-det of three images as each catalogued log-det mistake of ``preprocess`` gives it."""
    _, terms = im.preprocess(PIXELS, NOISE)
    per_image = {k: v.sum(axis=(1, 2, 3)) for k, v in terms.items()}
    return {"preprocess-no-dequant-scale": (want_ld + PIXELS[0].size * np.log(im.LEVELS),  # no -log 17
                                            want_ld - per_image["scale"]),  # no log((1 - 2 alpha) / 17)
            "preprocess-no-logit-term": (want_ld - per_image["logit"],)}


def check_values(ask, ref):
    """y and log_det of three images against the reference."""
    y, log_det = ask_or_fail(ask, REQUESTS["values"])
    want_y, want_ld = ref["values"]
    require(close(y, want_y, atol=1e-4), "y differs from the reference: " + first_difference(y, want_y, hidden=True)
            + ". y = logit(alpha + (1 - 2 alpha) (pixel + noise) / 17).")
    if log_det.shape == PIXELS.shape:
        charge(ask, "preprocess-logdet-not-summed")
        log_det = log_det.sum(axis=(1, 2, 3))  # follow through: the per-pixel terms, summed as they should be
    if close(log_det, want_ld, atol=1e-3):
        return
    for mistake_id, models in log_det_models(want_ld).items():
        if any(close(log_det, m, atol=1e-3) for m in models):
            charge(ask, mistake_id)
            return
    require(False, "log_det differs from the reference: " + first_difference(log_det, want_ld, atol=1e-3, hidden=True)
            + ". Add up log|dy/du| over the pixels of each image.")


HIDDEN = {"preprocess_reference": [check_values]}
