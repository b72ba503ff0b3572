"""Every graded test cell of an assignment, as one pytest test each.

``pytest autograder/checks -m affine_coupling_layer`` runs one item's checks against the solutions
(conftest.py parametrizes over every assignment's test cells). The grader runs this same module against a
submission's worker for one assignment, with its own ``assignment``, ``ask`` and ``ref`` fixtures and its
own parametrization (``autograder.grade``). ``plan`` is the assignment's course.Plan.
"""
import pytest

from autograder.checks import run_test_cell


def test_cell(assignment, test_id, ask, ref, plan, record_property):
    try:
        note = run_test_cell(assignment, test_id, ask, ref, plan)
        if note:
            record_property("note", note)  # how a passed check was judged after a mistake charged elsewhere
        return
    except plan.protocol.CheckFailure as e:
        message = str(e)
        record_property("mistake", e.mistake)  # a catalogued mistake's id, or None
    pytest.fail(message, pytrace=False)  # outside the except block: the message alone, no traceback
