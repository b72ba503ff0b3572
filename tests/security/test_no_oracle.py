"""No oracle through the death note (issue 26, case 8). While hidden results are held (Gradescope's
``after_published``), what a student sees must not depend on a hidden verdict. The worker sees which requests come,
so it can tell when the hidden checks begin (and, from what they ask, something of their verdicts), and it can
choose whether and how it dies. Two submissions that differ only in whether they die after the first hidden request
stand for two that differ only in a hidden verdict: they must show the student the same thing until the grades are
published."""
import nbformat
import pytest
from conftest import run_batch
from nbformat.v4 import new_code_cell

import course_config
from autograder import course
from autograder.authoring import examples
from autograder.render.pages import _md_value

A = "normalising_flows"
LIMITS = {**course_config.GRADING, "check_seconds": 30, "cell_seconds": 60, "submission_seconds": 600}
HIDDEN = {c["test_id"] for c in course.test_cells(A) if c["hidden"]}
VISIBLE = {c["test_id"] for c in course.test_cells(A)} - HIDDEN

#: Counts the requests that name ``predicted_log_prob_shape``: its visible check asks once, and the visible checks
#: all run first; the second is the first hidden request. Then it dies (``die``), or not: one bit.
AFTER_THE_FIRST_HIDDEN_REQUEST = """
import os, socket
_recv, _seen = socket.socket.recv, [0]
def _counting(self, *args):
    data = _recv(self, *args)
    if b'"predicted_log_prob_shape"' in data:
        _seen[0] += 1
        if _seen[0] == 2 and {die}:
            os._exit(1)
    return data
socket.socket.recv = _counting
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle")
    for student, die in (("dies", True), ("lives", False)):
        nb = nbformat.from_dict(examples.notebook("solutions"))
        nb.cells.append(new_code_cell(AFTER_THE_FIRST_HIDDEN_REQUEST.format(die=die)))
        (root / "submitted" / student / A).mkdir(parents=True)
        nbformat.write(nb, str(root / "submitted" / student / A / f"{A}.ipynb"))
    graded, out = run_batch(root / "submitted", root / "out", assignments=[A], jobs=1, limits=LIMITS)
    return graded[A], out


def _before_publication(data):
    """What Gradescope shows a student while hidden results are held: the feedback text (without the notebook's
    printed output, which quotes an unseeded random tensor) and the visible test entries."""
    text = data["output"].split("## Output of your notebook")[0]
    return text, [t for t in data["tests"] if t["visibility"] == "visible"]


@pytest.mark.slow  # grades two submissions
def test_the_attack_ran_after_the_first_hidden_request(graded):
    """The premise: the worker died in the first hidden check, not before (every visible check passed); the
    instructor's records keep its note, held, and so does the feedback handed out after publication."""
    rows, out = graded
    for student in ("dies", "lives"):
        status = {t["extra_data"]["grade_id"]: t["extra_data"]["status"] for t in rows[student]["tests"]}
        assert {t for t in VISIBLE if status[t] == "passed"} == VISIBLE, student
        assert status["predicted_log_prob_shape_value"] == ("limit" if student == "dies" else "passed")
    held = [n for n in rows["dies"]["extra_data"]["notes"] if n.get("held")]
    assert len(held) == 1 and held[0]["text"].startswith("the worker running your code stopped: it exited")
    # as feedback.md writes every value: escaped for Markdown (the underscore of os._exit)
    assert _md_value(held[0]["text"]) in (out / "feedback" / "dies" / A / "feedback.md").read_text()
    assert not rows["lives"]["extra_data"]["notes"]
    assert course_config.GRADESCOPE["hidden_check_visibility"] == "after_published"


@pytest.mark.slow  # grades two submissions
def test_two_submissions_that_differ_only_after_the_first_hidden_request_show_the_same(graded):
    rows, _ = graded
    dies, lives = (_before_publication(rows[student]) for student in ("dies", "lives"))
    assert dies == lives
    assert "stopped" not in dies[0]
