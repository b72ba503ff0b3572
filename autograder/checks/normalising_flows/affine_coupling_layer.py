"""Exercise 4: the AffineCouplingLayer bijector, with a grader-built deterministic conditioner.

Every input sent to the student's layer is a fresh, grader-chosen array: never a reference output.

One mistake, one check. The visible contract check names most catalogued mistakes first; each hidden check
here then judges the layer *as the student wrote it* (``earlier_mistakes``): it compares with the grader's
maths for the mistake already charged, and skips a property that mistake necessarily breaks (a layer whose
inverse uses exp(+s) cannot round-trip, so the round trip is not charged again). What no earlier check
charged is judged against the reference.
"""
import functools

import numpy as np
from nf_checks import (
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

from autograder.checks import earlier_mistakes

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
_chain_spec = {"kind": "chain", "bijectors": [_spec(CASES[2]), _spec((3, (1, 0, 0), 106))]}
_chain_x = np.random.default_rng(107).normal(size=(N, 3))
REQUESTS["chain flow_log_prob"] = {"op": "bijector", "spec": _chain_spec, "method": "flow_log_prob", "x": _chain_x}

def _ask(ask, case, method, x):
    return ask_or_fail(ask, {"op": "bijector", "spec": _spec(case), "method": method, "x": x})


def _model(ask):
    """What the layer computes given the mistakes the item's earlier checks charged ({} if none)."""
    return coupling_model(earlier_mistakes(ask))


def _judge(ask, ref, method, case, x, model):
    """``method`` at x against the reference (or, after a charged mistake, that mistake's maths); a difference
    is named as a catalogued mistake where one explains it."""
    spec, where = _spec(case), _case_name(case)
    if method in model.get("unjudgeable", ()):
        return  # the charged mistake leaves this method's values undefined: not judged again
    got = _ask(ask, case, method, x)
    want = cm.coupling_maths(method, spec, x, model) if model else ref[f"{method} {where}"]
    if got.shape == want.shape and close(got, want):
        return
    found = recognise_coupling(method, spec, x, got, model)
    if found is not None:
        raise found
    raise CheckFailure(coupling_difference(method, got, want, x, case[1], where, hidden=True))


def check_forward(ask, ref):
    """forward matches the reference for several D and masks, and for log-scales up to +-3."""
    model = _model(ask)
    for case in CASES:
        _judge(ask, ref, "forward", case, _x(case[0], case[2]), model)


def check_inverse(ask, ref):
    """inverse of fresh grader-chosen points matches the reference."""
    model = _model(ask)
    for case in CASES:
        _judge(ask, ref, "inverse", case, _y(case[0], case[2]), model)


def check_log_dets(ask, ref):
    """forward and inverse log-det-Jacobians match the reference, one value per example."""
    model = _model(ask)
    for case in CASES:
        _judge(ask, ref, "fldj", case, _x(case[0], case[2]), model)
        _judge(ask, ref, "ildj", case, _y(case[0], case[2]), model)


def check_properties(ask, ref):
    """Round trips, fldj = log|det| of the autodiff Jacobian, batches of rank 3, Chain and TransformedDistribution.

    After a mistake charged by an earlier check, a relation that the mistake itself breaks is skipped (it is
    not charged twice), and values are compared with what the mistaken layer computes."""
    model = _model(ask)
    for case in CASES:
        spec, x, where = _spec(case), _x(case[0], case[2]), _case_name(case)
        if cm.is_bijective(spec, x, model):
            y = _ask(ask, case, "forward", x)
            require(close(_ask(ask, case, "inverse", y), x), f"inverse(forward(x)) != x on fresh tensors ({where}).")
            x2 = _ask(ask, case, "inverse", x)
            require(close(_ask(ask, case, "forward", x2), x), f"forward(inverse(y)) != y on fresh tensors ({where}).")
        if cm.log_det_is_consistent(spec, x, model):
            jac = _ask(ask, case, "jacobian", x)
            logdet = np.linalg.slogdet(jac)[1]
            fldj = _ask(ask, case, "fldj", x)
            require(close(fldj, logdet, atol=1e-3),
                    f"forward_log_det_jacobian disagrees with log|det| of the autodiff Jacobian of forward ({where}): "
                    + first_difference(fldj, logdet, atol=1e-3) + ".")
    check_rank3(ask, model)
    if model:
        return  # a flow's log_prob uses every method (and TFP's cache picks which): after a charged mistake it
        #         cannot say anything new
    got = ask_or_fail(ask, REQUESTS["chain flow_log_prob"])
    require(close(got, ref["chain flow_log_prob"], atol=1e-3),
            "inside tfb.Chain and tfd.TransformedDistribution, log_prob disagrees with the reference: "
            + first_difference(got, ref["chain flow_log_prob"], atol=1e-3, hidden=True) + ".")


#: A batch of rank 3: [3, 4, D] (the same layer on a [3, 4] grid of examples).
RANK3_CASE = CASES[3]
X_RANK3 = np.random.default_rng(5).normal(size=(3, 4, RANK3_CASE[0]))
Y_RANK3 = np.random.default_rng(6).normal(size=(3, 4, RANK3_CASE[0]))


def check_rank3(ask, model=None):
    """forward, inverse and both log-dets on a [3, 4, D] batch agree with the float64 maths."""
    case, d = RANK3_CASE, RANK3_CASE[0]
    spec = _spec(case)
    for method, arr in (("forward", X_RANK3), ("inverse", Y_RANK3), ("fldj", X_RANK3), ("ildj", Y_RANK3)):
        if method in (model or {}).get("unjudgeable", ()):
            continue
        got, want = _ask(ask, case, method, arr), cm.coupling_maths(method, spec, arr, model)
        if method in ("fldj", "ildj") and got.shape != want.shape:
            if got.shape in ((3, d), (4, d), (3,), (4,)):
                raise mistake("acl-logdet-fixed-axis", f"{method} of a [3, 4, {d}] batch has shape {list(got.shape)}")
            raise CheckFailure(f"{method} of a [3, 4, {d}] batch has shape {list(got.shape)}; expected [3, 4], one "
                               "value per example.")
        require(close(got, want), f"{method} on a batch of shape [3, 4, {d}] disagrees with the same layer on "
                f"single examples: " + first_difference(got, want) + ". Work on the last axis only (axis=-1), "
                "whatever the batch rank.")


# ---- what training needs: gradients, graph mode, every mask form, **kwargs --------------------------------
GRAD_SPECS = [_coupling_spec(3, (1, 0, 1), 301, hidden=4),
              _coupling_spec(3, (0, 1, 0), 302, hidden=4)]
GRAD_X = np.random.default_rng(303).normal(size=(5, 3))
GRAD_R = np.random.default_rng(304).normal(size=(5, 3))
GRAD_REQUESTS = {n: {"op": "gradients", "specs": GRAD_SPECS[:n], "x": GRAD_X, "r": GRAD_R} for n in (1, 2)}
OBJECTIVES = {"forward": "sum(r * forward(x))", "inverse": "sum(r * inverse(x))", "fldj": "the sum of fldj(x)",
              "ildj": "the sum of ildj(x)", "log_prob": "the flow's log_prob"}


@functools.cache
def _gradients(n, model_items):
    return cm.chain_gradients(GRAD_SPECS[:n], GRAD_X, GRAD_R, model=dict(model_items))


def expected_gradients(n, model=None):
    """The float64 gradients of a chain of ``n`` layers (as the mistaken layer ``model`` computes them)."""
    return _gradients(n, tuple(sorted((model or {}).items())))


#: The methods each training objective goes through.
OBJECTIVE_METHODS = {"forward": {"forward"}, "inverse": {"inverse"}, "fldj": {"fldj"}, "ildj": {"ildj"},
                     "log_prob": {"inverse", "ildj", "fldj"}}


def _gradient_failure(got, want, where, skip=()):
    """The first problem in the gradients, as a CheckFailure (None if they all match). Objectives through a
    method in ``skip`` (left undefined by a charged mistake), or named in it, are not judged. After a charged
    mistake the flow's log_prob is not judged: it uses every method, and TFP's cache picks which."""
    for objective, what in OBJECTIVES.items():
        if objective in skip or OBJECTIVE_METHODS[objective] & set(skip):
            continue
        grads = got[objective]["grads"]
        weight_names = [k for k in want[objective] if k != "x"]
        none_but_needed = [k for k in weight_names
                           if grads.get(k) is None and not np.allclose(want[objective][k], 0, atol=1e-6)]
        if none_but_needed:
            which = "acl-numpy-in-logdet" if objective in ("fldj", "ildj") else "acl-numpy-in-layer"
            return mistake(which, f"{what} gives no gradient for {len(none_but_needed)} of the network's "
                                  f"weight tensors; {where}")
        wrong = [k for k in weight_names if not close(_zeros_if_none(grads.get(k), want[objective][k]),
                                                       want[objective][k], rtol=2e-3, atol=2e-3)]
        gx = _zeros_if_none(grads.get("x"), want[objective]["x"])
        x_wrong = not close(gx, want[objective]["x"], rtol=2e-3, atol=2e-3)
        if x_wrong and not wrong:
            return mistake("acl-stop-gradient-input", f"the gradient of {what} with respect to x; {where}")
        if wrong:
            k = wrong[0]
            return CheckFailure(f"the gradient of {what} with respect to the network's weights ({k}) differs from "
                                f"the grader's float64 maths ({where}): "
                                + first_difference(_zeros_if_none(grads.get(k), want[objective][k]),
                                                   want[objective][k], rtol=2e-3, atol=2e-3)
                                + ". Use TensorFlow ops only, so the gradient flows through every hook.")
    return None


def _zeros_if_none(g, like):
    return np.zeros_like(like) if g is None else g


def check_training(ask, ref):
    """Gradients with respect to the network's weights and the input match float64 maths, on one layer and on a
    Chain of two; forward and log_prob run inside tf.function with an unknown batch size. Skipped when an
    earlier check charged a layer that returns NumPy arrays: that already says gradients cannot flow."""
    model = _model(ask)
    if model.get("untraceable") or model.get("unjudgeable"):
        return  # gradients of NumPy outputs, or of log-dets the charged mistake leaves undefined, say nothing new
    for n, where in ((1, "one layer"), (2, "a Chain of two layers")):
        got = ask_or_fail(ask, GRAD_REQUESTS[n])
        skip = set(model.get("unjudgeable", ())) | ({"log_prob"} if model else set())
        failure = _gradient_failure(got, expected_gradients(n, model), where, skip)
        if failure is not None:
            raise failure
    try:
        out = ask(GRAPH_REQUEST)
    except CheckFailure:
        raise
    except Exception as e:  # the student's code raised inside tf.function (or the question failed there)
        raise mistake("acl-fails-in-graph", clean_error_text(e) or type(e).__name__) from None
    y, _ = cm.chain_forward(GRAD_SPECS, GRAD_X, model=model)
    require(close(out["forward"], y), "inside tf.function, forward of a Chain of two layers disagrees with eager "
            "mode's float64 maths: " + first_difference(out["forward"], y) + ".")
    if model:
        return
    lp = cm.chain_log_prob(GRAD_SPECS, GRAD_X)
    require(close(out["log_prob"], lp, atol=1e-3), "inside tf.function, the flow's log_prob disagrees with the "
            "float64 maths: " + first_difference(out["log_prob"], lp, atol=1e-3) + ".")


GRAPH_REQUEST = {"op": "graph", "specs": GRAD_SPECS, "x": GRAD_X}
CONSTRUCT_CASE = CASES[2]
LAYER_NAME = "coupling_under_test"


def check_construction(ask, ref):
    """Every mask form the contract allows (a list, integer and float arrays, tensors) gives the same layer,
    and keyword arguments such as name= reach tfb.Bijector."""
    case = CONSTRUCT_CASE
    x = _x(case[0], case[2])
    want = cm.forward(_spec(case), x, _model(ask))
    for form in MASK_FORMS:
        request = {"op": "bijector", "spec": _spec(case, mask_form=form), "method": "forward", "x": x}
        try:
            got = ask_or_fail(ask, request)
        except CheckFailure as e:
            raise mistake("acl-mask-not-cast", f"with the mask {list(case[1])} given as {form}: {e}") from None
        if not close(got, want):
            raise mistake("acl-mask-not-cast", f"with the mask {list(case[1])} given as {form}, forward is wrong: "
                          + first_difference(got, want))
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
