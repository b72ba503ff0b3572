"""Exercise 5: log_det_jacobians(bijector, x) -> (fldj, neg_ildj), on bijectors the grader builds itself.

Never on the student's AffineCouplingLayer, so a mistake in exercise 4 costs nothing here: TFP's fixed
bijectors, TFP's own RealNVP coupling layer, and a stand-in bijector that records its calls and bypasses TFP's
cache (so a function that returns fldj twice, or evaluates the inverse log-det at x, shows in the record).

After a mistake the visible check charged, each array is still judged: fldj must be right, and neg_ildj must be
right or what the charged mistake gives (``accepted_neg_ildj``), so a stub or a second mistake still fails.
"""
import numpy as np
from nf_checks import CheckFailure, ask_or_fail, close, first_difference, mistake, realnvp_spec, require

from autograder.checks import earlier_mistakes, followed_through

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
    """The stand-in's fldj(x), -ildj(forward(x)) and -ildj(x) in float64: the first two are sum log cosh x."""
    v = np.sum(np.log(np.cosh(x)), axis=-1)
    return v, v, 0.5 * np.sum(np.log1p(x * x), axis=-1)


def neg_ildj_at_x(name, want):
    """-ildj(x) in float64, what `ldj-at-x` gives. A triangular scale has a constant log-det, and a coupling layer's
    network sees the same masked half at x and at forward(x), so for those two it is the right value itself;
    Shift(Softplus) has -ildj(x) = log sigmoid(softplus^-1(x - shift)), NaN where x <= shift (as in TFP)."""
    if name != "shift_softplus":
        return want
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.log(np.expm1(X - np.asarray(SPECS[name]["shift"])))
        return np.sum(-np.logaddexp(0.0, -u), axis=-1)


def _same(got, want):
    """Equal values, with NaN where the maths gives NaN (a log-det evaluated where it is undefined)."""
    got, want = np.asarray(got, dtype="float64"), np.asarray(want, dtype="float64")
    return (got.shape == want.shape and np.array_equal(np.isnan(got), np.isnan(want))
            and bool(np.allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-4, atol=1e-4)))


def accepted_neg_ildj(want, at_x, charged):
    """{charged mistake or None: neg_ildj value}: the right value, and what each charged mistake gives."""
    out = {None: want}
    if "ldj-sign" in charged:
        out["ldj-sign"] = -want
    if "ldj-at-x" in charged:
        out["ldj-at-x"] = at_x
    return out


def _compare(ask, name, got, want_f, accepted):
    fldj, neg_ildj = got["fldj"], got["neg_ildj"]
    what = NAMES[name]
    require(fldj.shape == want_f.shape and neg_ildj.shape == want_f.shape,
            f"for a {what} bijector the two arrays have shapes {list(fldj.shape)} and {list(neg_ildj.shape)}; "
            f"expected {list(want_f.shape)} each (one per example: event_ndims=1).")
    if not close(fldj, want_f):
        if close(fldj, -want_f):
            raise CheckFailure(f"fldj has the wrong sign for a {what} bijector: it is "
                               "bijector.forward_log_det_jacobian(x, event_ndims=1), not its negative.")
        raise CheckFailure(f"fldj differs from bijector.forward_log_det_jacobian(x, event_ndims=1) for a {what} "
                           "bijector: " + first_difference(fldj, want_f, hidden=True) + ".")
    for charged, value in accepted.items():
        if close(neg_ildj, value) or (charged and _same(neg_ildj, value)):
            if charged:
                followed_through(ask, charged)
            return
    want = accepted[None]
    if close(neg_ildj, -want):
        raise mistake("ldj-sign", f"for a {what} bijector")
    raise mistake("ldj-at-x", f"for a {what} bijector")


def check_reference(ask, ref):
    """(fldj, neg_ildj) match the reference for three TFP bijectors, and come from the right calls. After a
    neg_ildj mistake named by the visible check, neg_ildj may be what that mistake gives, and nothing else."""
    charged = set(earlier_mistakes(ask))
    out = ask_or_fail(ask, RECORDING_REQUEST)
    calls = out.get("calls") or []
    ildj_calls = [c for c in calls if c["method"] == "ildj"]
    if not ildj_calls:
        if "ldj-fldj-twice" not in charged:
            raise mistake("ldj-fldj-twice", "the grader's stand-in bijector saw no inverse_log_det_jacobian call")
        followed_through(ask, "ldj-fldj-twice")
    want_f, want_n, at_x = recording_values(X)
    evaluated_at_x = [c for c in ildj_calls if c["x"] is not None and np.shape(c["x"]) == X.shape and close(c["x"], X)]
    if evaluated_at_x and not close(out["neg_ildj"], want_n) and "ldj-at-x" not in charged:
        raise mistake("ldj-at-x", "for the grader's stand-in bijector, inverse_log_det_jacobian was called at x")
    _compare(ask, "recording", out, want_f, accepted_neg_ildj(want_n, at_x, charged))
    for name in SPECS:
        got = ask_or_fail(ask, REQUESTS[name])
        want = ref[name]["neg_ildj"]
        _compare(ask, name, got, ref[name]["fldj"], accepted_neg_ildj(want, neg_ildj_at_x(name, want), charged))


HIDDEN = {"log_det_jacobians_reference": [check_reference]}
