"""Hidden checks of ``ImageAffineCouplingLayer`` with the grader's conditioner: forward, inverse, log-dets."""
import numpy as np
from ms_checks import ask_or_fail, close, coupling_spec, first_difference, require, rng

from . import charge
from . import image_math as im

MASKS = {"checkerboard": np.repeat(im.checkerboard(4, 6, 1), 3, axis=2),
         "channel": np.broadcast_to(im.channel(4, 0), (4, 6, 4)).copy()}
SPECS = {"checkerboard": coupling_spec(4, 6, 3, MASKS["checkerboard"], 91),
         "channel": coupling_spec(4, 6, 4, MASKS["channel"], 92)}
X = {"checkerboard": rng(93).normal(size=(3, 4, 6, 3)), "channel": rng(94).normal(size=(3, 4, 6, 4))}
REQUESTS = {f"{kind}_{method}": {"op": "bijector", "spec": SPECS[kind], "method": method, "x": X[kind]}
            for kind in SPECS for method in ("forward", "inverse", "fldj", "ildj")}


def check_forward_inverse(ask, ref):
    """forward and inverse (on fresh tensors) against the reference, for a checkerboard and a channel mask."""
    for kind in SPECS:
        for method in ("forward", "inverse"):
            got, want = ask_or_fail(ask, REQUESTS[f"{kind}_{method}"]), ref[f"{kind}_{method}"]
            require(close(got, want, atol=1e-4), f"{method} with a {kind} mask differs from the reference: "
                    + first_difference(got, want, atol=1e-4, hidden=True))


def check_log_det(ask, ref):
    """Both log-det-Jacobians against the reference, one value per image."""
    for kind in SPECS:
        mask, fn = MASKS[kind], im.conditioner(SPECS[kind]["channels"], SPECS[kind]["seed"])
        _, s = im.coupling(X[kind], mask, fn)  # X is also the ildj input, so s(b * x) serves both
        fldj, want = ask_or_fail(ask, REQUESTS[f"{kind}_fldj"]), ref[f"{kind}_fldj"]
        ildj, want_ildj = ask_or_fail(ask, REQUESTS[f"{kind}_ildj"]), ref[f"{kind}_ildj"]
        if fldj.shape == want.shape + X[kind].shape[1:3]:
            charge(ask, "image-coupling-logdet-last-axis")
            # follow through: the per-pixel sums over the channels, added up over the image
            fldj = fldj.sum(axis=(1, 2))
            ildj = ildj.sum(axis=(1, 2)) if ildj.shape == want.shape + X[kind].shape[1:3] else ildj
        if close(fldj, s.sum(axis=(1, 2, 3)), atol=1e-4) and not close(fldj, want, atol=1e-4):
            charge(ask, "image-coupling-logdet-ignores-mask")
            want, want_ildj = s.sum(axis=(1, 2, 3)), -s.sum(axis=(1, 2, 3))  # follow through: that mistake's model
        require(close(fldj, want, atol=1e-4), f"forward_log_det_jacobian with a {kind} mask differs from the "
                "reference: " + first_difference(fldj, want, atol=1e-4, hidden=True))
        require(close(ildj, want_ildj, atol=1e-4), f"inverse_log_det_jacobian with a {kind} mask differs from the "
                "reference: " + first_difference(ildj, want_ildj, atol=1e-4, hidden=True)
                + ". It is evaluated at y, through the network's output at b * y.")


HIDDEN = {"image_coupling_forward_inverse": [check_forward_inverse], "image_coupling_log_det": [check_log_det]}
