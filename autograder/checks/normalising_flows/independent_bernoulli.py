"""Exercise 2: independent Bernoullis with P(X_i = 0) = 0.9, 0.7, 0.5 as one event of shape [3]."""
import itertools

import numpy as np
from nf_checks import CheckFailure, ask_or_fail, close, mistake, require, without_unit_axes

from autograder.checks import earlier_mistakes, followed_through

OUTCOMES = np.array(list(itertools.product([0, 1], repeat=3)))
REQUESTS = {
    "log_prob_all": {"op": "log_prob", "name": "independent_bernoulli", "x": OUTCOMES, "dtype": "int32"},
    "samples": {"op": "sample", "name": "independent_bernoulli", "n": 4000, "seed": 1234},
}


def check_log_probs(ask, ref):
    """log_prob of all 8 outcomes matches the reference (after a mistake the visible checks charged, as the
    student's distribution means it: a batch of three is summed, flipped probabilities are flipped back)."""
    charged = earlier_mistakes(ask)
    got = ask_or_fail(ask, REQUESTS["log_prob_all"])
    want = ref["log_prob_all"]
    if "bernoulli-missing-independent" in charged and got.shape == want.shape + (3,):
        got = got.sum(axis=-1)
        followed_through(ask, "bernoulli-missing-independent")
    got = without_unit_axes(got, want.shape)  # a batch axis of size 1 is the shapes check's to charge
    if close(got, want, atol=1e-4):
        return
    if "bernoulli-probs-of-zero" in charged and close(got, want[::-1], atol=1e-4):
        followed_through(ask, "bernoulli-probs-of-zero")
        return
    flipped = want[::-1]  # outcome x under the flipped model is outcome 1 - x under the right one
    if close(got, flipped, atol=1e-4):
        raise mistake("bernoulli-probs-of-zero")
    raise CheckFailure("log_prob disagrees with the reference on some of the 8 outcomes in {0,1}^3. "
                       "Check each component's probability of a 1.")


def check_samples(ask, ref):
    """Samples are 0/1 vectors whose mean matches P(X_i = 1)."""
    s = without_unit_axes(ask_or_fail(ask, REQUESTS["samples"]), (4000, 3))
    require(s.shape == (4000, 3), f"sample(4000) has shape {list(s.shape)}; expected [4000, 3].")
    require(np.all((s == 0) | (s == 1)), "samples should only contain 0 and 1.")
    want = np.asarray(ref["samples"]).mean(axis=0)
    if np.allclose(s.mean(axis=0), want, atol=0.04):
        return
    require("bernoulli-probs-of-zero" in earlier_mistakes(ask) and np.allclose(s.mean(axis=0), 1.0 - want, atol=0.04),
            "the sample means of the three components are not P(X_i = 1) for the exercise's probabilities.")
    followed_through(ask, "bernoulli-probs-of-zero")


HIDDEN = {"independent_bernoulli_reference": [check_log_probs, check_samples]}
