"""The affine coupling layer in float64 numpy: the grader's own formulas, independent of any notebook.

The formulas are ``nf_checks.coupling_maths`` (the conditioner is ``nf_checks.dense_conditioner``, the one
formula the worker also evaluates in TensorFlow), here extended to chains of layers and their gradients. A
``model`` (``nf_checks.COUPLING_MODELS``) gives what a layer with a catalogued mistake computes: a check that
follows through on a mistake charged elsewhere compares with that. Used to compute the expected values and
gradients of the hidden checks and, in tests, to verify the reference values produced from the solutions.
"""
import numpy as np
from nf_checks import coupling_maths, dense_conditioner


def weights(spec):
    return {k: np.asarray(v, dtype="float64") for k, v in spec["weights"].items()}


def conditioner(spec, x, w=None):
    """The grader's deterministic shift_and_log_scale_fn of ``spec`` (optionally with other weights ``w``)."""
    return dense_conditioner(weights(spec) if w is None else w, x, np, float(spec.get("log_scale_bound", 1.0)))


def forward(spec, x, model=None, w=None):
    """y = b*x + (1-b)*(x*exp(s) + t), (t, s) the network's output at b*x."""
    return coupling_maths("forward", spec, x, model, w)


def inverse(spec, y, model=None, w=None):
    return coupling_maths("inverse", spec, y, model, w)


def fldj(spec, x, model=None, w=None):
    return coupling_maths("fldj", spec, x, model, w)


def ildj(spec, y, model=None, w=None):
    return coupling_maths("ildj", spec, y, model, w)  # the network sees b*y = b*x, so ildj(y) = -fldj at y


def log_scale(spec, x):
    """The log-scales the layer applies at x (the network's output at b*x)."""
    return conditioner(spec, np.asarray(spec["mask"], dtype="float64") * x)[1]


# ---- a chain of layers, applied in the order of ``specs`` (specs[0] first) ------------------------
def chain_forward(specs, x, ws=None, model=None):
    """(forward, fldj) of the chain at x."""
    ws = ws or [weights(s) for s in specs]
    h, total = x, 0.0
    for s, w in zip(specs, ws):
        total = total + fldj(s, h, model, w)
        h = forward(s, h, model, w)
    return h, total


def chain_inverse(specs, y, ws=None, model=None):
    """(inverse, ildj) of the chain at y: the last layer is undone first."""
    ws = ws or [weights(s) for s in specs]
    h, total = y, 0.0
    for s, w in reversed(list(zip(specs, ws))):
        total = total + ildj(s, h, model, w)
        h = inverse(s, h, model, w)
    return h, total


def chain_log_prob(specs, x, ws=None, model=None):
    """log_prob of x under TransformedDistribution(N(0, I), chain) (per-entry log-dets, of a layer that declares
    event ndims 0, added up per example as nf_checks.flow_log_prob does)."""
    z, total = chain_inverse(specs, x, ws, model)
    total = np.sum(total, axis=-1) if np.ndim(total) == np.ndim(x) else total
    return -0.5 * np.sum(z * z, axis=-1) - 0.5 * x.shape[-1] * np.log(2 * np.pi) + total


def chain_objectives(specs, x, r, ws=None, model=None):
    """The training objectives of nf_checks' ``gradients`` request, in float64: {name: scalar}."""
    ws = ws or [weights(s) for s in specs]
    y, f = chain_forward(specs, x, ws, model)
    z, i = chain_inverse(specs, x, ws, model)
    return {"forward": np.sum(r * y), "inverse": np.sum(r * z), "fldj": np.sum(f), "ildj": np.sum(i),
            "log_prob": np.sum(chain_log_prob(specs, x, ws, model))}


def chain_gradients(specs, x, r, eps=1e-6, model=None):
    """Central finite differences (float64) of every objective with respect to every weight and to x:
    {objective: {"i/name" or "x": array}}."""
    base = [weights(s) for s in specs]
    names = list(chain_objectives(specs, x, r, base, model))
    grads = {n: {} for n in names}
    for i, w in enumerate(base):
        for k, v in w.items():
            g = {n: np.zeros_like(v) for n in names}
            for idx in np.ndindex(v.shape):
                vals = []
                for sign in (1, -1):
                    ws = [dict(wi) for wi in base]
                    ws[i][k] = v.copy()
                    ws[i][k][idx] += sign * eps
                    vals.append(chain_objectives(specs, x, r, ws, model))
                for n in names:
                    g[n][idx] = (vals[0][n] - vals[1][n]) / (2 * eps)
            for n in names:
                grads[n][f"{i}/{k}"] = g[n]
    gx = {n: np.zeros_like(x) for n in names}
    for idx in np.ndindex(x.shape):  # every entry on its own: a mistaken layer may let examples interact
        e = np.zeros_like(x)
        e[idx] = eps
        plus, minus = chain_objectives(specs, x + e, r, base, model), chain_objectives(specs, x - e, r, base, model)
        for n in names:
            gx[n][idx] = (plus[n] - minus[n]) / (2 * eps)
    for n in names:
        grads[n]["x"] = gx[n]
    return grads
