"""The multiscale RealNVP assignment: its checks accept the solutions, name each catalogued mistake, and its
reference values agree with the grader's own float64 maths (autograder/checks/realnvp_multiscale/image_math.py)."""
import sys

import numpy as np
import pytest
from conftest import one_per_item

import course_config
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
def solved(ms_solution_ns_session):
    return ms_solution_ns_session


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
    """{test cell: (message, mistake id)} over every test cell of the assignment, with one ``ask`` for all of
    them, as the grader has for one submission."""
    out = {}
    ref = reference.load_reference(ASSIGNMENT)
    ask = MS.local_asker(ns)
    for test_id in TEST_IDS:
        try:
            with MS.quiet():
                checks.run_test_cell(ASSIGNMENT, test_id, ask, ref)
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


@pytest.mark.parametrize("mistake_id", one_per_item(sorted(examples.MULTISCALE_EDITS),
                                                     lambda m: examples.MULTISCALE_EDITS[m].grade_id))
def test_each_catalogued_mistake_fails_one_check_the_one_that_names_it(mistake_id, solved):
    """Within an item, later checks follow through on what an earlier one charged; other items never see it."""
    mistake = examples.MULTISCALE_EDITS[mistake_id]
    failed = failures(namespace_with(solved, mistake))
    assert len(failed) == 1, failed
    [(test_id, (message, named))] = failed.items()
    assert named == mistake_id, failed
    assert course.item_of(ASSIGNMENT, test_id) == MS.MISTAKES[mistake_id]["item"]
    assert MS.MISTAKES[mistake_id]["section"] in message
    assert set(failed) == set(mistake.failing), failed


POINTS = {c["test_id"]: c["points"] for c in course.test_cells(ASSIGNMENT)}


def points_lost(failed):
    """{item: points lost}"""
    out = {}
    for test_id in failed:
        item = course.item_of(ASSIGNMENT, test_id)
        out[item] = out.get(item, 0) + POINTS[test_id]
    return out


# The issue's cases (issue 20): where each mistake is charged, and how much it costs.
ISSUE_CASES = {
    # both wrong orders of the squeeze are caught by the visible check (it compares with tf.nn.space_to_depth);
    # the column-by-column one also changes the one-channel multiscale flow, which is graded on the grader's Squeeze
    "squeeze-channel-major": ("squeeze_visible", {"squeeze": 1}),
    "squeeze-block-column-major": ("squeeze_visible", {"squeeze": 1}),
    # the visible check looks at the top-left pixel
    "checkerboard-wrong-orientation": ("checkerboard_mask_visible", {"checkerboard_mask": 1}),
    # a wrong constant costs the check of the quantity it spoils: the log-det, not y
    "preprocess-no-dequant-scale": ("preprocess_visible", {"preprocess": 1}),
}


@pytest.mark.parametrize("mistake_id", one_per_item(sorted(ISSUE_CASES),
                                                     lambda m: examples.MULTISCALE_EDITS[m].grade_id))
def test_the_issues_cases_cost_one_check_in_their_own_item(mistake_id, solved):
    cell, lost = ISSUE_CASES[mistake_id]
    failed = failures(namespace_with(solved, examples.MULTISCALE_EDITS[mistake_id]))
    assert set(failed) == {cell} and points_lost(failed) == lost, failed


def test_a_missing_log_17_costs_the_log_det_check_and_not_the_check_of_y(solved):
    ns = namespace_with(solved, examples.MULTISCALE_EDITS["preprocess-no-dequant-scale"])
    ask = MS.local_asker(ns)
    with pytest.raises(MS.CheckFailure) as failure:
        MS.check_preprocess_log_det_visible(ask)
    assert failure.value.mistake == "preprocess-no-dequant-scale"
    MS.check_preprocess_visible(ask)  # y: shape, finite, increasing
    checks.run_test_cell(ASSIGNMENT, "preprocess_reference", ask, reference.load_reference(ASSIGNMENT))


PARTS = {"checkerboard_mask", "channel_mask", "squeeze", "image_coupling"}  # the items the flow is built from
PART_MISTAKES = sorted(m for m, e in MS.MISTAKES.items() if e["item"] in PARTS)
PART_BUGS = {  # not catalogued: a part that is missing, or one whose forward and inverse are wrong
    "Squeeze stub": "class Squeeze(tfb.Bijector):\n    def __init__(self, **kwargs):\n        raise NotImplementedError()",
    "coupling without pass-through": """
class ImageAffineCouplingLayer(ImageAffineCouplingLayer):
    def _forward(self, x):
        t, s = self.shift_and_log_scale_fn(self.b * x)
        return x * tf.exp(s) + t
    def _inverse(self, y):
        t, s = self.shift_and_log_scale_fn(self.b * y)
        return (y - t) * tf.exp(-s)
""",
}


def multiscale_failures(ns):
    return {t: f for t, f in failures(ns).items() if course.item_of(ASSIGNMENT, t) == "multiscale"}


@pytest.mark.parametrize("mistake_id", one_per_item(PART_MISTAKES, lambda m: MS.MISTAKES[m]["item"]))
def test_the_multiscale_item_gets_full_marks_when_only_a_part_is_wrong(mistake_id, solved):
    ns = namespace_with(solved, examples.MULTISCALE_EDITS[mistake_id])
    assert multiscale_failures(ns) == {}


@pytest.mark.parametrize("bug", one_per_item(sorted(PART_BUGS), lambda bug: "a part"))
def test_the_multiscale_item_is_graded_on_the_graders_part_for_an_uncatalogued_part_bug(bug, solved):
    ns = namespace_with(solved)
    exec(PART_BUGS[bug], ns)
    assert multiscale_failures(ns) == {}
    assert set(failures(ns)) - set(multiscale_failures(ns))  # the part itself loses points


def test_a_multiscale_check_graded_on_the_graders_part_says_so(solved):
    ns = namespace_with(solved, examples.MULTISCALE_EDITS["squeeze-block-column-major"])
    ask, ref = MS.local_asker(ns), reference.load_reference(ASSIGNMENT)
    with MS.quiet():
        note = checks.run_test_cell(ASSIGNMENT, "multiscale_jacobian", ask, ref)
    assert "grader's own `Squeeze`" in note and "_on_images" not in note
    with MS.quiet():
        note = checks.run_test_cell(ASSIGNMENT, "squeeze_order", ask, ref)
    assert "grader's own" not in note and "already charged in squeeze_visible" in note  # a follow-through


def test_with_the_graders_parts_the_students_multiscale_code_is_still_judged(solved):
    ns = namespace_with(solved, examples.MULTISCALE_EDITS["squeeze-block-column-major"],
                        examples.MULTISCALE_EDITS["multiscale-latents-swapped"])
    failed = failures(ns)
    assert {t: m for t, (_, m) in failed.items()} == {"squeeze_visible": "squeeze-block-column-major",
                                                       "multiscale_reference": "multiscale-latents-swapped"}


def test_the_graders_parts_never_ship_with_a_release():
    marker = "def _on_images(fn, x):"  # a line of the grader's Squeeze
    assert marker in multiscale.PARTS_SOURCE
    for path in (course_config.ROOT / course_config.RELEASE_DIR).rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".json", ".txt", ".md"):
            assert marker not in path.read_text(errors="replace"), path


def test_the_graders_parts_are_the_grader_maths():
    from autograder.checks.realnvp_multiscale import parts
    x = np.random.default_rng(5).normal(size=(2, 3, 4, 6, 2)).astype("float32")
    assert np.allclose(parts.Squeeze().forward(x), im.squeeze(x))
    assert np.allclose(parts.Squeeze().inverse(im.squeeze(x)), x)
    assert np.array_equal(parts.checkerboard_mask(5, 6, 1), im.checkerboard(5, 6, 1))
    assert np.array_equal(parts.channel_mask(8, 1), im.channel(8, 1)[0, 0][None, None])
    mask = np.repeat(im.checkerboard(4, 6, 0), 3, axis=2)
    fn = MS.conditioner(3, 91)
    layer = parts.ImageAffineCouplingLayer(fn, mask)
    x3 = np.random.default_rng(6).normal(size=(2, 4, 6, 3))
    y, s = im.coupling(x3, mask, im.conditioner(3, 91))
    assert np.allclose(layer.forward(x3.astype("float32")), y, atol=1e-5)
    assert np.allclose(layer.forward_log_det_jacobian(x3.astype("float32"), 3), ((1 - mask) * s).sum(axis=(1, 2, 3)),
                       atol=1e-4)


def test_the_visible_squeeze_order_is_tf_space_to_depth():
    import tensorflow as tf
    x = np.random.default_rng(7).normal(size=(3, 8, 6, 2)).astype("float32")
    assert np.allclose(MS.space_to_depth(x), tf.nn.space_to_depth(x, 2))
    assert np.allclose(MS.space_to_depth(x), im.squeeze(x))
    assert np.allclose(MS.space_to_depth(x, channel_major=True), im.squeeze(x, channel_major=True))
    for channel_major in (False, True):
        assert np.allclose(im.unsqueeze(im.squeeze(x, channel_major), channel_major), x)


def test_squeeze_reports_its_event_shapes(solved):
    sq = namespace_with(solved)["Squeeze"]()
    assert sq.forward_event_shape([8, 8, 1]).as_list() == [4, 4, 4]
    assert sq.inverse_event_shape([4, 4, 4]).as_list() == [8, 8, 1]
    assert list(sq.forward_event_shape_tensor([8, 8, 1]).numpy()) == [4, 4, 4]
    assert list(sq.inverse_event_shape_tensor([4, 4, 4]).numpy()) == [8, 8, 1]


def test_the_visible_checks_name_the_orientation_of_both_masks(solved):
    for mistake_id, check in (("checkerboard-wrong-orientation", MS.check_checkerboard_visible),
                              ("channel-mask-wrong-orientation", MS.check_channel_visible)):
        ask = MS.local_asker(namespace_with(solved, examples.MULTISCALE_EDITS[mistake_id]))
        with pytest.raises(MS.CheckFailure) as failure:
            check(ask)
        assert failure.value.mistake == mistake_id


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


# ---- the grader's parts reach every place the student's composed cell holds the student's ----------------------
_CLASS_LINE = "class MultiscaleRealNVP(tfb.Bijector):"
_INIT_LINE = "def __init__(self, height, width, channels, make_net, **kwargs):"
REACH = {
    # a module-level alias made in the multiscale cell, used inside the class
    "alias": examples._m("multiscale", set(), ("ImageAffineCouplingLayer(", "Coupling("),
                         (_CLASS_LINE, "Coupling = ImageAffineCouplingLayer\n\n\n" + _CLASS_LINE)),
    # a default argument, evaluated once when the cell ran
    "default argument": examples._m("multiscale", set(),
                                    (_INIT_LINE, _INIT_LINE.replace("make_net, ", "make_net, board=checkerboard_mask, ")),
                                    ("checkerboard_mask(", "board(")),
    # a closure over the part, made when the cell ran
    "closure": examples._m("multiscale", set(), ("ImageAffineCouplingLayer(", "_make_coupling("),
                           (_CLASS_LINE, "def _bind(cls):\n    return lambda *a: cls(*a)\n\n\n"
                                         "_make_coupling = _bind(ImageAffineCouplingLayer)\n\n\n" + _CLASS_LINE)),
}
PART_MISTAKE_FOR = {"alias": "image-coupling-logdet-last-axis", "default argument": "checkerboard-wrong-orientation",
                    "closure": "image-coupling-logdet-last-axis"}


@pytest.mark.parametrize("form", one_per_item(sorted(REACH), lambda form: "a form"))
def test_the_graders_part_reaches_an_alias_a_default_argument_and_a_closure(form, solved, monkeypatch):
    """Issue 25's case: the multiscale cell holds the student's part through an alias, a default argument or a
    closure. The worker runs that cell again with the grader's parts bound (``ms_checks._with_parts``), so the
    part's mistake costs its own check only, and the multiscale item keeps full marks."""
    part_mistake = examples.MULTISCALE_EDITS[PART_MISTAKE_FOR[form]]
    nb = examples.apply(examples.notebook("source", ASSIGNMENT), part_mistake, REACH[form])
    ns = namespace_with(solved, part_mistake, REACH[form])
    sources = ["\n".join(ln for ln in c.source.splitlines() if "SOLUTION" not in ln) for c in nb.cells
               if c.cell_type == "code"]
    monkeypatch.setattr(sys.modules["checks_core"], "CELL_SOURCES", sources)  # as the worker records them
    assert multiscale_failures(ns) == {}
    assert set(failures(ns)) == part_mistake.failing
    # without the cell run again, a default argument and a closure keep the student's part (an alias among the
    # globals is found by identity)
    monkeypatch.setattr(sys.modules["checks_core"], "CELL_SOURCES", [])
    if form != "alias":
        assert multiscale_failures(namespace_with(solved, part_mistake, REACH[form])) != {}
