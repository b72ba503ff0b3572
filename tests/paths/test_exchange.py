"""nbgrader's student workflow on one machine: the exchange round trip with two students, zip_collect of an LMS
download, and students' nbgrader validate with the settings shipped in the release."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

import course_config
from autograder import notebooks
from autograder.submissions import intake
from autograder.authoring import examples
from autograder.integrations import nbgrader_path

#: The slow tier (pytest -m 'not slow' leaves it out): nbgrader's exchange round trip and its validate (minutes).
pytestmark = pytest.mark.slow

A = "normalising_flows"
BIN = Path(sys.executable).parent


def _nbgrader(cwd, home, *args):
    """One nbgrader command as a user whose HOME is ``home``, run from ``cwd`` (nbgrader reads nbgrader_config.py
    from there and ~/.jupyter). Returns its log."""
    env = {**os.environ, "HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}",
           "JUPYTER_CONFIG_DIR": str(Path(home) / ".jupyter")}
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def _course(tmp_path, **settings):
    """A throwaway course (our source/, its own root and gradebook) with nbgrader_config.py, and its release."""
    course = nbgrader_path.make_course(tmp_path / "course", {}, A)
    nbgrader_path.write_course_config(course, **settings)
    home = tmp_path / "instructor"
    home.mkdir()
    _nbgrader(course, home, "generate_assignment", A, "--force")
    nbgrader_path.write_release_configs(course)  # what `make release` adds
    return course, home


def test_exchange_round_trip_with_two_students(tmp_path):
    exchange = tmp_path / "exchange"
    course, instructor = _course(tmp_path, **{"Exchange.root": str(exchange)})
    _nbgrader(course, instructor, "release_assignment", A)
    broken = examples.notebook("solutions")
    for cell in broken.cells:  # a syntax error in the answer cell of exercise 2
        if notebooks.grade_meta(cell).get("grade_id") == "independent_bernoulli":
            cell.source = "independent_bernoulli = tfd.Independent(\n    tfd.Bernoulli(probs=[0.1, 0.3, 0.5]),"
    answers = {"alice": examples.notebook("solutions"), "bob": examples.notebook("release"), "carol": broken}
    for student, nb in answers.items():
        home = tmp_path / "home" / student
        (home / ".jupyter").mkdir(parents=True)
        # what a hub installs for its students: python -m autograder student-config, pointed at this exchange
        (home / ".jupyter" / "nbgrader_config.py").write_text(
            nbgrader_path.student_config(exchange=True) + f"c.Exchange.root = {str(exchange)!r}\n")
        _nbgrader(home, home, "fetch_assignment", A)
        fetched = home / A
        assert (fetched / f"{A}.ipynb").exists() and (fetched / "nf_checks.py").exists()
        assert (fetched / nbgrader_path.STUDENT_CONFIG).read_text() == nbgrader_path.student_config()
        nbformat.write(notebooks.apply_parameters(nb, course_config.SHORT_BUDGET[A]), str(fetched / f"{A}.ipynb"))
        _nbgrader(home, home, "submit", A, f"--student={student}")  # one OS user plays both students
    _nbgrader(course, instructor, "collect", A)
    for student in answers:
        folder = course / "submitted" / student / A
        assert (folder / f"{A}.ipynb").exists()
        assert (folder / "timestamp.txt").read_text().strip()  # submit's time, kept for the late flag

    db = f"sqlite:///{course / 'gradebook.db'}"
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # the CLI, as an instructor runs it, without the venv on PATH
    proc = subprocess.run([sys.executable, "-m", "autograder", "batch", str(course / "submitted"), "--assignment", A,
                           "--out", str(course / "graded"), "--gradebook", db],
                          cwd=course_config.ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (course / "autograded" / "alice" / A / f"{A}.ipynb").exists()

    # batch --gradebook wrote our feedback pages where release_feedback looks (no generate_feedback: it would put
    # nbgrader's render of the notebook in their place)
    _nbgrader(course, instructor, "release_feedback", A)
    pages = {}
    for student in answers:
        home = tmp_path / "home" / student
        _nbgrader(home, home, "fetch_feedback", A, f"--student={student}")
        found = list((home / A / "feedback").glob(f"*/{A}.html"))
        assert len(found) == 1, student
        pages[student] = found[0].read_text()
    assert "Automatically graded score: 28 / 28" in pages["alice"] and "Graded by hand later" in pages["alice"]
    assert "Automatically graded score: 0 / 28" in pages["bob"]
    assert "is not defined" in pages["bob"]  # our grader's message reached the student through nbgrader
    assert "SyntaxError" in pages["carol"]  # the cause, not only what it left undefined
    assert all("Feedback on <code>normalising_flows</code>" in page for page in pages.values())  # ours, not nbgrader's


def test_zip_collect_with_the_documented_lms_names(tmp_path):
    course, instructor = _course(tmp_path)
    archive = course / "downloaded" / A / "archive"
    archive.mkdir(parents=True)
    times = {"alice": "2025-02-03-17-45-00", "bob": "2025-02-04-09-00-30", "j_doe": "2025-02-04-10-00-00"}
    with zipfile.ZipFile(archive / "gradebook_download.zip", "w") as z:
        for student, when in times.items():
            nb = examples.notebook("release")
            z.writestr(f"{A}_{student}_attempt_{when}_{A}.ipynb", nbformat.writes(nb))
    _nbgrader(course, instructor, "zip_collect", A)
    for student, when in times.items():
        folder = course / "submitted" / student / A
        assert (folder / f"{A}.ipynb").exists(), student
        stamp = (folder / "timestamp.txt").read_text()
        assert stamp.startswith(when[:10] + " " + when[11:].replace("-", ":")), stamp
    found, refused = intake.find_submissions(course / "submitted", [A])
    assert sorted(found) == [(A, "alice"), (A, "bob"), (A, "j_doe")] and not refused  # underscores kept


def test_release_ships_the_validate_settings(tmp_path):
    """Students have no course_config.py: each release folder carries the timeout nbgrader validate needs."""
    from traitlets.config.loader import PyFileConfigLoader
    for assignment in course_config.ASSIGNMENTS:
        path = course_config.ROOT / course_config.RELEASE_DIR / assignment / nbgrader_path.STUDENT_CONFIG
        assert path.read_text() == nbgrader_path.student_config(), f"{path} is stale: run make release"
        config = PyFileConfigLoader(path.name, str(path.parent)).load_config()
        assert config.Execute.timeout == course_config.EXECUTION_TIMEOUT > 30


def test_student_validate_uses_the_shipped_timeout(tmp_path):
    """nbgrader validate, run by a student in the fetched folder, reads the nbgrader_config.py shipped there: the
    solutions pass, and a cell slower than the file's timeout times out exactly when the file says so."""
    folder = tmp_path / A
    shutil.copytree(course_config.ROOT / course_config.RELEASE_DIR / A, folder)
    nb = notebooks.read(course_config.ROOT / course_config.SOLUTION_DIR / A / f"{A}.ipynb")
    nbformat.write(notebooks.apply_parameters(nb, course_config.SHORT_BUDGET[A]), str(folder / f"{A}.ipynb"))
    home = tmp_path / "student"
    home.mkdir()
    assert "Success! Your notebook passes all the tests." in _nbgrader(folder, home, "validate", f"{A}.ipynb")
    slow = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(3)")])
    slow.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(slow, str(folder / "slow.ipynb"))
    assert "Timeout" not in _nbgrader(folder, home, "validate", "slow.ipynb")
    (folder / nbgrader_path.STUDENT_CONFIG).write_text("c = get_config()\nc.Execute.timeout = 1\n")
    assert "Timeout waiting for execute reply (1s)" in _nbgrader(folder, home, "validate", "slow.ipynb")
