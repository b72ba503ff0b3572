"""Fixtures for running the checks directly against the solutions: `pytest autograder/checks`."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from autograder import checks, reference  # noqa: E402


def pytest_configure(config):
    for item in checks.ITEMS:
        config.addinivalue_line("markers", f"{item}: checks of the graded item {item}")


@pytest.fixture(scope="session")
def ask():
    return checks.protocol().local_asker(reference.solution_namespace())


@pytest.fixture(scope="session")
def ref():
    return checks.load_reference()
