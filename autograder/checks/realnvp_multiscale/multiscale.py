"""Hidden checks of ``MultiscaleRealNVP``: latents and log-det against the reference, and the total log-det
against the determinant of an autodiff Jacobian.

``multiscale`` is a composed item, graded on the grader's own parts wherever the student's fail their own
checks: ``ask_for_item`` (which ``checks.run_test_cell`` applies to every check of this item, visible ones
included) has the worker answer each request of this item in a copy of the student's namespace where the
grader's part (``parts.py``) replaces the student's under its name and its aliases, and where the cell defining
the flow has run again, so its default arguments and closures hold the grader's parts too. So a mistake in a mask, Squeeze or the coupling layer costs points in its own item
only, and these checks still judge the student's own multiscale code.
"""
from pathlib import Path

import numpy as np
from ms_checks import MULTISCALE_SPEC, CheckFailure, ask_or_fail, close, first_difference, mistake, require, rng

from autograder import checks

from . import ASSIGNMENT, charge

X = rng(101).normal(size=(3, 8, 8, 1))
Z = rng(102).normal(size=(3, 64))
TINY = {"kind": "multiscale", "shape": [4, 4, 1], "seed": 103}
X_TINY = rng(104).normal(size=(2, 4, 4, 1))
REQUESTS = {
    "forward": {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "forward", "x": X},
    "inverse": {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "inverse", "x": Z},
    "fldj": {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "fldj", "x": X},
}

#: Each part of the flow, by its name in the notebook -> the item whose checks judge the student's version.
PARTS = {"checkerboard_mask": "checkerboard_mask", "channel_mask": "channel_mask", "Squeeze": "squeeze",
         "ImageAffineCouplingLayer": "image_coupling"}
#: The composed item: the worker runs the cell that defines it again with the grader's parts bound, so aliases,
#: default arguments and closures made there reach the grader's parts too (``ms_checks._with_parts``).
COMPOSED = "MultiscaleRealNVP"
#: The grader's parts, as text: sent to the worker in the requests that need them, never shipped.
PARTS_SOURCE = Path(__file__).with_name("parts.py").read_text()


def failing_parts(ask, reference):
    """The names of the student's parts that fail any check of their own item (those verdicts are the ones
    the grader gave the part's own cells: ``run_test_cell`` keeps them per ``ask``)."""
    cells = checks.graded_test_cells(ASSIGNMENT)
    names = []
    for name, item in PARTS.items():
        for test_id in [t for t, i in cells if i == item]:
            try:
                checks.run_test_cell(ASSIGNMENT, test_id, ask, reference)
            except CheckFailure:
                names.append(name)
                break
    return names


def ask_for_item(ask, reference):
    """``ask`` for the checks of this item: with the grader's parts bound in place of the student's failing ones.

    One per student's ``ask``, sharing its memory (``checks.run_test_cell`` keeps the verdicts and notes there),
    so whichever of the two ran a check, its verdict and its note are the student's."""
    kept = getattr(ask, "__dict__", {})
    if "multiscale_ask" not in kept:
        names = failing_parts(ask, reference)
        parts = {"source": PARTS_SOURCE, "names": names, "composed": COMPOSED}

        def with_parts(request):
            return ask({**request, "parts": parts} if names else request)
        with_parts.__dict__ = kept
        kept["multiscale_ask"] = with_parts
        if names:
            note = ("graded with the grader's own " + ", ".join(f"`{n}`" for n in names) + " in place of yours, "
                    "which fails its own checks (a part's mistake costs points in its own item only)")
            for test_id, item in checks.graded_test_cells(ASSIGNMENT):
                if item == "multiscale":
                    checks._notes(ask).setdefault(test_id, note)
    return kept["multiscale_ask"]


def _same_values(z, want):
    """Each image's latents are the reference ones, in some other arrangement (same multiset of values)."""
    n = want.shape[0]
    return z.size == want.size and close(np.sort(z.reshape(n, -1), axis=1), np.sort(want, axis=1), atol=1e-4)


def check_reference(ask, ref):
    """The latents of three images, the inverse of three latents, and the log-det, against the reference."""
    z, want = ask_or_fail(ask, REQUESTS["forward"]), ref["forward"]
    if z.shape != want.shape:
        if not _same_values(z, want):
            raise mistake("multiscale-latent-not-flat", f"got shape {list(z.shape)}")
        charge(ask, "multiscale-latent-not-flat", f"got shape {list(z.shape)}")
        # follow through: the values are right, only not flattened (charged in multiscale_visible)
    else:
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
