"""Reference values: fresh against the solutions, and right by the grader's own independent maths."""
import itertools

import numpy as np
import pytest
from conftest import ASSIGNMENT

from autograder import course, reference

course.protocol(ASSIGNMENT)  # the item modules import it by name
from autograder.checks.normalising_flows import affine_coupling_layer as acl  # noqa: E402
from autograder.checks.normalising_flows import coupling_math as cm
from autograder.checks.normalising_flows import log_det_jacobians as ldj
from autograder.checks.normalising_flows import mvn_transformed as mvt


@pytest.fixture(scope="module")
def stored():
    return reference.load_reference(ASSIGNMENT)


def test_stored_reference_is_up_to_date(solution_ns_session, stored):
    fresh = reference.build_reference(ASSIGNMENT, solution_ns_session)
    assert reference.differences(fresh, stored) == [], "reference values are stale: run `make reference`"


def test_staleness_is_detected(stored):
    tampered = {k: dict(v) for k, v in stored.items()}
    key = next(iter(tampered["affine_coupling_layer"]))
    tampered["affine_coupling_layer"][key] = tampered["affine_coupling_layer"][key] + 1e-3
    assert reference.differences(tampered, stored)


@pytest.mark.predicted_log_prob_shape
def test_predicted_shape_is_numpy_broadcasting(stored):
    # mvn3: loc [1, 2, 3] -> batch [1, 2], event [3]; test_pts [5, 1, 2, 1]; log_prob drops the event axis
    assert tuple(stored["predicted_log_prob_shape"]["prediction"]["value"]) == \
        np.broadcast_shapes((5, 1, 2, 1), (1, 2, 3))[:-1]


@pytest.mark.independent_bernoulli
def test_bernoulli_reference_is_the_product_formula(stored):
    p1 = np.array([0.1, 0.3, 0.5])
    outcomes = np.array(list(itertools.product([0, 1], repeat=3)))
    want = np.log(np.where(outcomes == 1, p1, 1 - p1)).sum(axis=1)
    np.testing.assert_allclose(stored["independent_bernoulli"]["log_prob_all"], want, rtol=1e-5)
    assert np.isclose(want[-1], -4.199705, atol=1e-6)  # the value quoted in the exercise


@pytest.mark.mvn_transformed
def test_mvn_reference_is_the_gaussian_density(stored):
    want = mvt.gaussian_log_pdf(mvt.POINTS, mvt.MU, mvt.SIGMA)
    np.testing.assert_allclose(stored["mvn_transformed"]["tril_log_prob"], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stored["mvn_transformed"]["transformed_log_prob"], want, rtol=1e-4, atol=1e-4)


@pytest.mark.affine_coupling_layer
def test_coupling_reference_is_the_float64_formula(stored):
    ref = stored["affine_coupling_layer"]
    for case in acl.CASES:
        spec, x, name = acl._spec(case), acl._x(case[0], case[2]), acl._case_name(case)
        assert np.abs(cm.log_scale(spec, x)).max() > 1.5 or len(case) == 3  # the large case reaches past +-1
        np.testing.assert_allclose(ref[f"forward {name}"], cm.forward(spec, x), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ref[f"fldj {name}"], cm.fldj(spec, x), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(cm.inverse(spec, cm.forward(spec, x)), x, atol=1e-10)


@pytest.mark.affine_coupling_layer
def test_coupling_math_log_det_matches_a_finite_difference_jacobian():
    spec, x = acl._spec(acl.CASES[4]), acl._x(6, 0)[0]
    eps = 1e-6
    jac = np.stack([(cm.forward(spec, x + eps * e) - cm.forward(spec, x - eps * e)) / (2 * eps)
                    for e in np.eye(6)], axis=1)
    assert np.isclose(np.linalg.slogdet(jac)[1], cm.fldj(spec, x), atol=1e-6)


@pytest.mark.log_det_jacobians
def test_log_det_jacobians_reference_is_analytic(stored):
    ref = stored["log_det_jacobians"]
    L = np.array(ldj.SPECS["scale_tril"]["scale_tril"])
    for arr in ref["scale_tril"]["fldj"], ref["scale_tril"]["neg_ildj"]:
        np.testing.assert_allclose(arr, np.full(len(ldj.X), np.log(np.abs(np.diag(L))).sum()), rtol=1e-5)
    softplus_fldj = np.sum(-np.log1p(np.exp(-ldj.X)), axis=-1)  # d softplus / dx = sigmoid(x)
    for arr in ref["shift_softplus"]["fldj"], ref["shift_softplus"]["neg_ildj"]:
        np.testing.assert_allclose(arr, softplus_fldj, rtol=1e-4, atol=1e-5)
    # tfb.RealNVP(num_masked=1): the log-det is the sum of the log-scales the network gives from x[:, :1]
    spec = ldj.SPECS["realnvp"]
    w = {k: np.asarray(v) for k, v in spec["weights"].items()}
    h = np.tanh(ldj.X[:, :1] @ w["W1"] + w["b1"])
    want = np.tanh(h @ w["Wl"] + w["bl"]).sum(axis=-1)
    for arr in ref["realnvp"]["fldj"], ref["realnvp"]["neg_ildj"]:
        np.testing.assert_allclose(arr, want, rtol=1e-4, atol=1e-5)


@pytest.mark.affine_coupling_layer
def test_inverse_references_are_computed_on_fresh_inputs_not_on_reference_outputs(stored):
    """No reference value is ever sent to the student's code: inverse and ildj get fresh grader inputs."""
    ref = stored["affine_coupling_layer"]
    outputs = [v for k, v in ref.items() if k.startswith(("forward", "fldj"))]
    for name, request in acl.REQUESTS.items():
        for sent in (request["x"],):
            assert not any(np.shape(sent) == np.shape(o) and np.allclose(sent, o) for o in outputs), name
    for case in acl.CASES:
        spec, y, name = acl._spec(case), acl._y(case[0], case[2]), acl._case_name(case)
        np.testing.assert_allclose(ref[f"inverse {name}"], cm.inverse(spec, y), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ref[f"ildj {name}"], cm.ildj(spec, y), rtol=1e-4, atol=1e-5)


@pytest.mark.affine_coupling_layer
def test_chain_maths_is_tfp_chain_order(stored):
    """cm.chain_log_prob (specs[0] acts first) agrees with the solutions' Chain([second, first]) log_prob."""
    first, second = acl.CHAIN_SPECS[1], acl.CHAIN_SPECS[0]
    got = cm.chain_log_prob([first, second], acl.CHAIN_X)
    np.testing.assert_allclose(stored["affine_coupling_layer"]["chain flow_log_prob"], got, rtol=1e-4, atol=1e-4)


@pytest.mark.affine_coupling_layer
def test_finite_difference_gradients_agree_with_an_analytic_one():
    """d/d(bl) of sum(fldj) for one layer is sum over examples and unmasked j of (1 - tanh^2) at that unit."""
    spec = acl.GRAD_SPECS[0]
    grads = cm.chain_gradients([spec], acl.GRAD_X, acl.GRAD_R)
    w = cm.weights(spec)
    b = np.asarray(spec["mask"])
    h = np.tanh((b * acl.GRAD_X) @ w["W1"] + w["b1"])
    pre = h @ w["Wl"] + w["bl"]
    want = ((1 - b) * (1 - np.tanh(pre) ** 2)).sum(axis=0)
    np.testing.assert_allclose(grads["fldj"]["0/bl"], want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grads["fldj"]["0/bs"], 0.0, atol=1e-9)  # the shift does not enter the log-det
