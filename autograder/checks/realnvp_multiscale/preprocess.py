"""Hidden checks of ``preprocess``: y and the log-det against reference values, with the classic omissions named."""
import numpy as np
from ms_checks import ask_or_fail, close, digits_like, first_difference, mistake, require

from . import image_math as im

PIXELS, NOISE = digits_like(71, n=3)
REQUESTS = {"values": {"op": "preprocess", "pixels": PIXELS, "noise": NOISE}}


def check_values(ask, ref):
    """y and log_det of three images against the reference."""
    y, log_det = ask_or_fail(ask, REQUESTS["values"])
    want_y, want_ld = ref["values"]
    require(close(y, want_y, atol=1e-4), "y differs from the reference: " + first_difference(y, want_y, hidden=True)
            + ". y = logit(alpha + (1 - 2 alpha) (pixel + noise) / 17).")
    if log_det.shape == PIXELS.shape:
        raise mistake("preprocess-logdet-not-summed")
    _, terms = im.preprocess(PIXELS, NOISE)
    per_image = {k: v.sum(axis=(1, 2, 3)) for k, v in terms.items()}
    pixels_per_image = PIXELS[0].size
    if any(close(log_det, v, atol=1e-3) for v in (want_ld + pixels_per_image * np.log(im.LEVELS),
                                                   want_ld - per_image["scale"])):
        raise mistake("preprocess-no-dequant-scale")
    if close(log_det, want_ld - per_image["logit"], atol=1e-3):
        raise mistake("preprocess-no-logit-term")
    require(close(log_det, want_ld, atol=1e-3), "log_det differs from the reference: "
            + first_difference(log_det, want_ld, atol=1e-3, hidden=True)
            + ". Add up log|dy/du| over the pixels of each image.")


HIDDEN = {"preprocess_reference": [check_values]}
