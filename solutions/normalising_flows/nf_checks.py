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
"""
import numpy as np

from checks_core import (CheckFailure, QuestionError, as_array, ask_or_fail, autodiff_jacobian,  # noqa: F401
                         catalogued, close, describe, entry_points, first_difference, fresh, lookup,
                         min_event_ndims, quiet, require, rng, run_checks, shape_list, student_error_message,
                         tf_modules)


#: The catalogue of common mistakes. Each entry: the graded item, how the checks recognise it, what the
#: student is told, and where the notes explain it. The checks raise ``mistake(id)``; feedback and the
#: instructor report count them by id.
MISTAKES = {
    "shape-keeps-event-dims": dict(
        item="predicted_log_prob_shape", recognised="the prediction is the true shape plus the event size",
        message="your prediction keeps the event dimension. log_prob returns one number per event, so the "
                "event_shape of mvn3 is removed from the result",
        section="3. Distributions, the (sample_shape, batch_shape, event_shape) order"),
    "shape-is-input-shape": dict(
        item="predicted_log_prob_shape", recognised="the prediction equals test_pts.shape",
        message="your prediction is the shape of test_pts itself. Broadcast test_pts against batch_shape + "
                "event_shape of mvn3, then drop the event dimensions",
        section="3. Distributions, broadcasting in log_prob"),
    "shape-not-a-tuple": dict(
        item="predicted_log_prob_shape", recognised="the value is not a tuple of Python ints",
        message="write the prediction as a tuple of ints, e.g. (4, 2), not a list, a TensorShape or a tensor",
        section="Exercise 1"),
    "bernoulli-probs-of-zero": dict(
        item="independent_bernoulli", recognised="log_prob of each outcome x equals the reference at 1 - x",
        message="the probabilities are the wrong way round: 0.9, 0.7 and 0.5 are P(X_i = 0), but "
                "tfd.Bernoulli's `probs` is P(X_i = 1). Pass 1 - p (or use logits)",
        section="3. Distributions, the Independent distribution"),
    "bernoulli-missing-independent": dict(
        item="independent_bernoulli", recognised="batch_shape [3] and event_shape []",
        message="event_shape is [] but should be [3]: this is a batch of three separate Bernoullis. Wrap it in "
                "tfd.Independent so the three make one event",
        section="3. Distributions, the Independent distribution"),
    "mvn-sigma-as-cholesky": dict(
        item="mvn_transformed", recognised="log_prob matches N(mu, L L^T) with L = Sigma or its lower triangle",
        message="Sigma was passed where its Cholesky factor belongs, so the covariance is L L^T for the wrong L. "
                "Use scale_tril=tf.linalg.cholesky(Sigma)",
        section="3. Distributions, MultivariateNormalTriL"),
    "mvn-base-not-standard": dict(
        item="mvn_transformed", recognised="the base's log_prob differs from N(0, I) at the test points",
        message="the base distribution of `mvn_transformed` is not N(0, I): the exercise asks for a zero-mean, "
                "identity-covariance base, with mu and Sigma supplied by the bijector",
        section="Exercise 3"),
    "mvn-missing-shift": dict(
        item="mvn_transformed", recognised="log_prob matches N(0, Sigma) or N(-mu, Sigma)",
        message="the mean is wrong: after scaling by the Cholesky factor, shift by +mu (tfb.Shift(mu), applied "
                "after the scale: Chain([Shift(mu), ScaleMatvecTriL(L)]))",
        section="4. Bijectors, Chain and TransformedDistribution"),
    "mvn-not-transformed": dict(
        item="mvn_transformed", recognised="mvn_transformed is not a TransformedDistribution",
        message="`mvn_transformed` must be a tfd.TransformedDistribution (or a bijector called on the base "
                "distribution), not a ready-made Gaussian",
        section="4. Bijectors, TransformedDistribution"),
    "acl-logdet-ignores-mask": dict(
        item="affine_coupling_layer", recognised="the log-det equals the sum of log_scale over all D entries",
        message="the log-det ignores the mask: it sums log_scale over all D entries, but the entries with b = 1 "
                "pass through unchanged and contribute 0. Multiply log_scale by (1 - b) before summing",
        section="5. NICE and RealNVP, masks instead of splits"),
    "acl-inverse-exp-sign": dict(
        item="affine_coupling_layer", recognised="inverse matches the formula with exp(+log_scale)",
        message="inverse multiplies by exp(+log_scale); undoing the forward scale needs exp(-log_scale)",
        section="5. NICE and RealNVP, equation (8)"),
    "acl-inverse-unmasked-input": dict(
        item="affine_coupling_layer", recognised="inverse matches the formula with the network fed y, not b*y",
        message="inverse feeds the unmasked input to the network: call shift_and_log_scale_fn(b * y), as in "
                "forward, so it sees the same values",
        section="5. NICE and RealNVP, masks instead of splits"),
    "acl-logdet-batch-sum": dict(
        item="affine_coupling_layer", recognised="the log-det is one number (or the batch total for every example)",
        message="the log-det is summed over the batch axis: there should be one value per example. Sum "
                "log_scale over the last axis only (axis=-1)",
        section="6. Subclassing bijectors, forward_min_event_ndims"),
    "acl-swapped-convention": dict(
        item="affine_coupling_layer", recognised="forward matches the inverse formula (and vice versa)",
        message="forward computes the inverse map: in TFP, forward samples (latent to data), so it multiplies "
                "by exp(+log_scale) and adds the shift; the papers' encoding direction is the bijector's inverse",
        section="5. NICE and RealNVP, direction"),
    "acl-inverted-mask": dict(
        item="affine_coupling_layer", recognised="forward matches the formula with the mask 1 - b",
        message="the mask is used the other way round: entries with b = 1 must pass through unchanged, and the "
                "entries with b = 0 are scaled and shifted",
        section="Exercise 4"),
    "acl-min-event-ndims": dict(
        item="affine_coupling_layer", recognised="forward_min_event_ndims is not 1",
        message="pass forward_min_event_ndims=1 to super().__init__: the layer acts on vectors, so one event is "
                "the last axis",
        section="6. Subclassing bijectors"),
    "acl-returns-numpy": dict(
        item="affine_coupling_layer", recognised="forward or inverse returns a NumPy array",
        message="the layer returns NumPy arrays; return tf tensors (use tf ops, not np, inside the hooks), or "
                "gradients cannot flow and the flow cannot be trained",
        section="6. Subclassing bijectors"),
    "ldj-sign": dict(
        item="log_det_jacobians", recognised="neg_ildj equals +inverse_log_det_jacobian(forward(x))",
        message="neg_ildj has the wrong sign: negate inverse_log_det_jacobian",
        section="Exercise 5"),
    "ldj-at-x": dict(
        item="log_det_jacobians", recognised="neg_ildj equals -inverse_log_det_jacobian(x) for a bijector where it matters",
        message="neg_ildj is evaluated at x; evaluate inverse_log_det_jacobian at the point forward(x)",
        section="Exercise 5"),
    "bimodal-batch-not-mixture": dict(
        item="bimodal_base_distribution", recognised="batch_shape [2] and event_shape [2]",
        message="this is a batch of two Gaussians, not one distribution with two modes. Combine them with "
                "tfd.MixtureSameFamily (a Categorical over the two components)",
        section="Exercise 6"),
    "bimodal-one-mode": dict(
        item="bimodal_base_distribution", recognised="the density on a grid has fewer than two clear peaks",
        message="the density has only one clear mode; place two components far enough apart (relative to their "
                "scales) that the density dips between them",
        section="Exercise 6"),
}


def mistake(mistake_id, detail=""):
    """A CheckFailure for one of this assignment's catalogued mistakes."""
    return catalogued(MISTAKES, mistake_id, detail)


# --------------------------------------------------------------------------------------------
# The question protocol
# --------------------------------------------------------------------------------------------
def conditioner_from_spec(spec):
    """The grader-chosen, deterministic shift_and_log_scale_fn: a one-hidden-layer tanh network.

    ``h = tanh(x W1 + b1)``, ``shift = h Ws + bs``, ``log_scale = tanh(h Wl + bl)``.
    """
    tf, _ = tf_modules()
    w = {k: tf.constant(np.asarray(v, dtype="float32")) for k, v in spec["weights"].items()}

    def shift_and_log_scale_fn(x):
        h = tf.tanh(tf.matmul(x, w["W1"]) + w["b1"])
        return tf.matmul(h, w["Ws"]) + w["bs"], tf.tanh(tf.matmul(h, w["Wl"]) + w["bl"])

    return shift_and_log_scale_fn


def _build_bijector(ns, spec):
    """A bijector described by ``spec``: the student's coupling layer or a TFP one the grader picks."""
    tf, tfp = tf_modules()
    tfb = tfp.bijectors
    kind = spec["kind"]
    if kind == "coupling":
        cls = lookup(ns, spec.get("class", "AffineCouplingLayer"))
        if not (isinstance(cls, type) and issubclass(cls, tfb.Bijector)):
            raise QuestionError("`AffineCouplingLayer` must be a class that subclasses tfb.Bijector.")
        try:
            return cls(conditioner_from_spec(spec), np.asarray(spec["mask"], dtype="float32"))
        except Exception as e:
            raise QuestionError("AffineCouplingLayer(shift_and_log_scale_fn, mask) failed: "
                                + student_error_message(e)) from None
    if kind == "chain":
        return tfb.Chain([_build_bijector(ns, s) for s in spec["bijectors"]])
    if kind == "scale_tril":
        return tfb.ScaleMatvecTriL(scale_tril=np.asarray(spec["scale_tril"], dtype="float32"))
    if kind == "shift_softplus":
        return tfb.Chain([tfb.Shift(np.asarray(spec["shift"], dtype="float32")), tfb.Softplus()])
    raise QuestionError(f"unknown bijector kind {kind!r}")


def answer(ns, request):
    """Answer one request about the student's objects in ``ns``. Raises QuestionError."""
    op = request["op"]
    tf, tfp = tf_modules()
    if op == "describe":
        return describe(lookup(ns, request["name"]))
    if op in ("log_prob", "prob"):
        dist = lookup(ns, request["name"])
        fn = getattr(dist, op, None)
        if fn is None:
            raise QuestionError(f"`{request['name']}` has no {op} method; is it a tfd.Distribution?")
        x = fresh(tf, request["x"], request.get("dtype", "float32"))
        return as_array(fn(x), f"{request['name']}.{op}")
    if op == "sample":
        dist = lookup(ns, request["name"])
        seed = tf.constant([request.get("seed", 0), 0], dtype=tf.int32)  # stateless: same draws every time
        return as_array(dist.sample(request["n"], seed=seed), f"{request['name']}.sample")
    if op == "bijector":
        bij = _build_bijector(ns, request["spec"])
        x = fresh(tf, request["x"])
        method = request["method"]
        if method == "forward":
            return as_array(bij.forward(x), "forward")
        if method == "inverse":
            return as_array(bij.inverse(x), "inverse")
        if method == "fldj":
            return as_array(bij.forward_log_det_jacobian(x, event_ndims=1), "forward_log_det_jacobian")
        if method == "ildj":
            return as_array(bij.inverse_log_det_jacobian(x, event_ndims=1), "inverse_log_det_jacobian")
        if method == "jacobian":  # d forward / d x for each example, by autodiff: [N, D, D]
            return autodiff_jacobian(tf, bij.forward, x)
        if method == "flow_log_prob":  # log_prob under TransformedDistribution(N(0, I), bijector)
            d = int(np.shape(request["x"])[-1])
            base = tfp.distributions.MultivariateNormalDiag(loc=tf.zeros(d))
            flow = tfp.distributions.TransformedDistribution(base, bij)
            return as_array(flow.log_prob(x), "TransformedDistribution.log_prob")
        if method == "describe":
            y = bij.forward(x)
            returns = "tensor" if tf.is_tensor(y) else type(y).__name__
            return {"forward_min_event_ndims": min_event_ndims(bij), "type": type(bij).__name__,
                    "returns": returns}
        raise QuestionError(f"unknown bijector method {method!r}")
    if op == "log_det_jacobians":
        fn = lookup(ns, request.get("name", "log_det_jacobians"))
        if not callable(fn):
            raise QuestionError("`log_det_jacobians` must be a function log_det_jacobians(bijector, x).")
        bij = _build_bijector(ns, request["spec"])
        out = fn(bij, fresh(tf, request["x"]))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise QuestionError("log_det_jacobians(bijector, x) must return a pair (fldj, neg_ildj), "
                                f"but it returned {type(out).__name__}.")
        return [as_array(out[0], "fldj"), as_array(out[1], "neg_ildj")]
    raise QuestionError(f"unknown request {op!r}")


# --------------------------------------------------------------------------------------------
# Small helpers for writing checks
# --------------------------------------------------------------------------------------------
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
    if info["type"] != "tuple" or not all(t == "int" for t in info["item_types"]):
        raise mistake("shape-not-a-tuple", f"`predicted_log_prob_shape` is a {info['type']}"
                      + (f" of {info['item_types']}" if info.get("item_types") else ""))
    require(all(v >= 0 for v in info["value"]), "shape entries cannot be negative.")


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
    info = require_distribution(ask, "mvn_transformed", [2])
    if info["type"] != "TransformedDistribution":
        raise mistake("mvn-not-transformed", f"it is a {info['type']}")
    require_distribution(ask, "mvn_transformed.distribution", [2],
                         hint_event=": the base must be a distribution over R^2 (e.g. tfd.Sample or "
                                    "MultivariateNormalDiag).")


def check_mvn_agree(ask):
    """The two representations give the same log_prob on fresh points."""
    x = rng(3).normal(size=(10, 2)) * 2.0
    a = ask_or_fail(ask, {"op": "log_prob", "name": "mvn_tril", "x": x})
    b = ask_or_fail(ask, {"op": "log_prob", "name": "mvn_transformed", "x": x})
    require(a.shape == (10,) and b.shape == (10,),
            f"log_prob of 10 points should have shape [10]; got {list(a.shape)} and {list(b.shape)}.")
    require(close(a, b), "the two distributions disagree: " + first_difference(b, a)
            + ". Check that the bijector applies the same scale_tril as mvn_tril, then shifts by mu.")


def _coupling_spec(d, mask, seed, hidden=8):
    r = rng(seed)
    return {"kind": "coupling", "mask": [float(m) for m in mask], "weights": {
        "W1": r.normal(size=(d, hidden)) * 0.8, "b1": r.normal(size=hidden) * 0.3,
        "Ws": r.normal(size=(hidden, d)) * 0.8, "bs": r.normal(size=d) * 0.3,
        "Wl": r.normal(size=(hidden, d)) * 0.8, "bl": r.normal(size=d) * 0.3}}


VISIBLE_COUPLING_CASES = ((2, (1, 0), 11), (5, (0, 1, 1, 0, 1), 12))


def check_coupling_contract(ask):
    """Shapes, pass-through, invertibility on fresh tensors, per-example log-dets that match autodiff."""
    for d, mask, seed in VISIBLE_COUPLING_CASES:
        spec = _coupling_spec(d, mask, seed)
        x = rng(seed + 100).normal(size=(7, d))
        where = f"(D={d}, mask={list(mask)})"
        info = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "describe", "x": x})
        if info["forward_min_event_ndims"] != 1:
            raise mistake("acl-min-event-ndims", f"it is {info['forward_min_event_ndims']}")
        if info["returns"] != "tensor":
            raise mistake("acl-returns-numpy", f"forward returned a {info['returns']}")
        y = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "forward", "x": x})
        require(y.shape == x.shape, f"forward of a [7, {d}] batch returned shape {list(y.shape)} {where}.")
        require(np.all(np.isfinite(y)), f"forward returned non-finite values {where}.")
        b = np.asarray(mask, dtype=bool)
        require(np.allclose(y[:, b], x[:, b], atol=1e-6),
                f"forward changed entries where the mask is 1 {where}; those must pass through unchanged.")
        require(not np.allclose(y[:, ~b], x[:, ~b]),
                f"forward left the entries where the mask is 0 unchanged {where}; they should be scaled and shifted.")
        x_back = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "inverse", "x": y})
        require(close(x_back, x, atol=1e-4),
                f"inverse(forward(x)) is not x on a fresh tensor {where}: " + first_difference(x_back, x)
                + ". Check the inverse formula: subtract the shift, then multiply by exp(-log_scale), "
                  "with the network fed b*y.")
        fldj = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "fldj", "x": x})
        if fldj.shape != (7,):
            raise mistake("acl-logdet-batch-sum", f"forward_log_det_jacobian of a batch of 7 has shape "
                                                  f"{list(fldj.shape)}, not [7]")
        require(np.all(np.isfinite(fldj)), f"forward_log_det_jacobian is not finite {where}.")
        ildj = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "ildj", "x": y})
        require(ildj.shape == (7,), f"inverse_log_det_jacobian has shape {list(ildj.shape)}; expected [7].")
        require(close(fldj, -ildj),
                f"forward_log_det_jacobian(x) should equal -inverse_log_det_jacobian(forward(x)) {where}: "
                + first_difference(fldj, -ildj))
        jac = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "jacobian", "x": x})
        logdet = np.linalg.slogdet(jac)[1]
        require(close(fldj, logdet, atol=1e-3),
                f"forward_log_det_jacobian disagrees with log|det J| of forward's Jacobian, computed by autodiff "
                f"{where}: " + first_difference(fldj, logdet, atol=1e-3) + ". Only the entries with b = 0 are "
                "scaled, and forward scales them by exp(+log_scale).")


def check_log_det_jacobians_visible(ask):
    """On your own layer, log_det_jacobians returns two equal per-example arrays."""
    d, mask, seed = VISIBLE_COUPLING_CASES[1]
    x = rng(21).normal(size=(6, d))
    fldj, neg_ildj = ask_or_fail(ask, {"op": "log_det_jacobians", "spec": _coupling_spec(d, mask, seed), "x": x})
    require(fldj.shape == (6,) and neg_ildj.shape == (6,),
            f"both arrays should have shape [6] for 6 examples; got {list(fldj.shape)} and {list(neg_ildj.shape)}.")
    if close(fldj, -neg_ildj) and not close(fldj, neg_ildj):
        raise mistake("ldj-sign")
    require(close(fldj, neg_ildj),
            "fldj and neg_ildj differ: " + first_difference(neg_ildj, fldj)
            + ". neg_ildj is -bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=1).")


def check_bimodal_shapes(ask):
    """`bimodal_base_distribution` is one distribution on R^2 with finite log_prob."""
    require_distribution(ask, "bimodal_base_distribution", [2], [],
                         hint_event=": the base must be a distribution over 2-D points.")
    info = ask_or_fail(ask, {"op": "describe", "name": "bimodal_base_distribution"})
    require(info["batch_shape"] == [], "batch_shape should be []")
    lp = ask_or_fail(ask, {"op": "log_prob", "name": "bimodal_base_distribution", "x": np.zeros((4, 2))})
    require(lp.shape == (4,) and np.all(np.isfinite(lp)),
            f"log_prob of 4 points should be 4 finite numbers; got shape {list(lp.shape)}.")


#: test-cell grade_id -> the visible checks that cell runs
VISIBLE = {
    "predicted_log_prob_shape_form": [check_predicted_shape_form],
    "independent_bernoulli_shapes": [check_bernoulli_shapes],
    "independent_bernoulli_log_prob": [check_bernoulli_log_prob],
    "mvn_transformed_types": [check_mvn_types],
    "mvn_transformed_agree": [check_mvn_agree],
    "affine_coupling_layer_contract": [check_coupling_contract],
    "log_det_jacobians_visible": [check_log_det_jacobians_visible],
    "bimodal_base_distribution_shapes": [check_bimodal_shapes],
}

local_asker, check = entry_points(VISIBLE, answer)
