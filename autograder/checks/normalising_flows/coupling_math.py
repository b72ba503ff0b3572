"""The affine coupling layer in float64 numpy: the grader's own formulas, independent of any notebook.

The conditioner is ``nf_checks.dense_conditioner``, the one formula the worker also evaluates (in TensorFlow),
here run with numpy in float64. Used to recognise classic mistakes (each variant below is one of them), to
compute the expected values and gradients of the hidden checks, and, in tests, to verify the reference values
produced from the solutions.
"""
import numpy as np
from nf_checks import dense_conditioner


def weights(spec):
    return {k: np.asarray(v, dtype="float64") for k, v in spec["weights"].items()}


def conditioner(spec, x, w=None):
    """The grader's deterministic shift_and_log_scale_fn of ``spec`` (optionally with other weights ``w``)."""
    return dense_conditioner(weights(spec) if w is None else w, x, np, float(spec.get("log_scale_bound", 1.0)))


def _mask(spec, mask):
    return np.asarray(spec["mask"] if mask is None else mask, dtype="float64")


def forward(spec, x, mask=None, s_map=None, w=None):
    """y = b*x + (1-b)*(x*exp(s) + t); ``s_map`` changes s first (the clipping mistake)."""
    b = _mask(spec, mask)
    t, s = conditioner(spec, b * x, w)
    s = s if s_map is None else s_map(s)
    return b * x + (1 - b) * (x * np.exp(s) + t)


def inverse(spec, y, mask=None, exp_sign=-1.0, feed_masked=True, s_map=None, w=None):
    b = _mask(spec, mask)
    t, s = conditioner(spec, b * y if feed_masked else y, w)
    s = s if s_map is None else s_map(s)
    return b * y + (1 - b) * ((y - t) * np.exp(exp_sign * s))


def fldj(spec, x, use_mask=True, mask=None, s_map=None, w=None):
    b = _mask(spec, mask)
    _, s = conditioner(spec, b * x, w)
    s = s if s_map is None else s_map(s)
    return np.sum(((1 - b) if use_mask else 1.0) * s, axis=-1)


def ildj(spec, y, use_mask=True, mask=None, s_map=None, w=None):
    return -fldj(spec, y, use_mask, mask, s_map, w)  # the network sees b*y = b*x, so ildj(y) = -fldj at y


def log_scale(spec, x, mask=None):
    """The log-scales the layer applies at x (the network's output at b*x)."""
    return conditioner(spec, _mask(spec, mask) * x)[1]


# ---- a chain of layers, applied in the order of ``specs`` (specs[0] first) ------------------------
def chain_forward(specs, x, ws=None):
    """(forward, fldj) of the chain at x."""
    ws = ws or [weights(s) for s in specs]
    h, total = x, 0.0
    for s, w in zip(specs, ws):
        total = total + fldj(s, h, w=w)
        h = forward(s, h, w=w)
    return h, total


def chain_inverse(specs, y, ws=None):
    """(inverse, ildj) of the chain at y: the last layer is undone first."""
    ws = ws or [weights(s) for s in specs]
    h, total = y, 0.0
    for s, w in reversed(list(zip(specs, ws))):
        total = total + ildj(s, h, w=w)
        h = inverse(s, h, w=w)
    return h, total


def chain_log_prob(specs, x, ws=None):
    """log_prob of x under TransformedDistribution(N(0, I), chain)."""
    z, total = chain_inverse(specs, x, ws)
    return -0.5 * np.sum(z * z, axis=-1) - 0.5 * x.shape[-1] * np.log(2 * np.pi) + total


def chain_objectives(specs, x, r, ws=None):
    """The training objectives of nf_checks' ``gradients`` request, in float64: {name: scalar}."""
    ws = ws or [weights(s) for s in specs]
    y, f = chain_forward(specs, x, ws)
    z, i = chain_inverse(specs, x, ws)
    return {"forward": np.sum(r * y), "inverse": np.sum(r * z), "fldj": np.sum(f), "ildj": np.sum(i),
            "log_prob": np.sum(chain_log_prob(specs, x, ws))}


def chain_gradients(specs, x, r, eps=1e-6):
    """Central finite differences (float64) of every objective with respect to every weight and to x:
    {objective: {"i/name" or "x": array}}."""
    base = [weights(s) for s in specs]
    names = list(chain_objectives(specs, x, r, base))
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
                    vals.append(chain_objectives(specs, x, r, ws))
                for n in names:
                    g[n][idx] = (vals[0][n] - vals[1][n]) / (2 * eps)
            for n in names:
                grads[n][f"{i}/{k}"] = g[n]
    gx = {n: np.zeros_like(x) for n in names}
    for j in range(x.shape[-1]):  # examples do not interact: one difference per coordinate for all of them
        e = np.zeros_like(x)
        e[..., j] = eps
        plus, minus = _per_example(specs, x + e, r, base), _per_example(specs, x - e, r, base)
        for n in names:
            gx[n][..., j] = (plus[n] - minus[n]) / (2 * eps)
    for n in names:
        grads[n]["x"] = gx[n]
    return grads


def _per_example(specs, x, r, ws):
    """Each example's contribution to the objectives (they are sums over examples)."""
    out = {}
    rows = [chain_objectives(specs, x[i:i + 1], r[i:i + 1], ws) for i in range(x.shape[0])]
    for n in rows[0]:
        out[n] = np.array([row[n] for row in rows])
    return out
