"""The coupling layer's maths in float64: the grader's conditioner and the specs of the layers it asks about,
the formulas of the exercise, and the catalogued mistakes as variants of them.

Ships with the student release next to ``nf_checks.py``, which re-exports every name. The visible checks judge
a layer against these formulas, the hidden ones (``autograder/checks/normalising_flows/``) against reference
values and the same formulas.
"""
import numpy as np

from checks_core import close, first_difference, rng
from nf_mistakes import mistake


def dense_conditioner(weights, x, xp, bound=1.0):
    """The grader's shift_and_log_scale_fn, written once for TensorFlow (``xp=tf``) and numpy (``xp=np``).

    ``h = tanh(x W1 + b1)``, ``shift = h Ws + bs``, ``log_scale = bound * tanh(h Wl + bl)``: a one-hidden-layer
    tanh network whose log-scales lie in (-bound, bound). The grader's float64 maths calls this same function.
    """
    h = xp.tanh(xp.matmul(x, weights["W1"]) + weights["b1"])
    return (xp.matmul(h, weights["Ws"]) + weights["bs"],
            bound * xp.tanh(xp.matmul(h, weights["Wl"]) + weights["bl"]))


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
