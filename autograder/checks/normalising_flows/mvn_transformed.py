"""Exercise 3: N(mu, Sigma) as MultivariateNormalTriL and as a TransformedDistribution of N(0, I)."""
import numpy as np
from nf_checks import CheckFailure, ask_or_fail, check_mvn_types, close, mistake, require

MU = np.array([0.5, -0.5])
SIGMA = np.array([[2.0, 1.0], [1.0, 2.0]])
POINTS = np.random.default_rng(20261129).normal(size=(25, 2)) * 2.0 + MU
REQUESTS = {
    "tril_log_prob": {"op": "log_prob", "name": "mvn_tril", "x": POINTS},
    "transformed_log_prob": {"op": "log_prob", "name": "mvn_transformed", "x": POINTS},
    "base_log_prob": {"op": "log_prob", "name": "mvn_transformed.distribution", "x": POINTS},
}


def gaussian_log_pdf(x, mu, cov):
    """log N(x; mu, cov) in float64."""
    d = x - mu
    sol = np.linalg.solve(cov, d.T).T
    return -0.5 * (np.sum(d * sol, axis=-1) + np.linalg.slogdet(cov)[1] + len(mu) * np.log(2 * np.pi))


def _diagnose(name, got, ref):
    lower = np.tril(SIGMA)  # a triangular scale keeps only the lower triangle of what it is given
    if any(close(got, gaussian_log_pdf(POINTS, MU, a @ a.T), atol=1e-3) for a in (SIGMA, lower)):
        raise mistake("mvn-sigma-as-cholesky", f"in `{name}`")
    if close(got, gaussian_log_pdf(POINTS, -MU, SIGMA), atol=1e-3):
        raise mistake("mvn-missing-shift", f"`{name}` has mean -mu")
    if close(got, gaussian_log_pdf(POINTS, np.zeros(2), SIGMA), atol=1e-3):
        raise mistake("mvn-missing-shift", f"`{name}` has mean zero")
    raise CheckFailure(f"`{name}`.log_prob does not match N(mu, Sigma) at the hidden test points.")


def check_tril(ask, ref):
    """mvn_tril.log_prob matches N(mu, Sigma) at hidden points."""
    check_mvn_types(ask)
    got = ask_or_fail(ask, REQUESTS["tril_log_prob"])
    if not close(got, ref["tril_log_prob"], atol=1e-4):
        _diagnose("mvn_tril", got, ref)


def check_transformed(ask, ref):
    """mvn_transformed.log_prob matches N(mu, Sigma) at hidden points."""
    got = ask_or_fail(ask, REQUESTS["transformed_log_prob"])
    if not close(got, ref["transformed_log_prob"], atol=1e-4):
        _diagnose("mvn_transformed", got, ref)


def check_base(ask, ref):
    """The TransformedDistribution's base is a zero-mean, identity-covariance Gaussian on R^2."""
    got = ask_or_fail(ask, REQUESTS["base_log_prob"])
    require(got.shape == (len(POINTS),), f"the base distribution's log_prob has shape {list(got.shape)}; "
            f"expected [{len(POINTS)}]: its event_shape must be [2].")
    if not close(got, gaussian_log_pdf(POINTS, np.zeros(2), np.eye(2)), atol=1e-4):
        raise mistake("mvn-base-not-standard")


HIDDEN = {"mvn_transformed_reference": [check_tril, check_transformed, check_base]}
