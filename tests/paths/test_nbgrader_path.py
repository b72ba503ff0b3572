"""nbgrader's autograde on the same notebooks: with nbgrader's own kernel executor (the hidden cells run the same
checks in-kernel) it agrees with ours cell by cell; as course_config.py sets it up, it grades through our worker,
and a hostile cell gets no further than in a batch."""

import nbformat
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
    nbgrader_path.autograde(course, ASSIGNMENT, in_kernel=True)
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


#: The 4-line cell of issue 26: in a kernel it patches the hidden check, prints the reference values and solution
#: text into the autograded notebook, and sets every manual score in gradebook.db to 0 (the kernel's folder is
#: autograded/<student>/<assignment>/, three levels below the course root and its gradebook).
HOSTILE = """import autograder.checks.incell as incell, course_config, pathlib, sqlite3
incell.check_hidden = lambda test_id, namespace=None: print(test_id, "passed")
print("LEAK", pathlib.Path(course_config.ROOT, "autograder/reference/normalising_flows.json").read_text()[:4000])
sqlite3.connect("../../../gradebook.db").execute("UPDATE grade SET manual_score = 0").connection.commit()
"""


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """nbgrader autograde as course_config.py sets it up, on a complete submission (alice, graded first) and an
    untouched release with the hostile cell after its imports (mallory)."""
    hostile = examples.notebook("release")
    first_code = next(i for i, c in enumerate(hostile.cells) if c.cell_type == "code")
    hostile.cells.insert(first_code + 1, nbformat.v4.new_code_cell(HOSTILE))
    course = nbgrader_path.make_course(tmp_path_factory.mktemp("attacked"),
                                       {"alice": examples.notebook("solutions"), "mallory": hostile}, ASSIGNMENT)
    nbgrader_path.autograde(course, ASSIGNMENT)
    return course


def test_nbgrader_autograde_grades_a_hostile_cell_outside_the_kernel(attacked, source_nb):
    course = attacked
    by_student = nbgrader_path.scores(course, ASSIGNMENT, ("alice", "mallory"))
    points = {notebooks.grade_meta(c)["grade_id"]: notebooks.grade_meta(c)["points"]
              for c in source_nb.cells if notebooks.is_test_cell(c)}
    assert {k: by_student["mallory"][k] for k in points} == {k: 0 for k in points}  # what an untouched release scores
    assert {k: by_student["alice"][k] for k in points} == points
    autograded = course / course_config.AUTOGRADED_DIR / "mallory" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    shown = "".join(o.get("text", "") + o.get("evalue", "") + "".join(o.get("traceback", []))
                    for c in nbformat.read(str(autograded), as_version=4).cells for o in c.get("outputs", []))
    reference = (course_config.ROOT / "autograder" / "reference" / f"{ASSIGNMENT}.json").read_text()
    assert shown and "LEAK" not in shown and reference[:200] not in shown  # only our verdicts, nothing of the cell's
    assert "passed (python -m autograder)" not in shown
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_config.COURSE_ID) as gb:
        manual = [g.manual_score for s in ("alice", "mallory")
                  for g in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, s).grades]
    assert manual and all(m is None for m in manual)  # nobody's manual score was written
