"""Exercise 6: a base distribution on R^2 with two separated modes (checked as a distribution)."""
import numpy as np
from nf_checks import ask_or_fail, mistake, require

from autograder.checks import earlier_mistakes, followed_through

REQUESTS = {}  # property checks only: no reference values needed
STEP = 0.05
AXIS = np.arange(-10, 10 + STEP / 2, STEP)
GRID = np.stack(np.meshgrid(AXIS, AXIS, indexing="ij"), axis=-1).reshape(-1, 2)


def _as_batch(ask):
    """Whether the visible check charged a batch of two Gaussians (then it is judged as their equal mixture)."""
    if "bimodal-batch-not-mixture" not in earlier_mistakes(ask):
        return False
    followed_through(ask, "bimodal-batch-not-mixture")
    return True


def _log_prob(ask, x, batch):
    if batch:  # [points, 1, 2] broadcasts against the batch of components
        x = x[:, None, :]
    lp = ask_or_fail(ask, {"op": "log_prob", "name": "bimodal_base_distribution", "x": x})
    if batch and lp.ndim == 2:  # [points, components]: the equal-weight mixture the student meant
        lp = np.logaddexp.reduce(lp, axis=-1) - np.log(lp.shape[-1])
    return lp


def check_density(ask, ref):
    """The density integrates to 1 and has two modes that each carry real mass, with a clear dip between them.
    A batch of two Gaussians (charged by the visible check) is judged as the equal mixture of the two."""
    batch = _as_batch(ask)
    lp = _log_prob(ask, GRID, batch)
    require(lp.shape == (len(GRID),), "log_prob of a batch of points should return one value per point.")
    p = np.exp(np.where(np.isfinite(lp), lp, -np.inf)).reshape(len(AXIS), len(AXIS))
    mass = p.sum() * STEP * STEP
    require(abs(mass - 1.0) < 0.03,
            f"the density integrates to {mass:.3f} over [-10, 10]^2, not 1: it is not normalised, "
            "or it puts mass far from the data's scale.")
    maxima, masses = basins(p)
    total = masses.sum()
    heavy = [(m, w) for m, w in zip(maxima, masses) if w >= MIN_MODE_MASS * total]
    if len(heavy) < 2:
        raise mistake("bimodal-one-mode", f"found {len(heavy)} mode(s) carrying at least "
                                          f"{MIN_MODE_MASS:.0%} of the probability each")
    require(len(heavy) <= 4, f"the density has {len(heavy)} modes; the exercise asks for two.")
    top = sorted(heavy, key=lambda mw: -mw[1])[:2]
    (ia, ja), (ib, jb) = (np.unravel_index(m, p.shape) for m, _ in top)
    a, b = np.array([AXIS[ia], AXIS[ja]]), np.array([AXIS[ib], AXIS[jb]])
    line = np.linspace(0, 1, 101)[:, None] * (b - a) + a
    lp_line = _log_prob(ask, line, batch)
    peak = min(p[ia, ja], p[ib, jb])
    require(np.exp(lp_line).min() < DIP * peak,
            "there is no clear dip in density between the two modes: they are not separated.")


#: A mode must carry this share of the mass (its basin of attraction on the grid), and the density between the
#: two heaviest modes must fall below DIP times the lower of their peaks: two local maxima with real mass and a
#: clear dip between them, whatever the components' scales or weights.
MIN_MODE_MASS = 0.1
DIP = 0.8


def basins(p):
    """(flat indices of the grid's local maxima, the probability mass of each one's basin of attraction).

    Each grid cell points to its highest neighbour (itself if none is higher); following the pointers (by
    pointer doubling) leads every cell to the local maximum that steepest ascent reaches from it.
    """
    h, w = p.shape
    padded = np.pad(p, 1, constant_values=-np.inf)
    index = np.arange(h * w).reshape(h, w)
    best, target = p.copy(), index.copy()
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if (di, dj) == (0, 0):
                continue
            neighbour = padded[1 + di:1 + di + h, 1 + dj:1 + dj + w]
            higher = neighbour > best
            best = np.where(higher, neighbour, best)
            target = np.where(higher, index + di * w + dj, target)
    t = target.ravel()
    for _ in range(32):
        t = t[t]
    maxima, owner = np.unique(t, return_inverse=True)
    masses = np.bincount(owner, weights=p.ravel()) * STEP * STEP
    return maxima, masses


def check_samples(ask, ref):
    """1000 samples are finite 2-vectors (one per component after a charged batch of two)."""
    s = ask_or_fail(ask, {"op": "sample", "name": "bimodal_base_distribution", "n": 1000, "seed": 7})
    if _as_batch(ask) and s.shape == (1000, 2, 2):
        s = s.reshape(2000, 2)[:1000]
    require(s.shape == (1000, 2), f"sample(1000) has shape {list(s.shape)}; expected [1000, 2].")
    require(np.all(np.isfinite(s)), "some samples are not finite.")


HIDDEN = {"bimodal_base_distribution_reference": [check_density, check_samples]}
