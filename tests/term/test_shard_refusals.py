"""merge-shards recomputes and never trusts: shards that do not belong together, a dropped record, a forged hand
score or a student no shard has are refused in one line, before anything is written. Fast: the shards are made of
real records without grading (a student who submitted nothing), as a shard leaves them."""
import csv
import io
import json
import shutil
import time

import pytest
from conftest import cli

import course_config
from autograder import batch, grade, manual, results, shards
from autograder import store as storage

A = "normalising_flows"
ROOT = course_config.ROOT


# ---- refusals, on shards made of real records without grading (fast) ------------------------------------------
STUDENTS = ["ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo"]  # in each of 3 shards and of 2


def _shard(root, k, n, students=STUDENTS, fingerprint=None, skip=()):
    """The folder shard ``k`` of ``n`` leaves after grading ``students`` who all submitted nothing: its
    shard.json and a record per student of its share (``skip``: students whose record is not there)."""
    submissions = {(A, s): root / "submitted" / s / A / f"{A}.ipynb" for s in students}
    store = storage.Store(root / f"shard{k}of{n}")
    store.out.mkdir(parents=True)
    store.save_shard(shards.shard_marker((k, n), submissions))
    for (_, student) in submissions:
        if shards.shard_of(student, n) == k and student not in skip:
            result = grade.not_graded(A, "missing", "no such file", time.monotonic())
            result.fingerprint = fingerprint or results.fingerprint(A, None)
            store.save_record(A, student, result)
    return store.out


def _refused(call, *words):
    """``call`` raises BatchError with a one-line message naming ``words`` (the CLI prints it as ``error: ...``)."""
    with pytest.raises(batch.BatchError) as e:
        call()
    line = str(e.value)
    assert "\n" not in line
    for word in words:
        assert word in line, line
    return line


def _merge(out, *folders):
    return lambda: shards.merge(out, folders)


@pytest.fixture
def three(tmp_path):
    return [_shard(tmp_path, k, 3) for k in (1, 2, 3)]


def test_the_fast_shards_merge_and_hold_every_student_once(three, tmp_path):
    """The premise of the refusal tests: these shards do merge, and every student lands in one of them."""
    assert sum(len(storage.Store(s).students(A)) for s in three) == len(STUDENTS)
    assert all(storage.Store(s).students(A) for s in three)
    assert {shards.shard_of(s, 2) for s in STUDENTS} == {1, 2}
    proc = cli("merge-shards", tmp_path / "out", *three, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / "out" / A / "grades.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == sorted(STUDENTS)


def test_a_refusal_is_one_line_and_exit_2_and_writes_nothing(three, tmp_path):
    proc = cli("merge-shards", tmp_path / "out", three[0], three[2], timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == ["error: missing shard 2/3 of 3; merge needs "
                                                                         "every shard's output"], proc.stderr
    assert not (tmp_path / "out").exists()
    proc = cli("batch", tmp_path, "--out", tmp_path / "out", "--shard", "4/3", timeout=300)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--shard takes K/N" in proc.stderr and not (tmp_path / "out").exists()


def test_a_missing_shard_is_refused(three, tmp_path):
    _refused(_merge(tmp_path / "out", three[0], three[2]), "missing shard 2/3")
    _refused(_merge(tmp_path / "out", three[0]), "missing shards 2/3, 3/3")
    assert not (tmp_path / "out").exists()


def test_a_shard_given_twice_is_refused(three, tmp_path):
    _refused(_merge(tmp_path / "out", *three, three[1]), "shard 2/3 is given twice")
    assert not (tmp_path / "out").exists()


def test_shards_of_different_splits_are_refused(three, tmp_path):
    other = _shard(tmp_path, 1, 2)
    _refused(_merge(tmp_path / "out", other, *three[1:]), "different splits")
    assert not (tmp_path / "out").exists()


def test_shards_graded_by_other_code_or_checks_are_refused(tmp_path):
    stale = dict(results.fingerprint(A, None), checks="0" * 64, grader="1" * 64)
    folders = [_shard(tmp_path, 1, 3, fingerprint=stale)] + [_shard(tmp_path, k, 3) for k in (2, 3)]
    line = _refused(_merge(tmp_path / "out", *folders), "graded differently", "shard 1/3")
    assert f"the checks of {A}" in line and "grader's code" in line
    assert not (tmp_path / "out").exists()


def test_a_student_in_two_shards_is_refused(three, tmp_path):
    """A student's record copied into a second shard (as if two splits were mixed by hand)."""
    owner = next(s for s in three if "ann" in storage.Store(s).students(A))
    other = next(s for s in three if s != owner)
    shutil.copytree(owner / A / "ann", other / A / "ann")
    marker = json.loads((other / storage.SHARD).read_text())
    marker["share"][A].append("ann")
    (other / storage.SHARD).write_text(json.dumps(marker))
    _refused(_merge(tmp_path / "out", *three), "'ann'", "belongs to one shard")
    assert not (tmp_path / "out").exists()


def test_an_unfinished_shard_is_refused(tmp_path):
    k = shards.shard_of("ann", 3)
    folders = [_shard(tmp_path, j, 3, skip=("ann",) if j == k else ()) for j in (1, 2, 3)]
    _refused(_merge(tmp_path / "out", *folders), f"shard {k}/3", "unfinished")
    assert not (tmp_path / "out").exists()


def test_shards_that_saw_different_rosters_are_refused(tmp_path):
    folders = [_shard(tmp_path, 1, 3, students=STUDENTS + ["zed"])] + [_shard(tmp_path, k, 3) for k in (2, 3)]
    _refused(_merge(tmp_path / "out", *folders), "shard 1/3 saw 11", "saw 10 students")
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_a_shard_is_refused(three, tmp_path):
    (tmp_path / "plain").mkdir()
    _refused(_merge(tmp_path / "out", tmp_path / "plain", *three[1:]), "not a shard's output")
    _refused(_merge(three[0], *three), "both a shard and the output folder")


def test_a_merge_keeps_hand_scores_and_refuses_students_no_shard_has(three, tmp_path):
    """Merging again into a merged folder keeps the TAs' hand scores there; a folder with other students is refused."""
    out = tmp_path / "out"
    shards.merge(out, three)
    store = storage.Store(out)
    store.save_hand_scores(A, {"ann": {"bimodal_discussion": results.HandScore(2, "good")}})
    shards.merge(out, three)
    assert store.hand_scores(A)["ann"]["bimodal_discussion"].score == 2
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((out / A / "grades.csv").read_text()))}
    assert rows["ann"]["bimodal_discussion"] == "2" and rows["ann"]["total"] == "2"
    shutil.copytree(out / A / "ann", out / A / "zoe")
    _refused(_merge(out, *three), "zoe", "no shard has")


def test_the_merge_writes_the_gradebook_once_for_every_shards_students(three, tmp_path):
    from nbgrader.api import Gradebook
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    shards.merge(tmp_path / "out", three, gradebook=db)
    with Gradebook(db, course_config.COURSE_ID) as gb:
        assert sorted(s.student.id for s in gb.assignment_submissions(A)) == sorted(STUDENTS)
        assert all(gb.find_submission(A, s).score == 0 for s in STUDENTS)


# ---- forged shard files (issue 26, case 7): a merge recomputes what it can, and trusts no score above its max -----
def _written_answer():
    """(grade_id, points) of the assignment's one hand-graded question, from the source notebook."""
    from autograder import course
    [(gid, points)] = course.manual_cells(A)
    return gid, points


def _passing_two(shard, student):
    """Rewrite ``student``'s record in ``shard`` as graded with its first two checks passed; returns what that is
    worth, from the notebook's own points (course.test_cells), not from the grader's totals."""
    from autograder import course
    store = storage.Store(shard)
    result = store.record(A, student)
    result.status = "graded"
    for check in result.checks[:2]:
        check.status = "passed"
    store.save_record(A, student, result)
    cells = {c["test_id"]: c["points"] for c in course.test_cells(A)}
    return sum(cells[c.test_id] for c in result.checks[:2])


def _totals(out):
    return {r["student"]: r["total"] for r in csv.DictReader(io.StringIO((out / A / "grades.csv").read_text()))}


def _owner(three, student):
    return next(s for s in three if student in storage.Store(s).students(A))


def test_a_student_left_out_of_a_shards_share_is_merged_all_the_same(three, tmp_path):
    """shard.json's share is not trusted: ann, dropped from her shard's list, still gets her row and her score."""
    owner = _owner(three, "ann")
    worth = _passing_two(owner, "ann")
    assert worth > 0
    marker = json.loads((owner / storage.SHARD).read_text())
    marker["share"][A].remove("ann")
    (owner / storage.SHARD).write_text(json.dumps(marker))
    proc = cli("merge-shards", tmp_path / "out", *three, timeout=300)
    assert proc.returncode == 0, proc.stderr
    totals = _totals(tmp_path / "out")
    assert sorted(totals) == sorted(STUDENTS)
    assert float(totals["ann"]) == worth and all(float(totals[s]) == 0 for s in STUDENTS if s != "ann")


def test_a_dropped_record_and_share_is_refused_not_lost(three, tmp_path):
    """A student whose record and share entry are both gone from a shard: the roster every shard saw says they are
    missing (and so does the submissions folder, when given); the merge refuses in one line and writes nothing."""
    owner = _owner(three, "ann")
    shutil.rmtree(owner / A / "ann")
    marker = json.loads((owner / storage.SHARD).read_text())
    marker["share"][A].remove("ann")
    (owner / storage.SHARD).write_text(json.dumps(marker))
    _refused(_merge(tmp_path / "out", *three), "hold results of 9 students", "the shards saw 10")
    submitted = tmp_path / "submitted"
    for student in STUDENTS:
        (submitted / student / A).mkdir(parents=True)
    _refused(lambda: shards.merge(tmp_path / "out", three, directory=submitted), "unfinished")
    assert not (tmp_path / "out").exists()


def test_a_shards_hand_scores_are_not_read_and_a_forged_one_shows_nowhere(three, tmp_path):
    """A shard's hand_scores.json giving 1000 of 2 points: the merge takes hand scores only from its own record,
    so ann's total is what her checks earned, in grades.csv and in results.json, and stderr says the file was left."""
    gid, points = _written_answer()
    owner = _owner(three, "ann")
    worth = _passing_two(owner, "ann")
    (owner / A / storage.HAND_SCORES).write_text(json.dumps({"ann": {gid: {"score": 1000, "comment": ""}}}))
    proc = cli("merge-shards", tmp_path / "out", *three, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "holds hand scores" in proc.stderr
    assert float(_totals(tmp_path / "out")["ann"]) == worth
    data = json.loads((tmp_path / "out" / A / "ann" / "results.json").read_text())
    assert data["score"] == worth and all(t["score"] <= t["max_score"] for t in data["tests"])
    assert not (tmp_path / "out" / A / storage.HAND_SCORES).exists()


def test_a_hand_score_above_its_max_is_refused_wherever_it_enters(three, tmp_path):
    """The merge target's own record forged to 1000 of 2: merge-shards, merge-manual and a plain batch refuse it in
    one line (exit 2) and change nothing; a score within the max is taken."""
    gid, points = _written_answer()
    out = tmp_path / "out"
    shards.merge(out, three)
    before = (out / A / "grades.csv").read_bytes()
    record = out / A / storage.HAND_SCORES
    scores = tmp_path / "scores.csv"
    scores.write_text(f"student,grade_id,max_points,score,comment\nbob,{gid},{points},1,ok\n")
    for forged in (-1, "2", float("nan"), points + 0.5):
        record.write_text(json.dumps({"ann": {gid: {"score": forged, "comment": ""}}}))
        _refused(_merge(out, *three), str(record), "'ann'")
        with pytest.raises(manual.ManualError, match="'ann'"):
            manual.merge(out, scores)
    record.write_text(json.dumps({"ann": {gid: {"score": 1000, "comment": ""}}}))
    line = _refused(_merge(out, *three), str(record), "'ann'", f"is 1000, outside 0..{points:g}")
    proc = cli("merge-shards", out, *three, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [f"error: {line}"], proc.stderr
    proc = cli("merge-manual", out, scores, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].strip() == line, proc.stderr
    submitted = tmp_path / "submitted"
    for student in STUDENTS:
        (submitted / student / A).mkdir(parents=True)
    proc = cli("batch", submitted, "--out", out, "--assignment", A, timeout=300)  # nothing to grade: renders
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == f"error: {line}", proc.stderr
    assert (out / A / "grades.csv").read_bytes() == before
    record.write_text(json.dumps({"ann": {gid: {"score": points, "comment": "fine"}}}))
    shards.merge(out, three)
    assert float(_totals(out)["ann"]) == points


@pytest.mark.parametrize("value", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", "2/3/4", ""])
def test_an_invalid_shard_is_refused(value):
    _refused(lambda: shards.parse_shard(value), "--shard takes K/N")


@pytest.mark.parametrize("value, expected", [("1/1", (1, 1)), ("2/3", (2, 3)), ("3/3", (3, 3))])
def test_a_valid_shard_is_read(value, expected):
    assert shards.parse_shard(value) == expected


def test_a_shard_refuses_an_output_folder_that_holds_another_share(three, tmp_path):
    submitted = tmp_path / "submitted"
    for student in STUDENTS:
        (submitted / student / A).mkdir(parents=True)
    _refused(lambda: batch.run(submitted, three[0], shard=(2, 3)), "holds shard 1/3", "its own --out")
    _refused(lambda: batch.run(submitted, three[0]), "holds shard 1/3", "--shard 1/3")
    _refused(lambda: batch.run(submitted, three[0], shard=(1, 3), gradebook="sqlite:///x.db"), "--gradebook")
    plain = tmp_path / "plain"
    shutil.copytree(three[0], plain)
    (plain / storage.SHARD).unlink()
    _refused(lambda: batch.run(submitted, plain, shard=(1, 3)), "not split", "its own --out")


# ---- the late policy on a merge (issue 28: the same on a batch, a merge of shards and watch) -----------------
def test_a_merge_applies_the_late_policy_and_the_extensions_once(three, tmp_path, monkeypatch):
    """ann and bob each pass two checks and submitted 3 h after the due date; bob's extension gives him a day.
    With 10 % per started day, ann loses 10 % of the assignment's maximum and bob nothing, in the merged grades.csv
    (numbers from the notebook's points, not the grader's totals)."""
    from autograder import course
    monkeypatch.setitem(course_config.DUE_DATES, A, "2026-03-02T23:59:00+00:00")
    monkeypatch.setattr(course_config, "LATE_POLICY", {**course_config.LATE_POLICY, "percent_per_day": 10,
                                                       "max_percent": 50})
    worth = {}
    for student in ("ann", "bob"):
        owner = _owner(three, student)
        worth[student] = _passing_two(owner, student)
        store = storage.Store(owner)
        record = store.record(A, student)
        record.lateness = results.Lateness(submitted_at="2026-03-03T02:59:00+00:00", source="timestamp.txt")
        store.save_record(A, student, record)
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student,assignment,due\nbob,normalising_flows,2026-03-03T23:59:00+00:00\n")
    shards.merge(tmp_path / "out", three, extensions=extensions)
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / A / "grades.csv").read_text()))}
    maximum = sum(c["points"] for c in course.test_cells(A)) + sum(p for _, p in course.manual_cells(A))
    assert float(rows["ann"]["penalty"]) == pytest.approx(maximum / 10) and rows["ann"]["days_late"] == "1"
    assert float(rows["ann"]["total"]) == pytest.approx(max(0.0, worth["ann"] - maximum / 10))
    assert (rows["bob"]["late"], rows["bob"]["extension"]) == ("0", "2026-03-03T23:59:00+00:00")
    assert float(rows["bob"]["total"]) == worth["bob"] and float(rows["bob"]["penalty"] or 0) == 0
