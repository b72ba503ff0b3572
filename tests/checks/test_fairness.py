"""Fair grades: each mistake is charged once, every correct form is accepted, and bugs lose points where they are.

* The whole mistake catalogue of both assignments: each catalogued mistake fails exactly one test cell, in its
  own item: the first check of the item that names it. The item's later checks judge the rest of the answer as
  the student wrote it (``autograder.checks.earlier_mistakes``), so nothing is charged twice, and a composed
  item (the multiscale flow) is graded on the grader's own parts where the student's fail their own checks.
* Correct answers written in unusual styles get full marks for their item.
* Realistic bugs, none of them in the catalogue, lose points in the item they belong to, and only there.

Each answer is Python source run in a copy of the solutions' namespace, in place of the student's cell.
"""
import textwrap

import pytest
from answers import BUGS, CORRECT, MS_BUGS, MS_CORRECT
from conftest import item_score, one_per_item, run_test_cell, solution_cell

from autograder import checks, course, notebooks, reference
from autograder.authoring import examples

NF, MS = "normalising_flows", "realnvp_multiscale"


@pytest.fixture(scope="module")
def ms_session(ms_solution_ns_session):
    return ms_solution_ns_session


def namespaces(solution_ns_session, ms_session):
    return {NF: solution_ns_session, MS: ms_session}


def all_failures(assignment, ns):
    """{test cell: (message, mistake id)} over every graded test cell of the assignment."""
    return {t: out for t in course.test_ids(assignment) if (out := run_test_cell(t, ns, assignment)) is not None}


def item_failures(assignment, ns, item):
    """{test cell: (message, mistake id)} over the test cells of one item (a correct answer to ``item`` changes
    no other item's objects, so only its own cells can tell it apart)."""
    return {t: out for t in course.test_ids(assignment)
            if course.item_of(assignment, t) == item and (out := run_test_cell(t, ns, assignment)) is not None}


_MADE = {}


def failures_of_mistake(assignment, mistake_id, base):
    """``all_failures`` with one catalogued mistake made (or the cache trap), computed once per test session:
    the catalogue test and the repeated-message test read the same verdicts."""
    if (assignment, mistake_id) not in _MADE:
        mistake = examples.CACHE_TRAP if mistake_id == "cache trap" else examples.EDITS[assignment][mistake_id]
        _MADE[assignment, mistake_id] = all_failures(assignment, with_mistake(assignment, base, mistake))
    return _MADE[assignment, mistake_id]


def with_source(base, code):
    ns = dict(base)
    exec(textwrap.dedent(code), ns)
    return ns


def with_mistake(assignment, base, mistake):
    """The solutions' namespace with every solution cell re-run (mistake applied), as in one notebook run:
    later classes (the multiscale flow) then see the changed parts, as a student's notebook would."""
    ns = dict(base)
    nb = examples.apply(examples.notebook("source", assignment), mistake)
    for cell in nb.cells:
        if notebooks.grade_meta(cell).get("grade_id") in course.items(assignment):
            exec("\n".join(ln for ln in cell.source.splitlines() if "SOLUTION" not in ln), ns)
    return ns


# ---- the whole catalogue: each mistake is charged in one item ---------------------------------------------
CATALOGUE = [(a, m) for a in (NF, MS) for m in sorted(examples.EDITS[a])]


def test_every_catalogued_mistake_has_an_example_that_fails_one_cell():
    for a in (NF, MS):
        assert set(examples.EDITS[a]) == set(course.protocol(a).MISTAKES), a
        for mistake_id, mistake in examples.EDITS[a].items():
            # one cell per property the mistake breaks: one, except a missing TransformedDistribution, which has
            # no base either (it must not cost less than a wrong base: tests/checks/test_monotone.py)
            assert len(mistake.failing) == (2 if mistake_id == "mvn-not-transformed" else 1), mistake_id


@pytest.mark.parametrize("assignment, mistake_id", one_per_item(CATALOGUE, lambda c: (c[0], examples.EDITS[c[0]][c[1]].grade_id),
                                                               ids=lambda c: f"{c[0]}/{c[1]}"))
def test_each_catalogued_mistake_costs_one_check(assignment, mistake_id, solution_ns_session, ms_session):
    """The mistake fails one test cell of its own item, and that cell's message names it first; every other
    check of every item passes."""
    base = namespaces(solution_ns_session, ms_session)[assignment]
    mistake = examples.EDITS[assignment][mistake_id]
    failed = failures_of_mistake(assignment, mistake_id, base)
    item = course.protocol(assignment).MISTAKES[mistake_id]["item"]
    assert set(failed) == set(mistake.failing), failed
    test_id = next(t for t in course.test_ids(assignment) if t in failed)  # the first failing cell names it
    message, named = failed[test_id]
    assert all(course.item_of(assignment, t) == item for t in failed)
    assert named == mistake_id, failed
    entry = course.protocol(assignment).MISTAKES[mistake_id]
    assert message.startswith(entry["message"]), message  # the mistake is named first, before any detail
    assert "{{function_node" not in message and "[Op:" not in message, message  # never raw TF error text


@pytest.mark.slow  # reads every catalogued mistake's verdicts (computed once for the test above, in the slow tier)
def test_no_check_repeats_another_checks_message(solution_ns_session, ms_session):
    """Over the catalogue and the non-catalogued faults, two failing checks never say the same thing."""
    cases = [(a, m) for a, m in CATALOGUE] + [(NF, "cache trap")]
    for assignment, mistake_id in cases:
        failed = failures_of_mistake(assignment, mistake_id, namespaces(solution_ns_session, ms_session)[assignment])
        messages = [m.split(" (")[0] for m, _ in failed.values()]
        assert len(messages) == len(set(messages)), (mistake_id, failed)


def notes_after_the_contract(base, mistake_id, *cells):
    """With ``mistake_id`` made, the contract check fails; then the notes of ``cells``, run in order."""
    ns = with_mistake(NF, base, examples.EDITS[NF][mistake_id])
    protocol = course.protocol(NF)
    ask, ref = protocol.local_asker(ns), reference.load_reference(NF)
    with protocol.quiet():
        with pytest.raises(protocol.CheckFailure):
            checks.run_test_cell(NF, "affine_coupling_layer_contract", ask, ref)
        return [checks.run_test_cell(NF, cell, ask, ref) for cell in cells]


def test_a_later_check_that_follows_through_says_so(solution_ns_session):
    """After the contract check names the inverted mask, the forward check passes on the layer as written and
    says which mistake it took as given, and where that mistake was charged."""
    note, other = notes_after_the_contract(solution_ns_session, "acl-inverted-mask", "affine_coupling_layer_forward",
                                           "log_det_jacobians_visible")
    assert other == ""  # nothing charged there
    assert "acl-inverted-mask" in note and "affine_coupling_layer_contract" in note


def test_a_note_names_a_charged_mistake_only_where_it_was_followed_through(solution_ns_session):
    """exp(+s) in the inverse touches the inverse only: the forward check, which judged nothing under it, says
    nothing of it; the inverse check, which accepted the inverse as written, says so."""
    forward, inverse = notes_after_the_contract(solution_ns_session, "acl-inverse-exp-sign",
                                                "affine_coupling_layer_forward", "affine_coupling_layer_inverse")
    assert forward == ""
    assert "acl-inverse-exp-sign" in inverse and "affine_coupling_layer_contract" in inverse


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_a_correct_answer_in_another_style_gets_full_marks(name, solution_ns_session):
    item, code = CORRECT[name]
    assert item_failures(NF, with_source(solution_ns_session, code), item) == {}


@pytest.mark.parametrize("name", sorted(MS_CORRECT))
def test_a_correct_multiscale_answer_in_another_style_gets_full_marks(name, ms_session):
    item, code = MS_CORRECT[name]
    assert item_failures(MS, with_source(ms_session, code), item) == {}


# ---- realistic bugs, none of them in the catalogue (tests/answers.py): points lost in their own item only
def _bug_failures(assignment, base, item, code):
    failed = all_failures(assignment, with_source(base, code))
    assert failed, "the bug was not caught"
    assert {course.item_of(assignment, t) for t in failed} == {item}, failed
    return failed


@pytest.mark.parametrize("name", one_per_item(sorted(BUGS), lambda name: BUGS[name][0]))
def test_a_realistic_bug_loses_points_in_its_own_item_only(name, solution_ns_session):
    item, code = BUGS[name]
    failed = _bug_failures(NF, solution_ns_session, item, code)
    for message, _ in failed.values():  # feedback in words: no raw TensorFlow error, no reference value dump
        assert "{{function_node" not in message and "[Op:" not in message, message


@pytest.mark.parametrize("name", one_per_item(sorted(MS_BUGS), lambda name: MS_BUGS[name][0]))
def test_a_realistic_multiscale_bug_loses_points_in_its_own_item_only(name, ms_session):
    item, code = MS_BUGS[name]
    _bug_failures(MS, ms_session, item, code)


def test_there_are_at_least_twenty_of_each():
    assert len(CORRECT) + len(MS_CORRECT) >= 20
    assert len(BUGS) + len(MS_BUGS) >= 20


# ---- reference values stay in the grader -----------------------------------------------------------------
def _arrays(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _arrays(v)
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float)) for v in value):
            yield __import__("numpy").asarray(value, dtype="float64")
        else:
            for v in value:
                yield from _arrays(v)
    elif hasattr(value, "shape") and getattr(value, "size", 0) > 1:
        yield value


@pytest.mark.parametrize("assignment", [NF, MS])
def test_no_hidden_request_sends_a_reference_value_to_student_code(assignment):
    """Every input of every hidden request is grader-chosen: none equals a stored reference answer."""
    import numpy as np
    stored = [a for a in _arrays(reference.load_reference(assignment)) if np.ndim(a) >= 1 and np.unique(a).size > 2]
    assert stored
    for item in course.items(assignment):
        for name, request in checks.item_module(assignment, item).REQUESTS.items():
            for sent in _arrays({k: v for k, v in request.items() if k not in ("op", "method", "name")}):
                assert not any(np.shape(sent) == np.shape(r) and np.allclose(sent, r) for r in stored), (item, name)


def test_the_leak_test_can_fail():
    """The same scan flags a request that sends a reference output (as the inverse check once did)."""
    import numpy as np
    stored = reference.load_reference(NF)["affine_coupling_layer"]
    leaky = {"op": "bijector", "method": "inverse", "x": next(v for k, v in stored.items() if k.startswith("forward"))}
    assert any(np.shape(s) == np.shape(r) and np.allclose(s, r) for s in _arrays(leaky) for r in _arrays(stored))


# ---- issue 25's cases, as written --------------------------------------------------------------------------
_FLDJ = "        _, s = self.shift_and_log_scale_fn(self.b * x)\n        return tf.reduce_sum((1. - self.b) * s, axis=-1)"
_ILDJ = "        _, s = self.shift_and_log_scale_fn(self.b * y)\n        return -tf.reduce_sum((1. - self.b) * s, axis=-1)"
_NEG_ILDJ = "neg_ildj = -bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=1)"
_STUB = "        raise NotImplementedError()"


def _acl(*edits):
    src = solution_cell(examples.notebook("source", NF), "affine_coupling_layer")
    for old, new in edits:
        assert old in src
        src = src.replace(old, new)
    return src


ISSUE_CASES = {
    # (item, source, the most it may score): the issue's "done when" for each case
    "1: both log-dets stubbed (the honest stub)": ("affine_coupling_layer", lambda: _acl((_FLDJ, _STUB), (_ILDJ, _STUB)), 4),
    "1: the stub plus forward_min_event_ndims=0": (
        "affine_coupling_layer", lambda: _acl((_FLDJ, _STUB), (_ILDJ, _STUB),
                                              ("forward_min_event_ndims=1", "forward_min_event_ndims=0")), 4),
    "2: (fldj, -fldj) without the inverse": (
        "log_det_jacobians", lambda: solution_cell(examples.notebook("source", NF), "log_det_jacobians").replace(
            _NEG_ILDJ, "neg_ildj = -bijector.forward_log_det_jacobian(x, event_ndims=1)"), 2),
    "3: only fldj summed over the batch": (
        "affine_coupling_layer", lambda: _acl((_FLDJ, _FLDJ.replace(", axis=-1)", ")"))), 8),
    "5: probs of batch shape [1]": (
        "independent_bernoulli", lambda: "independent_bernoulli = tfd.Independent(tfd.Bernoulli("
                                         "probs=[[0.1, 0.3, 0.5]]), reinterpreted_batch_ndims=1)", 3),
    "6: fldj of inverse(forward(x))": (
        "log_det_jacobians", lambda: solution_cell(examples.notebook("source", NF), "log_det_jacobians").replace(
            _NEG_ILDJ, "neg_ildj = bijector.forward_log_det_jacobian(bijector.inverse(bijector.forward(x)), "
                       "event_ndims=1)"), 2),
}


@pytest.mark.parametrize("case", sorted(ISSUE_CASES))
def test_issue_25_cases_score_at_most_what_the_issue_allows(case, solution_ns_session):
    """1, 2: no more than the honest answer without the named mistake; 3, 6: one check's points; 5: the shape
    check's point only."""
    item, source, most = ISSUE_CASES[case]
    scored, total = item_score(NF, with_source(solution_ns_session, source()), item)
    assert scored <= most, (case, scored, total)
    if not case.startswith(("1:", "2:")):
        assert scored == most, (case, scored, total)  # what is right still scores
