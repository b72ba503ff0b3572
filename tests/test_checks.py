"""The checks accept the solutions and name the classic mistakes.

Each wrong answer replaces one variable of the solutions' namespace, then every test cell of that item is
run in-process. The test asserts which cells fail (so exactly their points are lost) and that the message
names the mistake.
"""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from autograder import checks
from conftest import run_test_cell, solution_source

tfd, tfb = tfp.distributions, tfp.bijectors
NF = checks.protocol()


def cells_of(item):
    ids = [t for t in NF.VISIBLE if t.startswith(item + "_")]
    return ids + [t for t in checks.hidden_checks() if t.startswith(item + "_")]


def failures(item, ns):
    return {t: msg for t in cells_of(item) if (msg := run_test_cell(t, ns)) is not None}


@pytest.mark.parametrize("item", checks.ITEMS)
def test_solutions_pass_every_visible_and_hidden_check(item, solution_ns):
    assert cells_of(item)
    assert failures(item, solution_ns) == {}


@pytest.mark.parametrize("item", checks.ITEMS)
def test_untouched_release_fails_every_check_with_a_clear_message(item, solution_ns, source_nb):
    ns = dict(solution_ns)
    for name in ("predicted_log_prob_shape", "independent_bernoulli", "mvn_tril", "mvn_transformed",
                 "AffineCouplingLayer", "log_det_jacobians", "bimodal_base_distribution"):
        ns.pop(name, None)
    failed = failures(item, ns)
    assert set(failed) == set(cells_of(item))
    assert all("is not defined" in m for m in failed.values()), failed


def expect(item, ns, failing, *phrases):
    failed = failures(item, ns)
    assert set(failed) == set(failing), failed
    text = " ".join(failed.values())
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in {failed}"


# ---- exercise 1 -------------------------------------------------------------------------------
@pytest.mark.predicted_log_prob_shape
@pytest.mark.parametrize("wrong, failing, phrase", [
    ((5, 1, 2, 3), {"predicted_log_prob_shape_value"}, "event dimension"),
    ((5, 1, 2, 1), {"predicted_log_prob_shape_value"}, "shape of test_pts"),
    ((5, 2), {"predicted_log_prob_shape_value"}, "drop the event dimensions"),
    ([5, 1, 2], {"predicted_log_prob_shape_form", "predicted_log_prob_shape_value"}, "tuple of ints"),
    (tf.TensorShape([5, 1, 2]), {"predicted_log_prob_shape_form", "predicted_log_prob_shape_value"}, "tuple"),
])
def test_wrong_shape_predictions(solution_ns, wrong, failing, phrase):
    solution_ns["predicted_log_prob_shape"] = wrong
    expect("predicted_log_prob_shape", solution_ns, failing, phrase)


# ---- exercise 2 -------------------------------------------------------------------------------
@pytest.mark.independent_bernoulli
def test_bernoulli_probabilities_of_zero_used_as_probabilities_of_one(solution_ns):
    solution_ns["independent_bernoulli"] = tfd.Independent(tfd.Bernoulli(probs=[0.9, 0.7, 0.5]), 1)
    expect("independent_bernoulli", solution_ns,
           {"independent_bernoulli_log_prob", "independent_bernoulli_reference"}, "P(X_i = 1)", "wrong way round")


@pytest.mark.independent_bernoulli
def test_bernoulli_without_independent(solution_ns):
    solution_ns["independent_bernoulli"] = tfd.Bernoulli(probs=[0.1, 0.3, 0.5])
    expect("independent_bernoulli", solution_ns, set(cells_of("independent_bernoulli")),
           "event_shape is [] but should be [3]", "tfd.Independent")


@pytest.mark.independent_bernoulli
def test_bernoulli_wrong_probabilities(solution_ns):
    solution_ns["independent_bernoulli"] = tfd.Independent(tfd.Bernoulli(probs=[0.1, 0.4, 0.5]), 1)
    expect("independent_bernoulli", solution_ns,
           {"independent_bernoulli_log_prob", "independent_bernoulli_reference"}, "should be -4.199705")


# ---- exercise 3 -------------------------------------------------------------------------------
MU, SIGMA = tf.constant([0.5, -0.5]), tf.constant([[2., 1.], [1., 2.]])


@pytest.mark.mvn_transformed
def test_sigma_passed_as_cholesky_factor(solution_ns):
    solution_ns["mvn_tril"] = tfd.MultivariateNormalTriL(loc=MU, scale_tril=tf.linalg.band_part(SIGMA, -1, 0))
    solution_ns["mvn_transformed"] = tfd.TransformedDistribution(
        tfd.MultivariateNormalDiag(loc=tf.zeros(2)),
        tfb.Chain([tfb.Shift(MU), tfb.ScaleMatvecTriL(tf.linalg.band_part(SIGMA, -1, 0))]))
    expect("mvn_transformed", solution_ns, {"mvn_transformed_reference"}, "Cholesky factor")


@pytest.mark.mvn_transformed
def test_base_with_the_wrong_covariance(solution_ns):
    solution_ns["mvn_transformed"] = tfd.TransformedDistribution(
        tfd.MultivariateNormalTriL(loc=tf.zeros(2), scale_tril=tf.linalg.cholesky(SIGMA)), tfb.Shift(MU))
    expect("mvn_transformed", solution_ns, {"mvn_transformed_reference"}, "base distribution", "not N(0, I)")


@pytest.mark.mvn_transformed
def test_mvn_transformed_not_a_transformed_distribution(solution_ns):
    solution_ns["mvn_transformed"] = tfd.MultivariateNormalTriL(loc=MU, scale_tril=tf.linalg.cholesky(SIGMA))
    expect("mvn_transformed", solution_ns, {"mvn_transformed_types", "mvn_transformed_reference"},
           "tfd.TransformedDistribution")


@pytest.mark.mvn_transformed
def test_transformed_without_the_shift(solution_ns):
    solution_ns["mvn_transformed"] = tfd.TransformedDistribution(
        tfd.MultivariateNormalDiag(loc=tf.zeros(2)), tfb.ScaleMatvecTriL(tf.linalg.cholesky(SIGMA)))
    expect("mvn_transformed", solution_ns, {"mvn_transformed_agree", "mvn_transformed_reference"},
           "disagree", "mean zero")


# ---- exercise 4 -------------------------------------------------------------------------------
def coupling_variant(source_nb, ns, *replacements):
    """Define AffineCouplingLayer from the solution's source with text replacements (each must apply)."""
    src = solution_source(source_nb, "affine_coupling_layer")
    for old, new in replacements:
        assert old in src, f"variant no longer applies: {old!r}"
        src = src.replace(old, new)
    exec(src, ns)
    return ns


LOG_DET_SUM = "tf.reduce_sum((1. - self.b) * s, axis=-1)"


@pytest.mark.affine_coupling_layer
@pytest.mark.parametrize("replacements, failing, phrases", [
    pytest.param([(LOG_DET_SUM, "tf.reduce_sum(s, axis=-1)")],
                 {"affine_coupling_layer_contract", "affine_coupling_layer_log_det",
                  "affine_coupling_layer_properties"}, ["ignores the mask"], id="log-det ignores the mask"),
    pytest.param([("tf.exp(-s)", "tf.exp(s)")],
                 {"affine_coupling_layer_contract", "affine_coupling_layer_inverse",
                  "affine_coupling_layer_properties"}, ["exp(+log_scale)"], id="wrong exp sign in inverse"),
    pytest.param([("def _inverse(self, y):\n        t, s = self._shift_and_log_scale(self.b * y)",
                   "def _inverse(self, y):\n        t, s = self._shift_and_log_scale(y)")],
                 {"affine_coupling_layer_contract", "affine_coupling_layer_inverse",
                  "affine_coupling_layer_properties"}, ["unmasked input"], id="inverse feeds unmasked input"),
    pytest.param([(LOG_DET_SUM, "tf.reduce_sum((1. - self.b) * s)")] * 1,
                 {"affine_coupling_layer_contract", "affine_coupling_layer_log_det",
                  "affine_coupling_layer_properties"}, ["summed over the batch axis"], id="log-det summed over batch"),
    pytest.param([("forward_min_event_ndims=1", "forward_min_event_ndims=0")],
                 {"affine_coupling_layer_contract", "affine_coupling_layer_log_det",
                  "affine_coupling_layer_properties"}, ["forward_min_event_ndims"], id="wrong min event ndims"),
    pytest.param([("return self.b * x + (1. - self.b) * (x * tf.exp(s) + t)",
                   "return self.b * x + (1. - self.b) * ((x - t) * tf.exp(-s))"),
                  ("return self.b * y + (1. - self.b) * ((y - t) * tf.exp(-s))",
                   "return self.b * y + (1. - self.b) * (y * tf.exp(s) + t)")],
                 {"affine_coupling_layer_contract", "affine_coupling_layer_forward", "affine_coupling_layer_inverse",
                  "affine_coupling_layer_properties"},
                 ["computes the inverse map"], id="swapped forward and inverse"),
])
def test_wrong_coupling_layers(source_nb, solution_ns, replacements, failing, phrases):
    ns = coupling_variant(source_nb, solution_ns, *replacements)
    expect("affine_coupling_layer", ns, failing, *phrases)


@pytest.mark.affine_coupling_layer
def test_cache_trap_garbage_inverse_loses_points(source_nb, solution_ns):
    """An _inverse that returns garbage passes only if a check reuses tensors (the bijector cache)."""
    ns = coupling_variant(source_nb, solution_ns,
                          ("return self.b * y + (1. - self.b) * ((y - t) * tf.exp(-s))", "return y * 0. + 1."))
    expect("affine_coupling_layer", ns, {"affine_coupling_layer_contract", "affine_coupling_layer_inverse",
                                         "affine_coupling_layer_properties"}, "inverse")


# ---- exercise 5 -------------------------------------------------------------------------------
@pytest.mark.log_det_jacobians
@pytest.mark.parametrize("body, failing, phrase", [
    ("return (bijector.forward_log_det_jacobian(x, event_ndims=1),\n"
     "            bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=1))",
     {"log_det_jacobians_visible", "log_det_jacobians_reference"}, "wrong sign"),
    # For a coupling layer ildj(x) == ildj(forward(x)) (the network sees b*x either way), so only the
    # grader's own bijectors can expose this mistake: the visible check passes, the hidden one fails.
    ("return (bijector.forward_log_det_jacobian(x, event_ndims=1),\n"
     "            -bijector.inverse_log_det_jacobian(x, event_ndims=1))",
     {"log_det_jacobians_reference"}, "at forward(x)"),
])
def test_wrong_log_det_jacobians(solution_ns, body, failing, phrase):
    exec(f"def log_det_jacobians(bijector, x):\n    {body}\n", solution_ns)
    expect("log_det_jacobians", solution_ns, failing, phrase)


@pytest.mark.log_det_jacobians
def test_log_det_jacobians_returning_one_value(solution_ns):
    solution_ns["log_det_jacobians"] = lambda bijector, x: bijector.forward_log_det_jacobian(x, event_ndims=1)
    expect("log_det_jacobians", solution_ns, {"log_det_jacobians_visible", "log_det_jacobians_reference"},
           "must return a pair")


# ---- exercise 6 -------------------------------------------------------------------------------
@pytest.mark.bimodal_base_distribution
def test_batch_of_two_gaussians_is_not_a_bimodal_distribution(solution_ns):
    solution_ns["bimodal_base_distribution"] = tfd.MultivariateNormalDiag(loc=[[-1.5, 0.], [1.5, 0.]])
    expect("bimodal_base_distribution", solution_ns,
           {"bimodal_base_distribution_shapes", "bimodal_base_distribution_reference"}, "batch of two Gaussians")


@pytest.mark.bimodal_base_distribution
def test_unimodal_base(solution_ns):
    solution_ns["bimodal_base_distribution"] = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
    expect("bimodal_base_distribution", solution_ns, {"bimodal_base_distribution_reference"}, "1 clear mode")


@pytest.mark.bimodal_base_distribution
def test_overlapping_modes(solution_ns):
    solution_ns["bimodal_base_distribution"] = tfd.MixtureSameFamily(
        tfd.Categorical(probs=[0.5, 0.5]), tfd.MultivariateNormalDiag(loc=[[-0.3, 0.], [0.3, 0.]]))
    expect("bimodal_base_distribution", solution_ns, {"bimodal_base_distribution_reference"}, "mode")


@pytest.mark.bimodal_base_distribution
def test_modes_far_from_the_data_scale(solution_ns):
    solution_ns["bimodal_base_distribution"] = tfd.MixtureSameFamily(
        tfd.Categorical(probs=[0.5, 0.5]), tfd.MultivariateNormalDiag(loc=[[-30., 0.], [30., 0.]]))
    expect("bimodal_base_distribution", solution_ns, {"bimodal_base_distribution_reference"}, "integrates to")


@pytest.mark.bimodal_base_distribution
def test_any_correct_mixture_style_passes(solution_ns):
    """Logits instead of probs, and a TransformedDistribution of a mixture, are both right."""
    mix = tfd.MixtureSameFamily(tfd.Categorical(logits=[0., 0.]),
                                tfd.MultivariateNormalDiag(loc=[[-3., 0.], [3., 0.]], scale_diag=[1., 1.]))
    solution_ns["bimodal_base_distribution"] = tfd.TransformedDistribution(mix, tfb.Scale(0.5))
    assert failures("bimodal_base_distribution", solution_ns) == {}
