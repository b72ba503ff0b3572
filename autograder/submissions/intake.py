"""What comes in: finding a batch's submissions, reading each one safely, telling which assignment it is,
and when it was submitted (nbgrader's ``timestamp.txt``, Gradescope's ``created_at``) against the due date.

A notebook is read with ``notebooks.submission_bytes`` only: never through a symbolic link below the batch
folder, never from a FIFO or a device, never more than ``course_config.GRADING["submission_bytes"]``.
"""
import hashlib
import os
import stat
import unicodedata
from pathlib import Path

import course_config
from autograder import course, notebooks, store
from autograder.submissions.late import judge, parse_time  # noqa: F401 (parse_time: intake's reader too)
from autograder.submissions.read import read


def _read(path, within=None):
    return notebooks.submission_bytes(path, course_config.GRADING["submission_bytes"], within)


def _which(path, present=(), within=None):
    """The assignment of a notebook found outside an assignment folder: by its graded cells, else its name."""
    return which(read(path, within=within), present)


def which(submission, present=()):
    """The assignment of a read submission (a submissions.read.Submission): by its graded cells, else its file's
    name, else the only one ``present``, else the course's first."""
    found = course.detect(submission.nb, submission.path.name)
    if found:
        return found
    return next(iter(present)) if len(present) == 1 else course_config.ASSIGNMENTS[0]


def _is_dir(path):
    """A real directory, not a symbolic link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


#: The Unicode categories no name may hold: controls, C0 and C1 (U+009B is a terminal's CSI, U+0085 a line break),
#: formatting marks (right-to-left overrides, zero-width spaces), and line and paragraph separators (U+2028, U+2029).
REFUSED_CATEGORIES = {"Cc": "control characters", "Cf": "bidirectional or other invisible formatting characters",
                      "Zl": "a line separator", "Zp": "a paragraph separator"}


def name_problem(name):
    """Why ``name`` cannot be a student's name in a batch, or None."""
    if name in (".", ".."):
        return "the name is . or .."
    if "/" in name:
        return "the name holds a /"
    for ch in name:
        what = REFUSED_CATEGORIES.get(unicodedata.category(ch))
        if what:
            return f"the name holds {what} (U+{ord(ch):04X})"
    if name in store.RESERVED_NAMES:
        return f"the name is one the batch's outputs use ({name}); rename the folder"
    return None


def find_submissions(directory, assignments=None):
    """({(assignment, student): notebook path}, {name: why it was refused}) under ``directory``.

    Layouts: nbgrader's ``submitted/<student>/<assignment>/*.ipynb``, a folder per student holding notebooks,
    or a flat folder of ``<student>.ipynb``. A notebook outside an assignment folder is told apart by its
    graded cells (else its file name). Every student gets a row in every assignment of the batch: one with
    nothing for it is graded as missing. Symbolic links are never followed: a student whose folder or file
    is one gets a row that says so (``notebooks.submission_bytes``). Names that cannot be a folder or a CSV
    row (``..``, control characters) are refused and listed.
    """
    directory = Path(directory)
    wanted = tuple(assignments or course_config.ASSIGNMENTS)
    found, loose, students, refused = {}, [], [], {}
    entries = sorted(p for p in directory.iterdir() if not p.name.startswith(".") or p.suffix == ".ipynb")
    for entry in entries:
        if entry.suffix == ".ipynb" and not _is_dir(entry):
            loose.append((entry.stem, entry))
        elif _is_dir(entry) or entry.is_symlink():
            students.append(entry.name)
        if not _is_dir(entry):
            continue
        for folder in sorted(d for d in entry.iterdir() if d.name in wanted):
            nbs = sorted(folder.glob("*.ipynb")) if _is_dir(folder) else []
            preferred = [p for p in nbs if p.name == course.notebook_name(folder.name)]
            found[(folder.name, entry.name)] = (preferred or nbs or [folder / course.notebook_name(folder.name)])[0]
        loose += [(entry.name, p) for p in sorted(entry.glob("*.ipynb"))]
    present = {a for a, _ in found}
    for student, path in loose:
        assignment = _which(path, present, directory)
        if assignment in wanted:
            found.setdefault((assignment, student), path)
    present = {a for a, _ in found} or set(wanted)
    for student in students + [student for student, _ in loose]:
        for assignment in present:
            found.setdefault((assignment, student), course.notebook_path(student, assignment, directory))
    for assignment, student in list(found):
        if name_problem(student):
            refused[student] = name_problem(student)
            del found[(assignment, student)]
    order = {a: i for i, a in enumerate(course_config.ASSIGNMENTS)}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0][1]))), refused


def _digest(path, within):
    try:
        return hashlib.sha256(_read(path, within)).hexdigest()
    except notebooks.NotebookError:
        return None


#: What nbgrader's ``submit``, ``collect`` and ``zip_collect`` write next to a notebook: when it was submitted.
TIMESTAMP_FILE = "timestamp.txt"


def submission_time(path, within=None):
    """When the notebook at ``path`` was submitted, from nbgrader's ``timestamp.txt`` beside it: an aware UTC
    datetime, or None when there is no readable one. The one reader of that file."""
    try:
        stamp = notebooks.submission_bytes(Path(path).parent / TIMESTAMP_FILE, 200, within)
    except notebooks.NotebookError:
        return None
    return parse_time(stamp.decode("utf-8", "replace"))


def submission_lateness(path, assignment):
    """A results.Lateness from the submission's ``timestamp.txt`` against ``course_config.DUE_DATES`` under
    ``course_config.LATE_POLICY`` (never late without a due date, but the time is kept); None without a time.
    Rendering judges it again from its time, with the student's extension and the penalty (``late.Deadlines``)."""
    when = submission_time(path)
    if when is None:
        return None
    return lateness(when.isoformat(), course_config.DUE_DATES.get(assignment), course_config.LATE_POLICY,
                    source="timestamp.txt")


# ---- submission times and the late policy (autograder/submissions/late.py) ----------------------------------
def lateness(submitted_at, due, policy, source=None, extension=None, max_points=0.0):
    """A Lateness for a submission time and a due date (or an extension) under ``policy``
    (course_config.LATE_POLICY); ``late.judge``. Either time may be None (then not late)."""
    return judge(submitted_at, due, policy, extension, max_points, source)
