"""Exercise 5: log_det_jacobians(bijector, x) -> (fldj, neg_ildj), on bijectors the grader builds itself.

Never on the student's AffineCouplingLayer, so a mistake in exercise 4 costs nothing here: TFP's fixed
bijectors, TFP's own RealNVP coupling layer, and a stand-in bijector that records its calls and bypasses TFP's
cache (so a function that returns fldj twice, or evaluates the inverse log-det at x, shows in the record).
"""
import numpy as np
from nf_checks import CheckFailure, ask_or_fail, close, first_difference, mistake, realnvp_spec, require

from autograder.checks import earlier_mistakes

#: Mistakes in neg_ildj that the visible check names: after one of them, only fldj is judged here.
NEG_ILDJ_MISTAKES = {"ldj-sign", "ldj-at-x"}

SPECS = {
    "scale_tril": {"kind": "scale_tril", "scale_tril": [[1.5, 0.0, 0.0], [0.3, 0.7, 0.0], [-1.0, 0.2, 2.0]]},
    "shift_softplus": {"kind": "shift_softplus", "shift": [0.5, -1.0, 2.0]},
    "realnvp": realnvp_spec(3, 1, 201),
}
NAMES = {"scale_tril": "tfb.ScaleMatvecTriL", "shift_softplus": "Shift(Softplus)", "realnvp": "tfb.RealNVP coupling",
         "recording": "stand-in y = sinh(x)"}
X = np.random.default_rng(202).normal(size=(7, 3))
REQUESTS = {name: {"op": "log_det_jacobians", "spec": spec, "x": X} for name, spec in SPECS.items()}
RECORDING_REQUEST = {"op": "log_det_jacobians", "spec": {"kind": "recording"}, "x": X}


def recording_values(x):
    """The stand-in's (fldj(x), -ildj(forward(x))) in float64: both sum log cosh x."""
    v = np.sum(np.log(np.cosh(x)), axis=-1)
    return v, v


def _compare(name, got, want_f, want_n, fldj_only=False):
    fldj, neg_ildj = got["fldj"], got["neg_ildj"]
    what = NAMES[name]
    require(fldj.shape == want_f.shape and neg_ildj.shape == want_n.shape,
            f"for a {what} bijector the two arrays have shapes {list(fldj.shape)} and {list(neg_ildj.shape)}; "
            f"expected {list(want_f.shape)} each (one per example: event_ndims=1).")
    if not close(fldj, want_f):
        if close(fldj, -want_f):
            raise CheckFailure(f"fldj has the wrong sign for a {what} bijector: it is "
                               "bijector.forward_log_det_jacobian(x, event_ndims=1), not its negative.")
        raise CheckFailure(f"fldj differs from bijector.forward_log_det_jacobian(x, event_ndims=1) for a {what} "
                           "bijector: " + first_difference(fldj, want_f, hidden=True) + ".")
    if fldj_only:
        return
    if close(neg_ildj, -want_n) and not close(neg_ildj, want_n):
        raise mistake("ldj-sign", f"for a {what} bijector")
    if not close(neg_ildj, want_n):
        raise mistake("ldj-at-x", f"for a {what} bijector")


def check_reference(ask, ref):
    """(fldj, neg_ildj) match the reference for three TFP bijectors, and come from the right calls. After a
    neg_ildj mistake named by the visible check, only fldj is judged (the mistake is not charged twice)."""
    fldj_only = bool(NEG_ILDJ_MISTAKES & set(earlier_mistakes(ask)))
    out = ask_or_fail(ask, RECORDING_REQUEST)
    calls = out.get("calls") or []
    ildj_calls = [c for c in calls if c["method"] == "ildj"]
    fldj_calls = [c for c in calls if c["method"] == "fldj"]
    if not ildj_calls and fldj_calls and close(out["neg_ildj"], out["fldj"]):
        raise mistake("ldj-fldj-twice")
    if fldj_only:
        ildj_calls = []
    at_x = [c for c in ildj_calls if c["x"] is not None and np.shape(c["x"]) == X.shape and close(c["x"], X)]
    if at_x and not close(out["neg_ildj"], recording_values(X)[1]):
        raise mistake("ldj-at-x", "for the grader's stand-in bijector, inverse_log_det_jacobian was called at x")
    _compare("recording", out, *recording_values(X), fldj_only)
    for name in SPECS:
        got = ask_or_fail(ask, REQUESTS[name])
        _compare(name, got, ref[name]["fldj"], ref[name]["neg_ildj"], fldj_only)


HIDDEN = {"log_det_jacobians_reference": [check_reference]}
