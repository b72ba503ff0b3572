"""Every output of a batch, rendered from the typed results in one place.

``assignment`` is the one function that writes what people read: each student's ``results.json`` and
feedback pages, ``grades.csv``, the instructor report and, when asked, nbgrader's gradebook with its
``autograded/`` notebooks and the feedback pages ``nbgrader release_feedback`` hands to students. It takes
the autograded results and the hand-given scores (``store``), applies the latter on top of the former, and
renders. Each result's lateness is judged here, at render time, under the late policy and the student's
extension (``submissions.late.Deadlines``): the penalty is never part of a record. ``batch`` calls it after
grading, ``merge-manual`` after new hand scores: both give the same pages for the same records. Nothing here
edits a rendered file; each output is rewritten whole from the objects.
"""
import csv
import io

import course_config
from autograder import course
from autograder import store as storage
from autograder.integrations import gradebook as nbgrader
from autograder.render import feedback, report
from autograder.results import SubmissionResult
from autograder.submissions import late as late_policy


def results_json(result, settings=None):
    """Gradescope's results.json of one result, its ``output`` the student's feedback in Markdown."""
    settings = settings or course_config.GRADESCOPE
    return result.to_gradescope(settings, feedback.markdown(result, for_gradescope=True, settings=settings))


def written_questions(assignment):
    """grade_ids of the written answers graded by hand, in notebook order."""
    return [gid for gid, _ in course.manual_cells(assignment)]


CSV_AFTER_ITEMS = ["total", "max", "status", "late", "minutes_late", "submitted_at", "extension", "days_late",
                   "penalty", "sid", "email"]


def grades_csv(rows, assignment):
    """grades.csv as text: a row per student, a column per autograded item and per written answer (empty until
    a TA scores it), the total (after the late penalty), one ``max`` for the assignment (autograded plus written),
    then how the submission went (status; lateness: the time late, the extended due date applied, the days
    counted and the penalty in points; and the student id and email Gradescope gave, when it did)."""
    items, written = list(course.items(assignment)), written_questions(assignment)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["student"] + items + written + CSV_AFTER_ITEMS)
    for student, r in rows.items():
        s = r.item_scores()
        late, who = r.lateness, (r.students[0] if r.students else None)
        w.writerow([csv_text(student)] + [f"{s.get(i, 0):g}" for i in items]
                   + [f"{r.hand[g].score:g}" if g in r.hand else "" for g in written]
                   + [f"{r.score:g}", f"{r.max_score:g}", r.status, int(bool(late and late.late)),
                      late.minutes_late if late else "", (late.submitted_at or "") if late else "",
                      (late.extension or "") if late else "", late.days_late if late else "",
                      f"{late.penalty:g}" if late else "",
                      csv_text(who.sid or "") if who else "", csv_text(who.email or "") if who else ""])
    return buf.getvalue()


def student(store, assignment, name, result):
    """One student's results.json and feedback pages."""
    storage.write_json(store.results_path(assignment, name), results_json(result))
    folder = store.feedback_dir(assignment, name)
    storage.write_text(folder / "feedback.md", feedback.markdown(result, name))
    storage.write_text(folder / "feedback.html", feedback.html_feedback(result, name))


def assignment(store, assignment, results, gradebook=None, submissions=None, within=None, deadlines=None):
    """Render every output of ``assignment`` from ``results`` ({student: autograded SubmissionResult}) with the
    hand-given scores stored for it and each lateness judged under ``deadlines`` (a ``late_policy.Deadlines``; default:
    course_config's, without extensions). ``gradebook``: nbgrader's database URL, also written when given, with
    ``submissions`` ({student: notebook path}) for its autograded notebooks. Returns the full results."""
    hand = store.hand_scores(assignment)
    deadlines = deadlines or late_policy.from_config()
    full = {name: deadlines.judge(r.with_hand_scores(hand.get(name)), name) for name, r in results.items()}
    for name, r in full.items():
        student(store, assignment, name, r)
    storage.write_text(store.grades_csv(assignment), grades_csv(full, assignment))
    report.write_instructor_report(full, store.report_dir(assignment), assignment)
    if gradebook:
        nbgrader.write(full, assignment, gradebook, submissions, within=within)
        pages = {name: feedback.html_feedback(r, name) for name, r in full.items()}
        nbgrader.write_feedback_pages(pages, assignment, gradebook, submissions, within=within)
    return full


def stored_results(store, assignment):
    """{student: autograded SubmissionResult} of everything stored for ``assignment``: the record, or for a
    submission the grader failed on (no record), what its results.json says."""
    out = {}
    for name in store.students(assignment):
        r = store.record(assignment, name)
        if r is None:
            data = storage.read_json(store.results_path(assignment, name))
            if not isinstance(data, dict):
                continue
            r = SubmissionResult.from_gradescope(data).autograded()
        out[name] = r
    return out


def csv_text(value):
    """A text cell a spreadsheet will not run as a formula (OWASP's advice: prefix a quote)."""
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def score_words(r):
    """A result's score in words that never read a written answer not graded yet as points lost:
    "28 / 28 autograded; the written answer (2 points) is graded by hand", or "26 / 30"."""
    pending = r.pending()
    taken = f" after a late penalty of {r.penalty:g}" if r.penalty else ""
    if not pending:
        return f"{r.score:g} / {r.max_score:g}{taken}"
    points = sum(p for _, p in pending)
    what = "the written answer" if len(pending) == 1 else f"{len(pending)} written answers"
    hand = f" and {r.hand_score:g} / {r.hand_max:g} graded by hand" if r.hand else ""
    return (f"{r.auto_score:g} / {r.auto_max:g} autograded{hand}; {what} ({points:g} points) "
            f"{'is' if len(pending) == 1 else 'are'} graded by hand"
            + (f"; a late penalty of {r.penalty:g} comes off the total" if r.penalty else ""))


def table(rows, assignment):
    """The score table of one assignment's batch: a column per autograded item and per written answer (``-``
    until a TA scores it), the status when it is not ``graded``, and the total out of the assignment's max."""
    items = list(course.items(assignment))
    written = written_questions(assignment)
    maxima = {}
    for c in course.test_cells(assignment):
        maxima[c["item"]] = maxima.get(c["item"], 0) + c["points"]
    maxima.update(course.manual_cells(assignment))
    short = [f"ex{n}" for n in range(1, len(items) + 1)] + [f"w{n}" for n in range(1, len(written) + 1)]
    width = max([len(s) for s in rows] + [7])
    lines = [f"{assignment}:", f"{'student':<{width}} " + " ".join(f"{s:>11}" for s in short) + f" {'total':>9}"]
    for student, r in rows.items():
        s = r.item_scores()
        cells = [f"{s.get(i, 0):>5g} / {maxima[i]:<3g}" for i in items]
        cells += [f"{s[g]:>5g} / {maxima[g]:<3g}" if g in r.hand else f"{'-':>5} / {maxima[g]:<3g}" for g in written]
        status = (f"  ({r.status})" if r.status != "graded" else
                  f"  (+{sum(p for _, p in r.pending()):g} by hand, pending)" if r.pending() else "")
        status += f"  (late: -{r.penalty:g})" if r.penalty else ""
        lines.append(f"{student:<{width}} " + " ".join(cells) + f" {r.score:>4g}/{r.max_score:<4g}{status}")
    lines.append("  " + ", ".join(f"{s} = {i}" for s, i in zip(short, items + written)))
    return "\n".join(lines)
