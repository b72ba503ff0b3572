"""Assembling a submission's typed result (``results.SubmissionResult``) from the source notebook's cells and what
the worker and the checks found."""
import time

from autograder import checks, notebooks
from autograder.results import CheckResult, Note, SubmissionResult

HIDDEN_MARK = "### BEGIN HIDDEN TESTS"


def _description(source):
    first = source.strip().splitlines()[0] if source.strip() else ""
    text = first.lstrip("#").strip()
    for prefix in ("Hidden test:", "Checks that", "Checks"):
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
    return text or "checks"


def test_cells(assignment):
    """The graded test cells of the source notebook: the single source of points and descriptions."""
    out = []
    for cell in checks.source_cells(assignment):
        meta = notebooks.grade_meta(cell)
        if not notebooks.is_test_cell(cell):
            continue
        test_id = meta["grade_id"]
        item = checks.item_of(assignment, test_id)
        out.append({"test_id": test_id, "item": item, "points": meta["points"],
                    "hidden": HIDDEN_MARK in cell.source, "description": _description(cell.source)})
    return out


def manual_cells(assignment):
    return [(notebooks.grade_meta(c)["grade_id"], notebooks.grade_meta(c)["points"])
            for c in checks.source_cells(assignment)
            if notebooks.grade_meta(c).get("grade") and notebooks.grade_meta(c).get("solution")]


def check_results(assignment, status="missing", message=""):
    """One CheckResult per graded test cell of the source notebook, all with the same status."""
    return [CheckResult(test_id=c["test_id"], item=c["item"], description=c["description"], points=c["points"],
                        hidden=c["hidden"], status=status, message=message) for c in test_cells(assignment)]


def not_graded(assignment, status, reason, started, advice="", check_status="missing"):
    """A result for a submission whose checks never ran: ``status`` says why (missing, unreadable,
    grader_error, unavailable); every check scores 0 with ``reason``."""
    return SubmissionResult(assignment=assignment, checks=check_results(assignment, check_status, reason),
                            status=status, reason=(reason + " " + advice).strip(), manual=manual_cells(assignment),
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
    return (lines[-1] if lines else "")[:300]


def assemble(assignment, found, code, worker, started):
    """The SubmissionResult of a submission whose checks ran: ``found`` the CheckResults from the plugin,
    ``code`` the extract.Code the worker ran (its labels name cells as the student sees them)."""
    def label(i):
        return code.labels[i] if 0 <= i < len(code.labels) else "one of your cells"
    notes = [Note("info", text) for text in code.notes]
    for i, why in worker.skips:
        notes.append(Note("limit", f"{label(i)} was skipped: while running it, {why}", where=label(i)))
    for i, message in worker.cell_errors[:10]:
        notes.append(Note("cell_error", _last_line(message), where=label(i)))
    if len(worker.cell_errors) > 10:
        notes.append(Note("cell_error", f"... and {len(worker.cell_errors) - 10} more cells raised an error"))
    for death in dict.fromkeys(worker.deaths):
        notes.append(Note("limit", death))
    output = worker.output.text().strip()
    return SubmissionResult(assignment=assignment, checks=list(found), notes=notes,
                            cell_output=output[-4000:] if output else "", manual=manual_cells(assignment),
                            execution_time=time.monotonic() - started)


def csv_text(value):
    """A text cell a spreadsheet will not run as a formula (OWASP's advice: prefix a quote)."""
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
