"""Fixtures for running the checks directly against the solutions: `pytest autograder/checks`."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

import course_config  # noqa: E402
from autograder import checks, course, reference  # noqa: E402


def pytest_configure(config):
    for assignment in course_config.ASSIGNMENTS:
        for item in course.items(assignment):
            config.addinivalue_line("markers", f"{item}: checks of the graded item {item} ({assignment})")


def pytest_generate_tests(metafunc):
    if "test_id" in metafunc.fixturenames:
        metafunc.parametrize(("assignment", "test_id"), [
            pytest.param(a, t, marks=getattr(pytest.mark, item), id=f"{a}/{t}")
            for a in course_config.ASSIGNMENTS for t, item in checks.graded_test_cells(a)])


_SOLVED = {}


@pytest.fixture
def ask(assignment):
    if assignment not in _SOLVED:
        _SOLVED[assignment] = course.protocol(assignment).local_asker(reference.solution_namespace(assignment))
    return _SOLVED[assignment]


@pytest.fixture
def ref(assignment):
    return reference.load_reference(assignment)


@pytest.fixture
def plan(assignment):
    return course.plan(assignment)
