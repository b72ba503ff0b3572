"""nbgrader's own grading path, run on a throwaway course directory: ``nbgrader autograde``.

The hidden test cells of the source notebook run our checks inside the student's kernel, so nbgrader's
gradebook and ``python -m autograder`` must agree cell by cell. Used by the tests (agreement) and by
``make bench`` (throughput against nbgrader).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

import course_config
from autograder import notebooks

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
        nbformat.write(nb, str(dest / f"{assignment}.ipynb"))
    return course


def nbgrader(course, *args):
    """Run one nbgrader command on ``course`` with the course's config file."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    subprocess.run([str(BIN / "nbgrader"), args[0], "--JupyterApp.config_file=course_config.py",
                    f"--CourseDirectory.root={course}", *args[1:], "--log-level=ERROR"],
                   cwd=course_config.ROOT, env=env, check=True)


def autograde(course, assignment):
    """generate_assignment (fills the gradebook), then autograde every submission."""
    nbgrader(course, "generate_assignment", assignment, "--force")
    nbgrader(course, "autograde", assignment, "--force")


def scores(course, assignment, students):
    """{student: {grade_id: auto_score}} from the course's gradebook."""
    from nbgrader.api import Gradebook
    out = {}
    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}", course_config.COURSE_ID) as gb:
        for student in students:
            nb = gb.find_submission_notebook(assignment, assignment, student)
            out[student] = {g.name: g.auto_score for g in nb.grades}
    return out
