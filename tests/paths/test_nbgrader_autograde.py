"""``nbgrader autograde``'s step in place of Execute (``nbgrader_autograde.GradeInWorker``), without a grading run:
course_config.py puts it there, and where the grader cannot grade it fails closed, in one line naming
``batch --gradebook``, before any code of the notebook runs. tests/paths/test_nbgrader_path.py grades through it."""
import nbformat
import pytest
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute
from traitlets.config import Config

import course_config
from autograder.authoring import examples
from autograder.integrations import nbgrader_autograde
from autograder.worker.sandbox import container

A = "normalising_flows"


def test_course_config_puts_the_worker_where_nbgrader_would_start_a_kernel():
    c = Config()
    course_config.apply_nbgrader_config(c)
    steps = c.Autograde.autograde_preprocessors
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    assert Execute not in steps and steps == [nbgrader_autograde.GradeInWorker if s is Execute else s for s in default]


def test_no_sandbox_means_no_grade_and_one_line_naming_batch_gradebook(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("NF_GRADER_SANDBOX", "container")  # a mode this host does not switch on: no sandbox at all
    monkeypatch.delenv(container.SWITCH, raising=False)
    probe = tmp_path / "ran"
    nb = examples.notebook("release")
    nb.cells.insert(1, nbformat.v4.new_code_cell(f"open({str(probe)!r}, 'w').close()"))
    folder = tmp_path / "submitted" / "mallory" / A
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / f"{A}.ipynb"))
    c = Config()
    course_config.apply_nbgrader_config(c)
    c.CourseDirectory.root = str(tmp_path)
    resources = {"nbgrader": {"assignment": A, "student": "mallory", "notebook": A}}
    with pytest.raises(nbgrader_autograde.GradingRefused) as refused:
        nbgrader_autograde.GradeInWorker(config=c).preprocess(nb, resources)
    message = str(refused.value)
    assert len(message.splitlines()) == 1 and "mallory" in message and "batch submitted --gradebook" in message
    assert not probe.exists()  # nothing of the notebook ran
