"""nbgrader's own paths, run on a throwaway course directory, and the nbgrader settings students get.

* ``nbgrader autograde``: as course_config.py configures it, it grades through our worker
  (``nbgrader_autograde.GradeInWorker``), so nbgrader's gradebook gets our verdicts. With ``in_kernel``, nbgrader's
  own steps run instead (``Execute``: the notebook in a kernel, the hidden test cells calling our checks inside the
  student's kernel): the baseline ``make bench`` measures throughput against, and that the tests hold to agree with
  ``python -m autograder`` cell by cell. Never an instructor's path: the student's code shares that kernel.
* ``write_course_config``: a throwaway course gets an ``nbgrader_config.py`` that loads course_config.py with its
  own root, so nbgrader commands and formgrader run from inside it (the exchange and formgrader tests).
* ``student_config``: what students' nbgrader needs from course_config.py, which they do not have: the
  execution timeout (shipped in each release folder by ``make release``), and the exchange and course id
  (``python -m autograder student-config``, for the hub's ``/etc/jupyter/nbgrader_config.py``).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbgrader.converters import Autograde

import course_config
from autograder import notebooks
from autograder.course import notebook_name

BIN = Path(sys.executable).parent


def make_course(course, submissions, assignment):
    """A course directory with our source/ and ``submissions`` ({student: notebook}) in submitted/.

    Each notebook gets the short training budget in its parameters cell, as the autograder's worker does.
    """
    course = Path(course)
    shutil.copytree(course_config.ROOT / course_config.SOURCE_DIR, course / course_config.SOURCE_DIR)
    for student, nb in submissions.items():
        nb = notebooks.apply_parameters(nb, course_config.SHORT_BUDGET[assignment])
        dest = course / course_config.SUBMITTED_DIR / student / assignment
        dest.mkdir(parents=True)
        nbformat.write(nb, str(dest / notebook_name(assignment)))
    return course


#: nbgrader's own autograde steps (its default list, ``Execute`` first), given on the command line, where they
#: override course_config.py's.
IN_KERNEL = "--Autograde.autograde_preprocessors=" + json.dumps(
    [f"{pp.__module__}.{pp.__name__}" for pp in Autograde.class_traits()["autograde_preprocessors"].default()])


def nbgrader(course, *args):
    """Run one nbgrader command on ``course`` with the course's config file."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    subprocess.run([str(BIN / "nbgrader"), args[0], "--JupyterApp.config_file=course_config.py",
                    f"--CourseDirectory.root={course}", *args[1:], "--log-level=ERROR"],
                   cwd=course_config.ROOT, env=env, check=True)


def autograde(course, assignment, in_kernel=False):
    """generate_assignment (fills the gradebook), then autograde every submission: through our worker, or with
    ``in_kernel`` with nbgrader's own Execute."""
    nbgrader(course, "generate_assignment", assignment, "--force")
    nbgrader(course, "autograde", assignment, "--force", *([IN_KERNEL] if in_kernel else []))


def scores(course, assignment, students):
    """{student: {grade_id: auto_score}} from the course's gradebook."""
    from nbgrader.api import Gradebook
    out = {}
    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}", course_config.COURSE_ID) as gb:
        for student in students:
            nb = gb.find_submission_notebook(assignment, assignment, student)
            out[student] = {g.name: g.auto_score for g in nb.grades}
    return out


def write_course_config(course, **settings):
    """An ``nbgrader_config.py`` in ``course`` that applies course_config.py with ``course`` as the root, plus
    ``settings`` ({"Section.name": value}), so nbgrader commands and formgrader can run from inside it."""
    lines = ["# A throwaway course: course_config.py's settings with this folder as the course root.",
             "import sys", f"sys.path.insert(0, {str(course_config.ROOT)!r})", "import course_config",
             "c = get_config()  # noqa: F821", "course_config.apply_nbgrader_config(c)",
             f"c.CourseDirectory.root = {str(Path(course).resolve())!r}"]
    lines += [f"c.{key} = {value!r}" for key, value in settings.items()]
    path = Path(course) / "nbgrader_config.py"
    path.write_text("\n".join(lines) + "\n")
    return path


STUDENT_CONFIG = "nbgrader_config.py"


def student_config(exchange=False):
    """The text of an nbgrader config file for students, from course_config.py. ``exchange``: also the exchange
    root and course id (the hub-wide file); without it, only what ``nbgrader validate`` needs next to a release
    notebook (nbgrader's own cell timeout is 30 s; the notebooks' training cells take longer)."""
    lines = [f"# nbgrader settings for students of {course_config.COURSE_ID}.",
             "# Generated from the course's course_config.py (make release); edit that file, not this one.",
             "c = get_config()  # noqa: F821",
             f"c.Execute.timeout = {course_config.EXECUTION_TIMEOUT!r}"]
    if exchange:
        lines += [f"c.CourseDirectory.course_id = {course_config.COURSE_ID!r}",
                  f"c.Exchange.root = {course_config.EXCHANGE_ROOT!r}"]
    return "\n".join(lines) + "\n"


def write_release_configs(root=course_config.ROOT):
    """``release/<assignment>/nbgrader_config.py`` for every assignment (run by ``make release``)."""
    written = []
    for assignment in course_config.ASSIGNMENTS:
        folder = Path(root) / course_config.RELEASE_DIR / assignment
        if folder.is_dir():
            (folder / STUDENT_CONFIG).write_text(student_config())
            written.append(folder / STUDENT_CONFIG)
    return written
