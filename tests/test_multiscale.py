"""The multiscale RealNVP assignment: its checks accept the solutions, name each catalogued mistake, and its
reference values agree with the grader's own float64 maths (autograder/checks/realnvp_multiscale/image_math.py)."""
import numpy as np
import pytest

from autograder import checks, course, notebooks, reference
from autograder.authoring import examples

ASSIGNMENT = "realnvp_multiscale"
MS = course.protocol(ASSIGNMENT)
from autograder.checks.realnvp_multiscale import (  # noqa: E402
    channel_mask,
    checkerboard_mask,
    image_coupling,
    multiscale,
    preprocess,
    squeeze,
)
from autograder.checks.realnvp_multiscale import image_math as im

TEST_IDS = course.test_ids(ASSIGNMENT)


@pytest.fixture(scope="module")
def solved():
    return reference.solution_namespace(ASSIGNMENT)


@pytest.fixture(scope="module")
def stored():
    return reference.load_reference(ASSIGNMENT)


def namespace_with(solved, *mistakes):
    """The solutions' namespace with every solution cell re-run, mistakes applied, as in one notebook."""
    ns = dict(solved)
    nb = examples.apply(examples.notebook("source", ASSIGNMENT), *mistakes)
    for cell in nb.cells:
        if notebooks.grade_meta(cell).get("grade_id") in course.items(ASSIGNMENT):
            exec("\n".join(ln for ln in cell.source.splitlines() if "SOLUTION" not in ln), ns)
    return ns


def failures(ns):
    """{test cell: (message, mistake id)} over every test cell of the assignment."""
    out = {}
    ref = reference.load_reference(ASSIGNMENT)
    for test_id in TEST_IDS:
        try:
            with MS.quiet():
                checks.run_test_cell(ASSIGNMENT, test_id, MS.local_asker(ns), ref)
        except MS.CheckFailure as e:
            out[test_id] = (str(e), e.mistake)
    return out


def test_solutions_pass_every_check(solved):
    assert failures(namespace_with(solved)) == {}


def test_an_untouched_release_fails_every_check_with_a_clear_message(solved):
    ns = dict(solved)
    for name in ("preprocess", "checkerboard_mask", "channel_mask", "Squeeze", "ImageAffineCouplingLayer",
                 "MultiscaleRealNVP"):
        ns.pop(name)
    failed = failures(ns)
    assert set(failed) == set(TEST_IDS)
    assert all("is not defined" in msg for msg, _ in failed.values())


def test_every_catalogued_mistake_has_a_submission_that_makes_it():
    assert set(examples.MULTISCALE_EDITS) == set(MS.MISTAKES)
    for entry in MS.MISTAKES.values():
        assert entry["item"] in course.items(ASSIGNMENT) and entry["message"] and entry["section"]


@pytest.mark.parametrize("mistake_id", sorted(examples.MULTISCALE_EDITS))
def test_each_catalogued_mistake_is_named_and_loses_exactly_its_checks(mistake_id, solved):
    mistake = examples.MULTISCALE_EDITS[mistake_id]
    failed = failures(namespace_with(solved, mistake))
    assert set(failed) == set(mistake.failing), failed
    assert mistake_id in {m for _, m in failed.values()}, failed
    assert any(MS.MISTAKES[mistake_id]["section"] in msg for msg, _ in failed.values())


# ---- reference values against the grader's own maths -------------------------------------------
def test_the_notebook_uses_the_graders_alpha_and_levels(solved):
    assert solved["ALPHA"] == im.ALPHA and solved["LEVELS"] == im.LEVELS == 17


def test_preprocess_reference_is_the_formula(stored):
    y, log_det = stored["preprocess"]["values"]
    want_y, terms = im.preprocess(preprocess.PIXELS, preprocess.NOISE)
    assert np.allclose(y, want_y, atol=1e-5)
    assert np.allclose(log_det, (terms["scale"] + terms["logit"]).sum(axis=(1, 2, 3)), atol=1e-3)


def test_mask_references_are_the_patterns(stored):
    for name, (h, w, o) in checkerboard_mask.CASES.items():
        assert np.array_equal(stored["checkerboard_mask"][name], im.checkerboard(h, w, o))
    assert stored["checkerboard_mask"]["8x8_0"][0, 0, 0] == 1  # orientation 0: the top-left pixel is kept
    for name, (c, o) in channel_mask.CASES.items():
        assert np.array_equal(stored["channel_mask"][name], im.channel(c, o))


def test_squeeze_reference_is_the_figures_order(stored):
    assert np.allclose(stored["squeeze"]["forward"], im.squeeze(squeeze.X))
    assert np.allclose(stored["squeeze"]["forward_batch"], im.squeeze(squeeze.X_BATCH))
    assert np.allclose(im.squeeze(stored["squeeze"]["inverse"]), squeeze.Y)
    numbered = np.arange(1., 17.).reshape(1, 4, 4, 1)  # the figure: channel 1 holds 1, 3, 9, 11
    assert im.squeeze(numbered)[0, :, :, 0].tolist() == [[1, 3], [9, 11]]


def test_coupling_references_follow_the_masked_formula(stored):
    ref = stored["image_coupling"]
    for kind, mask in image_coupling.MASKS.items():
        fn = im.conditioner(image_coupling.SPECS[kind]["channels"], image_coupling.SPECS[kind]["seed"])
        x = image_coupling.X[kind]
        y, s = im.coupling(x, mask, fn)
        assert np.allclose(ref[f"{kind}_forward"], y, atol=1e-5)
        assert np.allclose(ref[f"{kind}_inverse"], im.coupling_inverse(x, mask, fn), atol=1e-5)
        assert np.allclose(ref[f"{kind}_fldj"], ((1 - mask) * s).sum(axis=(1, 2, 3)), atol=1e-4)
        _, s_at_x = im.coupling(x, mask, fn)  # ildj at y = x: the network sees b * x
        assert np.allclose(ref[f"{kind}_ildj"], -((1 - mask) * s_at_x).sum(axis=(1, 2, 3)), atol=1e-4)


def test_multiscale_reference_is_the_two_scale_architecture(stored):
    seed = multiscale.MULTISCALE_SPEC["seed"]
    z, log_det = im.multiscale(multiscale.X, seed)
    assert np.allclose(stored["multiscale"]["forward"], z, atol=1e-4)
    assert np.allclose(stored["multiscale"]["fldj"], log_det, atol=1e-3)
    assert np.allclose(im.multiscale(stored["multiscale"]["inverse"], seed)[0], multiscale.Z, atol=1e-3)
