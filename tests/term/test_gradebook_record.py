"""nbgrader's gradebook is written only from our records: ``batch --gradebook`` sets every manual score and comment
from the hand-score record, so a value forged into gradebook.db (by a student's kernel under ``nbgrader autograde``,
or anything else that can write the file) does not survive it. Results are built directly (no grading run)."""
import nbformat

from autograder import course, grade, results
from autograder.authoring import examples
from autograder.integrations import gradebook

A = "normalising_flows"
WRITTEN = "bimodal_discussion"


def _submit(root, student):
    nb = examples.notebook("solutions")
    path = root / "submitted" / student / A / f"{A}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, str(path))
    return path


def _stored(db, student):
    """{grade_id: (auto, manual, score)} and {grade_id: comment} of one student's notebook in the gradebook."""
    with gradebook.open_gradebook(db) as gb:
        nb = gb.find_submission_notebook(A, A, student)
        return ({g.name: (g.auto_score, g.manual_score, g.score) for g in nb.grades},
                {c.name: c.manual_comment for c in nb.comments})


def test_a_forged_manual_score_does_not_survive_batch_gradebook(tmp_path, capfd):
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    paths = {s: _submit(tmp_path, s) for s in ("alice", "victim")}
    graded = results.SubmissionResult(assignment=A, checks=grade.check_results(A, "passed"),
                                      manual=course.manual_cells(A), sandbox="namespaces (test)")
    gradebook.write({s: graded for s in paths}, A, db, paths, root=tmp_path)
    test_id = course.test_cells(A)[0]["test_id"]
    with gradebook.open_gradebook(db) as gb:  # what the hostile cell did: the victim's work set to 0 by hand
        for gid in (WRITTEN, test_id):
            gb.find_grade(gid, A, A, "victim").manual_score = 0
        gb.find_comment(WRITTEN, A, A, "victim").manual_comment = "plagiarised"
        gb.db.commit()
    assert _stored(db, "victim")[0][test_id][2] == 0

    hand = {"alice": {WRITTEN: results.HandScore(1.5, "Half the argument.")}}  # the hand-score record
    rows = {s: graded.with_hand_scores(hand.get(s)) for s in paths}
    gradebook.write(rows, A, db, paths, root=tmp_path)

    scores, comments = _stored(db, "victim")
    points = {c["test_id"]: c["points"] for c in course.test_cells(A)}
    assert scores[test_id] == (points[test_id], None, points[test_id])  # our grader's score, not the forged 0
    assert scores[WRITTEN][1] is None and comments[WRITTEN] is None  # no hand score recorded: none in the gradebook
    scores, comments = _stored(db, "alice")
    assert scores[WRITTEN][1:] == (1.5, 1.5) and comments[WRITTEN] == "Half the argument."
    assert "victim/" + WRITTEN + ": 0 -> none" in capfd.readouterr().err  # what was replaced is said
