"""nbgrader's gradebook and ``autograded/`` notebooks from a batch of ``python -m autograder`` results.

``batch --gradebook`` gives nbgrader what ``nbgrader autograde`` would have left behind, without running any
student code in a kernel, so TAs can grade the written answers in formgrader:

1. ``register_assignment``: a new (or outdated) gradebook gets the assignment, its notebook and its grade,
   solution and source cells, through nbgrader's own ``generate_assignment`` preprocessors up to ``SaveCells``,
   run on the source notebook (nothing is written to ``release/``).
2. ``write_autograded``: each submission goes through ``nbgrader autograde``'s own preprocessors, in its
   order: the sanitising ones (``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec``, ``OverwriteCells``,
   ``CheckCellMetadata``), then the autograding ones with ``Execute`` replaced by ``InsertVerdicts``, which
   writes our grader's verdict into each test cell's output (a failure becomes an error output holding the
   feedback message). ``SaveAutoGrades`` then records in the gradebook the same score our grader gave, and
   formgrader shows the TA why a check failed. The scores are then set from our results once more, so the
   gradebook always holds the authoritative grader's numbers. Last, ``safe_html.SanitiseMarkdown`` makes every
   markdown cell safe to render, so no script of a student's runs in the TA's browser.
"""
import contextlib
import os
import shutil
import sys
from pathlib import Path

import nbformat

import course_config
from autograder import course, notebooks, store
from autograder.submissions import intake, late
from autograder.integrations.safe_html import SanitiseMarkdown

BIN = Path(sys.executable).parent

#: What nbgrader's submit (or zip_collect) leaves next to a notebook, and its feedback steps need in autograded/.
SUBMIT_FILES = ("timestamp.txt", "submission_secret.txt")


class GradebookError(Exception):
    """The gradebook cannot take these results; the message says why in one line."""


@contextlib.contextmanager
def _alembic_on_path():
    """nbgrader creates a new database by running ``alembic`` from PATH; use the one next to this Python."""
    old = os.environ.get("PATH", "")
    if (BIN / "alembic").exists() and not old.startswith(f"{BIN}:"):
        os.environ["PATH"] = f"{BIN}:{old}"
    try:
        yield
    finally:
        os.environ["PATH"] = old


def open_gradebook(db_url):
    """nbgrader's Gradebook for the course (creates the database if it is new), as a context manager."""
    from nbgrader.api import Gradebook
    with _alembic_on_path():
        return Gradebook(db_url, course_config.COURSE_ID)


def nbgrader_config(**overrides):
    """The course's nbgrader settings (course_config.py) as a traitlets Config."""
    from traitlets.config import Config
    c = Config()
    course_config.apply_nbgrader_config(c)
    for key, value in overrides.items():
        section, name = key.split(".")
        c[section][name] = value
    return c


def course_root(db_url):
    """Where ``autograded/`` goes for a gradebook: the folder of its sqlite file (nbgrader keeps both in the
    course root)."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        return course_config.ROOT
    return Path(db_url[len(prefix):]).resolve().parent


def _steps(converter, name, config):
    """A converter's list of preprocessors: as course_config sets it, else nbgrader's default."""
    configured = config[converter.__name__].get(name) if converter.__name__ in config else None
    return list(configured or converter.class_traits()[name].default())


def _run(preprocessors, nb, resources, config):
    for pp in preprocessors:
        nb, resources = pp(config=config)(nb, resources)  # __call__ skips a disabled preprocessor
    return nb, resources


def register_assignment(gb, db_url, assignment):
    """Make sure ``gb`` knows ``assignment`` with the source notebook's current cells and their points (nbgrader's
    SaveCells, which updates a grade cell's points even when the notebook holds submissions)."""
    from nbgrader.api import MissingEntry
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import SaveCells
    source = {notebooks.grade_meta(c)["grade_id"]: float(notebooks.grade_meta(c).get("points", 0))
              for c in course.source_cells(assignment) if notebooks.grade_meta(c).get("grade")}
    try:
        known = {g.name: g.max_score for g in gb.find_notebook(assignment, assignment).grade_cells}
    except MissingEntry:
        known = None
    if known == source:
        return False
    gb.update_or_create_assignment(assignment)
    steps = _steps(GenerateAssignment, "preprocessors", nbgrader_config())
    steps = [pp for pp in steps[:steps.index(SaveCells) + 1] if pp.__name__ != "InstantiateTests"]
    nb = nbformat.read(str(course.source_notebook(assignment)), as_version=nbformat.NO_CONVERT)
    resources = {"nbgrader": {"notebook": assignment, "assignment": assignment, "db_url": db_url},
                 "metadata": {"path": str(course.source_notebook(assignment).parent)}}
    try:
        _run(steps, nb, resources, nbgrader_config())
    except RuntimeError as e:  # SaveCells refuses to change the cells of a notebook that has submissions
        raise GradebookError(f"the gradebook's {assignment} has other grade cells than source/ and already holds "
                             f"submissions ({e}); use a new gradebook, or remove the old submissions") from None
    return True


def insert_verdicts(result):
    """The step that stands where ``Execute`` stands in ``nbgrader autograde``: each test cell gets our grader's
    verdict as its output. A failed check becomes an error output holding the feedback message, so nbgrader's
    own ``determine_grade`` gives the cell 0; a passed one gets a line on stdout, which gives it full points."""
    verdicts = {t.get("extra_data", {}).get("grade_id"): t for t in result.get("tests", [])}

    class InsertVerdicts:
        def __init__(self, config=None):
            pass

        def __call__(self, nb, resources):
            for cell in nb.cells:
                meta = notebooks.grade_meta(cell)
                test = verdicts.get(meta.get("grade_id"))
                if cell.cell_type != "code" or meta.get("solution") or test is None:
                    continue
                if test["score"] >= test["max_score"]:
                    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                           text="passed (python -m autograder)\n")]
                else:
                    message = test.get("output") or "failed"
                    cell.outputs = [nbformat.v4.new_output(
                        "error", ename="CheckFailed", evalue=message.splitlines()[0],
                        traceback=[f"python -m autograder: {message}"])]
            return nb, resources

    return InsertVerdicts


def write_autograded(gb, db_url, assignment, student, submission, result, root, within=None, replaced=None):
    """Write ``root/autograded/<student>/<assignment>/`` as ``nbgrader autograde`` would (the notebook, the
    assignment's other files from source/, and nbgrader's SUBMIT_FILES), and the grades.

    Returns the notebook's path, or None without a readable submission: then every grade cell has the score our
    grader gave (0 for an unreadable or missing file, as nbgrader gives a missing notebook), and no notebook is
    written. ``submission`` None (no path known) leaves the written answers' automatic grades alone. Every manual
    score and comment is set from the hand-score record in ``result`` (its ``manual`` tests), or cleared; each
    manual score that changes is appended to ``replaced`` ("student/grade_id: old -> new")."""
    from nbgrader import utils
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute
    lateness = result.get("extra_data", {}).get("lateness") or {}
    when = intake.submission_time(submission, within) if submission else None
    when = when or late.parse_time(lateness.get("submitted_at"))  # the record's time, when no folder is given
    timestamp = when.replace(tzinfo=None) if when else None  # nbgrader keeps naive UTC times
    gb.update_or_create_student(student)
    gb.update_or_create_submission(assignment, student, **({"timestamp": timestamp} if timestamp else {}))
    nb = None
    if submission is not None and result.get("extra_data", {}).get("status") != "wrong_assignment":
        try:
            nb = notebooks.read(submission, notebooks.submission_bytes(
                submission, course_config.GRADING["submission_bytes"], within))
        except notebooks.NotebookError:
            pass
    target = None
    if nb is not None:
        resources = {"nbgrader": {"notebook": assignment, "assignment": assignment, "student": student,
                                  "db_url": db_url},
                     "metadata": {"path": str(Path(submission).parent)}}
        config = nbgrader_config()
        steps = [insert_verdicts(result) if pp is Execute or getattr(pp, "replaces_execute", False) else pp
                 for pp in _steps(Autograde, "autograde_preprocessors", config)]
        nb, resources = _run(_steps(Autograde, "sanitize_preprocessors", config), nb, resources, config)
        nb, resources = _run(steps, nb, resources, config)
        nb, resources = SanitiseMarkdown().preprocess(nb, resources)  # formgrader renders the student's markdown
        dest = Path(root) / course_config.AUTOGRADED_DIR / student / assignment
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        source = course.source_notebook(assignment).parent
        for path in utils.find_all_files(str(source), config.CourseDirectory.ignore + ["*.ipynb"]):
            copy = dest / Path(path).relative_to(source)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, copy)
        for name in SUBMIT_FILES:  # generate_feedback and release_feedback read them from autograded/
            kept = Path(submission).parent / name
            if kept.is_file() and not kept.is_symlink():
                shutil.copy(kept, dest / name)
        target = dest / course.notebook_name(assignment)
        nbformat.write(nb, str(target))
    # Our records are the authority: the scores our grader gave, and the hand-score record (merge-manual) for every
    # manual score and comment. Whatever else the gradebook holds (a value anything but merge-manual wrote there,
    # formgrader included) is replaced, and listed in ``replaced``.
    tests = [t for t in result.get("tests", []) if isinstance(t.get("extra_data", {}).get("grade_id"), str)]
    scores = {t["extra_data"]["grade_id"]: t["score"] for t in tests if not t["extra_data"].get("manual")}
    hand = {t["extra_data"]["grade_id"]: t for t in tests if t["extra_data"].get("manual")}
    graded = gb.find_submission_notebook(assignment, assignment, student)
    for grade in graded.grades:
        if grade.name in scores:
            grade.auto_score = scores[grade.name]
        elif nb is None and submission is not None:  # a written answer in a file that cannot be read or is not this
            # assignment's: nbgrader's own steps would fail on it (OverwriteCells looks for cells it does not have)
            grade.auto_score = 0
        recorded = hand[grade.name]["score"] if grade.name in hand else None
        if grade.manual_score != recorded and replaced is not None:
            replaced.append(f"{student}/{grade.name}: {_shown(grade.manual_score)} -> {_shown(recorded)}")
        grade.manual_score = recorded
        grade.needs_manual_grade = recorded is None and grade.auto_score is None
    for comment in graded.comments:
        comment.manual_comment = (hand[comment.name].get("output") or None) if comment.name in hand else None
    # the late policy's judgement, as nbgrader keeps it: the student's extension (a time added to the assignment's
    # due date) and the penalty, which nbgrader's export takes off the total (never below 0), as grades.csv does
    graded.late_submission_penalty = lateness.get("penalty") or 0.0
    extended, due = late.parse_time(lateness.get("extension")), late.parse_time(lateness.get("due"))
    if due:  # without a due date of ours, an extension granted in nbgrader (``grant_extension``) is left alone
        gb.find_submission(assignment, student).extension = extended - due if extended else None
    gb.db.commit()
    return target


def write(rows, assignment, db_url, submissions=None, root=None, within=None):
    """Scores of ``rows`` ({student: result}) into the gradebook at ``db_url``, creating what it lacks, and the
    ``autograded/`` notebooks of ``submissions`` ({student: notebook path}) under ``root`` (default: the
    gradebook's folder). Returns the autograded folder."""
    import warnings
    root = Path(root) if root else course_root(db_url)
    submissions = submissions or {}
    rows = {student: _as_dict(result) for student, result in rows.items()}
    with warnings.catch_warnings(), open_gradebook(db_url) as gb:
        # nbgrader's update_or_create_submission triggers SQLAlchemy autoflush warnings; `nbgrader autograde` shows
        # them too, and they are harmless
        warnings.filterwarnings("ignore", message=".*not in session.*")
        register_assignment(gb, db_url, assignment)
        due = next((late.parse_time(r["extra_data"]["lateness"]["due"]) for r in rows.values()
                    if ((r.get("extra_data") or {}).get("lateness") or {}).get("due")), None)
        due = due or late.parse_time(course_config.DUE_DATES.get(assignment))
        if due:  # else nbgrader's own due date, if it has one, is left alone
            gb.find_assignment(assignment).duedate = due.replace(tzinfo=None)
            gb.db.commit()
        replaced = []
        for student, result in rows.items():
            write_autograded(gb, db_url, assignment, student, submissions.get(student), result, root, within,
                             replaced)
    if replaced:
        sys.stderr.write(f"gradebook: {len(replaced)} manual score(s) of {assignment} differed from the hand-score "
                         f"record and were set from it ({'; '.join(replaced[:10])}"
                         f"{'; ...' if len(replaced) > 10 else ''}); give hand scores with merge-manual\n")
    return root / course_config.AUTOGRADED_DIR


def _shown(score):
    return "none" if score is None else f"{score:g}"


def _as_dict(result):
    """A result as its results.json dict (batch may hand over a typed result object)."""
    return result.to_gradescope() if hasattr(result, "to_gradescope") else result


def write_feedback_pages(pages, assignment, db_url, submissions=None, within=None, root=None):
    """Each student's feedback page ``pages[student]`` (HTML), where ``nbgrader release_feedback`` looks for it:
    ``root/feedback/<student>/<assignment>/<notebook>.html`` with the submission's ``timestamp.txt`` and
    ``submission_secret.txt`` (how the exchange tells whose page is whose). Students who run ``nbgrader
    fetch_feedback`` then get the grader's feedback (the mistake, the section of the notes, the fix), not
    nbgrader's render of a notebook. Students without nbgrader's submit files (a flat folder of notebooks) get no
    page here. Returns the pages written."""
    root = Path(root) if root else course_root(db_url)
    written = []
    for student, html in pages.items():
        submission = (submissions or {}).get(student)
        if submission is None:
            continue
        folder = Path(submission).parent
        kept = {}
        for name in SUBMIT_FILES:
            try:
                kept[name] = notebooks.submission_bytes(folder / name, 4096, within)
            except notebooks.NotebookError:
                break
        if len(kept) < len(SUBMIT_FILES):
            continue
        dest = root / course_config.FEEDBACK_DIR / student / assignment
        for name, data in kept.items():
            store.write_bytes(dest / name, data)
        written.append(store.write_text(dest / f"{Path(submission).stem}.html", html))
    return written
