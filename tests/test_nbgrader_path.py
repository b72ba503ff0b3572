"""nbgrader's own autograde path on the same notebooks: the hidden cells run the same checks in-kernel."""
import pytest
from conftest import run_batch

import course_config
from autograder import notebooks
from autograder.authoring import examples
from autograder.integrations import gradebook, nbgrader_path

#: The slow tier (pytest -m 'not slow' leaves it out): nbgrader's own autograde runs every notebook in a kernel (minutes).
pytestmark = pytest.mark.slow

STUDENTS = ("complete", "untouched", "partly_wrong")

ASSIGNMENT = "normalising_flows"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    wrong = examples.apply(examples.notebook("solutions"),
                           *(examples.MISTAKE_EDITS[n] for n in examples.DEMO["partly_wrong"][ASSIGNMENT][1]))
    submissions = {"complete": examples.notebook("solutions"), "untouched": examples.notebook("release"),
                   "partly_wrong": wrong}
    course = nbgrader_path.make_course(tmp_path_factory.mktemp("course"), submissions, ASSIGNMENT)
    nbgrader_path.autograde(course, ASSIGNMENT)
    return course, nbgrader_path.scores(course, ASSIGNMENT, STUDENTS)


def test_complete_submission_scores_full_marks(graded, source_nb):
    _, by_student = graded
    want = {notebooks.grade_meta(c)["grade_id"]: notebooks.grade_meta(c)["points"]
            for c in source_nb.cells if notebooks.is_test_cell(c)}
    got = {k: v for k, v in by_student["complete"].items() if k in want}
    assert got == want


def test_untouched_release_scores_zero(graded):
    _, by_student = graded
    auto = [v for v in by_student["untouched"].values() if v is not None]
    assert auto and sum(auto) == 0


def test_the_two_paths_agree_cell_by_cell(graded, tmp_path):
    """python -m autograder and nbgrader autograde give each test cell the same score."""
    course, by_student = graded
    rows = run_batch(course / "submitted", tmp_path / "graded")[0][ASSIGNMENT]
    for student in STUDENTS:
        ours = {t["extra_data"]["grade_id"]: t["score"] for t in rows[student]["tests"]}
        theirs = {k: v for k, v in by_student[student].items() if k in ours}
        assert ours == theirs, student
    # and batch --gradebook puts the same scores into nbgrader's gradebook, under a new student id
    renamed = {f"batch_{s}": rows[s] for s in STUDENTS}
    gradebook.write(renamed, ASSIGNMENT, f"sqlite:///{course / 'gradebook.db'}")
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_config.COURSE_ID) as gb:
        for student, result in renamed.items():
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            stored = {g.name: g.auto_score for g in nb.grades}
            assert all(stored[t["extra_data"]["grade_id"]] == t["score"] for t in result["tests"]), student
