"""Grade one submission: read -> extract -> worker -> checks (pytest, in this process) -> report.

Student code runs only in the worker. This process sends requests, receives arrays, and computes every
verdict itself with the hidden checks and the reference values.
"""
import contextlib
import io
import sys
import time
from pathlib import Path

import pytest

import course_config
from autograder import checks, extract, notebooks, report, sandbox
from autograder.worker_client import AnswerError, Worker, WorkerDied

CHECKS_MODULE = Path(checks.__file__).resolve().parent / "test_cells.py"


class _Plugin:
    """Gives the checks an ``ask`` bound to the worker and the reference values; records outcomes."""

    def __init__(self, assignment, ask, reference):
        self._assignment, self._ask, self._ref = assignment, ask, reference
        self.outcomes = {}

    def pytest_configure(self, config):
        for item in checks.items(self._assignment):
            config.addinivalue_line("markers", f"{item}: checks of the graded item {item}")

    def pytest_generate_tests(self, metafunc):
        if "test_id" in metafunc.fixturenames:
            metafunc.parametrize("test_id", [pytest.param(t, marks=getattr(pytest.mark, item), id=t)
                                             for t, item in checks.graded_test_cells(self._assignment)])

    @pytest.fixture
    def assignment(self):
        return self._assignment

    @pytest.fixture
    def ask(self):
        return self._ask

    @pytest.fixture
    def ref(self):
        return self._ref

    def pytest_runtest_logreport(self, report):
        test_id = report.nodeid.rsplit("[", 1)[-1].rstrip("]")
        if report.when == "call" or report.failed:
            if report.failed and report.when == "call" and "Traceback" not in report.longreprtext:
                message = report.longreprtext.strip()
            elif report.failed:
                message = "the grader could not run this check (internal error); please tell your instructor"
                sys.stderr.write(f"internal error in check {test_id}:\n{report.longreprtext[-3000:]}\n")
            else:
                message = ""
            mistake = dict(report.user_properties).get("mistake")
            self.outcomes.setdefault(test_id, (report.passed, message, mistake))


def run_checks(assignment, ask, reference):
    """Run every graded test cell's checks with pytest; return {test_id: (passed, message, mistake id)}."""
    plugin = _Plugin(assignment, ask, reference)
    args = [str(CHECKS_MODULE), "-q", "-p", "no:cacheprovider", "--noconftest", "-o", "addopts=",
            "--rootdir", str(CHECKS_MODULE.parent), "-W", "ignore"]
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(args, plugins=[plugin])
    return plugin.outcomes


def _asker(assignment, worker):
    nf = checks.protocol(assignment)

    def ask(request):
        try:
            return worker.ask(request)
        except AnswerError as e:
            raise nf.QuestionError(str(e)) from None
        except WorkerDied as e:
            raise nf.CheckFailure(str(e)) from None
    return ask


def grade(path, zygote, assignment, limits=None, within=None):
    """Grade one notebook file as ``assignment``; always returns a Gradescope results dict (never raises
    for bad input). No symbolic link below the folder ``within`` is followed."""
    started = time.monotonic()
    limits = limits or course_config.GRADING
    try:
        nb = notebooks.read(path, notebooks.submission_bytes(path, limits["submission_bytes"], within))
    except notebooks.NotSubmitted as e:
        reason = f"Nothing was submitted for this assignment ({e})."
        return report.results(assignment, {}, reason, started, missing=reason)
    except notebooks.NotebookError as e:
        reason = f"Your notebook could not be read: {e}."
        return report.results(assignment, {}, reason + " Every item scores 0. Download a fresh copy of the "
                                                       "release, paste your work into it, and submit again.",
                              started, missing=reason)
    sources, notes = extract.student_code(nb, assignment)
    protocol = course_config.CHECKS_MODULE[assignment]
    with Worker(zygote, sources, assignment, limits, protocol) as worker:
        try:
            worker.start()
        except WorkerDied:
            pass  # every check will report the same reason
        reference = checks.load_reference(assignment)
        outcomes = run_checks(assignment, _asker(assignment, worker), reference)
    result = report.results(assignment, outcomes, report.summary(notes, worker), started)
    result["extra_data"]["sandbox"] = sandbox.describe(zygote.mode)
    return result
