"""Re-render, don't re-execute: a change of points only weighs the stored verdicts again. In a copy of the course,
a batch is graded, one test cell's points change (as `make release` leaves them: the source, release and solutions
notebooks' nbgrader metadata), and the rerun re-renders every output with the new points without running a
notebook or importing TensorFlow; its outputs equal those of a clean run of the changed course."""
import csv
import io
import json
import subprocess
import sys

import nbformat
import pytest
from conftest import course_copy, read_results, write_term_submissions

import course_config
from autograder import notebooks

A = "normalising_flows"
CHANGED, NEW_POINTS = "independent_bernoulli_reference", 3


def _set_points(root, test_id, points):
    """``test_id``'s points in the source, release and solutions notebooks of the copy (what make release does)."""
    for step in (course_config.SOURCE_DIR, course_config.RELEASE_DIR, course_config.SOLUTION_DIR):
        path = root / step / A / f"{A}.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        cells = [c for c in nb.cells if notebooks.grade_meta(c).get("grade_id") == test_id]
        assert cells or step == course_config.RELEASE_DIR
        for cell in cells:
            cell.metadata["nbgrader"]["points"] = points
        nbformat.write(nb, str(path))


def _batch(root, submitted, out, db):
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "autograder", "batch", str(submitted), "--out",
                           str(out), "--assignment", A, "--gradebook", db], cwd=root, capture_output=True, text=True,
                          timeout=900)


def _imported(stderr):
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def _said(stderr):
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("import time:"))


#: Where the feedback pages show what the student's cells printed (random samples: it differs from run to run).
PRINTED = "Output of your notebook"


def _outputs(out):
    """What a person reads, per file: results.json, grades.csv, feedback, the report; without what differs between
    two runs of the same notebook (the seconds it took, what its cells printed)."""
    found = {}
    for path in sorted(out.rglob("*")):
        rel = str(path.relative_to(out))
        if path.name == "results.json":
            data = read_results(path)
            data.pop("execution_time")
            data["extra_data"].pop("cell_output")
            data["output"] = data["output"].split(PRINTED)[0]
            found[rel] = data
        elif path.name in ("feedback.md", "feedback.html"):
            found[rel] = path.read_text().split(PRINTED)[0]
        elif path.name in ("grades.csv", "index.html"):
            found[rel] = path.read_text()
    return found


def _gradebook_scores(db, students):
    from autograder.integrations.gradebook import open_gradebook
    with open_gradebook(db) as gb:
        return {s: (gb.find_submission(A, s).score, gb.find_submission(A, s).max_score) for s in students}


@pytest.mark.slow  # three batches of four submissions
def test_a_points_only_change_re_renders_every_output_and_executes_nothing(tmp_path):
    root = course_copy(tmp_path / "course")
    submitted = write_term_submissions(tmp_path / "submitted", A)
    out, db = tmp_path / "graded", f"sqlite:///{tmp_path / 'gradebook.db'}"
    first = _batch(root, submitted, out, db)
    assert first.returncode == 0, _said(first.stderr)[-3000:]
    before = {p.parent.name: json.loads(p.read_text()) for p in (out / A).glob("*/graded.json")}
    old_total = {r["student"]: float(r["total"]) for r in csv.DictReader(io.StringIO((out / A / "grades.csv").read_text()))}

    _set_points(root, CHANGED, NEW_POINTS)
    rerun = _batch(root, submitted, out, db)
    said = _said(rerun.stderr)
    assert rerun.returncode == 0, said[-3000:]
    assert f"points of {A} changed: 4 re-rendered, 0 re-executed" in said, said
    assert "to grade" not in said and "containment" not in said  # no sandbox, no zygote, no notebook run
    assert not {m for m in _imported(rerun.stderr) if m.split(".")[0] in ("tensorflow", "tensorflow_probability")}

    # the records keep their verdicts, weighed with the new points
    after = {p.parent.name: json.loads(p.read_text()) for p in (out / A).glob("*/graded.json")}
    for student, record in after.items():
        old, new = before[student]["extra_data"]["fingerprint"], record["extra_data"]["fingerprint"]
        assert {k for k in old if old[k] != new[k]} == {"points"}
        assert [t["extra_data"]["status"] for t in record["tests"]] == [
            t["extra_data"]["status"] for t in before[student]["tests"]]
        assert {t["extra_data"]["grade_id"]: t["max_score"] for t in record["tests"]}[CHANGED] == NEW_POINTS
    totals = {r["student"]: r for r in csv.DictReader(io.StringIO((out / A / "grades.csv").read_text()))}
    assert float(totals["complete"]["total"]) == old_total["complete"] + 1 == 29
    assert {r["max"] for r in totals.values()} == {"31"}

    # the same outputs as a clean run of the changed course, the gradebook included
    clean_out, clean_db = tmp_path / "clean", f"sqlite:///{tmp_path / 'clean.db'}"
    clean = _batch(root, submitted, clean_out, clean_db)
    assert clean.returncode == 0, _said(clean.stderr)[-3000:]
    assert "4 to grade: not graded before" in _said(clean.stderr)
    assert _outputs(out) == _outputs(clean_out)
    students = sorted(totals)
    assert _gradebook_scores(db, students) == _gradebook_scores(clean_db, students)
    assert _gradebook_scores(db, students)["complete"] == (29, 31)  # 31: with the written answer's 2

    # said once: the next run has nothing to weigh
    again = _batch(root, submitted, out, db)
    assert "4 already graded, unchanged" in _said(again.stderr) and "points of" not in _said(again.stderr)


def test_the_verdicts_fingerprint_leaves_points_out(monkeypatch):
    """Points weigh a verdict; which cells are graded, and how, is part of it."""
    from autograder import course, results
    cells = course.test_cells(A)
    fingerprint = results.fingerprint(A, "x")
    for digest in (results.points_digest, results.cells_digest):
        digest.cache_clear()
    moved = [dict(c, points=c["points"] + 1) if c["test_id"] == CHANGED else c for c in cells]
    monkeypatch.setattr(course, "test_cells", lambda assignment: moved)
    changed = results.fingerprint(A, "x")
    parts = results.fingerprint_changes(fingerprint, changed)
    assert parts == ["points"] and results.only_weights(parts)
    for digest in (results.points_digest, results.cells_digest):
        digest.cache_clear()
    hidden = [dict(c, hidden=not c["hidden"]) if c["test_id"] == CHANGED else c for c in cells]
    monkeypatch.setattr(course, "test_cells", lambda assignment: hidden)
    parts = results.fingerprint_changes(fingerprint, results.fingerprint(A, "x"))
    assert parts == ["cells"] and not results.only_weights(parts)
    for digest in (results.points_digest, results.cells_digest):
        digest.cache_clear()
