"""``python -m autograder export OUT --lms canvas|moodle|blackboard --roster ROSTER.csv``: each LMS's header, the
totals with hand scores, the refusals (nothing written), formula injection. Records are written the way ``store``
writes them; nothing is graded."""
import csv
import io

import pytest

from autograder import course
from autograder import store as storage
from autograder.integrations import lms_export
from autograder.results import CheckResult, HandScore, SubmissionResult

NF, MS = "normalising_flows", "realnvp_multiscale"


def result(assignment, failed=(), status="graded"):
    checks = [CheckResult(test_id=c["test_id"], item=c["item"], description=c["description"], points=c["points"],
                          hidden=c["hidden"], status="failed" if c["test_id"] in failed or status != "graded"
                          else "passed") for c in course.test_cells(assignment)]
    return SubmissionResult(assignment=assignment, checks=checks, status=status,
                            manual=list(course.manual_cells(assignment)), fingerprint={"submission": "x"})


@pytest.fixture
def out(tmp_path):
    """alice: full marks and 2/2 by hand; bob: loses the 2-point hidden bimodal check, written answer not graded;
    '=cmd': a formula-looking name, full marks."""
    store = storage.Store(tmp_path / "graded")
    store.save_record(NF, "alice", result(NF))
    store.save_record(NF, "bob", result(NF, {"bimodal_base_distribution_reference"}))
    store.save_record(NF, "=cmd", result(NF))
    store.save_hand_scores(NF, {"alice": {"bimodal_discussion": HandScore(2, "good")}})
    return store.out


ROSTER = ("student,lms_id,email,name,first_name,last_name,sis_user_id,sis_login_id,section\n"
          "alice,101,alice@uni.example,\"Liddell, Alice\",Alice,Liddell,S1,,A\n"
          "bob,102,bob@uni.example,,Bob,Builder,S2,bbuilder,B\n"
          "=cmd,@103,+evil@uni.example,-2+3,=HYPERLINK(\"x\"),Smith,S3,,A\n")


@pytest.fixture
def roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER)
    return path


def rows(path):
    return list(csv.reader(io.StringIO(path.read_text(), newline="")))


def test_canvas(out, roster):
    paths, notes = lms_export.export(out, "canvas", roster, column_ids={NF: "777"})
    got = rows(out / NF / "lms" / "canvas.csv")
    assert paths == [out / NF / "lms" / "canvas.csv"]
    assert got[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{NF} (777)"]
    assert got[1] == ["Points Possible", "", "", "", "", "30"]
    assert got[2] == ["Liddell, Alice", "101", "S1", "alice@uni.example", "A", "30"]
    assert got[3] == ["Builder, Bob", "102", "S2", "bbuilder", "B", "26"]  # 28 - 2; the written answer pending
    assert notes == [f"{NF}: 2 total(s) count a written answer not yet graded by hand as 0"]


def test_moodle(out, roster):
    lms_export.export(out, "moodle", roster)
    got = rows(out / NF / "lms" / "moodle.csv")
    assert got[0] == ["First name", "Last name", "ID number", "Email address", NF]
    assert got[1] == ["Alice", "Liddell", "101", "alice@uni.example", "30"]


def test_blackboard_quotes_every_value(out, roster):
    lms_export.export(out, "blackboard", roster, column_ids={NF: "_55_1"})
    text = (out / NF / "lms" / "blackboard.csv").read_bytes().decode()
    assert text.splitlines()[0] == f'"Last Name","First Name","Username","Student ID","{NF} [Total Pts: 30 Score] |_55_1"'
    assert text.splitlines()[1] == '"Liddell","Alice","101","S1","30"'
    assert text.endswith("\r\n")


@pytest.mark.parametrize("lms", lms_export.LMS)
def test_no_cell_starts_a_formula(out, roster, lms):
    lms_export.export(out, lms, roster)
    cells = [c for row in rows(out / NF / "lms" / f"{lms}.csv") for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], cells
    assert "'=HYPERLINK(\"x\")" in cells or "'-2+3" in cells or "'@103" in cells


def refused(out, roster, **kw):
    with pytest.raises(lms_export.ExportError) as e:
        lms_export.export(out, "canvas", roster, **kw)
    assert not (out / NF / "lms").exists()
    return e.value.problems


def test_a_student_missing_from_the_roster_is_refused(out, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("\n".join(ROSTER.splitlines()[:3]) + "\n")
    assert refused(out, path) == [f"{NF}: 1 student(s) with results are missing from the roster: =cmd"]


def test_a_roster_entry_with_no_submission_is_listed_not_zeroed(out, tmp_path):
    path = tmp_path / "more.csv"
    path.write_text(ROSTER + "carol,104,carol@uni.example,,,,,,\n")
    storage.Store(out).save_record(NF, "dave", result(NF, status="missing"))
    path.write_text(path.read_text() + "dave,105,dave@uni.example,,,,,,\n")
    problems = refused(out, path)
    assert len(problems) == 1 and problems[0].startswith(f"{NF}: 2 roster entr(ies) have no submission: carol, dave")
    lms_export.export(out, "canvas", path, zero_missing=True)  # on purpose: 0
    assert rows(out / NF / "lms" / "canvas.csv")[-2:] == [["carol", "104", "", "carol@uni.example", "", "0"],
                                                         ["dave", "105", "", "dave@uni.example", "", "0"]]


def test_a_total_above_the_maximum_is_refused(out, roster):
    """A record claiming more points than the notebook gives (a check worth 50): the total is recomputed from the
    record's checks, and refused against the points table's maximum."""
    store = storage.Store(out)
    forged = result(NF)
    forged.checks[0].points = 50
    store.save_record(NF, "bob", forged)
    assert refused(out, roster) == [f"{NF}: 1 total(s) outside 0..30: bob (77)"]


def test_every_problem_is_listed_at_once_one_line_each(out, tmp_path):
    path = tmp_path / "both.csv"
    path.write_text("\n".join(ROSTER.splitlines()[:2]) + "\ncarol,104,carol@uni.example,,,,,,\n")
    problems = refused(out, path)
    assert len(problems) == 2 and all("\n" not in p for p in problems)


@pytest.mark.parametrize("text, says", [
    ("student,email\nalice,a@x\n", "needs the columns student, lms_id, email"),
    ("student,lms_id,email,shoe_size\nalice,1,a@x,9\n", "unknown: shoe_size"),
    ("student,lms_id,email\nalice,1,a@x\nalice,2,b@x\n", "roster line 3: student 'alice' is already on line 2"),
    ("student,lms_id,email\nalice,1,a@x\nbob,1,b@x\n", "roster line 3: lms_id '1' is already on line 2"),
    ("student,lms_id,email\nalice,,a@x\n", "roster line 2: empty lms_id"),
    ("student,lms_id,email\nalice,1,not-an-email\n", "is not an email address"),
    ("student,lms_id,email\nali\x1bce,1,a@x\n", "control characters in student"),
    ("student,lms_id,email\n", "lists nobody"),
])
def test_a_bad_roster_is_refused(out, tmp_path, text, says):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    problems = refused(out, path)
    assert any(says in p for p in problems), problems


def test_the_command_line(out, roster, capsys):
    from autograder.__main__ import main
    assert main(["export", str(out), "--lms", "moodle", "--roster", str(roster)]) == 0
    assert f"wrote {out / NF / 'lms' / 'moodle.csv'}" in capsys.readouterr().out
    assert main(["export", str(out), "--lms", "canvas", "--roster", str(roster), "--assignment-id", "nope=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: nothing was changed:") and "--assignment-id 'nope=3'" in err
    assert not (out / NF / "lms" / "canvas.csv").exists()


def test_every_assignment_of_the_batch_gets_a_file(out, roster):
    store = storage.Store(out)
    for student in ("alice", "bob", "=cmd"):
        store.save_record(MS, student, result(MS))
    paths, _ = lms_export.export(out, "canvas", roster)
    assert paths == [out / NF / "lms" / "canvas.csv", out / MS / "lms" / "canvas.csv"]
    assert rows(out / MS / "lms" / "canvas.csv")[1][-1] == "25"
