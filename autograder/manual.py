"""Written answers, graded by hand: collected at batch time, exported for TAs, and merged back as hand scores.

The flow, for each assignment of a batch output folder OUT:

1. ``python -m autograder batch`` stores each student's written answers (the markdown solution cells that carry
   points, e.g. ``bimodal_discussion``) in ``OUT/<assignment>/written_answers.json``.
2. ``python -m autograder answers OUT`` writes ``OUT/<assignment>/answers.html``: each question with the model
   answer and TA rubric of the source notebook beside every student's answer, and ``OUT/<assignment>/
   manual_scores.csv``, a template with one row per student and question (``student, grade_id, max_points,
   score, comment``). Unanswered questions are pre-filled with 0 ("No response."); the rows of a notebook that
   could not be read are left empty, with the reason in the comment (a TA decides, once the file is looked at).
   Run again after more students are graded, it adds their rows to the existing template and leaves every row
   already there, filled in or not, as it was.
3. ``python -m autograder merge-manual OUT scores.csv`` checks every row first (known student and grade_id,
   a score in halves between 0 and the points, one row per pair), then stores the scores in ``OUT/<assignment>/
   hand_scores.json``, a record kept apart from the autograded ones (a regrade never touches it), and renders
   every output again from both (``render.assignment``): results.json, feedback, grades.csv, the report and,
   with ``--gradebook``, nbgrader's gradebook as manual scores. If anything is wrong it lists every problem and
   changes nothing.
"""
import csv
import io
import math
from pathlib import Path

import course_config
from autograder import course, notebooks, render
from autograder import store as storage
from autograder.integrations.gradebook import open_gradebook
from autograder.render import answers_page
from autograder.results import HandScore
from autograder.submissions import late

ANSWERS_FILE = storage.WRITTEN_ANSWERS
TEMPLATE_FILE = "manual_scores.csv"
COLUMNS = ("student", "grade_id", "max_points", "score", "comment")
#: Hand scores are given in steps of this many points (the README: "halves allowed").
SCORE_STEP = 0.5
#: The comment of a template row whose score is left empty because the notebook could not be read.
UNREADABLE = ("Not scored: no answer could be read from this submission (its status is in grades.csv); look at "
              "the file, then score it.")


class ManualError(Exception):
    """Manual scores that cannot be merged; ``problems`` lists every reason, one per line."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def collect(rows, paths, store, assignment, within=None):
    """Record ``assignment``'s written answers for ``rows``' students: {student: {grade_id: {status, text}}},
    read from their submissions ``paths`` ({student: notebook}), in the batch's ``store``."""
    ids = [q["grade_id"] for q in course.questions(assignment)]
    found = {}
    for student in rows:
        try:
            data = notebooks.submission_bytes(paths[student], course_config.GRADING["submission_bytes"], within)
            nb = notebooks.read(paths[student], data)
        except (notebooks.NotebookError, KeyError):
            nb = None
        if rows[student].status == "wrong_assignment":
            nb = None  # the answers of another assignment's notebook are not answers to these questions
        found[student] = {gid: dict(zip(("status", "text"), course.answer(nb, gid))) for gid in ids}
        if rows[student].status == "missing":
            found[student] = {gid: {"status": "not submitted", "text": ""} for gid in ids}
    storage.write_json(store.written_answers_path(assignment), found)


def _assignments(out):
    store = storage.Store(out)
    return [a for a in course_config.ASSIGNMENTS if store.written_answers_path(a).exists()]


def export(out, force=False):
    """Write the answers page and the scores template of every assignment in ``out``; returns
    [(path, what was done)]. An existing template keeps every row it has (a TA may be filling it in) and gets
    rows for the students and questions it lacks; ``force`` writes a fresh, empty one."""
    written = []
    found = _assignments(out)
    if not found:
        raise ManualError([f"{out}: no {ANSWERS_FILE} in any assignment folder; run python -m autograder batch "
                           "first (with this folder as --out)"])
    for assignment in found:
        folder = Path(out) / assignment
        answers = storage.Store(out).written_answers(assignment) or {}
        items = course.questions(assignment)
        students = sorted(answers)
        written.append((answers_page.write(folder, assignment, answers, TEMPLATE_FILE), "written"))
        template = folder / TEMPLATE_FILE
        kept = [] if force else _existing_rows(template)
        have = {(_plain(row[0]), row[1]) for row in kept[1:] if len(row) > 1}
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")  # a plain text file: one line per row, ending with a newline
        for row in kept or [COLUMNS]:
            w.writerow(row)
        added = 0
        for student in students:
            for q in items:
                if (student, q["grade_id"]) in have:
                    continue
                status = answers[student][q["grade_id"]]["status"]
                blank = status in ("no response", "missing", "not submitted")
                w.writerow([render.csv_text(student), q["grade_id"], q["points"], 0 if blank else "",
                            "No response." if blank else UNREADABLE if status == "unreadable" else ""])
                added += 1
        if added or not kept:
            storage.write_text(template, buf.getvalue())
        what = ("written" if not kept else f"kept {len(kept) - 1} row(s), added {added} for students and questions "
                "it lacked" if added else f"kept as it was ({len(kept) - 1} rows; no new students)")
        written.append((template, what))
    return written


def _existing_rows(path):
    """The rows of an existing scores template (header first), or [] when there is none."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise ManualError([f"{path}: cannot be read ({e}); fix it or run answers --force for a fresh one"]) from None
    return [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]


def _plain(name):
    """A student name as the template wrote it, without the quote that keeps a spreadsheet from running it."""
    return name[1:] if name.startswith("'") and render.csv_text(name[1:]) == name else name


def _students(out, assignment):
    return storage.Store(out).students(assignment)


def read_scores(out, scores_csv):
    """Check every row of ``scores_csv`` against ``out``: {(assignment, student, grade_id): (score, comment)}.
    Rows with an empty score are not graded yet and are skipped. Raises ManualError listing every problem."""
    points = {q["grade_id"]: (a, q["points"]) for a in course_config.ASSIGNMENTS for q in course.questions(a)}
    students = {a: set(_students(out, a)) for a in course_config.ASSIGNMENTS}
    problems, scores = [], {}
    try:
        text = Path(scores_csv).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ManualError([f"{scores_csv}: cannot be read ({e})"]) from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ("student", "grade_id", "score") if c not in header]
    if missing:
        raise ManualError([f"{scores_csv}: the header must name the columns {', '.join(COLUMNS)} "
                           f"(missing: {', '.join(missing)}; found: {', '.join(header) or 'nothing'})"])
    col = {name: header.index(name) for name in COLUMNS if name in header}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {line}: {len(row)} fields, the header has {len(header)}")
            continue
        get = {name: row[i].strip() for name, i in col.items()}
        student, gid, raw = get["student"], get["grade_id"], get["score"]
        if gid not in points:
            problems.append(f"line {line}: unknown grade_id {gid!r} (hand-graded ids: {', '.join(sorted(points))})")
            continue
        assignment, most = points[gid]
        if student not in students[assignment] and student.startswith("'") and student[1:] in students[assignment]:
            student = student[1:]  # the template quotes names a spreadsheet would read as a formula
        if student not in students[assignment]:
            problems.append(f"line {line}: unknown student {student!r} for {assignment} (no results.json in "
                            f"{Path(out) / assignment})")
            continue
        if "max_points" in get and get["max_points"] and _number(get["max_points"]) != most:
            problems.append(f"line {line}: max_points {get['max_points']} for {gid}, but the notebook gives {most:g}")
        if not raw:
            continue
        score = _number(raw)
        if score is None:
            problems.append(f"line {line}: score {raw!r} is not a number")
        elif not 0 <= score <= most:
            problems.append(f"line {line}: score {raw} for {gid} is outside 0..{most:g}")
        elif not in_steps(score):
            problems.append(f"line {line}: score {raw} for {gid} is not in halves (hand scores are 0, 0.5, 1, ...)")
        elif (assignment, student, gid) in scores:
            problems.append(f"line {line}: a second score for {student} / {gid}")
        else:
            scores[(assignment, student, gid)] = (score, get.get("comment", ""))
    if problems:
        raise ManualError([f"{scores_csv}: {p}" for p in problems])
    return scores


def in_steps(score):
    """Whether ``score`` is a whole number of SCORE_STEPs."""
    return float(score / SCORE_STEP).is_integer()


def _number(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def merge(out, scores_csv, db_url=None, extensions=None):
    """Store the scores of ``scores_csv`` as ``out``'s hand scores and render every output again: results.json,
    feedback, grades.csv and the report, and nbgrader's gradebook at ``db_url`` if given. Every row is checked
    before anything is written. The late policy applies as in ``batch`` (``extensions``: the extensions file, default
    ``late.extensions_path``). Returns the number of scores merged per assignment."""
    deadlines = late.deadlines(out, extensions)
    scores = read_scores(out, scores_csv)
    store = storage.Store(out)
    counts = {}
    for assignment, *_ in scores:
        counts[assignment] = counts.get(assignment, 0) + 1
    try:  # the record already there is checked too (a forged score above its points), before anything is written
        held = {assignment: store.hand_scores(assignment) for assignment in counts}
    except storage.RecordError as e:
        raise ManualError([str(e)]) from None
    if db_url:
        _merge_gradebook(scores, db_url)
    for assignment, hand in held.items():
        for (a, student, gid), (score, comment) in scores.items():
            if a == assignment:
                hand.setdefault(student, {})[gid] = HandScore(score, comment)
        store.save_hand_scores(assignment, hand)
        stored = render.stored_results(store, assignment)  # weighed with the notebook's points, as batch would
        render.assignment(store, assignment, {name: r.weighed() for name, r in stored.items()}, deadlines=deadlines)
    return counts


def _merge_gradebook(scores, db_url):
    """Manual scores and comments into the gradebook, in one transaction: all of them or, on a problem, none."""
    from nbgrader.api import MissingEntry
    problems = []
    with open_gradebook(db_url) as gb:
        try:
            for (assignment, student, gid), (score, comment) in scores.items():
                try:
                    grade = gb.find_grade(gid, assignment, assignment, student)
                    note = gb.find_comment(gid, assignment, assignment, student)
                except MissingEntry:
                    problems.append(f"the gradebook has no {gid} for {student} in {assignment} (run batch "
                                    "--gradebook first)")
                    continue
                grade.manual_score = score
                grade.needs_manual_grade = False
                note.manual_comment = comment or None
            if problems:
                raise ManualError(problems)
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise
