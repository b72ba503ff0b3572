"""``python -m autograder gradescope``: grade the notebook in ``ROOT/submission/`` into ``ROOT/results/results.json``.

Gradescope runs ``run_autograder`` (next to this file) once per submission; it calls this command. The result
carries who submitted and when, from Gradescope's ``ROOT/submission_metadata.json``
(https://gradescope-autograders.readthedocs.io/en/latest/submission_metadata/): the students' names, student ids
(``sid``) and emails, and a late flag from ``created_at`` against the assignment's ``due_date`` under
``course_config.LATE_POLICY``. A results.json is always written: when no sandbox can be had here, it says that
grading is unavailable and scores 0, and when this command cannot even start, ``run_autograder`` writes one.

Each written answer's text goes into the results too, for the graders who score it by hand in Gradescope: a test of 0
points with ``course_config.GRADESCOPE["written_answer_visibility"]`` (graders only until publication), its output
the answer as plain text (``results.WrittenAnswer``), read from the very bytes that were graded.
"""
import json
import sys
from pathlib import Path

import course_config
from autograder import batch, course, grade, render, results, store
from autograder.submissions import intake, read


def read_metadata(path):
    """Gradescope's submission metadata as a dict, or {} when it is absent or unreadable (local runs)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        if Path(path).exists():
            print(f"submission_metadata.json could not be read ({e}); grading without it", file=sys.stderr)
        return {}
    return data if isinstance(data, dict) else {}


def students(metadata):
    """results.Student for each user of the submission (several for a group submission)."""
    out = []
    for user in metadata.get("users") or []:
        if not isinstance(user, dict):
            continue
        text = {k: (str(user[k]) if user.get(k) not in (None, "") else None) for k in ("name", "sid", "email")}
        gid = user.get("id")
        out.append(results.Student(**text, gradescope_id=gid if isinstance(gid, int) else None))
    return out


def lateness(metadata, assignment, max_points=0.0):
    """Late or not: the submission's ``created_at`` against Gradescope's due date (else course_config's), with the
    penalty of course_config.LATE_POLICY on ``max_points`` (the assignment's maximum; a share of it per day)."""
    due = (metadata.get("assignment") or {}).get("due_date") or getattr(course_config, "DUE_DATES", {}).get(assignment)
    submitted = metadata.get("created_at")
    if not submitted or not due:
        return None
    return intake.lateness(submitted, due, getattr(course_config, "LATE_POLICY", {}), source="gradescope",
                           max_points=max_points)


def pick_notebook(folder, assignment):
    """(the notebook to grade, every notebook found) under the submission folder: ``<assignment>.ipynb`` where
    there is one, else the only notebook; several others, or none, are graded as missing (the reason names the
    notebook that was expected)."""
    found = sorted(p for p in Path(folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    expected = [p for p in found if p.name == course.notebook_name(assignment)]
    if expected:
        return expected[0], found
    if len(found) == 1:
        return found[0], found
    return Path(folder) / course.notebook_name(assignment), found


def grade_submission(root, assignment=None, unsafe=False):
    """Grade ``root``'s submission as ``assignment`` into ``root/results/results.json``; returns the exit
    status (0: a results.json was written, whatever it says)."""
    root = Path(root)
    out = root / "results" / "results.json"
    assignment = assignment or (course_config.ASSIGNMENTS[0] if len(course_config.ASSIGNMENTS) == 1 else None)
    if assignment is None:  # run_autograder passes the bundle's ASSIGNMENT file
        print("this autograder does not say which assignment it grades (the bundle's ASSIGNMENT file is missing); "
              "build the bundle with make gradescope", file=sys.stderr)
        return 2
    metadata = read_metadata(root / "submission_metadata.json")
    target, found = pick_notebook(root / "submission", assignment)
    submission = read.read(target)  # read once: graded, and its written answers shown to the graders
    try:
        result = batch.grade_file(target, assignment, unsafe=unsafe, submission=submission)
    except batch.BatchError as e:  # no sandbox here: say so, never crash, never run the code unconfined
        print(f"grading unavailable: {e}", file=sys.stderr)
        result = grade.unavailable(assignment, str(e))
    if result.status == "missing":
        others = ", ".join(p.name for p in found)
        result.reason = (f"No `{assignment}.ipynb` was submitted" + (f" (found: {others})" if others else "")
                         + f". This assignment grades the notebook `{assignment}.ipynb`; upload it and submit again.")
    result = result.with_written_answers(submission.nb)
    result.students = students(metadata)
    result.lateness = lateness(metadata, result.assignment, result.max_score)
    if len(found) > 1:
        result.notes.insert(0, results.Note("info", f"Several notebooks were submitted; graded {target.name}."))
    store.write_json(out, render.results_json(result))
    who = ", ".join(s.email or s.sid or s.name or "?" for s in result.students) or "unknown student"
    late = " (late)" if result.lateness and result.lateness.late else ""
    print(f"{target.name} ({who}){late}: {render.score_words(result)}, status {result.status}")
    return 0
