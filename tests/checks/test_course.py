"""Course-wide plumbing: several assignments, told apart by their notebooks, with no special cases."""
import os

import nbformat
import pytest

import course_config
from autograder import course, notebooks
from autograder.submissions import intake
from autograder.authoring import validate

ASSIGNMENTS = course_config.ASSIGNMENTS


def _nb(assignment, step="release"):
    return notebooks.read(course_config.ROOT / step / assignment / f"{assignment}.ipynb")


def _stripped(nb):
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        cell.metadata = {}
    return nb


def test_the_course_is_consistent():
    assert validate.course_problems() == []
    for assignment in ASSIGNMENTS:
        assert course.items(assignment) and course.test_ids(assignment)
        assert all(course.item_of(assignment, t) for t in course.test_ids(assignment))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_notebook_is_recognised_by_its_graded_cells_then_by_its_name(assignment):
    assert course.detect(_nb(assignment, "release")) == assignment
    assert course.detect(_nb(assignment, "solutions"), "homework.ipynb") == assignment
    assert course.detect(_stripped(_nb(assignment)), f"{assignment}.ipynb") == assignment
    assert course.detect(_stripped(_nb(assignment)), "homework.ipynb") is None
    assert course.detect(None, f"{assignment}.ipynb") == assignment


def test_submissions_are_found_in_every_layout_and_every_student_gets_a_row(tmp_path):
    first = ASSIGNMENTS[0]
    for assignment in ASSIGNMENTS:  # nbgrader's layout
        path = tmp_path / "ann" / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(_nb(assignment), str(path))
    (tmp_path / "bob").mkdir()  # a folder per student, a notebook with any name: told by its cells
    nbformat.write(_nb(ASSIGNMENTS[-1]), str(tmp_path / "bob" / "my work.ipynb"))
    nbformat.write(_nb(first), str(tmp_path / "cat.ipynb"))  # a flat folder
    (tmp_path / "dan").mkdir()  # nothing submitted
    found, refused = intake.find_submissions(tmp_path)
    assert refused == {}
    assert set(found) == {(a, s) for a in ASSIGNMENTS for s in ("ann", "bob", "cat", "dan")}
    assert found[(ASSIGNMENTS[-1], "bob")].name == "my work.ipynb"
    assert found[(first, "cat")] == tmp_path / "cat.ipynb"
    assert not found[(first, "dan")].exists()  # graded as missing, with "no such file"
    assert set(intake.find_submissions(tmp_path, [first])[0]) == {(first, s) for s in ("ann", "bob", "cat", "dan")}


def test_a_typo_in_course_config_fails_at_start_naming_the_key(tmp_path):
    """An unknown key, a missing one and a wrong kind of value are each named; the CLI stops in one line."""
    import subprocess
    import sys
    settings = {k: v for k, v in vars(course_config).items() if k.isupper()}
    assert course_config._problems(settings) == []
    typo = {**settings, "GRADING": {**{k: v for k, v in settings["GRADING"].items() if k != "cell_seconds"},
                                    "cell_second": 120}}
    problems = course_config._problems(typo)
    assert "GRADING: unknown key 'cell_second' (did you mean cell_seconds?)" in problems
    assert "GRADING: missing key 'cell_seconds'" in problems
    assert course_config._problems({**settings, "GRADNG": {}}) == ["unknown setting GRADNG (did you mean GRADING?)"]
    assert course_config._problems({**settings, "GRADESCOPE": {**settings["GRADESCOPE"], "visibility": "open"}})
    text = course_config.ROOT.joinpath("course_config.py").read_text().replace('"cell_seconds": 120',
                                                                                '"cell_second": 120')
    (tmp_path / "course_config.py").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "autograder", "validate"], cwd=tmp_path,  # first on sys.path
                          env={**os.environ, "PYTHONPATH": f"{tmp_path}:{course_config.ROOT}"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown key 'cell_second'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, reason", [
    ("ali\u202ece", "bidirectional"),  # a right-to-left override: the name would read "alice" backwards
    ("bob\u200b", "invisible"),
    ("grades.csv", "outputs use"),
    ("report", "outputs use"),
    ("hand_scores.json", "outputs use"),
])
def test_names_that_would_mislead_or_collide_are_refused(name, reason):
    assert reason in intake.name_problem(name)
    assert intake.name_problem("j_doe") is None and intake.name_problem("Zoë") is None


def test_a_hard_link_or_a_nesting_bomb_is_not_read_as_a_notebook(tmp_path):
    from autograder import notebooks
    original = tmp_path / "solutions.ipynb"
    original.write_text(nbformat.writes(nbformat.v4.new_notebook()))
    os.link(original, tmp_path / "mine.ipynb")
    with pytest.raises(notebooks.NotebookError, match="hard link"):
        notebooks.submission_bytes(tmp_path / "mine.ipynb", 2**20)
    with pytest.raises(notebooks.NotebookError, match="nested too deeply"):
        notebooks.read(tmp_path / "bomb.ipynb", b"[" * 100_000 + b"]" * 100_000)
