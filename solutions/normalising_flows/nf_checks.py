"""Self-checks for the normalising flows assignment.

This file ships with the student release and needs nothing but TensorFlow, TFP and numpy: no
grader files, no network. It has two parts.

* ``answer(namespace, request)``: the narrow question protocol. A *request* is a small dict
  ("what is the event_shape of X", "call forward on this array"); the answer is built from plain
  Python values and numpy arrays only. The autograder asks the same questions of a worker process
  that holds the student's objects, so every check is written against ``ask(request)`` and never
  touches a student object directly.
* ``check(test_id)``: runs the visible checks of one test cell on the caller's variables and says,
  in words, what is wrong. A failing check raises ``CheckFailure`` (an ``AssertionError``), so
  nbgrader marks the cell as failed.

The visible checks are here; the modules next to it hold the rest, and this one re-exports their names: the
mistake catalogue (``nf_mistakes``), the coupling layer's maths in float64 (``nf_coupling``), the question
protocol (``nf_answers``) and what both assignments share (``checks_core``).
"""
import numpy as np

from checks_core import (CheckFailure, QuestionError, as_array, ask_or_fail, autodiff_jacobian,  # noqa: F401
                         bijector_answer, catalogued, clean_error_text, close, describe, entry_points,
                         first_difference, fresh, lookup, min_event_ndims, quiet, require, rng, run_checks,
                         shape_list, student_error_message, tf_modules, with_section, without_unit_axes)
from nf_answers import (  # noqa: F401 (re-exported: the hidden checks and the tests import them from here)
    MASK_FORMS, answer, conditioner_from_spec, flow_log_prob)
from nf_coupling import (  # noqa: F401
    COUPLING_HINTS, COUPLING_MODELS, METHOD_NAMES, S_MAP_WORDS, S_MAPS, _coupling_spec, coupling_difference,
    coupling_maths, coupling_model, dense_conditioner, dense_weights, realnvp_spec, recognise_coupling)
from nf_mistakes import MISTAKES, mistake  # noqa: F401


# --------------------------------------------------------------------------------------------
# Small helpers for writing checks
# --------------------------------------------------------------------------------------------
def charged_by(ask, earlier_check):
    """The catalogued mistake an earlier visible check of the same exercise names (None if it passes or fails
    otherwise). A later check then judges the answer as the student meant it, so a mistake costs one check."""
    try:
        earlier_check(ask)
    except CheckFailure as e:
        return e.mistake
    return None


def require_distribution(ask, name, event_shape, batch_shape=(), hint_event=""):
    info = ask_or_fail(ask, {"op": "describe", "name": name})
    require(info["is_distribution"],
            f"`{name}` is a {info['type']}, but it should be a tfd.Distribution object.")
    require(info["event_shape"] == list(event_shape),
            f"`{name}`.event_shape is {info['event_shape']} but should be {list(event_shape)}{hint_event}")
    require(info["batch_shape"] == list(batch_shape),
            f"`{name}`.batch_shape is {info['batch_shape']} but should be {list(batch_shape)}.")
    return info


# --------------------------------------------------------------------------------------------
# Visible checks: what a student can verify without being given the answer
# --------------------------------------------------------------------------------------------
def check_predicted_shape_form(ask):
    """Your prediction is a tuple of non-negative ints (it is graded against the true shape later)."""
    info = ask_or_fail(ask, {"op": "describe", "name": "predicted_log_prob_shape"})
    if info["type"] != "tuple" or not all(info.get("items_integral") or [False]):
        raise mistake("shape-not-a-tuple", f"`predicted_log_prob_shape` is a {info['type']}"
                      + (f" of {info['item_types']}" if info.get("item_types") else ""))
    require(all(v >= 0 for v in info["ints"]), "shape entries cannot be negative.")


def check_bernoulli_shapes(ask):
    """`independent_bernoulli` is one distribution over a 3-vector: batch_shape [], event_shape [3]."""
    info = ask_or_fail(ask, {"op": "describe", "name": "independent_bernoulli"})
    require(info["is_distribution"], f"`independent_bernoulli` is a {info['type']}, not a tfd.Distribution.")
    if info["event_shape"] == [] and info["batch_shape"] == [3]:
        raise mistake("bernoulli-missing-independent")
    require_distribution(ask, "independent_bernoulli", [3], [])


def check_bernoulli_log_prob(ask):
    """log P(X = (1, 1, 1)) equals -4.199705, the value given in the exercise."""
    lp = ask_or_fail(ask, {"op": "log_prob", "name": "independent_bernoulli", "x": [1, 1, 1],
                           "dtype": "int32"})
    if charged_by(ask, check_bernoulli_shapes) == "bernoulli-missing-independent" and lp.shape == (3,):
        lp = lp.sum()  # the shapes check charged the missing Independent: judge the probabilities themselves
    lp = without_unit_axes(lp, ())  # a batch axis of size 1 is the shapes check's to charge
    require(lp.shape == (), f"log_prob([1, 1, 1]) has shape {list(lp.shape)}; it should be a scalar.")
    if abs(float(lp) - np.log(0.9 * 0.7 * 0.5)) < 1e-4:
        raise mistake("bernoulli-probs-of-zero", f"log_prob([1, 1, 1]) is {float(lp):.6f}, not -4.199705")
    if abs(float(lp) - (-4.199705)) > 1e-4:
        raise CheckFailure(
            f"log_prob([1, 1, 1]) is {float(lp):.6f} but should be -4.199705. Remember that the "
            "exercise gives P(X_i = 0); tfd.Bernoulli's `probs` is P(X_i = 1).")


def check_mvn_types(ask):
    """`mvn_tril` is a MultivariateNormalTriL, `mvn_transformed` a TransformedDistribution, both on R^2."""
    info = require_distribution(ask, "mvn_tril", [2])
    require(info["type"] == "MultivariateNormalTriL",
            f"`mvn_tril` is a {info['type']}; build it with tfd.MultivariateNormalTriL.")
    info = ask_or_fail(ask, {"op": "describe", "name": "mvn_transformed"})
    if info["type"] == "TransformedDistribution":
        base = ask_or_fail(ask, {"op": "describe", "name": "mvn_transformed.distribution"})
        if base["is_distribution"] and base["event_shape"] == [] and base["batch_shape"] == [2]:
            raise mistake("mvn-base-batch-of-scalars", f"the base is a {base['type']}")
    info = require_distribution(ask, "mvn_transformed", [2])
    if info["type"] != "TransformedDistribution":
        raise mistake("mvn-not-transformed", f"it is a {info['type']}")
    require_distribution(ask, "mvn_transformed.distribution", [2],
                         hint_event=": the base must be a distribution over R^2 (e.g. tfd.Sample or "
                                    "MultivariateNormalDiag).")


SIGMA = [[2.0, 1.0], [1.0, 2.0]]  # given in the exercise
MU = [0.5, -0.5]


def gaussian_log_pdf(x, mu, cov):
    """log N(x; mu, cov) in float64."""
    x, mu, cov = (np.asarray(a, dtype="float64") for a in (x, mu, cov))
    d = x - mu
    sol = np.linalg.solve(cov, d.T).T
    return -0.5 * (np.sum(d * sol, axis=-1) + np.linalg.slogdet(cov)[1] + len(mu) * np.log(2 * np.pi))


def mvn_mean_mistake(x, got, cov):
    """mvn-missing-shift, if ``got`` is the log_prob of a Gaussian with covariance ``cov`` and mean 0 or -mu."""
    for mean, how in ((np.zeros(2), "mean zero"), (-np.asarray(MU), "mean -mu")):
        if close(got, gaussian_log_pdf(x, mean, cov), atol=1e-3):
            return mistake("mvn-missing-shift", f"`mvn_transformed` has {how}")
    return None


def transformed_log_prob_request(ask, x):
    """mvn_transformed.log_prob at x; after the types check charged a base of two scalar normals, with the grader's
    own N(0, I) as the base, so the student's bijector is still judged (that mistake costs the types check only)."""
    standard = charged_by(ask, check_mvn_types) == "mvn-base-batch-of-scalars"
    return {"op": "log_prob", "name": "mvn_transformed", "x": x, "standard_base": standard}


def check_mvn_covariance(ask):
    """mvn_tril.covariance() is the exercise's Sigma = [[2, 1], [1, 2]]."""
    cov = ask_or_fail(ask, {"op": "moment", "name": "mvn_tril", "method": "covariance"})
    sigma = np.asarray(SIGMA)
    require(cov.shape == (2, 2), f"mvn_tril.covariance() has shape {list(cov.shape)}; expected [2, 2].")
    if close(cov, sigma, atol=1e-4):
        return
    lower = np.tril(sigma)
    if any(close(cov, a @ a.T, atol=1e-4) for a in (sigma, lower)):
        raise mistake("mvn-sigma-as-cholesky", "mvn_tril.covariance() is L L^T with L built from Sigma itself")
    raise CheckFailure("mvn_tril.covariance() is not Sigma = [[2, 1], [1, 2]]: " + first_difference(cov, sigma)
                       + ". scale_tril is the Cholesky factor L of Sigma, so that L L^T = Sigma.")


def check_mvn_agree(ask):
    """The two representations give the same log_prob on fresh points."""
    x = rng(3).normal(size=(10, 2)) * 2.0
    a = ask_or_fail(ask, {"op": "log_prob", "name": "mvn_tril", "x": x})
    b = ask_or_fail(ask, transformed_log_prob_request(ask, x))
    require(a.shape == (10,) and b.shape == (10,),
            f"log_prob of 10 points should have shape [10]; got {list(a.shape)} and {list(b.shape)}.")
    if close(a, b):
        return
    cov = ask_or_fail(ask, {"op": "moment", "name": "mvn_tril", "method": "covariance"})
    found = mvn_mean_mistake(x, b, cov) if cov.shape == (2, 2) else None
    if found is not None:
        raise found
    raise CheckFailure("the two distributions disagree: " + first_difference(b, a)
                       + ". Check that the bijector applies the same scale_tril as mvn_tril, then shifts by mu.")


VISIBLE_COUPLING_CASES = ((2, (1, 0), 11), (5, (0, 1, 1, 0, 1), 12))


def check_coupling_contract(ask):
    """The layer's interface, then forward, inverse and both log-dets on fresh tensors against the formulas of
    the exercise, for two masks. A catalogued mistake is named; it costs points in this check only."""
    for d, mask, seed in VISIBLE_COUPLING_CASES:
        spec = _coupling_spec(d, mask, seed)
        x, y = rng(seed + 100).normal(size=(7, d)), rng(seed + 200).normal(size=(7, d))
        where = f"D={d}, mask={list(mask)}"
        info = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "describe", "x": x})
        if info["forward_min_event_ndims"] != 1:
            raise mistake("acl-min-event-ndims", f"it is {info['forward_min_event_ndims']}")
        if info["returns"] != "tensor":
            raise mistake("acl-returns-numpy", f"forward returned a {info['returns']}")
        for method, arr in (("forward", x), ("inverse", y), ("fldj", x), ("ildj", y)):
            got = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": method, "x": arr})
            want = coupling_maths(method, spec, arr)
            if got.shape == want.shape and close(got, want, atol=1e-4):
                continue
            found = recognise_coupling(method, spec, arr, got)
            if found is not None:
                raise found
            raise CheckFailure(coupling_difference(method, got, want, arr, mask, where))


def check_log_det_jacobians_visible(ask):
    """neg_ildj comes from a call of inverse_log_det_jacobian (a stand-in bijector records the calls); on TFP's own
    RealNVP coupling layer the two per-example arrays are equal; on tfb.Sinh (not a coupling, so where the inverse
    log-det is evaluated matters) both equal sum log cosh(x)."""
    x = rng(21).normal(size=(6, 4))
    out = ask_or_fail(ask, {"op": "log_det_jacobians", "spec": {"kind": "recording"}, "x": x})
    if not any(c["method"] == "ildj" for c in out.get("calls") or []):
        raise mistake("ldj-fldj-twice", "inverse_log_det_jacobian was never called")
    out = ask_or_fail(ask, {"op": "log_det_jacobians", "spec": realnvp_spec(4, 2, 22), "x": x})
    fldj, neg_ildj = out["fldj"], out["neg_ildj"]
    require(fldj.shape == (6,) and neg_ildj.shape == (6,),
            f"both arrays should have shape [6] for 6 examples; got {list(fldj.shape)} and {list(neg_ildj.shape)}.")
    if close(fldj, -neg_ildj) and not close(fldj, neg_ildj):
        raise mistake("ldj-sign")
    require(close(fldj, neg_ildj),
            "fldj and neg_ildj differ: " + first_difference(neg_ildj, fldj)
            + ". neg_ildj is -bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=1).")
    # tfb.Sinh: y = sinh(x), so log|dy/dx| = log cosh(x); its inverse at a point u has log-det -log cosh(asinh u).
    out = ask_or_fail(ask, {"op": "log_det_jacobians", "spec": {"kind": "sinh"}, "x": x})
    want = np.sum(np.log(np.cosh(x)), axis=-1)
    require(close(out["fldj"], want), "for tfb.Sinh, fldj is not bijector.forward_log_det_jacobian(x, "
            "event_ndims=1) = sum log cosh(x): " + first_difference(out["fldj"], want) + ".")
    at_x = np.sum(np.log(np.cosh(np.arcsinh(x))), axis=-1)
    if close(out["neg_ildj"], at_x) and not close(at_x, want):
        raise mistake("ldj-at-x", "for tfb.Sinh")
    require(close(out["neg_ildj"], want), "for tfb.Sinh, neg_ildj differs from fldj: "
            + first_difference(out["neg_ildj"], want)
            + ". neg_ildj is -bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=1).")


def check_bimodal_shapes(ask):
    """`bimodal_base_distribution` is one distribution on R^2 with finite log_prob."""
    info = ask_or_fail(ask, {"op": "describe", "name": "bimodal_base_distribution"})
    if info["is_distribution"] and info.get("batch_shape") == [2] and info.get("event_shape") == [2]:
        raise mistake("bimodal-batch-not-mixture")
    require_distribution(ask, "bimodal_base_distribution", [2], [],
                         hint_event=": the base must be a distribution over 2-D points.")
    lp = ask_or_fail(ask, {"op": "log_prob", "name": "bimodal_base_distribution", "x": np.zeros((4, 2))})
    require(lp.shape == (4,) and np.all(np.isfinite(lp)),
            f"log_prob of 4 points should be 4 finite numbers; got shape {list(lp.shape)}.")


#: test-cell grade_id -> the visible checks that cell runs
VISIBLE = {
    "predicted_log_prob_shape_form": [check_predicted_shape_form],
    "independent_bernoulli_shapes": [check_bernoulli_shapes],
    "independent_bernoulli_log_prob": [check_bernoulli_log_prob],
    "mvn_transformed_types": [check_mvn_types],
    "mvn_transformed_agree": [check_mvn_covariance, check_mvn_agree],
    "affine_coupling_layer_contract": [check_coupling_contract],
    "log_det_jacobians_visible": [check_log_det_jacobians_visible],
    "bimodal_base_distribution_shapes": [check_bimodal_shapes],
}

#: exercise -> the section of the notes a failed check points to (a catalogued mistake names its own)
SECTIONS = {
    "predicted_log_prob_shape": "3. Distributions, the (sample_shape, batch_shape, event_shape) order",
    "independent_bernoulli": "3. Distributions, the Independent distribution",
    "mvn_transformed": "4. Bijectors, TransformedDistribution",
    "affine_coupling_layer": "5. NICE and RealNVP, and 6. Subclassing bijectors",
    "log_det_jacobians": "Exercise 5",
    "bimodal_base_distribution": "Exercise 6",
}

local_asker, check = entry_points(VISIBLE, answer, SECTIONS)


if __name__ == "__main__":  # python -m nf_checks NOTEBOOK.ipynb: the visible checks, without the training cells
    import sys

    from checks_core import main
    sys.exit(main(sys.argv[1:], sys.modules[__name__]))
