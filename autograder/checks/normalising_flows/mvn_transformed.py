"""Exercise 3: N(mu, Sigma) as MultivariateNormalTriL and as a TransformedDistribution of N(0, I)."""
import numpy as np
from nf_checks import MU, SIGMA, CheckFailure, ask_or_fail, close, gaussian_log_pdf, mistake, require

from autograder.checks import earlier_mistakes

MU, SIGMA = np.asarray(MU), np.asarray(SIGMA)
POINTS = np.random.default_rng(20261129).normal(size=(25, 2)) * 2.0 + MU
REQUESTS = {
    "tril_log_prob": {"op": "log_prob", "name": "mvn_tril", "x": POINTS},
    "transformed_log_prob": {"op": "log_prob", "name": "mvn_transformed", "x": POINTS},
    "base_log_prob": {"op": "log_prob", "name": "mvn_transformed.distribution", "x": POINTS},
}


def _as_meant(name, got, charged):
    """Whether ``got`` is what the student's distribution gives under a mistake the visible checks charged
    (then it is not charged again here)."""
    lower = np.tril(SIGMA)
    covs = [SIGMA] + ([a @ a.T for a in (SIGMA, lower)] if "mvn-sigma-as-cholesky" in charged else [])
    means = [MU] + ([np.zeros(2), -MU] if "mvn-missing-shift" in charged and name == "mvn_transformed" else [])
    return any(close(got, gaussian_log_pdf(POINTS, m, c), atol=1e-3) for m in means for c in covs)


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
    got = ask_or_fail(ask, REQUESTS["tril_log_prob"])
    if not close(got, ref["tril_log_prob"], atol=1e-4) and not _as_meant("mvn_tril", got, earlier_mistakes(ask)):
        _diagnose("mvn_tril", got, ref)


def check_transformed(ask, ref):
    """mvn_transformed.log_prob matches N(mu, Sigma) at hidden points."""
    got = ask_or_fail(ask, REQUESTS["transformed_log_prob"])
    if not close(got, ref["transformed_log_prob"], atol=1e-4) and not _as_meant("mvn_transformed", got,
                                                                                  earlier_mistakes(ask)):
        _diagnose("mvn_transformed", got, ref)


def check_base(ask, ref):
    """The TransformedDistribution's base is a zero-mean, identity-covariance Gaussian on R^2 (not judged when the
    visible check found no TransformedDistribution: it has no base)."""
    if "mvn-not-transformed" in earlier_mistakes(ask):
        return
    got = ask_or_fail(ask, REQUESTS["base_log_prob"])
    require(got.shape == (len(POINTS),), f"the base distribution's log_prob has shape {list(got.shape)}; "
            f"expected [{len(POINTS)}]: its event_shape must be [2].")
    if not close(got, gaussian_log_pdf(POINTS, np.zeros(2), np.eye(2)), atol=1e-4):
        raise mistake("mvn-base-not-standard")


HIDDEN = {"mvn_transformed_reference": [check_tril, check_transformed, check_base]}
