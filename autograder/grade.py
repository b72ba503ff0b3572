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
from autograder import checks, extract, notebooks, report
from autograder.worker import sandbox
from autograder.worker.client import AnswerError, Worker, WorkerDied

CHECKS_MODULE = Path(checks.__file__).resolve().parent / "test_cells.py"


INTERNAL_ERROR = "the grader could not run this check (internal error); please tell your instructor"


def _raised_by_test_cell(excinfo):
    """Whether an exception was raised by ``test_cells.test_cell`` itself: the innermost frame outside
    pytest's own code is in CHECKS_MODULE (its ``pytest.fail`` after a CheckFailure)."""
    frames = [e for e in excinfo.traceback if "_pytest" not in str(e.path) and "pluggy" not in str(e.path)]
    return bool(frames) and Path(str(frames[-1].path)).resolve() == CHECKS_MODULE


class _Plugin:
    """Gives the checks an ``ask`` bound to the worker and the reference values; fills one CheckResult per
    graded test cell from pytest's report data.

    A check *failed* when ``test_cells.test_cell`` turned a CheckFailure into ``pytest.fail``: that is the only
    expected failure type, told by the exception's type and where it was raised, never by its text. Anything
    else (an exception in the check code, a fixture error) is an internal *error* of the grader. A failure
    while the worker died or overran a limit (``worker_died``, called where WorkerDied is caught) is a *limit*.
    """

    def __init__(self, assignment, ask, reference, cells=None):
        self._assignment, self._ask, self._ref = assignment, ask, reference
        cells = cells if cells is not None else report.check_results(assignment, "missing", "this check did not run")
        self.checks = {c.test_id: c for c in cells}
        self._decided, self._current, self._limit_hits = set(), None, {}

    def worker_died(self, error):
        """The worker died or ran past a limit while answering the current check."""
        if self._current is not None:
            self._limit_hits.setdefault(self._current, str(error))

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

    def pytest_runtest_protocol(self, item):
        self._current = item.callspec.params.get("test_id") if hasattr(item, "callspec") else None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        test_id = item.callspec.params.get("test_id") if hasattr(item, "callspec") else None
        check = self.checks.get(test_id)
        if check is None or test_id in self._decided or not (rep.failed or (rep.passed and call.when == "call")):
            return
        self._decided.add(test_id)
        if rep.passed:
            check.status, check.message = "passed", ""
            return
        excinfo = call.excinfo
        if call.when == "call" and excinfo is not None and excinfo.errisinstance(pytest.fail.Exception) \
                and _raised_by_test_cell(excinfo):
            check.status = "limit" if test_id in self._limit_hits else "failed"
            check.message = str(excinfo.value.msg or "").strip()
            check.mistake = dict(rep.user_properties).get("mistake")
        else:
            check.status, check.message = "error", INTERNAL_ERROR
            sys.stderr.write(f"internal error in check {test_id} ({call.when}):\n{rep.longreprtext[-3000:]}\n")


def run_checks(assignment, ask, reference, plugin=None):
    """Run every graded test cell's checks with pytest; return {test_id: CheckResult}."""
    plugin = plugin or _Plugin(assignment, ask, reference)
    args = [str(CHECKS_MODULE), "-q", "-p", "no:cacheprovider", "--noconftest", "-o", "addopts=",
            "--rootdir", str(CHECKS_MODULE.parent), "-W", "ignore"]
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(args, plugins=[plugin])
    return plugin.checks


def _asker(assignment, worker, on_death=None):
    nf = checks.protocol(assignment)

    def ask(request):
        try:
            return worker.ask(request)
        except AnswerError as e:
            raise nf.QuestionError(str(e)) from None
        except WorkerDied as e:
            if on_death is not None:
                on_death(e)  # the check that asked scores "limit", not "failed"
            raise nf.CheckFailure(str(e)) from None
    return ask


def grade(path, zygote, assignment, limits=None, within=None):
    """Grade one notebook file as ``assignment``; always returns a results.SubmissionResult (never raises
    for bad input). No symbolic link below the folder ``within`` is followed."""
    started = time.monotonic()
    limits = limits or course_config.GRADING
    try:
        nb = notebooks.read(path, notebooks.submission_bytes(path, limits["submission_bytes"], within))
    except notebooks.NotSubmitted as e:
        return report.not_graded(assignment, "missing", f"Nothing was submitted for this assignment ({e}).",
                                 started)
    except notebooks.NotebookError as e:
        return report.not_graded(assignment, "unreadable", f"Your notebook could not be read: {e}.", started,
                                 advice="Every item scores 0. Download a fresh copy of the release, paste your "
                                        "work into it, and submit again.")
    belongs = checks.detect(nb)
    if belongs is not None and belongs != assignment:
        return report.not_graded(
            assignment, "wrong_assignment",
            f"This notebook is the `{belongs}` assignment, but it was submitted for `{assignment}`.", started,
            advice=f"Nothing of it was graded here. Submit your `{assignment}.ipynb` for `{assignment}` (and this "
                   f"notebook for `{belongs}`).")
    code = extract.labelled_code(nb, assignment)
    protocol = course_config.CHECKS_MODULE[assignment]
    with Worker(zygote, code.sources, assignment, limits, protocol) as worker:
        try:
            worker.start()
        except WorkerDied:
            pass  # every check will report the same reason
        reference = checks.load_reference(assignment)
        plugin = _Plugin(assignment, None, reference)
        plugin._ask = _asker(assignment, worker, plugin.worker_died)
        found = run_checks(assignment, plugin._ask, reference, plugin)
    result = report.assemble(assignment, list(found.values()), code, worker, started)
    result.sandbox = sandbox.describe(zygote.mode)
    return result
