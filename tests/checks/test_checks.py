"""The checks accept the solutions and name the classic mistakes.

Each wrong answer replaces one variable of the solutions' namespace, then every test cell of that item is
run in-process. The test asserts which cells fail (so exactly their points are lost) and that the message
names the mistake.
"""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import ASSIGNMENT, one_per_item, run_test_cell

from autograder import checks, course, reference
from autograder.authoring import examples

tfd, tfb = tfp.distributions, tfp.bijectors
NF = course.protocol(ASSIGNMENT)
ITEMS = course.items(ASSIGNMENT)


def cells_of(item):
    ids = [t for t in NF.VISIBLE if t.startswith(item + "_")]
    return ids + [t for t in checks.hidden_checks(ASSIGNMENT) if t.startswith(item + "_")]


def failures(item, ns):
    """{test cell: (message, mistake id)} for the item's failing test cells."""
    return {t: out for t in cells_of(item) if (out := run_test_cell(t, ns)) is not None}


@pytest.mark.parametrize("item", ITEMS)
def test_solutions_pass_every_visible_and_hidden_check(item, solution_ns):
    assert cells_of(item)
    assert failures(item, solution_ns) == {}


@pytest.mark.parametrize("item", ITEMS)
def test_untouched_release_fails_every_check_with_a_clear_message(item, solution_ns, source_nb):
    ns = dict(solution_ns)
    for name in ("predicted_log_prob_shape", "independent_bernoulli", "mvn_tril", "mvn_transformed",
                 "AffineCouplingLayer", "log_det_jacobians", "bimodal_base_distribution"):
        ns.pop(name, None)
    failed = failures(item, ns)
    assert set(failed) == set(cells_of(item))
    assert all("is not defined" in m for m, _ in failed.values()), failed


def expect(item, ns, failing, *phrases):
    failed = failures(item, ns)
    assert set(failed) == set(failing), failed
    text = " ".join(m for m, _ in failed.values())
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in {failed}"


# ---- exercise 1 -------------------------------------------------------------------------------
@pytest.mark.predicted_log_prob_shape
@pytest.mark.parametrize("wrong, failing, phrase", [
    ((5, 1, 2, 3), {"predicted_log_prob_shape_value"}, "event dimension"),
    ((5, 1, 2, 1), {"predicted_log_prob_shape_value"}, "shape of test_pts"),
    ((5, 2), {"predicted_log_prob_shape_value"}, "drop the event dimensions"),
    # The right value in another container loses the form point only (value and form are graded apart).
    ([5, 1, 2], {"predicted_log_prob_shape_form"}, "tuple of ints"),
    (tf.TensorShape([5, 1, 2]), {"predicted_log_prob_shape_form"}, "tuple"),
    ([5, 2], {"predicted_log_prob_shape_form", "predicted_log_prob_shape_value"}, "drop the event dimensions"),
    ("(5, 1, 2)", {"predicted_log_prob_shape_form", "predicted_log_prob_shape_value"}, "not a sequence of whole"),
    (np.array([5, 1, 2]), {"predicted_log_prob_shape_form"}, "tuple of ints"),
    (tf.constant([5, 1, 2]), {"predicted_log_prob_shape_form"}, "tuple of ints"),
    ((5.0, 1.0, 2.0), {"predicted_log_prob_shape_form"}, "tuple of ints"),
    ((True, 1, 2), {"predicted_log_prob_shape_form", "predicted_log_prob_shape_value"}, "whole numbers"),
])
def test_wrong_shape_predictions(solution_ns, wrong, failing, phrase):
    """Wrong values lose the value points; a right value in another container loses the form point only."""
    solution_ns["predicted_log_prob_shape"] = wrong
    expect("predicted_log_prob_shape", solution_ns, failing, phrase)


# ---- exercise 2 -------------------------------------------------------------------------------
@pytest.mark.independent_bernoulli
def test_bernoulli_probabilities_of_zero_used_as_probabilities_of_one(solution_ns):
    solution_ns["independent_bernoulli"] = tfd.Independent(tfd.Bernoulli(probs=[0.9, 0.7, 0.5]), 1)
    expect("independent_bernoulli", solution_ns, {"independent_bernoulli_log_prob"}, "P(X_i = 1)", "wrong way round")


@pytest.mark.independent_bernoulli
def test_bernoulli_without_independent(solution_ns):
    solution_ns["independent_bernoulli"] = tfd.Bernoulli(probs=[0.1, 0.3, 0.5])
    expect("independent_bernoulli", solution_ns, {"independent_bernoulli_shapes"},
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
    expect("mvn_transformed", solution_ns, {"mvn_transformed_agree"}, "Cholesky factor")


@pytest.mark.mvn_transformed
def test_base_with_the_wrong_covariance(solution_ns):
    solution_ns["mvn_transformed"] = tfd.TransformedDistribution(
        tfd.MultivariateNormalTriL(loc=tf.zeros(2), scale_tril=tf.linalg.cholesky(SIGMA)), tfb.Shift(MU))
    expect("mvn_transformed", solution_ns, {"mvn_transformed_reference"}, "base distribution", "not N(0, I)")


@pytest.mark.mvn_transformed
def test_mvn_transformed_not_a_transformed_distribution(solution_ns):
    solution_ns["mvn_transformed"] = tfd.MultivariateNormalTriL(loc=MU, scale_tril=tf.linalg.cholesky(SIGMA))
    expect("mvn_transformed", solution_ns, {"mvn_transformed_types", "mvn_transformed_reference"},
           "tfd.TransformedDistribution", "no N(0, I) base")


@pytest.mark.mvn_transformed
def test_a_base_of_two_scalar_normals_costs_the_types_check_only(solution_ns):
    """Issue 25's case: tfd.Normal([0, 0], 1) as the base is named by the types check; the bijector is then judged
    on the grader's own N(0, I), and the base as the pair of scalars it is."""
    solution_ns["mvn_transformed"] = tfd.TransformedDistribution(
        tfd.Normal([0., 0.], 1.), tfb.Chain([tfb.Shift(MU), tfb.ScaleMatvecTriL(scale_tril=tf.linalg.cholesky(SIGMA))]))
    expect("mvn_transformed", solution_ns, {"mvn_transformed_types"}, "batch of two scalar normals",
           "See the notes: 3. Distributions")


@pytest.mark.independent_bernoulli
def test_a_batch_axis_of_size_one_costs_the_shapes_check_only(solution_ns):
    """Issue 25's case: probs=[[0.1, 0.3, 0.5]] (batch shape [1]) has the right values; only the shape is wrong."""
    solution_ns["independent_bernoulli"] = tfd.Independent(tfd.Bernoulli(probs=[[0.1, 0.3, 0.5]]),
                                                           reinterpreted_batch_ndims=1)
    expect("independent_bernoulli", solution_ns, {"independent_bernoulli_shapes"}, "batch_shape is [1]",
           "See the notes: 3. Distributions, the Independent distribution")


@pytest.mark.mvn_transformed
def test_transformed_without_the_shift(solution_ns):
    solution_ns["mvn_transformed"] = tfd.TransformedDistribution(
        tfd.MultivariateNormalDiag(loc=tf.zeros(2)), tfb.ScaleMatvecTriL(tf.linalg.cholesky(SIGMA)))
    expect("mvn_transformed", solution_ns, {"mvn_transformed_agree"}, "the mean is wrong", "mean zero")


# ---- the catalogue of mistakes ----------------------------------------------------------------------
def test_every_catalogued_mistake_has_a_submission_that_makes_it():
    assert set(examples.MISTAKE_EDITS) == set(NF.MISTAKES)
    assert len(NF.MISTAKES) >= 15
    for entry in NF.MISTAKES.values():
        assert entry["item"] in ITEMS and entry["message"] and entry["section"] and entry["recognised"]


def run_solution_cell(nb, grade_id, ns):
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    exec("\n".join(ln for ln in cell.source.splitlines() if "SOLUTION" not in ln), ns)


@pytest.mark.parametrize("mistake_id", one_per_item(sorted(examples.MISTAKE_EDITS),
                                                     lambda m: examples.MISTAKE_EDITS[m].grade_id))
def test_each_catalogued_mistake_is_named_and_loses_exactly_its_checks(mistake_id, source_nb, solution_ns):
    mistake = examples.MISTAKE_EDITS[mistake_id]
    run_solution_cell(examples.apply(source_nb, mistake), mistake.grade_id, solution_ns)
    item = NF.MISTAKES[mistake_id]["item"]
    failed = failures(item, solution_ns)
    assert set(failed) == set(mistake.failing), failed
    assert mistake_id in {m for _, m in failed.values()}, failed
    assert any(NF.MISTAKES[mistake_id]["section"] in msg for msg, _ in failed.values())


@pytest.mark.affine_coupling_layer
def test_cache_trap_garbage_inverse_loses_the_inverse_points(source_nb, solution_ns):
    """An _inverse returning garbage passes only if a check reuses tensors (the bijector cache)."""
    run_solution_cell(examples.apply(source_nb, examples.CACHE_TRAP), "affine_coupling_layer", solution_ns)
    expect("affine_coupling_layer", solution_ns, examples.CACHE_TRAP.failing, "inverse")


# ---- exercise 5 -------------------------------------------------------------------------------
@pytest.mark.log_det_jacobians
@pytest.mark.parametrize("body, failing, phrase", [
    ("return (bijector.forward_log_det_jacobian(x, event_ndims=1),\n"
     "            bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=1))",
     {"log_det_jacobians_visible"}, "wrong sign"),
    # For a coupling layer ildj(x) == ildj(forward(x)) (the network sees b*x either way), so the visible check
    # also uses tfb.Sinh, where evaluating at x shows; the hidden check then does not charge it again.
    ("return (bijector.forward_log_det_jacobian(x, event_ndims=1),\n"
     "            -bijector.inverse_log_det_jacobian(x, event_ndims=1))",
     {"log_det_jacobians_visible"}, "forward(x)"),
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
    expect("bimodal_base_distribution", solution_ns, {"bimodal_base_distribution_shapes"}, "batch of two Gaussians")


@pytest.mark.bimodal_base_distribution
def test_unimodal_base(solution_ns):
    solution_ns["bimodal_base_distribution"] = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
    expect("bimodal_base_distribution", solution_ns, {"bimodal_base_distribution_reference"}, "found 1 mode")


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


@pytest.mark.affine_coupling_layer
def test_an_unrecognised_error_reports_counts_but_no_number_from_the_reference(source_nb, solution_ns):
    slightly_off = examples.Mistake("affine_coupling_layer", (
        ("return self.b * x + (1. - self.b) * (x * tf.exp(s) + t)",
         "return self.b * x + (1. - self.b) * (x * tf.exp(s) + 1.01 * t)"),), frozenset())
    run_solution_cell(examples.apply(source_nb, slightly_off), "affine_coupling_layer", solution_ns)
    failed = failures("affine_coupling_layer", solution_ns)
    message, mistake = failed["affine_coupling_layer_forward"]
    assert mistake is None and "values differ from the reference" in message
    stored = reference.load_reference(ASSIGNMENT)["affine_coupling_layer"]
    shown = {f"{v:.6g}" for k, arr in stored.items() if k.startswith("forward") for v in arr.ravel()}
    assert not [v for v in shown if v in message]
    # Not even a difference: every number in the message is a count or a tolerance.
    import re
    numbers = set(re.findall(r"\d+\.\d+|\d+e-\d+", message))
    assert numbers <= {"0.0001", "1e-4", "1e-05", "1e-5", "0.001"}, (numbers, message)


def test_student_self_check_runs_a_whole_exercise_offline(solution_ns, capsys):
    """check("<exercise>") in the release runs its visible checks, with the catalogue's hints."""
    NF.check("independent_bernoulli", namespace=solution_ns)
    assert "all visible checks passed" in capsys.readouterr().out
    solution_ns["independent_bernoulli"] = tfd.Bernoulli(probs=[0.1, 0.3, 0.5])
    with pytest.raises(NF.CheckFailure, match="Wrap it in tfd.Independent") as info:
        NF.check("independent_bernoulli", namespace=solution_ns)
    assert info.value.mistake == "bernoulli-missing-independent"
    with pytest.raises(KeyError):
        NF.check("no_such_exercise", namespace=solution_ns)
