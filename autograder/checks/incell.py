"""Hidden checks inside a notebook kernel: what the hidden test cells call under `nbgrader autograde`.

This is the convenient path, not the tamper-proof one: the student's code shares the process.
``python -m autograder`` is the authoritative grader.
"""
import inspect

from autograder.checks import run_test_cell
from autograder.course import assignment_of_test, protocol
from autograder.reference import load_reference


def check_hidden(test_id, namespace=None):
    """Run the hidden checks of one test cell on the caller's variables; raise on the first failure."""
    ns = namespace if namespace is not None else inspect.currentframe().f_back.f_globals
    assignment = assignment_of_test(test_id)
    protocol_module = protocol(assignment)
    try:
        with protocol_module.quiet():
            run_test_cell(assignment, test_id, protocol_module.local_asker(ns), load_reference(assignment))
    except protocol_module.CheckFailure as e:
        raise protocol_module.CheckFailure(f"[{test_id}] {e}", e.mistake) from None
    print(f"{test_id}: all hidden checks passed.")
