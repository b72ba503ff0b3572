"""Hidden checks of ``MultiscaleRealNVP``: latents and log-det against the reference, and the total log-det
against the determinant of an autodiff Jacobian."""
import numpy as np
from ms_checks import (
    MULTISCALE_SPEC,
    CheckFailure,
    ask_or_fail,
    blame_part,
    close,
    first_difference,
    mistake,
    require,
    rng,
)

from autograder import checks, reference

X = rng(101).normal(size=(3, 8, 8, 1))
Z = rng(102).normal(size=(3, 64))
TINY = {"kind": "multiscale", "shape": [4, 4, 1], "seed": 103}
X_TINY = rng(104).normal(size=(2, 4, 4, 1))
REQUESTS = {
    "forward": {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "forward", "x": X},
    "inverse": {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "inverse", "x": Z},
    "fldj": {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "fldj", "x": X},
}


ASSIGNMENT = "realnvp_multiscale"


def _hidden_failure(ask, part):
    """The first failure of the hidden checks of the item that defines ``part`` (None if they all pass)."""
    item = {"checkerboard_mask": "checkerboard_mask", "channel_mask": "channel_mask", "Squeeze": "squeeze",
            "ImageAffineCouplingLayer": "image_coupling"}[part]
    values = reference.load_reference(ASSIGNMENT)
    for test_id, (owner, _) in checks.hidden_checks(ASSIGNMENT).items():
        if owner != item:
            continue
        try:
            checks.run_test_cell(ASSIGNMENT, test_id, ask, values)
        except CheckFailure as e:
            return str(e).split(". See the notes")[0].rstrip(".")
    return None


def naming_the_cause(check):
    """A multiscale check whose failures name the part (mask, squeeze, coupling) that causes them, if any."""
    def wrapped(ask, ref):
        try:
            check(ask, ref)
        except CheckFailure as e:
            raise blame_part(e, lambda name, cell: _hidden_failure(ask, name)) from None
    wrapped.__doc__, wrapped.__name__ = check.__doc__, check.__name__
    return wrapped


@naming_the_cause
def check_reference(ask, ref):
    """The latents of three images, the inverse of three latents, and the log-det, against the reference."""
    z, want = ask_or_fail(ask, REQUESTS["forward"]), ref["forward"]
    if z.shape != want.shape:
        raise mistake("multiscale-latent-not-flat", f"got shape {list(z.shape)}")
    half = want.shape[1] // 2
    if close(z, np.concatenate([want[:, half:], want[:, :half]], axis=1), atol=1e-4):
        raise mistake("multiscale-latents-swapped")
    require(close(z, want, atol=1e-4), "the latents differ from the reference: "
            + first_difference(z, want, atol=1e-4, hidden=True)
            + ". Check the order of the layers, the masks at each scale, and which half is factored out.")
    x = ask_or_fail(ask, REQUESTS["inverse"])
    require(close(x, ref["inverse"], atol=1e-4), "inverse differs from the reference: "
            + first_difference(x, ref["inverse"], atol=1e-4, hidden=True))
    fldj = ask_or_fail(ask, REQUESTS["fldj"])
    require(close(fldj, ref["fldj"], atol=1e-3), "the total log-det differs from the reference: "
            + first_difference(fldj, ref["fldj"], atol=1e-3, hidden=True)
            + ". Add up the log-dets of all ten couplings, each at its own input (squeeze adds 0).")


@naming_the_cause
def check_jacobian(ask, ref):
    """On 4x4x1 images, the total log-det equals log|det J| of the autodiff Jacobian of forward."""
    fldj = ask_or_fail(ask, {"op": "bijector", "spec": TINY, "method": "fldj", "x": X_TINY})
    jac = ask_or_fail(ask, {"op": "bijector", "spec": TINY, "method": "jacobian", "x": X_TINY})
    require(jac.shape == (2, 16, 16), f"forward of [2, 4, 4, 1] images should give [2, 16] latents (the Jacobian "
                                      f"is {list(jac.shape[1:])}).")
    logdet = np.linalg.slogdet(jac)[1]
    require(close(fldj, logdet, atol=1e-3), "forward_log_det_jacobian disagrees with log|det J| of forward's "
            "Jacobian, computed by autodiff: " + first_difference(fldj, logdet, atol=1e-3))


HIDDEN = {"multiscale_reference": [check_reference], "multiscale_jacobian": [check_jacobian]}
