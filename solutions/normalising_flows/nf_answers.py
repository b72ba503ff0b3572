"""The question protocol of the normalising flows assignment: ``answer(namespace, request)``.

A *request* is a small dict ("what is the event_shape of X", "call forward on this array"); the answer is built
from plain Python values and numpy arrays only. The autograder asks the same questions of a worker process that
holds the student's objects. Ships with the student release next to ``nf_checks.py``, which re-exports ``answer``.
"""
import numpy as np

from checks_core import QuestionError, as_array, bijector_answer, describe, fresh, lookup, student_error_message, \
    tf_modules
from nf_coupling import dense_conditioner


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
