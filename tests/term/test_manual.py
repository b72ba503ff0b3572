"""Written answers graded by hand: batch --gradebook on a new database (with autograded/ notebooks that nbgrader's
formgrader serves), the answers export for TAs, and merge-manual with its refusals."""
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import read_results, run_batch

import course_config
from autograder import batch, manual, notebooks, results
from autograder.authoring import examples
from autograder.integrations import nbgrader_path
from autograder.render import answers_page

#: The slow tier (pytest -m 'not slow' leaves it out): a batch with the gradebook, formgrader over HTTP, regrades (about a minute).
pytestmark = pytest.mark.slow

A = "normalising_flows"
ANSWER = "Two modes helped: my NLL went from 1.31 to 1.12. <script>alert('x')</script> & the flow can't tear a blob."
STAMP = "2025-02-03 17:45:00.000000 UTC"


def _written(nb, text):
    for cell in nb.cells:
        if notebooks.grade_meta(cell).get("grade_id") == "bimodal_discussion":
            cell.source = text
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A batch of three submissions graded with --gradebook into a *new* database, with no alembic on PATH."""
    root = tmp_path_factory.mktemp("manual_course")
    subs = {"alice": _written(examples.notebook("solutions"), ANSWER), "bob": examples.notebook("release")}
    for student, nb in subs.items():
        dest = root / "submitted" / student / A
        dest.mkdir(parents=True)
        nbformat.write(nb, str(dest / f"{A}.ipynb"))
        (dest / "timestamp.txt").write_text(STAMP)
    (root / "submitted" / "carol" / A).mkdir(parents=True)
    (root / "submitted" / "carol" / A / f"{A}.ipynb").write_text('{"cells": [')  # truncated upload
    db = f"sqlite:///{root / 'gradebook.db'}"
    old_path = os.environ["PATH"]
    os.environ["PATH"] = "/usr/bin:/bin"  # the venv is not on PATH: nbgrader's alembic must still be found
    try:
        assert shutil.which("alembic") is None
        graded, out = run_batch(root / "submitted", root / "graded", assignments=[A], gradebook=db)
    finally:
        os.environ["PATH"] = old_path
    return root, db, out, graded[A]


def _gradebook(db):
    from nbgrader.api import Gradebook
    return Gradebook(db, course_config.COURSE_ID)


def test_batch_creates_the_gradebook_and_nbgraders_autograded_notebooks(course):
    root, db, out, rows = course
    with _gradebook(db) as gb:
        for student, result in rows.items():
            stored = {g.name: g.auto_score for g in gb.find_submission_notebook(A, A, student).grades}
            for t in result["tests"]:
                assert stored[t["extra_data"]["grade_id"]] == t["score"], (student, t["name"])
        written = {s: gb.find_grade("bimodal_discussion", A, A, s) for s in ("alice", "bob")}
        assert written["alice"].auto_score is None and written["alice"].needs_manual_grade
        assert written["bob"].auto_score == 0  # the release's stub, unchanged: "No response", as nbgrader does
        assert str(gb.find_submission(A, "alice").timestamp).startswith("2025-02-03 17:45:00")
        assert gb.find_submission(A, "carol").score == 0
    nb = nbformat.read(str(root / "autograded" / "bob" / A / f"{A}.ipynb"), as_version=4)
    tests = [c for c in nb.cells if notebooks.is_test_cell(c)]
    assert any("BEGIN HIDDEN TESTS" in c.source for c in tests)  # restored from the gradebook (OverwriteCells)
    assert all(c.outputs and c.outputs[0].output_type == "error" for c in tests)  # each shows why it failed
    assert (root / "autograded" / "bob" / A / "nf_checks.py").exists()
    assert not (root / "autograded" / "carol").exists()  # nothing readable was submitted


@pytest.fixture
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_formgrader_serves_a_batch_graded_submission(course, tmp_path, free_port):
    """nbgrader's formgrader (a jupyter server extension) shows alice's notebook from our autograded/ folder."""
    root, db, out, rows = course
    nbgrader_path.write_course_config(root)
    token = "t" + os.urandom(8).hex()
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "jupyter-server"), "--no-browser", "--allow-root",
                               f"--port={free_port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
                               f"--IdentityProvider.token={token}"],
                              cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    base = f"http://127.0.0.1:{free_port}"

    def get(path):
        with urllib.request.urlopen(f"{base}{path}{'&' if '?' in path else '?'}token={token}", timeout=30) as r:
            return r.read().decode()

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                listing = json.loads(get(f"/formgrader/api/submitted_notebooks/{A}/{A}"))
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "jupyter server did not start"
                time.sleep(0.5)
        by_student = {s["student"]: s for s in listing}
        assert set(by_student) >= {"alice", "bob"}
        assert by_student["alice"]["needs_manual_grade"] and by_student["alice"]["code_score"] == 28
        page = get(f"/formgrader/submissions/{by_student['alice']['id']}/")
        assert "bimodal_discussion" in page and "my NLL went from 1.31 to 1.12" in page
        assert "<script>alert" not in page and "&lt;script&gt;alert('x')&lt;/script&gt;" in page  # text, never run
        page = get(f"/formgrader/submissions/{by_student['bob']['id']}/")
        assert "is not defined" in page  # our grader's failure message, as the test cell's output
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_answers_page_and_scores_template(course):
    root, db, out, rows = course
    written = manual.export(out, force=True)
    page = (out / A / answers_page.PAGE_FILE).read_text()
    assert out / A / answers_page.PAGE_FILE in [path for path, _ in written]
    assert "&lt;script&gt;alert" in page and "<script>alert" not in page  # student text is escaped
    assert "Rubric for TAs" in page and "Model answer" in page  # from the source notebook's solution region
    assert page.count('class="answer"') == 3
    assert "no response" in page and "unreadable" in page
    with open(out / A / manual.TEMPLATE_FILE, newline="") as f:
        template = list(csv.DictReader(f))
    assert [(r["student"], r["grade_id"], r["max_points"], r["score"]) for r in template] == [
        ("alice", "bimodal_discussion", "2", ""), ("bob", "bimodal_discussion", "2", "0"),
        ("carol", "bimodal_discussion", "2", "")]  # carol's notebook is unreadable: left to a TA, with the reason
    assert template[2]["comment"] == manual.UNREADABLE


def _scores(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(manual.COLUMNS)
        w.writerows(rows)
    return path


def _state(root, out, db):
    files = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    with _gradebook(db) as gb:
        grades = [(s, g.name, g.manual_score) for s in ("alice", "bob", "carol")
                  for g in gb.find_submission_notebook(A, A, s).grades]
    return files, grades


@pytest.mark.parametrize("rows, expected", [
    ([("alice", "bimodal_discussion", 2, 3, "")], "outside 0..2"),
    ([("alice", "bimodal_discussion", 2, -0.5, "")], "outside 0..2"),
    ([("alice", "bimodal_discussion", 2, "two", "")], "not a number"),
    ([("mallory", "bimodal_discussion", 2, 1, "")], "unknown student 'mallory'"),
    ([("alice", "bimodal_discusion", 2, 1, "")], "unknown grade_id 'bimodal_discusion'"),
    ([("alice", "bimodal_discussion", 5, 1, "")], "max_points 5"),
    ([("alice", "bimodal_discussion", 2, 1, ""), ("alice", "bimodal_discussion", 2, 2, "")], "a second score"),
    ([("bob", "bimodal_discussion", 2, 1, ""), ("alice", "bimodal_discussion", 2, "nan", "")], "not a number"),
    ([("alice", "bimodal_discussion", 2, 1)], "4 fields"),
])
def test_merge_manual_refuses_bad_rows_and_changes_nothing(course, tmp_path, rows, expected):
    root, db, out, _ = course
    before = _state(root, out, db)
    path = _scores(tmp_path / "scores.csv", rows)
    with pytest.raises(manual.ManualError) as e:
        manual.merge(out, path, db)
    assert expected in str(e.value)
    assert _state(root, out, db) == before


def test_merge_manual_refuses_a_malformed_csv(course, tmp_path):
    root, db, out, _ = course
    before = _state(root, out, db)
    bad = tmp_path / "scores.csv"
    bad.write_text("name;points\nalice;2\n")
    proc = subprocess.run([sys.executable, "-m", "autograder", "merge-manual", str(out), str(bad),
                           "--gradebook", db], capture_output=True, text=True, cwd=course_config.ROOT)
    assert proc.returncode == 2 and "nothing was changed" in proc.stderr and "missing: student" in proc.stderr
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(manual.ManualError, match="cannot be read"):
        manual.merge(out, bad, db)
    assert _state(root, out, db) == before


def test_merge_manual_folds_scores_into_results_grades_and_gradebook(course, tmp_path):
    root, db, out, rows = course
    auto = {s: json.loads((out / A / s / "results.json").read_text())["score"] for s in ("alice", "bob")}
    path = _scores(tmp_path / "scores.csv", [("alice", "bimodal_discussion", 2, 1.5, "Good evidence; no failure mode."),
                                             ("bob", "bimodal_discussion", 2, 0, "No response."),
                                             ("carol", "bimodal_discussion", 2, "", "")])  # empty: not graded yet
    for _ in range(2):  # merging the same file twice changes nothing the second time
        assert manual.merge(out, path, db) == {A: 2}
        alice = json.loads((out / A / "alice" / "results.json").read_text())
        assert alice["score"] == auto["alice"] + 1.5
        written = [t for t in alice["tests"] if t["extra_data"]["grade_id"] == "bimodal_discussion"]
        assert len(written) == 1 and written[0]["score"] == 1.5 and written[0]["max_score"] == 2
        assert written[0]["output"] == "Good evidence; no failure mode."
        results.validate(alice)  # still a results.json the grader may write (the schema)
        assert "Good evidence" in (out / "feedback" / "alice" / A / "feedback.md").read_text()
        with open(out / A / "grades.csv", newline="") as f:
            table = {r["student"]: r for r in csv.DictReader(f)}
        assert float(table["alice"]["total"]) == auto["alice"] + 1.5
        assert float(table["bob"]["total"]) == auto["bob"]
        with _gradebook(db) as gb:
            g = gb.find_grade("bimodal_discussion", A, A, "alice")
            assert g.manual_score == 1.5 and not g.needs_manual_grade
            assert gb.find_comment("bimodal_discussion", A, A, "alice").manual_comment.startswith("Good evidence")
            assert gb.find_submission(A, "alice").score == auto["alice"] + 1.5
    carol = json.loads((out / A / "carol" / "results.json").read_text())
    assert not any(t["extra_data"]["grade_id"] == "bimodal_discussion" for t in carol["tests"])


def test_hand_scores_survive_a_regrade_and_new_students_get_template_rows(course, tmp_path):
    """After merge-manual: regrading a student keeps the hand score in every rendering (results.json, grades.csv,
    feedback, the report, the gradebook); a new student is graded alone; a second ``answers`` keeps the filled
    rows of manual_scores.csv and adds the new student's."""
    root, db, out, rows = course
    path = _scores(tmp_path / "scores.csv", [("alice", "bimodal_discussion", 2, 2, "Full argument.")])
    manual.merge(out, path, db)
    report_page = (out / A / "report" / "index.html").read_text()
    assert "1 full marks" in report_page  # merge-manual renders the report again: alice now has 28 + 2 of 30
    record = (out / A / "alice" / "graded.json").stat().st_mtime_ns
    batch.run(root / "submitted", root / "graded", assignments=[A], gradebook=db, regrade=["alice"])
    assert (out / A / "alice" / "graded.json").stat().st_mtime_ns != record  # graded again
    alice = read_results(out / A / "alice" / "results.json")
    assert alice["score"] == 30 and "Full argument." in (out / "feedback" / "alice" / A / "feedback.md").read_text()
    with open(out / A / "grades.csv", newline="") as f:
        table = {r["student"]: r for r in csv.DictReader(f)}
    assert table["alice"]["bimodal_discussion"] == "2" and table["alice"]["total"] == "30"
    assert {r["max"] for r in table.values()} == {"30"} and table["carol"]["bimodal_discussion"] == ""
    with _gradebook(db) as gb:
        assert gb.find_grade("bimodal_discussion", A, A, "alice").manual_score == 2
    # a TA fills in a row of the template; a late student arrives
    template = out / A / manual.TEMPLATE_FILE
    text = template.read_text().replace("alice,bimodal_discussion,2,,", "alice,bimodal_discussion,2,2,Full argument.")
    template.write_text(text)
    dest = root / "submitted" / "dave" / A
    dest.mkdir(parents=True)
    nbformat.write(_written(examples.notebook("release"), "Late, but here."), str(dest / f"{A}.ipynb"))
    before = {s: (out / A / s / "graded.json").stat().st_mtime_ns for s in ("alice", "bob", "carol")}
    batch.run(root / "submitted", root / "graded", assignments=[A], gradebook=db)
    assert {s: (out / A / s / "graded.json").stat().st_mtime_ns for s in before} == before  # nobody else regraded
    proc = subprocess.run([sys.executable, "-m", "autograder", "answers", str(out)], capture_output=True, text=True,
                          cwd=course_config.ROOT)
    assert proc.returncode == 0 and "added 1" in proc.stdout, proc.stdout + proc.stderr
    with open(template, newline="") as f:
        rows_now = [(r["student"], r["score"], r["comment"]) for r in csv.DictReader(f)]
    assert ("alice", "2", "Full argument.") in rows_now and [r for r in rows_now if r[0] == "dave"] == [
        ("dave", "", "")]
    assert len(rows_now) == 4


def test_the_answers_page_as_a_ta_sees_it(course, tmp_path):
    """Drawn by headless Chromium: every answer shows, the model answer and rubric beside it, and a student's
    markup stays text (no script of theirs runs in a TA's browser)."""
    from browser import dom, ink, screenshot
    root, db, out, rows = course
    manual.export(out, force=True)
    page = out / A / answers_page.PAGE_FILE
    png = screenshot(page, tmp_path / "answers.png")
    assert ink(png) > 0.02  # something is drawn, not a blank page
    shown = dom(page)
    assert "<script>alert" not in shown and "&lt;script&gt;alert('x')&lt;/script&gt;" in shown
    assert shown.count('class="answer"') >= 3 and "Rubric for TAs" in shown
