"""Every graded test cell of the notebook, as one pytest test each.

``pytest autograder/checks -m affine_coupling_layer`` runs one item's checks against the solutions
(fixtures in conftest.py). The grader runs this same module against a submission's worker, with its own
``ask`` and ``ref`` fixtures (``autograder.grade``).
"""
import pytest

from autograder.checks import protocol, run_test_cell, graded_test_cells


@pytest.mark.parametrize("test_id", [pytest.param(t, marks=getattr(pytest.mark, item), id=t)
                                     for t, item in graded_test_cells()])
def test_cell(test_id, ask, ref, record_property):
    try:
        run_test_cell(test_id, ask, ref)
        return
    except protocol().CheckFailure as e:
        message = str(e)
        record_property("mistake", e.mistake)  # a catalogued mistake's id, or None
    pytest.fail(message, pytrace=False)  # outside the except block: the message alone, no traceback
