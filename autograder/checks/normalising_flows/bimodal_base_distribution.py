"""Exercise 6: a base distribution on R^2 with two separated modes (checked as a distribution)."""
import numpy as np

from nf_checks import ask_or_fail, check_bimodal_shapes, mistake, require

REQUESTS = {}  # property checks only: no reference values needed
STEP = 0.05
AXIS = np.arange(-10, 10 + STEP / 2, STEP)
GRID = np.stack(np.meshgrid(AXIS, AXIS, indexing="ij"), axis=-1).reshape(-1, 2)


def check_shapes(ask, ref):
    """event_shape [2] and batch_shape [] (one distribution, not a batch of two)."""
    info = ask_or_fail(ask, {"op": "describe", "name": "bimodal_base_distribution"})
    if info.get("batch_shape") == [2] and info.get("event_shape") == [2]:
        raise mistake("bimodal-batch-not-mixture")
    check_bimodal_shapes(ask)


def check_density(ask, ref):
    """The density integrates to 1 and has two separated modes."""
    lp = ask_or_fail(ask, {"op": "log_prob", "name": "bimodal_base_distribution", "x": GRID})
    require(lp.shape == (len(GRID),), "log_prob of a batch of points should return one value per point.")
    p = np.exp(np.where(np.isfinite(lp), lp, -np.inf)).reshape(len(AXIS), len(AXIS))
    mass = p.sum() * STEP * STEP
    require(abs(mass - 1.0) < 0.03,
            f"the density integrates to {mass:.3f} over [-10, 10]^2, not 1: it is not normalised, "
            "or it puts mass far from the data's scale.")
    inner = p[1:-1, 1:-1]
    neighbours = np.stack([p[1 + di:p.shape[0] - 1 + di, 1 + dj:p.shape[1] - 1 + dj]
                           for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)])
    peaks = np.argwhere((inner > neighbours.max(axis=0)) & (inner > 0.05 * p.max())) + 1
    if len(peaks) < 2:
        raise mistake("bimodal-one-mode", f"found {len(peaks)} clear mode(s)")
    require(len(peaks) <= 4, f"the density has {len(peaks)} modes; the exercise asks for two.")
    top = sorted(peaks.tolist(), key=lambda ij: -p[ij[0], ij[1]])[:2]
    a, b = (np.array([AXIS[i], AXIS[j]]) for i, j in top)
    require(np.linalg.norm(a - b) >= 1.0, "the two modes are closer than 1 unit apart; separate them more.")
    line = np.linspace(0, 1, 101)[:, None] * (b - a) + a
    lp_line = ask_or_fail(ask, {"op": "log_prob", "name": "bimodal_base_distribution", "x": line})
    peak = min(p[top[0][0], top[0][1]], p[top[1][0], top[1][1]])
    require(np.exp(lp_line).min() < 0.8 * peak,
            "there is no dip in density between the two modes: they are not separated.")


def check_samples(ask, ref):
    """1000 samples are finite 2-vectors."""
    s = ask_or_fail(ask, {"op": "sample", "name": "bimodal_base_distribution", "n": 1000, "seed": 7})
    require(s.shape == (1000, 2), f"sample(1000) has shape {list(s.shape)}; expected [1000, 2].")
    require(np.all(np.isfinite(s)), "some samples are not finite.")


HIDDEN = {"bimodal_base_distribution_reference": [check_shapes, check_density, check_samples]}
