"""The one configuration file of the course package.

It is read two ways:

* by nbgrader, as a traitlets config file:
  ``nbgrader <command> --JupyterApp.config_file=course_config.py`` from the repo root
  (nbgrader 0.9.6 has no ``--config`` alias; this is the flag that loads it);
* by our own code (``autograder``, ``tests``), as a plain module: ``import course_config``.

Traitlets runs config files with ``get_config`` in scope; a plain import does not have it, so the
nbgrader part is guarded at the bottom of this file. Every other fact (points, grade ids) lives in
the source notebook's nbgrader metadata, not here.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent

COURSE_ID = "dl-week4-normalising-flows"

#: Assignments, in the order they are taught. Each is ``source/<id>/<id>.ipynb``, with its hidden checks in
#: ``autograder/checks/<id>/`` and its reference values in ``autograder/reference/<id>.json``.
ASSIGNMENTS = ("normalising_flows", "realnvp_multiscale")

#: Each assignment's protocol module, shipped with its release (``source/<id>/<module>.py``): the visible
#: checks students run, the mistake catalogue, and the questions the grader may ask about their objects.
PROTOCOL_MODULES = {"normalising_flows": "nf_checks", "realnvp_multiscale": "ms_checks"}

#: nbgrader's step directories, relative to ROOT.
SOURCE_DIR = "source"
RELEASE_DIR = "release"
SOLUTION_DIR = "solutions"
SUBMITTED_DIR = "submitted"
AUTOGRADED_DIR = "autograded"
FEEDBACK_DIR = "feedback"

#: Seconds a single notebook cell may run when nbgrader or nbclient executes a notebook.
EXECUTION_TIMEOUT = 600

#: nbgrader's exchange: the shared folder through which ``release_assignment``, ``fetch_assignment``, ``submit``,
#: ``collect``, ``release_feedback`` and ``fetch_feedback`` pass files on a shared machine or JupyterHub. It must
#: exist, be writable by everyone and have the sticky bit (``mkdir -p /srv/nbgrader/exchange && chmod 1777``).
#: Students' nbgrader needs the same root and COURSE_ID: ``python -m autograder student-config`` prints the
#: file to install as ``/etc/jupyter/nbgrader_config.py`` for them.
EXCHANGE_ROOT = "/srv/nbgrader/exchange"

#: ``nbgrader zip_collect``: how a submission file downloaded from the LMS is named. This one matches
#: Blackboard's "download assignment" archive, ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``
#: (e.g. ``normalising_flows_j_doe_attempt_2025-02-03-17-45-00_normalising_flows.ipynb``), with the Blackboard
#: assignment named by its id here. Both the id and a user name may hold underscores, so the id is matched as
#: one of ASSIGNMENTS and the user name is everything between it and ``_attempt_``. nbgrader matches it
#: against the file's full path, hence the leading ``.*/``; the timestamp becomes ``timestamp.txt`` (the late
#: flag; ``autograder.integrations.lms`` reads its dashed form, which nbgrader alone refuses). For Canvas
#: (``<name>_[LATE_]<user id>_<file id>_<file>``, no time in it) use
#: ``r".*/(?P<student_id>[^_/]+)_(?:LATE_)?\d+_\d+_(?P<file_id>[^/]+)$"``.
ZIP_COLLECT_REGEXP = (r".*/(?:" + "|".join(a.replace(".", r"\.") for a in ASSIGNMENTS)
                      + r")_(?P<student_id>[A-Za-z0-9._\-]+)_attempt_"
                      r"(?P<timestamp>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)_(?P<file_id>[^/]+)$")

#: Overrides for the notebook's ``parameters`` cell (papermill convention) used whenever a notebook
#: is executed for checking rather than for learning: the pipeline tests, the autograder's worker and
#: the reference-value build. Each name must exist in the parameters cell.
SHORT_BUDGET = {
    "normalising_flows": {
        "EPOCHS": 1,
        "STEPS_PER_EPOCH": 5,
        "N_TRAIN": 512,
        "N_VALID": 256,
        "BATCH_SIZE": 64,
        "N_PLOT_SAMPLES": 200,
        "SAVE_EVERY": 2,
    },
    "realnvp_multiscale": {
        "EPOCHS": 1,
        "HIDDEN_CHANNELS": 4,
        "N_SAMPLES": 4,
    },
}

#: Cell tag for code that only trains or draws, whose results no check reads (papermill/otter style tag).
#: The autograder's worker does not run these cells (``nbgrader autograde`` grades through it too).
SKIP_WHEN_GRADING_TAG = "skip-when-grading"

#: Limits for the grader's worker process (``python -m autograder``), per submission.
GRADING = {
    "check_seconds": 60,            # one request to the worker (one call into the student's code)
    "cell_seconds": 120,            # one of the submission's cells, run at SHORT_BUDGET
    "max_skipped_cells": 3,         # cells that kill the worker are skipped (and reported), up to this many
    "submission_seconds": 600,      # everything for one submission, restarts included
    "memory_bytes": 4 * 2**30,      # RLIMIT_DATA of the worker (RLIMIT_AS breaks TensorFlow)
    "file_bytes": 64 * 2**20,       # largest file the worker may write
    "output_bytes": 64 * 2**10,     # printed output kept from the worker; the rest is dropped
    "processes": 256,               # tasks (processes and threads) of one submission: pids.max / RLIMIT_NPROC
    "scratch_bytes": 256 * 2**20,   # size of each private tmpfs of the sandbox: /tmp, /dev/shm and HOME
    "message_bytes": 16 * 2**20,    # longest line the worker may send the grader
    "submission_bytes": 32 * 2**20,  # largest notebook file accepted
}

#: Submissions ``python -m autograder batch`` grades in parallel. None: one per CPU core. Each slot is a
#: grader process with its own zygote (a fork of the batch's one pre-warmed interpreter) and one worker at a
#: time: plan on at most about 1 GB of RAM per slot.
BATCH_JOBS = None

#: Due dates, per assignment (ISO 8601 with a UTC offset). ``batch`` compares nbgrader's
#: ``submitted/<student>/<assignment>/timestamp.txt`` with them; on Gradescope the due date of the
#: assignment there (``submission_metadata.json``) is used instead, and this one only when Gradescope gives none.
DUE_DATES = {"normalising_flows": None, "realnvp_multiscale": None}

#: The late policy (``autograder/submissions/late.py``). A submission is late when it was made more than
#: ``grace_minutes`` after its due date: the assignment's (DUE_DATES), or the student's own in the extensions file.
#: A late one loses ``percent_per_day`` percent of the assignment's maximum (autograded plus written) for each day
#: or part of a day since that due date, at most ``max_percent`` percent, taken once off the total (autograded plus
#: hand scores), never below 0. 0 per day only flags late submissions. ``extensions_file``: a CSV with the header
#: ``student,assignment,due`` (the new due date, ISO 8601 with a UTC offset); a relative path is taken in the folder
#: that holds the batch's output folder (for ``batch submitted``, the course root beside ``submitted/``); ``batch``,
#: ``watch``, ``merge-shards``, ``merge-manual`` and ``export`` take ``--extensions FILE`` instead. Lateness and
#: penalties are worked out whenever results are rendered: changing this re-renders and grades nothing again.
LATE_POLICY = {"grace_minutes": 5, "percent_per_day": 0, "max_percent": 50, "extensions_file": "extensions.csv"}

#: What Gradescope shows students (results.json). Hidden checks: "hidden", "after_due_date",
#: "after_published" or "visible"; their results appear when the instructor publishes the grades by default.
#: ``visibility`` is the whole result's, ``stdout_visibility`` that of the autograder's own log.
#: ``written_answer_visibility``: that of the 0-point test holding each written answer's text for the graders who
#: score it by hand. "after_published": a student sees their own answer, and nothing more, once grades are
#: published; "hidden" would keep it from them for good, but Gradescope may then hide their published total too.
GRADESCOPE = {
    "hidden_check_visibility": "after_published",
    "visibility": "visible",
    "stdout_visibility": "hidden",
    "written_answer_visibility": "after_published",
}

#: Code put in place of a solution region in the student release.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"


# ---- checked at import: a typo fails at start, naming the key ---------------------------------------------
class ConfigError(ValueError):
    """course_config.py has a setting that is unknown, missing or of the wrong kind; the message names it."""


#: Every setting of this file, with what its value must be. Readers index these (``GRADING["cell_seconds"]``),
#: never ``.get`` them with a default: the check below has made sure each one is there.
_NUMBER = (int, float)
_GRADING_KEYS = ("check_seconds", "cell_seconds", "max_skipped_cells", "submission_seconds", "memory_bytes",
                 "file_bytes", "output_bytes", "processes", "scratch_bytes", "message_bytes", "submission_bytes")
_LATE_KEYS = ("grace_minutes", "percent_per_day", "max_percent", "extensions_file")
_VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


def _problems(settings):
    import datetime
    import difflib
    problems = []

    def near(name, known):
        close = difflib.get_close_matches(name, known, n=1)
        return f" (did you mean {close[0]}?)" if close else ""

    def keys(name, value, known, required=True):
        if not isinstance(value, dict):
            return problems.append(f"{name} must be a dict")
        for key in value:
            if key not in known:
                problems.append(f"{name}: unknown key {key!r}{near(str(key), known)}")
        for key in known if required else ():
            if key not in value:
                problems.append(f"{name}: missing key {key!r}")

    known = {"ROOT", "COURSE_ID", "ASSIGNMENTS", "PROTOCOL_MODULES", "SOURCE_DIR", "RELEASE_DIR", "SOLUTION_DIR",
             "SUBMITTED_DIR", "AUTOGRADED_DIR", "FEEDBACK_DIR", "EXECUTION_TIMEOUT", "EXCHANGE_ROOT",
             "ZIP_COLLECT_REGEXP", "SHORT_BUDGET", "SKIP_WHEN_GRADING_TAG", "GRADING", "BATCH_JOBS", "DUE_DATES",
             "LATE_POLICY", "GRADESCOPE", "CODE_STUB", "TEXT_STUB"}
    for name in settings:
        if name.isupper() and not name.startswith("_") and name not in known:
            problems.append(f"unknown setting {name}{near(name, known)}")
    for name in known - set(settings):
        problems.append(f"missing setting {name}")
    assignments = tuple(settings.get("ASSIGNMENTS", ()))
    keys("PROTOCOL_MODULES", settings.get("PROTOCOL_MODULES"), assignments)
    keys("SHORT_BUDGET", settings.get("SHORT_BUDGET"), assignments)
    keys("DUE_DATES", settings.get("DUE_DATES"), assignments, required=False)
    keys("GRADING", settings.get("GRADING"), _GRADING_KEYS)
    keys("LATE_POLICY", settings.get("LATE_POLICY"), _LATE_KEYS)
    keys("GRADESCOPE", settings.get("GRADESCOPE"), ("hidden_check_visibility", "visibility", "stdout_visibility",
                                                     "written_answer_visibility"))
    for key, value in (settings.get("GRADING") or {}).items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            problems.append(f"GRADING: {key} must be a positive whole number, not {value!r}")
    for key, value in (settings.get("GRADESCOPE") or {}).items():
        if value not in _VISIBILITIES:
            problems.append(f"GRADESCOPE: {key} must be one of {', '.join(_VISIBILITIES)}, not {value!r}")
    late = settings.get("LATE_POLICY") if isinstance(settings.get("LATE_POLICY"), dict) else {}
    for key, most, what in (("grace_minutes", None, "a number of minutes"),
                            ("percent_per_day", 100, "a percentage from 0 to 100"),
                            ("max_percent", 100, "a percentage from 0 to 100")):
        value = late.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, _NUMBER) or value < 0 or (most and value > most):
            problems.append(f"LATE_POLICY: {key} must be {what}, not {value!r}")
    if not isinstance(late.get("extensions_file", ""), (str, type(None))):
        problems.append(f"LATE_POLICY: extensions_file must be a path or None, not {late['extensions_file']!r}")
    for key, value in (settings.get("DUE_DATES") or {}).items():
        try:
            if value is not None and datetime.datetime.fromisoformat(value).tzinfo is None:
                problems.append(f"DUE_DATES: {key} needs a UTC offset (e.g. 2026-03-02T23:59:00+00:00)")
        except (TypeError, ValueError):
            problems.append(f"DUE_DATES: {key} is not an ISO 8601 time: {value!r}")
    jobs = settings.get("BATCH_JOBS")
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        problems.append(f"BATCH_JOBS must be None or a whole number of at least 1, not {jobs!r}")
    return problems


def check(settings=None):
    """Raise ConfigError naming every problem of ``settings`` (default: this file's)."""
    problems = _problems(globals() if settings is None else settings)
    if problems:
        raise ConfigError("course_config.py: " + "; ".join(problems))


def apply_nbgrader_config(c):
    """Fill a traitlets config object ``c`` with the course's nbgrader settings."""
    c.CourseDirectory.root = str(ROOT)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = SOURCE_DIR
    c.CourseDirectory.release_directory = RELEASE_DIR
    c.CourseDirectory.solution_directory = SOLUTION_DIR
    c.CourseDirectory.submitted_directory = SUBMITTED_DIR
    c.CourseDirectory.autograded_directory = AUTOGRADED_DIR
    c.CourseDirectory.feedback_directory = FEEDBACK_DIR
    # Figures and the self-check module travel with the notebook; checkpoints and caches do not.
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]
    c.Execute.timeout = EXECUTION_TIMEOUT
    c.Exchange.root = EXCHANGE_ROOT
    c.FileNameCollectorPlugin.named_regexp = ZIP_COLLECT_REGEXP
    from autograder.integrations.lms import LmsFileNameCollector  # reads the LMS's dashed times, which nbgrader misreads
    c.ZipCollectApp.collector_plugin = LmsFileNameCollector
    # Solutions are committed without outputs, so generating them does not execute the notebook (nbgrader's
    # default would run the whole training at full budget). The tests execute them at SHORT_BUDGET instead.
    from nbgrader.preprocessors import ClearMarkScheme, ClearOutput, IncludeHeaderFooter, LockCells
    c.GenerateSolution.preprocessors = [IncludeHeaderFooter, LockCells, ClearOutput, ClearMarkScheme]
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    # A student who deletes or edits a graded cell gets the instructor's version back at grading.
    c.OverwriteCells.add_missing_cells = True
    # nbgrader autograde grades through the one grading path: in place of Execute (which runs the notebook, hidden
    # tests included, in a kernel the student's code shares), the sandboxed worker runs the student's code and the
    # verdicts are computed outside it; each test cell gets its verdict as output, and SaveAutoGrades records it.
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from autograder.integrations.nbgrader_autograde import GradeInWorker
    c.Autograde.autograde_preprocessors = [GradeInWorker if pp is Execute else pp
                                           for pp in Autograde.class_traits()["autograde_preprocessors"].default()]
    # formgrader (and generate_feedback) render what students wrote: no markup of theirs may run in a TA's browser.
    # nbconvert's sanitize_html cleans HTML outputs; formgrader's template ignores it for markdown cells, which
    # SanitiseMarkdown makes safe first (it also runs on every notebook batch --gradebook writes to autograded/).
    c.HTMLExporter.sanitize_html = True
    c.HTMLExporter.preprocessors = ["autograder.integrations.safe_html.SanitiseMarkdown"]


check()

if "get_config" in globals():  # executed by traitlets as nbgrader's config file
    apply_nbgrader_config(get_config())  # noqa: F821 (injected by traitlets)
