"""Exercise 4: the AffineCouplingLayer bijector, with a grader-built deterministic conditioner.

Every input sent to the student's layer is a fresh, grader-chosen array: never a reference output.

One mistake, one check, and every method judged:

* The value checks (forward, inverse, log_det) compare each method with the reference on the grader's inputs.
  After a mistake the item's earlier checks charged, a method may also give the value it has under that mistake
  (``Layer.accepts``), and nothing else: a stub, a method that raises, or a second mistake still fails.
* The property checks compare the layer with *itself*, so a wrong value costs nothing there: a [3, 4, D] batch
  against the same examples as a [12, D] batch, a Chain's log_prob against the layer's own inverse and log-det,
  each mask form against the float32 one, tf.function against eager mode, and gradients against the float64
  gradients of the maths the layer's values follow.
"""
import functools
import itertools

import numpy as np
from nf_checks import (
    COUPLING_MODELS,
    MASK_FORMS,
    CheckFailure,
    _coupling_spec,
    ask_or_fail,
    clean_error_text,
    close,
    coupling_difference,
    coupling_model,
    first_difference,
    mistake,
    recognise_coupling,
    require,
)

from autograder.checks import earlier_mistakes, followed_through

from . import coupling_math as cm

#: (D, mask, seed[, log-scale bound]): D = 2 both ways, an odd D, a mask that does not alternate, a longer one,
#: and a conditioner whose log-scales reach +-3 (a layer that clips or squashes them is caught there).
CASES = ((2, (1, 0), 101), (2, (0, 1), 102), (3, (0, 1, 1), 103), (5, (1, 0, 1, 0, 1), 104),
         (6, (1, 1, 0, 0, 1, 0), 105), (4, (0, 1, 1, 0), 108, 3.0))
N = 9


def _x(d, seed):
    return np.random.default_rng(seed + 1000).normal(size=(N, d)) * 1.5


def _y(d, seed):
    """Fresh inputs for inverse and ildj (not the reference outputs of forward)."""
    return np.random.default_rng(seed + 2000).normal(size=(N, d)) * 1.5


def _spec(case, **extra):
    d, mask, seed, *bound = case
    return _coupling_spec(d, mask, seed, log_scale_bound=bound[0] if bound else 1.0, **extra)


def _case_name(case):
    return f"D={case[0]}, mask={list(case[1])}" + (f", log-scales up to {case[3]:g}" if len(case) > 3 else "")


REQUESTS = {}
for _c in CASES:
    _k = _case_name(_c)
    REQUESTS[f"forward {_k}"] = {"op": "bijector", "spec": _spec(_c), "method": "forward", "x": _x(_c[0], _c[2])}
    REQUESTS[f"fldj {_k}"] = {"op": "bijector", "spec": _spec(_c), "method": "fldj", "x": _x(_c[0], _c[2])}
    REQUESTS[f"inverse {_k}"] = {"op": "bijector", "spec": _spec(_c), "method": "inverse", "x": _y(_c[0], _c[2])}
    REQUESTS[f"ildj {_k}"] = {"op": "bijector", "spec": _spec(_c), "method": "ildj", "x": _y(_c[0], _c[2])}


def variants(charged):
    """[(mistakes, model)]: every non-empty combination of the charged coupling mistakes, with the maths of a layer
    that has them (``nf_checks.COUPLING_MODELS``)."""
    ids = [m for m in charged if m in COUPLING_MODELS]
    return [(combo, coupling_model(combo)) for r in range(1, len(ids) + 1) for combo in itertools.combinations(ids, r)]


class Layer:
    """One student's layer as one check sees it: asks its methods, and accepts a method's value when it is right
    or is that method's value under a mistake the item's earlier checks charged."""

    def __init__(self, ask):
        self.ask, self.charged = ask, earlier_mistakes(ask)
        self.variants = variants(self.charged)
        self.event_ndims = None
        if "acl-min-event-ndims" in self.charged:  # its log-dets are asked at the rank it declares
            info = ask_or_fail(ask, {"op": "bijector", "spec": _spec(CASES[0]), "method": "describe",
                                     "x": _x(2, 0)})
            self.event_ndims = int(info["forward_min_event_ndims"])

    def call(self, spec, method, x):
        request = {"op": "bijector", "spec": spec, "method": method, "x": x}
        if self.event_ndims is not None and method in ("fldj", "ildj", "flow_log_prob"):
            request["event_ndims"] = self.event_ndims
        return ask_or_fail(self.ask, request)

    def request(self, request):
        """A gradients or graph request, at the rank the layer's log-dets are asked at."""
        return {**request, "event_ndims": self.event_ndims} if self.event_ndims is not None else request

    def accepts(self, method, spec, x, got, want):
        if np.shape(got) == np.shape(want) and close(got, want):
            return True
        for combo, model in self.variants:
            if _close_to(got, cm.coupling_maths(method, spec, x, model)):
                followed_through(self.ask, *combo)
                return True
        return False


def _close_to(got, want, **tol):
    return np.shape(got) == np.shape(want) and close(got, want, **tol)


def _judge(layer, ref, method, case, x):
    """``method`` at x against the reference (or what it gives under a charged mistake); a difference is named as a
    catalogued mistake where one explains it."""
    spec, where = _spec(case), _case_name(case)
    got = layer.call(spec, method, x)
    want = ref[f"{method} {where}"]
    if layer.accepts(method, spec, x, got, want):
        return
    found = recognise_coupling(method, spec, x, got)
    if found is not None:
        raise found
    raise CheckFailure(coupling_difference(method, got, want, x, case[1], where, hidden=True))


def check_forward(ask, ref):
    """forward matches the reference for several D and masks, and for log-scales up to +-3."""
    layer = Layer(ask)
    for case in CASES:
        _judge(layer, ref, "forward", case, _x(case[0], case[2]))


def check_inverse(ask, ref):
    """inverse of fresh grader-chosen points matches the reference."""
    layer = Layer(ask)
    for case in CASES:
        _judge(layer, ref, "inverse", case, _y(case[0], case[2]))


def check_log_dets(ask, ref):
    """forward and inverse log-det-Jacobians match the reference, one value per example."""
    layer = Layer(ask)
    for case in CASES:
        _judge(layer, ref, "fldj", case, _x(case[0], case[2]))
        _judge(layer, ref, "ildj", case, _y(case[0], case[2]))


# ---- properties: the layer against itself -----------------------------------------------------------------
#: A batch of rank 3: [3, 4, D], judged against the same 12 examples as a [12, D] batch.
RANK3_CASE = CASES[3]
X_RANK3 = np.random.default_rng(5).normal(size=(3, 4, RANK3_CASE[0]))
Y_RANK3 = np.random.default_rng(6).normal(size=(3, 4, RANK3_CASE[0]))
#: tfb.Chain([A, B]) (B acts first in forward), and fresh data points for its log_prob.
CHAIN_SPECS = (_spec(CASES[2]), _spec((3, (1, 0, 0), 106)))
CHAIN_X = np.random.default_rng(107).normal(size=(N, 3))
#: Not compared with any submission: the solutions' answer checks the grader's chain maths (which the gradient
#: checks use) against TFP's order of a Chain (tests/checks/test_reference.py).
REQUESTS["chain flow_log_prob"] = {"op": "bijector", "spec": {"kind": "chain", "bijectors": list(CHAIN_SPECS)},
                                   "method": "flow_log_prob", "x": CHAIN_X}


def check_rank3(layer):
    """forward, inverse and both log-dets of a [3, 4, D] batch are the layer's values on the same examples given
    as a [12, D] batch, with the [3, 4] batch shape kept."""
    spec, d = _spec(RANK3_CASE), RANK3_CASE[0]
    for method, arr in (("forward", X_RANK3), ("inverse", Y_RANK3), ("fldj", X_RANK3), ("ildj", Y_RANK3)):
        got, flat = layer.call(spec, method, arr), layer.call(spec, method, arr.reshape(12, d))
        want_shape = (3, 4) + flat.shape[1:] if flat.ndim and flat.shape[0] == 12 else flat.shape
        if method in ("fldj", "ildj") and got.shape != want_shape:
            if got.shape in ((3, d), (4, d), (3,), (4,)):
                raise mistake("acl-logdet-fixed-axis", f"{method} of a [3, 4, {d}] batch has shape {list(got.shape)}")
            raise CheckFailure(f"{method} of a [3, 4, {d}] batch has shape {list(got.shape)}, but the same "
                               f"examples as a [12, {d}] batch give shape {list(flat.shape)}: keep the batch axes "
                               "and reduce the last axis only (axis=-1).")
        require(got.shape == want_shape and close(got.reshape(-1), flat.reshape(-1)),
                f"{method} on a batch of shape [3, 4, {d}] disagrees with the same layer on the same examples as a "
                f"[12, {d}] batch: " + first_difference(got.reshape(-1), flat.reshape(-1)) + ". Work on the last "
                "axis only (axis=-1), whatever the batch rank.")


def _per_example(ldj):
    """A layer's log-dets of one batch as one number per example (a layer that declares event ndims 0 gives one
    per entry)."""
    return np.sum(ldj, axis=-1) if np.ndim(ldj) == 2 else ldj


def check_chain(layer):
    """Inside tfb.Chain and tfd.TransformedDistribution, log_prob(x) = log N(z; 0, I) + the inverse log-dets, from
    the layer's own methods asked one layer at a time on fresh tensors. TFP may take a layer's inverse log-det from
    its inverse_log_det_jacobian or as -forward_log_det_jacobian at the inverse (its cache decides), so either
    counts."""
    first, second = CHAIN_SPECS  # the chain's inverse undoes `first` (A) first, then `second` (B)
    h = layer.call(first, "inverse", CHAIN_X)
    z = layer.call(second, "inverse", h)
    ways = [(_per_example(layer.call(first, "ildj", CHAIN_X)), -_per_example(layer.call(first, "fldj", h))),
            (_per_example(layer.call(second, "ildj", h)), -_per_example(layer.call(second, "fldj", z)))]
    base = -0.5 * np.sum(z * z, axis=-1) - 0.5 * z.shape[-1] * np.log(2 * np.pi)
    got = layer.call({"kind": "chain", "bijectors": list(CHAIN_SPECS)}, "flow_log_prob", CHAIN_X)
    wants = [base + a + b for a, b in itertools.product(*ways)]
    want = wants[0]  # through inverse_log_det_jacobian, for the message
    require(any(_close_to(got, w, atol=1e-3) for w in wants),
            "inside tfb.Chain and tfd.TransformedDistribution, log_prob(x) is not log N(inverse(x); 0, I) + "
            "inverse_log_det_jacobian(x) computed from your layer's own methods: " + first_difference(got, want,
                                                                                                     atol=1e-3)
            + ". TFP composes the layer through forward_min_event_ndims and the hooks' shapes.")


def check_properties(ask, ref):
    """A batch of rank 3 agrees with the same examples in a rank-2 batch; the layer composes in a Chain and a
    TransformedDistribution as its own methods say."""
    layer = Layer(ask)
    check_rank3(layer)
    check_chain(layer)


# ---- what training needs: gradients, graph mode, every mask form, **kwargs --------------------------------
GRAD_SPECS = [_coupling_spec(3, (1, 0, 1), 301, hidden=4),
              _coupling_spec(3, (0, 1, 0), 302, hidden=4)]
GRAD_X = np.random.default_rng(303).normal(size=(5, 3))
GRAD_R = np.random.default_rng(304).normal(size=(5, 3))
GRAD_REQUESTS = {n: {"op": "gradients", "specs": GRAD_SPECS[:n], "x": GRAD_X, "r": GRAD_R} for n in (1, 2)}
OBJECTIVES = {"forward": "sum(r * forward(x))", "inverse": "sum(r * inverse(x))", "fldj": "the sum of fldj(x)",
              "ildj": "the sum of ildj(x)", "log_prob": "the flow's log_prob"}


@functools.cache
def _maths(n, model_items):
    model = dict(model_items)
    return (cm.chain_objectives(GRAD_SPECS[:n], GRAD_X, GRAD_R, model=model),
            cm.chain_gradients(GRAD_SPECS[:n], GRAD_X, GRAD_R, model=model))


def expected_gradients(n, model=None):
    """The float64 gradients of a chain of ``n`` layers (as the mistaken layer ``model`` computes them)."""
    return _maths(n, tuple(sorted((model or {}).items())))[1]


def _candidates(layer, n):
    """[(mistakes, model, objective values, gradients)]: the right maths, then each charged variant's."""
    return [(combo, model, *_maths(n, tuple(sorted(model.items()))))
            for combo, model in [((), {})] + layer.variants]


def _gradient_failure(layer, got, n, where):
    """The first problem in the gradients, as a CheckFailure (None if there is none). Each objective is judged
    against the maths whose value it has (the right one, or a charged mistake's). An objective whose value no
    such maths gives is wrong in a way a value check charges; its gradient has nothing to be compared with."""
    for objective, what in OBJECTIVES.items():
        grads = got[objective]["grads"]
        value = got[objective]["value"]
        matches = [c for c in _candidates(layer, n) if close(value, c[2][objective], rtol=1e-3, atol=1e-3)]
        if not matches:  # a value no maths here gives: a value check charged it, and the gradient of a function
            continue     # the grader does not know has no expected value (a constant has none, rightly)
        match = matches[0]
        want = match[3][objective]
        weight_names = [k for k in want if k != "x"]
        none_but_needed = [k for k in weight_names + ["x"]
                           if grads.get(k) is None and not np.allclose(want[k], 0, atol=1e-6)]
        untraceable = [c for c in matches if c[1].get("untraceable")]
        if none_but_needed and untraceable:
            followed_through(layer.ask, *untraceable[0][0])  # the charged mistake already says no gradient flows
            continue
        if [k for k in none_but_needed if k != "x"]:
            which = "acl-numpy-in-logdet" if objective in ("fldj", "ildj") else "acl-numpy-in-layer"
            return mistake(which, f"{what} gives no gradient for {len(none_but_needed)} of the network's "
                                  f"weight tensors; {where}")
        if match[0]:
            followed_through(layer.ask, *match[0])
        wrong = [k for k in weight_names if not close(_zeros_if_none(grads.get(k), want[k]), want[k],
                                                       rtol=2e-3, atol=2e-3)]
        x_wrong = not close(_zeros_if_none(grads.get("x"), want["x"]), want["x"], rtol=2e-3, atol=2e-3)
        if x_wrong and not wrong:
            return mistake("acl-stop-gradient-input", f"the gradient of {what} with respect to x; {where}")
        if wrong:
            k = wrong[0]
            return CheckFailure(f"the gradient of {what} with respect to the network's weights ({k}) differs from "
                                f"the grader's float64 maths ({where}): "
                                + first_difference(_zeros_if_none(grads.get(k), want[k]), want[k], rtol=2e-3,
                                                   atol=2e-3)
                                + ". Use TensorFlow ops only, so the gradient flows through every hook.")
    return None


def _zeros_if_none(g, like):
    return np.zeros_like(like) if g is None else g


GRAPH_REQUEST = {"op": "graph", "specs": GRAD_SPECS, "x": GRAD_X}
#: The graph request's chain, built eagerly: GRAD_SPECS[0] acts first.
EAGER_CHAIN = {"kind": "chain", "bijectors": list(reversed(GRAD_SPECS))}


def check_training(ask, ref):
    """Gradients with respect to the network's weights and the input match float64 maths, on one layer and on a
    Chain of two; forward and log_prob inside tf.function with an unknown batch size give eager mode's values."""
    layer = Layer(ask)
    for n, where in ((1, "one layer"), (2, "a Chain of two layers")):
        failure = _gradient_failure(layer, ask_or_fail(ask, layer.request(GRAD_REQUESTS[n])), n, where)
        if failure is not None:
            raise failure
    eager = {"forward": layer.call(EAGER_CHAIN, "forward", GRAD_X),
             "log_prob": layer.call(EAGER_CHAIN, "flow_log_prob", GRAD_X)}
    try:
        out = ask(layer.request(GRAPH_REQUEST))
    except CheckFailure:
        raise
    except Exception as e:  # the student's code raised inside tf.function (or the question failed there)
        untraceable = [m for m in layer.charged if COUPLING_MODELS.get(m, [{}])[0].get("untraceable")]
        if untraceable:
            followed_through(ask, *untraceable)  # NumPy outputs cannot be traced: the charged mistake says so
            return
        raise mistake("acl-fails-in-graph", clean_error_text(e) or type(e).__name__) from None
    for what, atol in (("forward", 1e-4), ("log_prob", 1e-3)):
        require(_close_to(out[what], eager[what], atol=atol),
                f"inside tf.function, {what} of a Chain of two layers disagrees with the same layers in eager "
                "mode: " + first_difference(out[what], eager[what], atol=atol) + ". Use tf.shape(x) for sizes "
                "and tensor ops instead of Python conditions on tensor values.")


CONSTRUCT_CASE = CASES[2]
LAYER_NAME = "coupling_under_test"


def check_construction(ask, ref):
    """Every mask form the contract allows (a list, integer and float arrays, tensors) gives the layer the float32
    mask gives, and keyword arguments such as name= reach tfb.Bijector."""
    case = CONSTRUCT_CASE
    x = _x(case[0], case[2])
    want = ask_or_fail(ask, {"op": "bijector", "spec": _spec(case), "method": "forward", "x": x})
    for form in MASK_FORMS:
        request = {"op": "bijector", "spec": _spec(case, mask_form=form), "method": "forward", "x": x}
        try:
            got = ask_or_fail(ask, request)
        except CheckFailure as e:
            raise mistake("acl-mask-not-cast", f"with the mask {list(case[1])} given as {form}: {e}") from None
        if not _close_to(got, want):
            raise mistake("acl-mask-not-cast", f"with the mask {list(case[1])} given as {form}, forward differs "
                          "from forward with a float32 mask: " + first_difference(got, want))
    request = {"op": "bijector", "spec": _spec(case, kwargs={"name": LAYER_NAME}), "method": "describe", "x": x}
    try:
        info = ask_or_fail(ask, request)
    except CheckFailure as e:
        raise mistake("acl-kwargs-dropped", str(e)) from None
    if not info.get("name", "").startswith(LAYER_NAME):
        raise mistake("acl-kwargs-dropped", f"AffineCouplingLayer(..., name={LAYER_NAME!r}).name is "
                                            f"{info.get('name')!r}")


HIDDEN = {
    "affine_coupling_layer_forward": [check_forward],
    "affine_coupling_layer_inverse": [check_inverse],
    "affine_coupling_layer_log_det": [check_log_dets],
    "affine_coupling_layer_properties": [check_properties, check_construction, check_training],
}
