"""Grades into an LMS: ``python -m autograder export OUT --lms canvas|moodle|blackboard --roster ROSTER.csv``.

For each assignment of a batch's output folder OUT it writes ``OUT/<assignment>/lms/<lms>.csv`` in the LMS's own
gradebook import format, one row per roster entry. Each total is recomputed from the store, as every rendering is:
the autograded record with the TAs' hand scores on top (``render.stored_results``, ``Store.hand_scores``), less the
late penalty (``submissions.late``), the number in grades.csv's ``total``; it is never read back from a rendered file.

**The roster** (``ROSTER.csv``, UTF-8, a header row) maps the batch's students to the LMS's users:

* ``student`` (required): the student's name in the batch (their folder under ``submitted/``);
* ``lms_id`` (required): the LMS's own id of the user: Canvas's numeric user ``ID``, Moodle's ``ID number``,
  Blackboard's ``Username``;
* ``email`` (required): the user's email (Moodle maps users by it; Canvas's ``SIS Login ID`` when that is empty);
* optional: ``name`` (as the LMS shows it, "Last, First"), ``first_name``, ``last_name``, ``sis_user_id``,
  ``sis_login_id``, ``section``.

Every row is checked first (the header, no empty required field, no student or lms_id twice, an email with one @,
no control characters). **Refused, in one line each, exit 2, nothing written:** students with results who are
missing from the roster; roster entries with no submission for an assignment (no result, or the batch's
``missing`` row), listed, never zeroed silently (``--zero-missing`` exports them as 0 on purpose); a total above the
assignment's maximum (or below 0). A written answer not yet graded by hand counts 0 in the total, as in grades.csv;
the command says how many.

**The formats.** Canvas, "How do I import grades in the Gradebook?" (Instructure Community, Instructor Guide,
https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807): the columns
``Student, ID, SIS User ID, SIS Login ID, Section`` then one column per assignment, named ``<name> (<assignment
id>)`` to match an existing assignment (a new name creates one); its own export has a second row, ``Points
Possible``, with each assignment's points, which we write too. Moodle, "Grade import" (MoodleDocs,
https://docs.moodle.org/311/en/Grade_import): a CSV with a header row whose columns are mapped on import; users are
identified by a column mapped to a user field ("Email address" to ``useremail``, or "ID number" to
``useridnumber``) and the grade column to the grade item; we write ``First name, Last name, ID number, Email
address`` and one column named after the assignment, as Moodle's own plain-text export does. Blackboard Learn,
"Uploading or Downloading Grade Center Items for Working Offline" (Blackboard Help for Instructors,
http://library.blackboard.com/ref/3ea64795-6ecc-4abd-b595-0a9a8dfdec94/Content/_instructor_grade_center/grade_center_upload_download.htm):
users are identified by ``Username``, columns by the Column ID after a ``|`` in the header (without one, a new
column is made), and every value of a comma-delimited file within quotes; we write ``"Last Name","First
Name","Username","Student ID"`` and ``"<name> [Total Pts: <max> Score] |<column id>"``. The LMS's assignment or
column id comes from ``--assignment-id ASSIGNMENT=ID``.

Names, ids and emails are data: every text cell that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with a quote (``render.csv_text``).
"""
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import course_config
from autograder import course, render
from autograder import store as storage
from autograder.submissions import late

LMS = ("canvas", "moodle", "blackboard")
FOLDER = "lms"
REQUIRED = ("student", "lms_id", "email")
OPTIONAL = ("name", "first_name", "last_name", "sis_user_id", "sis_login_id", "section")
ROSTER_BYTES = 16 * 2**20


class ExportError(Exception):
    """Nothing was written; ``problems`` are the reasons, one line each."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Person:
    student: str
    lms_id: str
    email: str
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    @property
    def display(self):
        return self.name or (f"{self.last_name}, {self.first_name}" if self.last_name else self.student)


def _short(names, limit=20):
    names = sorted(names)
    return ", ".join(repr(n)[1:-1][:80] for n in names[:limit]) + (f" and {len(names) - limit} more"
                                                                   if len(names) > limit else "")


def read_roster(path):
    """[Person] from the roster at ``path``; ExportError listing every problem."""
    path = Path(path)
    try:
        if path.is_symlink() or not path.is_file():
            raise ExportError([f"the roster {path} is not a file"])
        data = path.read_bytes()[:ROSTER_BYTES + 1]
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ExportError([f"the roster {path} cannot be read as UTF-8 text ({type(e).__name__})"]) from None
    if len(data) > ROSTER_BYTES:
        raise ExportError([f"the roster {path} is larger than {ROSTER_BYTES // 2**20} MiB"])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [h.strip() for h in rows[0]] if rows else []
    problems = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        problems.append(f"the roster {path} needs the columns {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})"
                        + (f"; missing: {', '.join(missing)}" if missing else "")
                        + (f"; unknown: {_short(unknown)}" if unknown else "")
                        + ("; a column is named twice" if len(set(header)) != len(header) else ""))
        raise ExportError(problems)
    people, seen = [], {"student": {}, "lms_id": {}}
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"roster line {line}: {len(row)} fields, the header has {len(header)}")
            continue
        entry = {h: cell.strip() for h, cell in zip(header, row)}
        empty = [c for c in REQUIRED if not entry[c]]
        if empty:
            problems.append(f"roster line {line}: empty {', '.join(empty)}")
            continue
        bad = [c for c, v in entry.items() if any(ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0 for ch in v)]
        if bad:
            problems.append(f"roster line {line}: control characters in {', '.join(bad)}")
            continue
        if entry["email"].count("@") != 1 or " " in entry["email"]:
            problems.append(f"roster line {line}: {entry['email'][:80]!r} is not an email address")
            continue
        for key in seen:
            if entry[key] in seen[key]:
                problems.append(f"roster line {line}: {key} {entry[key][:80]!r} is already on line {seen[key][entry[key]]}")
            seen[key].setdefault(entry[key], line)
        people.append(Person(**entry))
    if problems:
        raise ExportError(problems)
    if not people:
        raise ExportError([f"the roster {path} lists nobody"])
    return people


def assignment_max(assignment):
    """The assignment's maximum: every test cell's points and every written answer's (the points table's total)."""
    return sum(c["points"] for c in course.test_cells(assignment)) + sum(p for _, p in course.manual_cells(assignment))


def totals(store, assignment, deadlines=None):
    """{student: SubmissionResult with hand scores and the late penalty (``deadlines``, a late.Deadlines; default:
    course_config's without extensions)}, as grades.csv renders them."""
    hand = store.hand_scores(assignment)
    deadlines = deadlines or late.from_config()
    return {name: deadlines.judge(r.with_hand_scores(hand.get(name)), name)
            for name, r in render.stored_results(store, assignment).items()}


def _score(value):
    return f"{value:g}"


def _canvas(people, scores, assignment, maximum, column_id):
    column = f"{assignment} ({column_id})" if column_id else assignment
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column],
            ["Points Possible", "", "", "", "", _score(maximum)]]
    rows += [[p.display, p.lms_id, p.sis_user_id, p.sis_login_id or p.email, p.section, _score(scores[p.student])]
             for p in people]
    return rows, csv.QUOTE_MINIMAL


def _moodle(people, scores, assignment, maximum, column_id):
    rows = [["First name", "Last name", "ID number", "Email address", assignment]]
    rows += [[p.first_name or p.display, p.last_name, p.lms_id, p.email, _score(scores[p.student])] for p in people]
    return rows, csv.QUOTE_MINIMAL


def _blackboard(people, scores, assignment, maximum, column_id):
    column = f"{assignment} [Total Pts: {_score(maximum)} Score]" + (f" |{column_id}" if column_id else "")
    rows = [["Last Name", "First Name", "Username", "Student ID", column]]
    rows += [[p.last_name or p.display, p.first_name, p.lms_id, p.sis_user_id, _score(scores[p.student])]
             for p in people]
    return rows, csv.QUOTE_ALL


FORMATS = {"canvas": _canvas, "moodle": _moodle, "blackboard": _blackboard}


def csv_bytes(rows, quoting):
    """The rows as CSV (CRLF line ends, as RFC 4180 and the LMSs' own exports), each text cell guarded against
    formula injection; score cells are numbers this module formatted."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=quoting, lineterminator="\r\n")
    for row in rows:
        w.writerow([render.csv_text(cell) for cell in row])
    return buf.getvalue().encode("utf-8")


def plan(out, lms, roster, assignments=None, column_ids=None, zero_missing=False, extensions=None, deadlines=None):
    """({path: bytes} to write, [notes]) for every assignment of ``out``; ExportError (every problem, one line
    each) before anything is written. ``deadlines``: as ``batch.run``'s (the demo's own policy)."""
    if lms not in FORMATS:
        raise ExportError([f"--lms must be one of {', '.join(LMS)}, not {lms!r}"])
    store = storage.Store(out)
    wanted = [a for a in store.assignments(course_config.ASSIGNMENTS) if not assignments or a in assignments]
    if not wanted:
        raise ExportError([f"{out} holds no graded assignment (run batch first)"])
    people = read_roster(roster)
    try:
        deadlines = late.deadlines(out, extensions, say=False, **(deadlines or {}))
    except late.ExtensionsError as e:
        raise ExportError([str(e)]) from None
    listed = {p.student for p in people}
    problems, files, notes = [], {}, []
    for assignment in wanted:
        results = totals(store, assignment, deadlines)
        maximum = assignment_max(assignment)
        absent = sorted(set(results) - listed)
        if absent:
            problems.append(f"{assignment}: {len(absent)} student(s) with results are missing from the roster: "
                            f"{_short(absent)}")
        no_submission = sorted(s for s in listed if s not in results or results[s].status == "missing")
        if no_submission and not zero_missing:
            problems.append(f"{assignment}: {len(no_submission)} roster entr(ies) have no submission: "
                            f"{_short(no_submission)} (grade them with batch, remove them from the roster, or give "
                            "--zero-missing to export 0 on purpose)")
        over = sorted(s for s, r in results.items() if s in listed and not 0 <= r.score <= maximum)
        if over:
            problems.append(f"{assignment}: {len(over)} total(s) outside 0..{_score(maximum)}: "
                            + ", ".join(f"{s[:80]} ({_score(results[s].score)})" for s in over[:20]))
        scores = {p.student: results[p.student].score if p.student in results else 0 for p in people}
        pending = sum(1 for p in people if p.student in results and results[p.student].pending())
        if pending:
            notes.append(f"{assignment}: {pending} total(s) count a written answer not yet graded by hand as 0")
        rows, quoting = FORMATS[lms](people, scores, assignment, maximum, (column_ids or {}).get(assignment))
        files[store.assignment_dir(assignment) / FOLDER / f"{lms}.csv"] = csv_bytes(rows, quoting)
    if FOLDER in {s for a in wanted for s in store.students(a)}:
        problems.append(f"a student is named {FOLDER!r}, where the export would go; rename the student's folder")
    if problems:
        raise ExportError(problems)
    return files, notes


def export(out, lms, roster, assignments=None, column_ids=None, zero_missing=False, extensions=None, deadlines=None):
    """Write each assignment's ``<lms>.csv``; returns ([paths], [notes]). ExportError: nothing written."""
    files, notes = plan(out, lms, roster, assignments, column_ids, zero_missing, extensions, deadlines)
    return [storage.write_bytes(path, data) for path, data in files.items()], notes


def parse_column_ids(values):
    """{assignment: id} from ``--assignment-id ASSIGNMENT=ID`` options; ExportError for a malformed one."""
    out, problems = {}, []
    for value in values or []:
        assignment, equals, ident = value.partition("=")
        if not equals or assignment not in course_config.ASSIGNMENTS or not ident.strip() or "," in ident:
            problems.append(f"--assignment-id {value[:80]!r}: give ASSIGNMENT=ID with one of "
                            f"{', '.join(course_config.ASSIGNMENTS)}")
        out[assignment] = ident.strip()
    if problems:
        raise ExportError(problems)
    return out
