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
                         bijector_answer, catalogued, clean_error_text, close, describe, entry_points,
                         first_difference, fresh, lookup, min_event_ndims, quiet, require, rng, run_checks,
                         shape_list, student_error_message, tf_modules, with_section, without_unit_axes)


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
        item="predicted_log_prob_shape", recognised="the value is not a tuple of ints",
        message="write the prediction as a tuple of ints, e.g. (4, 2), not a list, a TensorShape or a tensor "
                "(its value is graded separately)",
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
    "mvn-base-batch-of-scalars": dict(
        item="mvn_transformed", recognised="the base has batch_shape [2] and event_shape []",
        message="the base distribution is a batch of two scalar normals (event_shape []), not one distribution on "
                "R^2, so the bijector's 2-vectors have no event to act on. Use tfd.MultivariateNormalDiag("
                "loc=tf.zeros(2)), or tfd.Sample(tfd.Normal(0., 1.), sample_shape=2)",
        section="3. Distributions, the Independent distribution"),
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
        section="5. NICE and RealNVP, equation (15)"),
    "acl-inverse-unmasked-input": dict(
        item="affine_coupling_layer", recognised="inverse matches the formula with the network fed y, not b*y",
        message="inverse feeds the unmasked input to the network: call shift_and_log_scale_fn(b * y). The network "
                "must see only the entries that pass through unchanged, which are the same in x and y, so that "
                "inverse recovers the scale and shift forward used",
        section="5. NICE and RealNVP, masks instead of splits"),
    "acl-unmasked-conditioner": dict(
        item="affine_coupling_layer", recognised="forward matches the formula with the network fed x, not b*x "
                                                  "(and inverse with it fed y)",
        message="the network is fed the whole input instead of the masked one: call shift_and_log_scale_fn(b * x) "
                "in forward and shift_and_log_scale_fn(b * y) in inverse. Only the entries that pass through "
                "unchanged may condition the scale and shift, or inverse cannot recover the same scale and shift",
        section="5. NICE and RealNVP, masks instead of splits"),
    "acl-ildj-sign": dict(
        item="affine_coupling_layer", recognised="inverse_log_det_jacobian(y) equals +sum (1-b) s(b*y)",
        message="_inverse_log_det_jacobian has the wrong sign: the inverse map divides by exp(log_scale), so its "
                "log-det is -sum (1-b) * log_scale, the negative of the forward one at the same point",
        section="6. Subclassing bijectors"),
    "acl-logdet-batch-sum": dict(
        item="affine_coupling_layer", recognised="the log-det is one number (or the batch total for every example)",
        message="the log-det is summed over the batch axis: there should be one value per example. Sum "
                "log_scale over the last axis only (axis=-1)",
        section="6. Subclassing bijectors, forward_min_event_ndims"),
    "acl-swapped-convention": dict(
        item="affine_coupling_layer", recognised="forward matches the inverse formula (and vice versa)",
        message="forward and inverse are swapped: forward must compute equation (14), y = b*x + (1-b)*(x*exp(s) + t) "
                "(multiply by exp(+log_scale), then add the shift), and inverse must undo it with equation (15). In "
                "TFP, forward is the sampling direction (latent to data)",
        section="5. NICE and RealNVP, which formula is forward"),
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
    "acl-clips-log-scale": dict(
        item="affine_coupling_layer", recognised="forward matches the formula with log_scale clipped to [-1, 1] or "
                                                  "squashed by tanh, on a conditioner whose log-scales reach +-3",
        message="the layer clips or squashes the network's log_scale before using it. Use log_scale exactly as "
                "shift_and_log_scale_fn returns it: any limit on the scales belongs in the network (the notebook's "
                "network ends in tanh), not in the coupling layer",
        section="5. NICE and RealNVP, the affine coupling"),
    "acl-numpy-in-layer": dict(
        item="affine_coupling_layer", recognised="no gradient reaches the conditioner's weights through forward "
                                                  "or inverse, while the values are right",
        message="forward or inverse cuts the gradient to the network's weights: the values are right, but "
                "something in the way (a NumPy function such as np.exp, .numpy(), or tf.stop_gradient) keeps "
                "training from updating the network, and NumPy also fails inside tf.function. Use TensorFlow ops "
                "(tf.exp, ...) on tensors in every hook",
        section="6. Subclassing bijectors"),
    "acl-numpy-in-logdet": dict(
        item="affine_coupling_layer", recognised="no gradient reaches the conditioner's weights through the "
                                                  "log-det-Jacobians, while their values are right",
        message="the log-det-Jacobian is cut off from the network (.numpy(), a NumPy function, or "
                "tf.stop_gradient): its value is right, but training gets no gradient from it, and NumPy fails "
                "inside tf.function. Keep it a tensor expression, e.g. tf.reduce_sum((1 - b) * log_scale, axis=-1)",
        section="6. Subclassing bijectors"),
    "acl-stop-gradient-input": dict(
        item="affine_coupling_layer", recognised="the weights' gradients are right but the gradient with respect "
                                                  "to the input misses the path through the network",
        message="no gradient flows through the network's input (tf.stop_gradient, or a NumPy round trip, on b*x). "
                "In a chain of layers the earlier layers then learn from a wrong gradient: feed b*x to "
                "shift_and_log_scale_fn as a plain tensor",
        section="6. Subclassing bijectors"),
    "acl-fails-in-graph": dict(
        item="affine_coupling_layer", recognised="forward or log_prob raises inside tf.function with an unknown "
                                                  "batch size, while eager mode works",
        message="the layer works eagerly but fails inside tf.function, where the batch size is unknown (None) and "
                "tensors have no values yet. Keras' fit and any compiled training step run it that way: use "
                "tf.shape(x) instead of x.shape for sizes, and tensor ops instead of Python conditions on tensors",
        section="6. Subclassing bijectors"),
    "acl-mask-not-cast": dict(
        item="affine_coupling_layer", recognised="construction or forward fails for a mask given as a list, an "
                                                  "integer array or a tensor",
        message="the layer only works with a float32 NumPy mask. The contract allows a list, integer arrays and "
                "tensors too: convert it once in __init__ with self.b = tf.cast(mask, tf.float32)",
        section="Exercise 4"),
    "acl-kwargs-dropped": dict(
        item="affine_coupling_layer", recognised="AffineCouplingLayer(..., name=...) fails or ignores the name",
        message="__init__ must accept **kwargs and pass them on: super().__init__(forward_min_event_ndims=1, "
                "**kwargs). The flow names each layer with name=",
        section="6. Subclassing bijectors"),
    "acl-logdet-fixed-axis": dict(
        item="affine_coupling_layer", recognised="on a [3, 4, D] batch the log-det sums over axis 1 (or keeps the "
                                                  "wrong axes)",
        message="the log-det sums over a fixed axis (axis=1) instead of the last one: on a batch of rank 3 it "
                "adds up examples. Sum over axis=-1, the event axis, whatever the batch rank",
        section="6. Subclassing bijectors, forward_min_event_ndims"),
    "ldj-fldj-twice": dict(
        item="log_det_jacobians", recognised="neg_ildj was computed without calling inverse_log_det_jacobian",
        message="neg_ildj must come from the inverse map: -bijector.inverse_log_det_jacobian(bijector.forward(x), "
                "event_ndims=1). Built from forward_log_det_jacobian alone, the two numbers agree by construction "
                "and check nothing",
        section="Exercise 5"),
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
def dense_conditioner(weights, x, xp, bound=1.0):
    """The grader's shift_and_log_scale_fn, written once for TensorFlow (``xp=tf``) and numpy (``xp=np``).

    ``h = tanh(x W1 + b1)``, ``shift = h Ws + bs``, ``log_scale = bound * tanh(h Wl + bl)``: a one-hidden-layer
    tanh network whose log-scales lie in (-bound, bound). The grader's float64 maths calls this same function.
    """
    h = xp.tanh(xp.matmul(x, weights["W1"]) + weights["b1"])
    return (xp.matmul(h, weights["Ws"]) + weights["bs"],
            bound * xp.tanh(xp.matmul(h, weights["Wl"]) + weights["bl"]))


def conditioner_from_spec(spec, trainable=False):
    """The grader-chosen, deterministic shift_and_log_scale_fn of ``spec`` (``dense_conditioner``).

    With ``trainable`` the weights are tf.Variables, returned too: (fn, {name: variable}).
    """
    tf, _ = tf_modules()
    make = tf.Variable if trainable else tf.constant
    w = {k: make(np.asarray(v, dtype="float32")) for k, v in spec["weights"].items()}
    bound = float(spec.get("log_scale_bound", 1.0))

    def shift_and_log_scale_fn(x):
        return dense_conditioner(w, x, tf, bound)

    return (shift_and_log_scale_fn, w) if trainable else shift_and_log_scale_fn


#: The mask forms the contract allows, as the grader passes them to AffineCouplingLayer.
MASK_FORMS = {
    "float32": lambda tf, m: np.asarray(m, dtype="float32"),
    "float64": lambda tf, m: np.asarray(m, dtype="float64"),
    "int32": lambda tf, m: np.asarray(m, dtype="int32"),
    "int64": lambda tf, m: np.asarray(m, dtype="int64"),
    "list of ints": lambda tf, m: [int(v) for v in m],
    "list of floats": lambda tf, m: [float(v) for v in m],
    "float32 tensor": lambda tf, m: tf.constant(np.asarray(m, dtype="float32")),
    "int32 tensor": lambda tf, m: tf.constant(np.asarray(m, dtype="int32")),
}


def _coupling(ns, spec, fn):
    """The student's AffineCouplingLayer with the conditioner ``fn``, the mask in ``spec["mask_form"]`` and
    any keyword arguments in ``spec["kwargs"]`` (e.g. name=)."""
    tf, tfp = tf_modules()
    cls = lookup(ns, spec.get("class", "AffineCouplingLayer"))
    if not (isinstance(cls, type) and issubclass(cls, tfp.bijectors.Bijector)):
        raise QuestionError("`AffineCouplingLayer` must be a class that subclasses tfb.Bijector.")
    form = spec.get("mask_form", "float32")
    try:
        return cls(fn, MASK_FORMS[form](tf, spec["mask"]), **spec.get("kwargs", {}))
    except Exception as e:
        args = "".join(f", {k}={v!r}" for k, v in spec.get("kwargs", {}).items())
        raise QuestionError(f"AffineCouplingLayer(shift_and_log_scale_fn, mask{args}) with the mask given as "
                            f"{form} failed: " + student_error_message(e)) from None


def _recording_bijector():
    """A stand-in bijector, y = sinh(x) elementwise on vectors, that answers each public method itself.

    It bypasses TFP's cache (so ildj(forward(x)) is really computed) and records every call: the method, the
    input and event_ndims. The grader reads the record to see how log_det_jacobians used the bijector.
    """
    tf, tfp = tf_modules()

    class RecordingBijector(tfp.bijectors.Bijector):
        def __init__(self):
            super().__init__(forward_min_event_ndims=1, name="recording_sinh")
            self.calls = []

        def _record(self, method, x, event_ndims=None):
            x = tf.convert_to_tensor(x, dtype=tf.float32)
            value = x.numpy() if tf.executing_eagerly() else None
            nd = None
            if event_ndims is not None:
                try:
                    nd = int(event_ndims)
                except (TypeError, ValueError):
                    nd = -1
            self.calls.append({"method": method, "x": value, "event_ndims": nd})
            return x, (1 if event_ndims is None else event_ndims)

        def _sum_event(self, v, event_ndims):
            nd = int(event_ndims)
            return tf.reduce_sum(v, axis=list(range(-nd, 0))) if nd > 0 else v

        def forward(self, x, name=None, **kwargs):
            x, _ = self._record("forward", x)
            return tf.sinh(x)

        def inverse(self, y, name=None, **kwargs):
            y, _ = self._record("inverse", y)
            return tf.asinh(y)

        def forward_log_det_jacobian(self, x, event_ndims=None, name=None, **kwargs):
            x, nd = self._record("fldj", x, event_ndims)
            return self._sum_event(tf.math.log(tf.cosh(x)), nd)

        def inverse_log_det_jacobian(self, y, event_ndims=None, name=None, **kwargs):
            y, nd = self._record("ildj", y, event_ndims)
            return self._sum_event(-0.5 * tf.math.log1p(tf.square(y)), nd)

    return RecordingBijector()


def _build_bijector(ns, spec):
    """A bijector described by ``spec``: the student's coupling layer or one the grader builds itself."""
    tf, tfp = tf_modules()
    tfb = tfp.bijectors
    kind = spec["kind"]
    if kind == "coupling":
        return _coupling(ns, spec, conditioner_from_spec(spec))
    if kind == "chain":
        return tfb.Chain([_build_bijector(ns, s) for s in spec["bijectors"]])
    if kind == "scale_tril":
        return tfb.ScaleMatvecTriL(scale_tril=np.asarray(spec["scale_tril"], dtype="float32"))
    if kind == "shift_softplus":
        return tfb.Chain([tfb.Shift(np.asarray(spec["shift"], dtype="float32")), tfb.Softplus()])
    if kind == "realnvp":  # TFP's own coupling layer, with the grader's conditioner on the masked part
        fn = conditioner_from_spec(spec)
        return tfb.RealNVP(num_masked=spec["num_masked"], shift_and_log_scale_fn=lambda x0, units: fn(x0))
    if kind == "recording":
        return _recording_bijector()
    if kind == "sinh":
        return tfb.Sinh()
    raise QuestionError(f"unknown bijector kind {kind!r}")


def flow_log_prob(bij, x, event_ndims=None):
    """log_prob of x under TransformedDistribution(N(0, I), bij). With ``event_ndims`` (asked of a layer that
    declares another forward_min_event_ndims), composed at that rank: log N(inverse(x); 0, I) + ildj(x), with the
    log-dets of one example's entries added up."""
    tf, tfp = tf_modules()
    base = tfp.distributions.MultivariateNormalDiag(loc=tf.zeros(int(x.shape[-1])))
    if event_ndims is None:
        return tfp.distributions.TransformedDistribution(base, bij).log_prob(x)
    ildj = bij.inverse_log_det_jacobian(x, event_ndims=event_ndims)
    ildj = tf.reduce_sum(ildj, axis=tf.range(tf.rank(x) - 1, tf.rank(ildj)))
    return base.log_prob(bij.inverse(x)) + ildj


def _gradients(ns, request):
    """Gradients for training: on a Chain of the student's layers, each objective's gradient with respect to
    every weight of the grader's (trainable) conditioners and to the input. None where no gradient flows.

    Objectives: forward: sum(r * forward(x)); inverse: sum(r * inverse(x)); fldj: sum(fldj(x));
    ildj: sum(ildj(x)); log_prob: sum of log_prob(x) under TransformedDistribution(N(0, I), chain). A request's
    ``event_ndims`` (default 1) is the rank the log-dets are asked at (``flow_log_prob``).
    """
    tf, tfp = tf_modules()
    tfb = tfp.bijectors
    out, nd = {}, request.get("event_ndims")
    for objective in ("forward", "inverse", "fldj", "ildj", "log_prob"):
        fns = [conditioner_from_spec(s, trainable=True) for s in request["specs"]]
        layers = [_coupling(ns, s, fn) for s, (fn, _) in zip(request["specs"], fns)]
        chain = layers[0] if len(layers) == 1 else tfb.Chain(list(reversed(layers)))  # specs[0] acts first
        variables = {f"{i}/{k}": v for i, (_, w) in enumerate(fns) for k, v in w.items()}
        x, r = fresh(tf, request["x"]), fresh(tf, request["r"])
        with tf.GradientTape() as tape:
            tape.watch(x)
            if objective == "forward":
                value = tf.reduce_sum(r * chain.forward(x))
            elif objective == "inverse":
                value = tf.reduce_sum(r * chain.inverse(x))
            elif objective == "fldj":
                value = tf.reduce_sum(chain.forward_log_det_jacobian(x, event_ndims=1 if nd is None else nd))
            elif objective == "ildj":
                value = tf.reduce_sum(chain.inverse_log_det_jacobian(x, event_ndims=1 if nd is None else nd))
            else:
                value = tf.reduce_sum(flow_log_prob(chain, x, nd))
        names = list(variables)
        grads = tape.gradient(value, [variables[k] for k in names] + [x])
        out[objective] = {"value": as_array(value, objective),
                          "grads": {k: (None if g is None else as_array(g, f"the gradient of {objective}"))
                                    for k, g in zip(names + ["x"], grads)}}
    return out


def _graph(ns, request):
    """forward and log_prob (under TransformedDistribution(N(0, I), chain)) inside one tf.function, with an
    unknown batch size, as Keras' fit and a compiled training step run them."""
    tf, tfp = tf_modules()
    tfb = tfp.bijectors
    layers = [_coupling(ns, s, conditioner_from_spec(s)) for s in request["specs"]]
    chain = layers[0] if len(layers) == 1 else tfb.Chain(list(reversed(layers)))
    d = int(np.shape(request["x"])[-1])

    @tf.function(input_signature=[tf.TensorSpec([None, d], tf.float32)])
    def run(x):
        return chain.forward(x), flow_log_prob(chain, x, request.get("event_ndims"))

    y, lp = run(fresh(tf, request["x"]))
    return {"forward": as_array(y, "forward under tf.function"), "log_prob": as_array(lp, "log_prob under tf.function")}


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
        if request.get("standard_base"):  # the student's bijector on the grader's N(0, I)
            base = tfp.distributions.MultivariateNormalDiag(loc=tf.zeros(int(x.shape[-1])))
            fn = getattr(tfp.distributions.TransformedDistribution(base, lookup(ns, request["name"] + ".bijector")), op)
        return as_array(fn(x), f"{request['name']}.{op}")
    if op == "moment":  # a distribution's mean, covariance or stddev
        dist = lookup(ns, request["name"])
        if request["method"] not in ("mean", "covariance", "stddev"):
            raise QuestionError(f"unknown moment {request['method']!r}")
        fn = getattr(dist, request["method"], None)
        if fn is None:
            raise QuestionError(f"`{request['name']}` has no {request['method']} method; is it a tfd.Distribution?")
        return as_array(fn(), f"{request['name']}.{request['method']}()")
    if op == "sample":
        dist = lookup(ns, request["name"])
        seed = tf.constant([request.get("seed", 0), 0], dtype=tf.int32)  # stateless: same draws every time
        return as_array(dist.sample(request["n"], seed=seed), f"{request['name']}.sample")
    if op == "bijector":
        bij = _build_bijector(ns, request["spec"])
        x = fresh(tf, request["x"])
        if request["method"] == "flow_log_prob":  # log_prob under TransformedDistribution(N(0, I), bijector)
            return as_array(flow_log_prob(bij, x, request.get("event_ndims")), "TransformedDistribution.log_prob")
        return bijector_answer(tf, bij, request["method"], x, event_ndims=1, request=request)
    if op == "gradients":
        return _gradients(ns, request)
    if op == "graph":
        return _graph(ns, request)
    if op == "log_det_jacobians":
        fn = lookup(ns, request.get("name", "log_det_jacobians"))
        if not callable(fn):
            raise QuestionError("`log_det_jacobians` must be a function log_det_jacobians(bijector, x).")
        bij = _build_bijector(ns, request["spec"])
        out = fn(bij, fresh(tf, request["x"]))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise QuestionError("log_det_jacobians(bijector, x) must return a pair (fldj, neg_ildj), "
                                f"but it returned {type(out).__name__}.")
        return {"fldj": as_array(out[0], "fldj"), "neg_ildj": as_array(out[1], "neg_ildj"),
                "calls": getattr(bij, "calls", None)}
    raise QuestionError(f"unknown request {op!r}")


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


def dense_weights(d_in, d_out, seed, hidden=8):
    """Random weights for ``dense_conditioner``: [..., d_in] -> two [..., d_out] outputs."""
    r = rng(seed)
    return {"W1": r.normal(size=(d_in, hidden)) * 0.8, "b1": r.normal(size=hidden) * 0.3,
            "Ws": r.normal(size=(hidden, d_out)) * 0.8, "bs": r.normal(size=d_out) * 0.3,
            "Wl": r.normal(size=(hidden, d_out)) * 0.8, "bl": r.normal(size=d_out) * 0.3}


def _coupling_spec(d, mask, seed, hidden=8, log_scale_bound=1.0, **extra):
    spec = {"kind": "coupling", "mask": [float(m) for m in mask], "weights": dense_weights(d, d, seed, hidden)}
    if log_scale_bound != 1.0:
        spec["log_scale_bound"] = float(log_scale_bound)
    return {**spec, **extra}


def realnvp_spec(d, num_masked, seed, hidden=8):
    """TFP's tfb.RealNVP with the grader's conditioner from the first ``num_masked`` coordinates."""
    return {"kind": "realnvp", "num_masked": num_masked, "weights": dense_weights(num_masked, d - num_masked, seed,
                                                                                   hidden)}


# --------------------------------------------------------------------------------------------
# The coupling layer's maths in float64, and the catalogued mistakes as variants of it
# --------------------------------------------------------------------------------------------
#: A catalogued coupling-layer mistake, written as what the mistaken layer computes: each flag changes one
#: thing in ``coupling_maths``. The checks use these to recognise a mistake, and a later check of the item
#: uses the one an earlier check charged to judge the rest of the layer as the student wrote it (so the
#: mistake costs points once). A later check accepts, method by method, the correct value or the value under a
#: charged mistake, never only the latter's model of every method. ``per_element_logdet``: a layer that declares
#: forward_min_event_ndims=0 is asked for its log-dets at that rank, where one log-det per entry, (1-b)*s, is what
#: its declaration means (a per-example sum is the contract's value and is accepted as well); ``untraceable``: the
#: values are right, but no gradient flows and tf.function cannot trace the layer.
COUPLING_MODELS = {
    "acl-inverted-mask": [{"flip_mask": True}],
    "acl-swapped-convention": [{"swapped": True}],
    "acl-clips-log-scale": [{"s_map": "clip"}, {"s_map": "tanh"}],
    "acl-inverse-exp-sign": [{"inverse_exp_sign": True}],
    "acl-inverse-unmasked-input": [{"inverse_unmasked": True}],
    "acl-unmasked-conditioner": [{"unmasked": True}],
    "acl-logdet-ignores-mask": [{"logdet_ignores_mask": True}],
    "acl-logdet-batch-sum": [{"logdet_batch_sum": True}],
    "acl-min-event-ndims": [{"per_element_logdet": True}],
    "acl-ildj-sign": [{"ildj_sign": True}],
    "acl-returns-numpy": [{"untraceable": True}],
}
S_MAPS = {"clip": lambda s: np.clip(s, -1.0, 1.0), "tanh": np.tanh}
S_MAP_WORDS = {"clip": "clipped to [-1, 1]", "tanh": "squashed by tanh"}


def coupling_model(mistakes):
    """The variant of the maths that a layer with these catalogued mistakes computes (one variant each)."""
    model = {}
    for m in mistakes:
        model.update(COUPLING_MODELS.get(m, [{}])[0])
    return model


def coupling_maths(method, spec, x, model=None, weights=None):
    """forward, inverse, fldj or ildj of the coupling layer ``spec`` at ``x``, in float64 numpy.

    y = b*x + (1-b)*(x*exp(s) + t), with (t, s) the conditioner's output at b*x; the inverse undoes it with the
    network fed b*y; fldj(x) = sum (1-b)*s over the last axis and ildj(y) = -fldj(y). ``model`` (see
    ``COUPLING_MODELS``) turns this into what a mistaken layer computes."""
    model = model or {}
    x = np.asarray(x, dtype="float64")
    w = weights if weights is not None else {k: np.asarray(v, dtype="float64") for k, v in spec["weights"].items()}
    b = np.asarray(spec["mask"], dtype="float64")
    b = 1.0 - b if model.get("flip_mask") else b
    unmasked = model.get("unmasked") or (method == "inverse" and model.get("inverse_unmasked"))
    t, s = dense_conditioner(w, x if unmasked else b * x, np, float(spec.get("log_scale_bound", 1.0)))
    if model.get("s_map"):
        s = S_MAPS[model["s_map"]](s)
    if method in ("fldj", "ildj"):
        v = (1.0 if model.get("logdet_ignores_mask") else 1.0 - b) * s
        v = v if model.get("per_element_logdet") else np.sum(v, axis=-1)
        v = np.sum(v) if model.get("logdet_batch_sum") else v
        return -v if method == "ildj" and not model.get("ildj_sign") else v
    scale_up = (method == "forward") != bool(model.get("swapped"))
    if scale_up:
        return b * x + (1 - b) * (x * np.exp(s) + t)
    return b * x + (1 - b) * ((x - t) * np.exp((1.0 if model.get("inverse_exp_sign") else -1.0) * s))


def recognise_coupling(method, spec, x, got, model=None, among=None):
    """The catalogued mistake (added to ``model``) whose maths gives ``got`` for ``method`` at ``x``, as a
    CheckFailure naming it; None if none does."""
    base = model or {}
    for mistake_id, variants in COUPLING_MODELS.items():
        if among is not None and mistake_id not in among:
            continue
        for variant in variants:
            if all(base.get(k) == v for k, v in variant.items()):
                continue  # already part of the model: it cannot explain a difference from it
            want = coupling_maths(method, spec, x, {**base, **variant})
            if np.shape(got) == np.shape(want) and close(got, want, atol=1e-4):
                how = S_MAP_WORDS[variant["s_map"]] if "s_map" in variant else ""
                return mistake(mistake_id, f"the log-scales are {how}" if how else "")
    return None


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


COUPLING_HINTS = {
    "forward": "forward is y = b*x + (1-b)*(x*exp(s) + t) with (t, s) = shift_and_log_scale_fn(b*x): the entries "
               "with b = 1 pass through unchanged",
    "inverse": "inverse is x = b*y + (1-b)*((y - t)*exp(-s)) with (t, s) = shift_and_log_scale_fn(b*y)",
    "fldj": "forward_log_det_jacobian(x) is the sum of (1-b)*s over the last axis, with s from the network at b*x",
    "ildj": "inverse_log_det_jacobian(y) is minus the sum of (1-b)*s over the last axis, with s from the network "
            "at b*y",
}
METHOD_NAMES = {"forward": "forward", "inverse": "inverse", "fldj": "forward_log_det_jacobian",
                "ildj": "inverse_log_det_jacobian"}


def coupling_difference(method, got, want, x, mask, where, hidden=False):
    """Words for a coupling-layer method that gives other values than it should (no reference values)."""
    name = METHOD_NAMES[method]
    if got.shape != want.shape:
        return (f"{name} of a batch of shape {list(np.shape(x))} has shape {list(got.shape)}; expected "
                f"{list(want.shape)} ({where}). " + COUPLING_HINTS[method] + ".")
    if method == "forward" and not hidden:
        b = np.asarray(mask, dtype=bool)
        if not np.allclose(got[..., b], x[..., b], atol=1e-6):
            return (f"forward changed entries where the mask is 1 ({where}); those must pass through unchanged. "
                    + COUPLING_HINTS[method] + ".")
    what = "differs from the reference on the grader's own inputs" if hidden else "does not match the formula of the exercise"
    return f"{name} {what} ({where}): " + first_difference(got, want, hidden=hidden) + ". " + COUPLING_HINTS[method] + "."


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
