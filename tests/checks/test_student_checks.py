"""The student-side check, ``python -m nf_checks NOTEBOOK.ipynb`` (and ``ms_checks``), run as a student runs it: in
the release folder, on the solutions (all pass), the release (the stubs fail), a notebook with one catalogued
mistake (its visible check fails and names it) and bad input (exit 2, one line)."""
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest

import course_config
from autograder import course, notebooks
from autograder.authoring import examples

ROOT = course_config.ROOT
sys.path.insert(0, str(ROOT / "source"))
import checks_core  # noqa: E402 (the shared original, as shipped with each release)


def run_cli(assignment, notebook, timeout=600):
    """``python -m <protocol> NOTEBOOK`` in the assignment's release folder: (exit status, stdout, stderr)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", course_config.PROTOCOL_MODULES[assignment], str(notebook)],
                          cwd=ROOT / "release" / assignment, capture_output=True, text=True, timeout=timeout, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def verdicts(stdout):
    """{test cell: [PASS/FAIL line, ...]} from the command's output."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith(("PASS  ", "FAIL  ")):
            out.setdefault(line[6:].split(":")[0], []).append(line)
    return out


def visible_checks(assignment):
    return course.protocol(assignment).VISIBLE


# ---- which cells run, from the notebook's metadata ------------------------------------------------------------
def test_the_skip_tag_is_the_one_grading_uses():
    assert checks_core.SKIP_TAG == course_config.SKIP_WHEN_GRADING_TAG


@pytest.mark.parametrize("assignment", course_config.ASSIGNMENTS)
def test_plan_runs_the_exercises_and_notes_but_not_tests_or_training(assignment):
    nb = notebooks.read(course.notebook_path("source", assignment))
    steps, skipped, notes = checks_core.plan(nb)
    run = {s.source for s in steps}
    code = [c for c in nb.cells if c.cell_type == "code"]
    solutions = [c for c in code if notebooks.grade_meta(c).get("solution")]
    tagged = [c for c in code if course_config.SKIP_WHEN_GRADING_TAG in c.metadata.get("tags", [])]
    assert solutions and tagged and not notes
    assert all(c.source in run for c in solutions)
    assert not any(c.source in run for c in tagged) and skipped == len(tagged)
    assert not any(c.source in run for c in code if notebooks.is_test_cell(c))
    assert notebooks.parameters_cell(nb).source in run
    first = code.index(solutions[0])
    assert [s.setup for s in steps] == [code.index(c) < first for c in code
                                        if c.source in run]  # set-up: the cells above the first exercise
    assert {s.label for s in steps if s.source == solutions[0].source} == {
        f"your answer to exercise `{notebooks.grade_meta(solutions[0])['grade_id']}`"}


def test_without_any_tag_every_cell_runs_and_the_student_is_told():
    nb = notebooks.read(course.notebook_path("source", "normalising_flows"))
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    steps, skipped, notes = checks_core.plan(nb)
    assert skipped == 0
    assert len(steps) == sum(c.cell_type == "code" and not notebooks.is_test_cell(c) for c in nb.cells)
    assert len(notes) == 1 and "training included" in notes[0]


# ---- bad input: exit 2, one line, nothing written ----------------------------------------------------------------
def _not_json(tmp):
    path = tmp / "notes.ipynb"
    path.write_text("this is not JSON\n")
    return path


def _json_not_a_notebook(tmp):
    path = tmp / "data.ipynb"
    path.write_text(json.dumps({"cells": "none"}))
    return path


def _other_assignment(tmp):
    return course.notebook_path("release", "realnvp_multiscale")


@pytest.mark.parametrize("make, words", [
    (lambda tmp: tmp / "missing.ipynb", "no such file"),
    (lambda tmp: tmp, "is a folder"),
    (_not_json, "is not a Jupyter notebook"),
    (_json_not_a_notebook, "is not a Jupyter notebook"),
    (_other_assignment, "none of the test cells"),
])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(tmp_path, make, words):
    path = make(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    status, out, err = run_cli("normalising_flows", path)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err, err
    assert (path.read_bytes() if path.is_file() else None) == before


def test_no_argument_is_a_usage_error():
    status, out, err = run_cli("normalising_flows", "--help")
    assert status == 0 and "usage: python -m nf_checks NOTEBOOK.ipynb" in out
    proc = subprocess.run([sys.executable, "-m", "nf_checks"], cwd=ROOT / "release" / "normalising_flows",
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("usage:")


def test_a_failing_setup_cell_stops_the_run_and_the_check_fails(tmp_path):
    """The import cell raises: nothing after it can work, so the run stops there and says which cell it was."""
    nb = notebooks.read(course.notebook_path("solutions", "normalising_flows"))
    setup = next(c for c in nb.cells if c.cell_type == "code")
    setup.source += "\nraise ImportError('no TensorFlow here')"
    nbformat.write(nb, str(tmp_path / "broken.ipynb"))
    status, out, err = run_cli("normalising_flows", tmp_path / "broken.ipynb")
    assert status == 1, out + err
    assert "error the cell starting \"# Quiet TensorFlow's" in out and 'ImportError: "no TensorFlow here"' in out
    assert "nothing after it ran" in out and "the visible checks did not run" in out
    assert not verdicts(out)


# ---- whole notebooks in a fresh kernel -------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("assignment", course_config.ASSIGNMENTS)
def test_the_solutions_pass_every_visible_check(assignment):
    status, out, err = run_cli(assignment, course.notebook_path("solutions", assignment))
    assert status == 0, out + err
    found = verdicts(out)
    assert set(found) == set(visible_checks(assignment)), out
    assert all(len(found[cell]) == 1 for cell in visible_checks(assignment)), out  # one line per test cell
    assert "FAIL" not in out and "\nerror " not in out, out
    n = len(visible_checks(assignment))
    assert f"{n} of {n} visible checks pass." in out.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", course_config.ASSIGNMENTS)
def test_the_release_fails_its_stubs_and_names_each_exercise(assignment):
    release = course.notebook_path("release", assignment)
    status, out, err = run_cli(assignment, release)
    assert status == 1, out + err
    found = verdicts(out)
    assert set(found) == set(visible_checks(assignment)), out
    assert all(line.startswith("FAIL") for lines in found.values() for line in lines), out
    # The stubs at the top level of a cell raise when the cell runs (a stub inside a def or a class raises only
    # when called): each is reported under its exercise's name, and the run goes on to the next exercise.
    raising = {notebooks.grade_meta(c)["grade_id"] for c in notebooks.read(release).cells
               if c.cell_type == "code" and notebooks.grade_meta(c).get("solution")
               and "raise NotImplementedError()" in c.source.splitlines()}
    assert raising or assignment == "realnvp_multiscale"
    for grade_id in raising:
        assert f"error your answer to exercise `{grade_id}` raised NotImplementedError" in out, out


@pytest.mark.slow
def test_one_catalogued_mistake_fails_its_visible_check_and_is_named(tmp_path):
    """``ldj-sign``: the visible check of log_det_jacobians fails with the catalogue's words; every other passes."""
    protocol = course.protocol("normalising_flows")
    mistake = examples.MISTAKE_EDITS["ldj-sign"]
    failing = mistake.failing & set(protocol.VISIBLE)
    assert failing == {"log_det_jacobians_visible"}
    nb = examples.apply(examples.notebook("solutions"), mistake)
    nbformat.write(nb, str(tmp_path / "normalising_flows.ipynb"))
    status, out, err = run_cli("normalising_flows", tmp_path / "normalising_flows.ipynb")
    assert status == 1, out + err
    found = verdicts(out)
    assert {cell for cell, lines in found.items() if any(ln.startswith("FAIL") for ln in lines)} == failing, out
    assert protocol.MISTAKES["ldj-sign"]["message"] in "".join(found["log_det_jacobians_visible"]), out
    assert "\nerror " not in out, out


def test_ctrl_c_stops_a_running_cell_at_once_and_leaves_no_kernel(tmp_path):
    """The kernel has a session of its own, so the terminal's Ctrl-C must be passed on to it, not waited out."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os, time\nopen('kernel.pid', 'w').write(str(os.getpid()))\ntime.sleep(120)"),
        nbformat.v4.new_code_cell("", metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                             "grade_id": "predicted_log_prob_shape_form", "points": 1}})])
    nbformat.write(nb, str(tmp_path / "slow.ipynb"))
    proc = subprocess.Popen([sys.executable, "-m", "nf_checks", str(tmp_path / "slow.ipynb")],
                            cwd=ROOT / "release" / "normalising_flows", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    for _ in range(600):  # until the kernel is in the sleeping cell
        if (tmp_path / "kernel.pid").exists() and (tmp_path / "kernel.pid").read_text():
            break
        time.sleep(0.1)
    kernel = int((tmp_path / "kernel.pid").read_text())
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == "nf_checks: interrupted; nothing was written", out + err
    assert time.monotonic() - started < 30  # not the 120 s of the cell
    with pytest.raises(ProcessLookupError):
        os.kill(kernel, 0)


def test_a_name_a_failed_cell_left_undefined_is_reported_with_that_cells_error(monkeypatch):
    """Issue 25: a NameError inside the shape cell was reported as "`predicted_log_prob_shape` is not defined. Run
    the cell that defines it". The worker records which names a failed cell should have defined."""
    monkeypatch.setattr(checks_core, "UNDEFINED_BY_ERROR", {})
    monkeypatch.setattr(checks_core, "CELL_SOURCES", [])
    sources = ["import numpy as np\nmvn3 = 1", "predicted_log_prob_shape = tuple(mvn33.log_prob(x).shape)"]
    checks_core.record_cells(sources, [(1, "Traceback ...\nNameError: name 'mvn33' is not defined")],
                             {"np": None, "mvn3": 1})
    with pytest.raises(checks_core.QuestionError) as e:
        checks_core.lookup({}, "predicted_log_prob_shape")
    assert "stopped with an error (NameError: name 'mvn33' is not defined)" in str(e.value)
    with pytest.raises(checks_core.QuestionError, match="Run the cell that defines it"):
        checks_core.lookup({}, "never_defined_anywhere")
    assert checks_core.defining_cell("predicted_log_prob_shape") == sources[1]
    assert checks_core.names_defined("a, (b, c) = 1, (2, 3)\nclass K: pass\nimport os.path as p\n%magic") == []
    assert checks_core.names_defined("a, (b, c) = 1, (2, 3)\nclass K: pass\nimport os.path as p") == [
        "a", "b", "c", "K", "p"]
