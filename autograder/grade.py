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
from autograder import checks, course, notebooks, reference
from autograder.submissions import extract
from autograder.submissions.read import Submission, read
from autograder.text import capped, shortened
from autograder.results import CheckResult, Note, SubmissionResult
from autograder.worker import sandbox
from autograder.worker.client import AnswerError, Worker, WorkerDied

TEST_CELLS_MODULE = Path(checks.__file__).resolve().parent / "test_cells.py"


INTERNAL_ERROR = "the grader could not run this check (internal error); please tell your instructor"


def _raised_by_test_cell(excinfo):
    """Whether an exception was raised by ``test_cells.test_cell`` itself: the innermost frame outside
    pytest's own code is in TEST_CELLS_MODULE (its ``pytest.fail`` after a CheckFailure)."""
    frames = [e for e in excinfo.traceback if "_pytest" not in str(e.path) and "pluggy" not in str(e.path)]
    return bool(frames) and Path(str(frames[-1].path)).resolve() == TEST_CELLS_MODULE


class _Plugin:
    """Gives the checks an ``ask`` bound to the worker and the reference values; fills one CheckResult per
    graded test cell from pytest's report data.

    A check *failed* when ``test_cells.test_cell`` turned a CheckFailure into ``pytest.fail``: that is the only
    expected failure type, told by the exception's type and where it was raised, never by its text. Anything
    else (an exception in the check code, a fixture error) is an internal *error* of the grader. A failure
    while the worker died or overran a limit (``worker_died``, called where WorkerDied is caught) is a *limit*.
    """

    def __init__(self, assignment, ask, reference, cells=None, on_hidden=None, plan=None):
        """``on_hidden``: called once, as the first hidden check begins (``Worker.hold``). ``plan``: the
        assignment's course.Plan (asked of the course model when not given)."""
        self._assignment, self._ask, self._ref, self._on_hidden = assignment, ask, reference, on_hidden
        self._plan = plan or course.plan(assignment)
        cells = cells if cells is not None else check_results(assignment, "missing", "this check did not run",
                                                              self._plan)
        self.checks = {c.test_id: c for c in cells}
        self._decided, self._current, self._limit_hits = set(), None, {}

    def worker_died(self, error):
        """The worker died or ran past a limit while answering the current check."""
        if self._current is not None:
            self._limit_hits.setdefault(self._current, str(error))

    def pytest_configure(self, config):
        for item in self._plan.items:
            config.addinivalue_line("markers", f"{item}: checks of the graded item {item}")

    def pytest_generate_tests(self, metafunc):
        if "test_id" in metafunc.fixturenames:
            metafunc.parametrize("test_id", [pytest.param(t, marks=getattr(pytest.mark, item), id=t)
                                             for t, item in checks.graded_test_cells(self._assignment, self._plan)])

    @pytest.fixture
    def assignment(self):
        return self._assignment

    @pytest.fixture
    def ask(self):
        return self._ask

    @pytest.fixture
    def ref(self):
        return self._ref

    @pytest.fixture
    def plan(self):
        return self._plan

    def pytest_runtest_protocol(self, item):
        self._current = item.callspec.params.get("test_id") if hasattr(item, "callspec") else None
        check = self.checks.get(self._current)
        if check is not None and check.hidden and self._on_hidden is not None:
            self._on_hidden()  # the visible checks all ran first (checks.graded_test_cells)
            self._on_hidden = None

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
            check.status, check.message = "passed", dict(rep.user_properties).get("note", "")
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
    args = [str(TEST_CELLS_MODULE), "-q", "-p", "no:cacheprovider", "--noconftest", "-o", "addopts=",
            "--rootdir", str(TEST_CELLS_MODULE.parent), "-W", "ignore"]
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(args, plugins=[plugin])
    return plugin.checks


#: The most of a worker's error text that check code reads (bytes of UTF-8, with a note of what was cut): the
#: worker's own messages are a few hundred characters.
WORKER_ERROR_CHARS = 4096


def _asker(assignment, worker, on_death=None, plan=None):
    protocol_module = plan.protocol if plan is not None else course.protocol(assignment)

    def ask(request):
        try:
            return worker.ask(request)
        except AnswerError as e:
            raise protocol_module.QuestionError(capped(str(e), WORKER_ERROR_CHARS)) from None
        except WorkerDied as e:
            if on_death is not None:
                on_death(e)  # the check that asked scores "limit", not "failed"
            raise protocol_module.CheckFailure(str(e)) from None
    return ask


def grade_notebook(path, zygote, assignment, limits=None, within=None):
    """Grade one notebook file as ``assignment``; always returns a results.SubmissionResult (never raises
    for bad input). ``path`` is the file, or the submissions.read.Submission read from it (then it is not read
    again). No symbolic link below the folder ``within`` is followed. The course model is asked once, for the
    assignment's course.Plan, which every later step is handed."""
    started = time.monotonic()
    limits = limits or course_config.GRADING
    submission = path if isinstance(path, Submission) else read(path, limits["submission_bytes"], within)
    plan = course.plan(assignment)
    nb = submission.nb
    try:
        if submission.error is not None:
            raise submission.error
    except notebooks.NotSubmitted as e:
        return not_graded(assignment, "missing", f"Nothing was submitted for this assignment ({e}).",
                                 started, plan=plan)
    except notebooks.InvalidMetadata as e:
        return not_graded(assignment, "invalid_notebook", f"Your notebook's nbgrader metadata is not valid ({e}).",
                          started, advice="It cannot tell which cell answers which exercise, so every item scores "
                                          "0. Download a fresh copy of the release, paste your work into it, and "
                                          "submit again.", plan=plan)
    except notebooks.NotebookError as e:
        return not_graded(assignment, "unreadable", f"Your notebook could not be read: {e}.", started,
                                 advice="Every item scores 0. Download a fresh copy of the release, paste your "
                                        "work into it, and submit again.", plan=plan)
    belongs = course.detect(nb)
    if belongs is not None and belongs != assignment:
        return not_graded(
            assignment, "wrong_assignment",
            f"This notebook is the `{belongs}` assignment, but it was submitted for `{assignment}`.", started,
            advice=f"Nothing of it was graded here. Submit your `{assignment}.ipynb` for `{assignment}` (and this "
                   f"notebook for `{belongs}`).", plan=plan)
    code = extract.labelled_code(nb, assignment, plan)
    protocol = course_config.PROTOCOL_MODULES[assignment]
    with Worker(zygote, code.sources, assignment, limits, protocol) as worker:
        try:
            worker.start()
        except WorkerDied:
            pass  # every check will report the same reason
        values = reference.load_reference(assignment)
        plugin = _Plugin(assignment, None, values, on_hidden=worker.hold, plan=plan)
        plugin._ask = _asker(assignment, worker, plugin.worker_died, plan)
        found = run_checks(assignment, plugin._ask, values, plugin)
    result = assemble(assignment, list(found.values()), code, worker, started, plan)
    result.sandbox = sandbox.describe(zygote.mode)
    return result


# ---- the result of a submission, from what the worker and the checks found -----------------------------------
def check_results(assignment, status="missing", message="", plan=None):
    """One CheckResult per graded test cell of the source notebook, all with the same status."""
    cells = plan.test_cells if plan is not None else course.test_cells(assignment)
    return [CheckResult(test_id=c["test_id"], item=c["item"], description=c["description"], points=c["points"],
                        hidden=c["hidden"], status=status, message=message) for c in cells]


def _manual(assignment, plan):
    return list(plan.manual_cells) if plan is not None else course.manual_cells(assignment)


def not_graded(assignment, status, reason, started, advice="", check_status="missing", plan=None):
    """A result for a submission whose checks never ran: ``status`` says why (missing, unreadable,
    invalid_notebook, wrong_assignment, grader_error, unavailable); every check scores 0 with ``reason``."""
    return SubmissionResult(assignment=assignment, checks=check_results(assignment, check_status, reason, plan),
                            status=status, reason=(reason + " " + advice).strip(), manual=_manual(assignment, plan),
                            execution_time=time.monotonic() - started)


def grader_failed(assignment, error):
    """The grader itself failed on a submission (a bug, a slot that died): every check is an error."""
    reason = (f"The grader failed on this submission ({type(error).__name__}: {error}). "
              "Your instructor has been told; it will be graded again when the grader runs next.")
    return not_graded(assignment, "grader_error", reason, time.monotonic(), check_status="error")


def unavailable(assignment, reason):
    """No grading is possible here (no sandbox): nothing about the submission was judged."""
    return not_graded(assignment, "unavailable", f"Grading is unavailable: {reason}", time.monotonic(),
                      advice="Nothing about your submission was judged; please tell your instructor.",
                      check_status="error")


def _last_line(text):
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return shortened(lines[-1] if lines else "", 300)


def assemble(assignment, found, code, worker, started, plan=None):
    """The SubmissionResult of a submission whose checks ran: ``found`` the CheckResults from the plugin,
    ``code`` the extract.Code the worker ran (its labels name cells as the student sees them)."""
    def label(i):
        return code.labels[i] if 0 <= i < len(code.labels) else "one of your cells"
    deaths, skips = worker.held or (len(worker.deaths), len(worker.skips))  # before the first hidden check
    notes = [Note("info", text) for text in code.notes]
    for k, (i, why) in enumerate(worker.skips):
        notes.append(Note("limit", f"{label(i)} was skipped: while running it, {why}", where=label(i),
                          held=k >= skips))
    for i, message in worker.cell_errors[:10]:
        notes.append(Note("cell_error", _last_line(message), where=label(i)))
    if len(worker.cell_errors) > 10:
        notes.append(Note("cell_error", f"... and {len(worker.cell_errors) - 10} more cells raised an error"))
    seen = set(worker.deaths[:deaths])
    for death in dict.fromkeys(worker.deaths):
        notes.append(Note("limit", death, held=death not in seen))
    output = worker.output.text().strip()
    return SubmissionResult(assignment=assignment, checks=list(found), notes=notes,
                            cell_output=output[-4000:] if output else "", manual=_manual(assignment, plan),
                            execution_time=time.monotonic() - started)
