"""The affine coupling layer in float64 numpy: the grader's own formulas, independent of any notebook.

Used to recognise classic mistakes (each variant below is one of them) and, in tests, to verify the
reference values produced from the solutions.
"""
import numpy as np


def conditioner(spec, x):
    """The grader's deterministic shift_and_log_scale_fn (same maps as nf_checks.conditioner_from_spec)."""
    w = {k: np.asarray(v, dtype="float64") for k, v in spec["weights"].items()}
    h = np.tanh(x @ w["W1"] + w["b1"])
    return h @ w["Ws"] + w["bs"], np.tanh(h @ w["Wl"] + w["bl"])


def forward(spec, x, mask=None):
    b = np.asarray(spec["mask"] if mask is None else mask, dtype="float64")
    t, s = conditioner(spec, b * x)
    return b * x + (1 - b) * (x * np.exp(s) + t)


def inverse(spec, y, mask=None, exp_sign=-1.0, feed_masked=True):
    b = np.asarray(spec["mask"] if mask is None else mask, dtype="float64")
    t, s = conditioner(spec, b * y if feed_masked else y)
    return b * y + (1 - b) * ((y - t) * np.exp(exp_sign * s))


def fldj(spec, x, use_mask=True, mask=None):
    b = np.asarray(spec["mask"] if mask is None else mask, dtype="float64")
    _, s = conditioner(spec, b * x)
    return np.sum(((1 - b) if use_mask else 1.0) * s, axis=-1)


def ildj(spec, y, use_mask=True, mask=None):
    b = np.asarray(spec["mask"] if mask is None else mask, dtype="float64")
    _, s = conditioner(spec, b * y)
    return -np.sum(((1 - b) if use_mask else 1.0) * s, axis=-1)
