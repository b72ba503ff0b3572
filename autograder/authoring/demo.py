"""``make demo`` (``python -m autograder demo``): the bundled example submissions graded as a course would grade
them, then every instructor's output made from them.

The batch holds the example students of ``examples.DEMO``, two copies planted from ``partly_wrong`` for the
similarity report (``similarity.planted``: one with its names changed and its cells reordered, one with one
more mistake), and nbgrader's ``timestamp.txt`` for each. The course sets no due date (``course_config.DUE_DATES``),
so the demo brings its own, with a penalty of 10 % per started day: ``partly_wrong`` submitted after its
extension (``extensions.csv``, read where ``batch`` reads it) and loses a day's penalty. Then the similarity
report and a Canvas gradebook file are written from the graded folder.
"""
import csv
import datetime
import shutil
from pathlib import Path

import course_config
from autograder.authoring import examples

#: The demo's due dates and late policy (the course's, with a penalty to show).
DEADLINES = {"policy": {**course_config.LATE_POLICY, "percent_per_day": 10, "max_percent": 50},
             "due_dates": {"normalising_flows": "2026-03-02T23:59:00+00:00",
                           "realnvp_multiscale": "2026-03-09T23:59:00+00:00"}}
#: When each student submitted (nbgrader's timestamp.txt form); everyone else an hour before the due date.
SUBMITTED = {("partly_wrong", "normalising_flows"): "2026-03-04 02:00:00.000000 UTC"}
#: The extensions file: partly_wrong's normalising_flows is due a day later, and came 2 h 01 min after that.
EXTENSIONS = [("partly_wrong", "normalising_flows", "2026-03-03T23:59:00+00:00")]
COPIED = "partly_wrong"  # whose work the planted copies take


def build(root):
    """The demo's course folder under ``root``: ``submitted/`` (with the planted copies and the timestamps) and
    ``extensions.csv``. Returns (submitted, {planted student: what was done})."""
    from autograder.similarity import planted
    submitted = examples.build_demo(root / "submitted")
    copies = {student: what for student, (_, what) in planted.plant(submitted, COPIED).items()}
    for folder in sorted(p for p in submitted.glob("*/*") if p.is_dir()):
        student, assignment = folder.parent.name, folder.name
        early = datetime.datetime.fromisoformat(DEADLINES["due_dates"][assignment]) - datetime.timedelta(hours=1)
        (folder / "timestamp.txt").write_text(SUBMITTED.get((student, assignment),
                                                            early.strftime("%Y-%m-%d %H:%M:%S.%f UTC")))
    with open(root / course_config.LATE_POLICY["extensions_file"], "w", newline="") as f:
        csv.writer(f).writerows([("student", "assignment", "due"), *EXTENSIONS])
    return submitted, copies


def roster(graded, path):
    """A roster for the LMS export: each student of the batch with a made-up LMS id and email."""
    students = sorted({p.parent.name for p in Path(graded).glob("*/*/graded.json")})
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([("student", "lms_id", "email", "name"),
                                 *((s, str(1000 + i), f"{s}@example.edu", f"Student, {s}")
                                   for i, s in enumerate(students))])
    return path


def run(root, unsafe=False):
    from autograder import batch, render, similarity
    from autograder.integrations import lms_export
    root = Path(root)
    shutil.rmtree(root, ignore_errors=True)
    submitted, copies = build(root)
    print(f"example submissions: {', '.join(sorted(examples.DEMO))}, and {', '.join(sorted(copies))} "
          f"(copies of {COPIED}'s work: {'; '.join(copies.values())}) in {submitted}")
    policy = DEADLINES["policy"]
    print(f"late policy of the demo (course_config.py sets no due date): due {DEADLINES['due_dates']}, "
          f"{policy['percent_per_day']} % per started day after a {policy['grace_minutes']} min grace, at most "
          f"{policy['max_percent']} %; extensions: {root / policy['extensions_file']}")
    graded, out = batch.run(submitted, root / "graded", unsafe=unsafe, deadlines=DEADLINES)
    for assignment, rows in graded.items():
        print(render.table(rows, assignment))
        for student, result in rows.items():
            _explain(student, result)
        print()
    pages = similarity.run(out, submitted)
    paths, notes = lms_export.export(out, "canvas", roster(out, root / "roster.csv"), zero_missing=True,
                                     deadlines=DEADLINES)
    print(f"results: {out}/<assignment>/<student>/results.json and {out}/<assignment>/grades.csv")
    print(f"feedback: {out}/feedback/<student>/<assignment>/feedback.html (and .md)")
    print(f"instructor reports: {out}/<assignment>/report/index.html")
    for assignment, (page, data) in pages.items():
        pairs = f"{data['compared']} pair{'s' if data['compared'] != 1 else ''}"
        print(f"similarity ({assignment}, {pairs} compared, instructors only): {page}")
    for line in notes:
        print(f"canvas export: {line}")
    for path in paths:
        print(f"canvas gradebook file: {path} (roster: {root / 'roster.csv'})")
    return 0


def _explain(student, result):
    from autograder.render.pages import STATUS_WORDS
    from autograder.text import shortened
    failed = [c for c in result.checks if c.status != "passed"]
    print(f"\n{student}: {result.auto_score:g} of {result.auto_max:g} autograded points" + (":" if failed else ""))
    late = result.lateness
    if late and late.late:
        print(f"  late by {late.minutes_late:g} min" + (f" (extension to {late.extension})" if late.extension else "")
              + f": {late.days_late} day(s), -{late.penalty:g} points, total {result.score:g} / {result.max_score:g}")
    if result.status != "graded":  # one cause for every check: say it once
        print(f"  - {result.status}: {shortened(result.reason, 200)}")
        return
    for c in failed[:4]:
        print(f"  - {c.name} [{STATUS_WORDS[c.status]}]\n      {shortened((c.message.splitlines() or [''])[0], 200)}")
    if len(failed) > 4:
        print(f"  ... and {len(failed) - 4} more failed checks")
    for note in result.limit_notes()[:2]:
        print(f"  ! {shortened(note.text, 200)}")
