"""``nbgrader autograde`` through the grader's one path: student code runs only in the sandboxed worker, and every
verdict is computed outside it.

nbgrader's own ``Execute`` step runs the whole notebook in a Jupyter kernel, hidden test cells included, so a
student's cell shares the process with the hidden checks, the reference values and nbgrader's gradebook: it can
redefine the check function, print the reference values into the autograded notebook, or write gradebook.db.
course_config.py puts ``GradeInWorker`` in its place in ``Autograde.autograde_preprocessors``. For each notebook
it grades the student's submitted file as ``python -m autograder grade`` does (``batch.grade_file``: a zygote, a
sandboxed worker, the hidden checks run in this process), then writes each test cell's verdict as its output
(``gradebook.insert_verdicts``: nothing of the student's reaches it, a failure is an error holding the grader's
message), so nbgrader's own ``SaveAutoGrades`` records our verdicts. No kernel starts, and no cell of the
notebook is run anywhere but in the worker. Markdown is made safe for formgrader (``safe_html``).

Where the grader cannot grade (no sandbox on this host, stale reference values), the notebook fails closed: the
step raises, nbgrader records no score for it and says so, and the message names ``batch --gradebook``.
"""
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

import course_config
from autograder import batch
from autograder.integrations import gradebook
from autograder.integrations.safe_html import SanitiseMarkdown

#: What an instructor can run instead when this step refuses.
INSTEAD = "grade with: python -m autograder batch submitted --gradebook"


class GradingRefused(Exception):
    """This notebook was not graded; the message says why in one line and names ``batch --gradebook``."""


class GradeInWorker(NbGraderPreprocessor):
    """Stands where nbgrader's ``Execute`` stands: grades the submission in the sandboxed worker and writes each
    test cell's verdict as its output."""

    #: ``gradebook.write_autograded`` (batch --gradebook) puts the verdicts it already has in this step's place.
    replaces_execute = True

    def preprocess(self, nb, resources):
        from nbgrader.coursedir import CourseDirectory
        info = resources["nbgrader"]
        assignment, student = info["assignment"], info["student"]
        if assignment not in course_config.ASSIGNMENTS:
            raise GradingRefused(f"{assignment} is not an assignment of course_config.ASSIGNMENTS; nothing was run")
        coursedir = CourseDirectory(parent=self)
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        try:
            result = batch.grade_file(folder / f"{info['notebook']}.ipynb", assignment)
        except batch.BatchError as e:
            raise GradingRefused(f"{student}/{assignment} was not graded, and none of its code was run: {e}; "
                                 f"{INSTEAD}") from None
        if result.status == "grader_error":
            raise GradingRefused(f"{student}/{assignment}: the grader failed ({result.reason}); {INSTEAD}")
        nb, resources = gradebook.insert_verdicts(result.to_gradescope())()(nb, resources)
        return SanitiseMarkdown().preprocess(nb, resources)
