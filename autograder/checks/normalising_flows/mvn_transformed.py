"""Exercise 3: N(mu, Sigma) as MultivariateNormalTriL and as a TransformedDistribution of N(0, I)."""
import numpy as np
from nf_checks import MU, SIGMA, CheckFailure, ask_or_fail, close, gaussian_log_pdf, mistake, require

from autograder.checks import earlier_mistakes, followed_through

MU, SIGMA = np.asarray(MU), np.asarray(SIGMA)
POINTS = np.random.default_rng(20261129).normal(size=(25, 2)) * 2.0 + MU
REQUESTS = {
    "tril_log_prob": {"op": "log_prob", "name": "mvn_tril", "x": POINTS},
    "transformed_log_prob": {"op": "log_prob", "name": "mvn_transformed", "x": POINTS},
    "base_log_prob": {"op": "log_prob", "name": "mvn_transformed.distribution", "x": POINTS},
}


def _as_meant(ask, name, got, charged):
    """Whether ``got`` is what the student's distribution gives under a mistake the visible checks charged
    (then it is not charged again here)."""
    lower = np.tril(SIGMA)
    covs = [(SIGMA, None)] + ([(a @ a.T, "mvn-sigma-as-cholesky") for a in (SIGMA, lower)]
                              if "mvn-sigma-as-cholesky" in charged else [])
    means = [(MU, None)] + ([(np.zeros(2), "mvn-missing-shift"), (-MU, "mvn-missing-shift")]
                            if "mvn-missing-shift" in charged and name == "mvn_transformed" else [])
    for (m, why_m), (c, why_c) in ((m, c) for m in means for c in covs):
        if close(got, gaussian_log_pdf(POINTS, m, c), atol=1e-3):
            followed_through(ask, *[w for w in (why_c, why_m) if w])
            return True
    return False


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
    if not close(got, ref["tril_log_prob"], atol=1e-4) and not _as_meant(ask, "mvn_tril", got, earlier_mistakes(ask)):
        _diagnose("mvn_tril", got, ref)


def check_transformed(ask, ref):
    """mvn_transformed.log_prob matches N(mu, Sigma) at hidden points (after a charged base of two scalar normals,
    with the grader's N(0, I) as the base: the bijector is judged)."""
    standard = "mvn-base-batch-of-scalars" in earlier_mistakes(ask)
    got = ask_or_fail(ask, {**REQUESTS["transformed_log_prob"], "standard_base": standard})
    if standard:
        followed_through(ask, "mvn-base-batch-of-scalars")
    if not close(got, ref["transformed_log_prob"], atol=1e-4) and not _as_meant(ask, "mvn_transformed", got,
                                                                                  earlier_mistakes(ask)):
        _diagnose("mvn_transformed", got, ref)


def check_base(ask, ref):
    """The TransformedDistribution's base is a zero-mean, identity-covariance Gaussian on R^2. Without a
    TransformedDistribution there is no base, and this property fails too: the exercise's transformation is
    missing, which must not cost less than building it on a wrong base."""
    if "mvn-not-transformed" in earlier_mistakes(ask):
        raise CheckFailure("`mvn_transformed` is not a TransformedDistribution, so it has no N(0, I) base pushed "
                           "through Shift(mu) and ScaleMatvecTriL(L): that half of the exercise is missing.")
    got = ask_or_fail(ask, REQUESTS["base_log_prob"])
    if "mvn-base-batch-of-scalars" in earlier_mistakes(ask) and got.shape == (len(POINTS), 2):
        got = got.sum(axis=-1)  # two independent scalars: their log-probs add up to that of the pair
        followed_through(ask, "mvn-base-batch-of-scalars")
    require(got.shape == (len(POINTS),), f"the base distribution's log_prob has shape {list(got.shape)}; "
            f"expected [{len(POINTS)}]: its event_shape must be [2].")
    if not close(got, gaussian_log_pdf(POINTS, np.zeros(2), np.eye(2)), atol=1e-4):
        raise mistake("mvn-base-not-standard")


HIDDEN = {"mvn_transformed_reference": [check_tril, check_transformed, check_base]}
