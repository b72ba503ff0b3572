"""Late days and extensions (autograder/submissions/late.py): every edge of the policy on the pure functions, the
extensions file's checks, and one batch of three submissions through every output, then a hand score and a changed
policy and extension that re-render and execute nothing.

Every expected number is worked out by hand in the comments, from normalising_flows' points table in
docs/instructors.md (28 autograded + 2 by hand = 30) and the policy below: 10 % of the maximum (3 points) per day or
part of a day after the due date, at most 50 % (15 points), 5 minutes' grace.
"""
import csv
import datetime as dt
import io
import json

import pytest
from conftest import cli, read_results, run_batch

import course_config
from autograder import batch, course, grade, manual, render, results
from autograder import store as storage
from autograder.authoring import examples
from autograder.submissions import late

A = "normalising_flows"
DUE = "2026-03-02T23:59:00+00:00"
POLICY = {"grace_minutes": 5, "percent_per_day": 10, "max_percent": 50, "extensions_file": "extensions.csv"}
MAX = 30  # 28 autograded + 2 written (the points table)


def at(minutes, start=DUE):
    """The time ``minutes`` after ``start`` (ISO 8601)."""
    return (dt.datetime.fromisoformat(start) + dt.timedelta(minutes=minutes)).isoformat()


DAY = 24 * 60


def judged(minutes, extension=None):
    return late.judge(at(minutes), DUE, POLICY, extension, MAX, "timestamp.txt")


# ---- the policy, edge by edge ----------------------------------------------------------------------------------
def test_inside_the_grace_period_is_on_time():
    for minutes in (-60, 0, 4.5, 5):  # 5 minutes is still inside: late means *more* than the grace
        lt = judged(minutes)
        assert (lt.late, lt.days_late, lt.penalty_percent, lt.penalty) == (False, 0, 0, 0), minutes
    assert judged(5).minutes_late == 5.0 and judged(-60).minutes_late == 0  # the time is kept; never negative


def test_just_past_the_grace_period_is_one_started_day():
    lt = judged(6)  # 6 minutes: late; the first day has started -> 10 % of 30 = 3 points
    assert (lt.late, lt.minutes_late, lt.days_late, lt.penalty_percent, lt.penalty) == (True, 6.0, 1, 10, 3)


def test_each_day_or_part_of_a_day_counts():
    assert (judged(DAY).days_late, judged(DAY).penalty) == (1, 3)            # exactly 24 h: still the first day
    assert (judged(DAY + 1).days_late, judged(DAY + 1).penalty) == (2, 6)    # one minute into day 2: 20 % of 30
    assert (judged(3 * DAY - 1).days_late, judged(3 * DAY - 1).penalty) == (3, 9)  # 30 % of 30


def test_the_cap():
    assert (judged(4 * DAY).penalty_percent, judged(4 * DAY).penalty) == (40, 12)   # under the cap
    assert (judged(5 * DAY + 1).penalty_percent, judged(5 * DAY + 1).penalty) == (50, 15)  # 6 days: 60 -> 50 %
    assert judged(100 * DAY).penalty == 15 and judged(100 * DAY).days_late == 100


def test_no_due_date_or_no_penalty_changes_nothing():
    assert not late.judge(at(10 * DAY), None, POLICY, None, MAX).late
    flag_only = late.judge(at(2 * DAY), DUE, course_config.LATE_POLICY, None, MAX)  # the shipped policy
    assert flag_only.late and flag_only.penalty == 0 and course_config.LATE_POLICY["percent_per_day"] == 0
    assert not any(course_config.DUE_DATES.values())  # the bundled demo: no due date, so nothing is late


def test_an_extension_moves_the_due_date():
    extension = at(3 * DAY)  # due three days later for this student
    on_time = judged(2 * DAY, extension)  # two days after the course's due date, a day before the extension's
    assert (on_time.late, on_time.penalty, on_time.extension, on_time.due) == (False, 0, extension, DUE)
    lt = judged(3 * DAY + 6, extension)  # 6 minutes after the extension: one started day -> 3 points
    assert (lt.late, lt.minutes_late, lt.days_late, lt.penalty) == (True, 6.0, 1, 3)


def _result(failed_items=(), lateness=None):
    checks = grade.check_results(A, "passed")
    for c in checks:
        if c.item in failed_items:
            c.status = "failed"
    return results.SubmissionResult(assignment=A, checks=checks, manual=course.manual_cells(A), lateness=lateness)


def test_hand_scores_are_added_then_the_penalty_is_taken_once():
    # affine_coupling_layer fails (10 points): 18 autograded; the written answer 2 by hand; 2 days late: 6 points
    deadlines = late.Deadlines(POLICY, {A: DUE})
    auto = _result(["affine_coupling_layer"], results.Lateness(submitted_at=at(DAY + 30), source="timestamp.txt"))
    alone = deadlines.judge(auto, "ada")
    full = deadlines.judge(auto.with_hand_scores({"bimodal_discussion": results.HandScore(2)}), "ada")
    assert alone.auto_score == 18 and alone.penalty == 6 and alone.score == 12     # 18 - 6
    assert full.penalty == 6 and full.score == 14  # 18 + 2 - 6, not 12 + 2 - 6 (penalised twice) nor (18+2)*0.8
    assert full.auto_score == 18 and full.hand_score == 2  # the items keep their points; only the total loses
    text = render.grades_csv({"ada": full}, A)
    row = next(csv.DictReader(io.StringIO(text)))
    assert (row["total"], row["penalty"], row["days_late"], row["late"]) == ("14", "6", "2", "1")


def test_no_total_goes_below_zero():
    nothing = _result(list(course.items(A)), results.Lateness(submitted_at=at(9 * DAY), source="timestamp.txt"))
    r = late.Deadlines(POLICY, {A: DUE}).judge(nothing, "bob")
    assert r.auto_score == 0 and r.penalty == 15 and r.score == 0  # 0 - 15 is 0
    data = render.results_json(r)
    results.validate(data)
    assert data["score"] == 0 and data["extra_data"]["lateness"]["penalty"] == 15


def test_a_record_keeps_the_time_and_never_the_judgement(tmp_path):
    lt = results.Lateness(submitted_at=at(DAY + 30), source="timestamp.txt")
    r = late.Deadlines(POLICY, {A: DUE}).judge(_result(lateness=lt), "ada")
    assert r.penalty == 6
    store = storage.Store(tmp_path)
    store.save_record(A, "ada", r)
    kept = json.loads(store.record_path(A, "ada").read_text())["extra_data"]["lateness"]
    assert kept == {"submitted_at": lt.submitted_at, "due": None, "late": False, "minutes_late": 0.0,
                    "source": "timestamp.txt", "extension": None, "days_late": 0, "penalty_percent": 0, "penalty": 0.0}
    again = late.Deadlines(dict(POLICY, percent_per_day=25), {A: DUE}).judge(store.record(A, "ada"), "ada")
    assert again.penalty == 15 and again.score == 13  # 2 days x 25 % = 50 % of 30; 28 - 15


def test_the_platforms_due_date_is_kept_when_the_course_sets_none():
    lt = late.judge(at(DAY + 30), DUE, POLICY, source="gradescope")  # as the Gradescope door makes it
    r = late.Deadlines(POLICY, {A: None}).judge(_result(lateness=lt), "ada")
    assert r.lateness.due == DUE and r.penalty == 6


def test_the_feedback_shows_the_extension_the_penalty_and_the_total_after_it():
    lt = results.Lateness(submitted_at=at(3 * DAY + 6), source="timestamp.txt")
    r = late.Deadlines(POLICY, {A: DUE}, {(A, "ada"): at(3 * DAY)}).judge(_result(lateness=lt), "ada")
    md = render.feedback.markdown(r, "ada")
    assert "6 minutes after your extended due date" in md and "Late penalty: 3 points" in md
    assert "Total after it: 25 / 30" in md  # 28 - 3; the written answer not graded yet
    html = render.feedback.html_feedback(r, "ada")
    assert 'id="penalty">Late penalty: 3 points' in html and "Total after it: 25 / 30" in html
    gradescope = render.feedback.markdown(r, "ada", for_gradescope=True)  # the total waits for the hidden checks
    assert "Late penalty: 3 points" in gradescope and "Total after it" not in gradescope


# ---- the extensions file --------------------------------------------------------------------------------------
def test_extensions_are_read_from_beside_the_output_folder(tmp_path):
    (tmp_path / "extensions.csv").write_text(f"student,assignment,due\nada,{A},2026-03-05T23:59:00Z\n\n")
    found = late.deadlines(tmp_path / "graded", say=False)
    assert found.extensions == {(A, "ada"): "2026-03-05T23:59:00+00:00"}
    assert late.deadlines(tmp_path / "a" / "graded", say=False).extensions == {}  # none there: no extensions


def test_a_bad_extensions_file_names_each_bad_row_in_one_line(tmp_path):
    bad = tmp_path / "ext.csv"
    bad.write_text("student,assignment,due\n"
                   f"ada,{A},2026-03-05T23:59:00+00:00\n"   # line 2: fine
                   f"bob,{A},next friday\n"                 # 3: not a time
                   f"cy,{A},2026-03-05T23:59:00\n"          # 4: no UTC offset
                   "dee,nope,2026-03-05T23:59:00Z\n"        # 5: no such assignment
                   f",{A},2026-03-05T23:59:00Z\n"           # 6: no student
                   f"ada,{A},2026-03-06T23:59:00Z\n"        # 7: a second extension for ada
                   f"eve,{A}\n"                             # 8: two fields
                   f"fay,{A},2026-03-01T00:00:00Z\n")       # 9: before the course's due date
    with pytest.raises(late.ExtensionsError) as e:
        late.read_extensions(bad, due_dates={A: DUE})
    lines = str(e.value).splitlines()
    assert lines[0].startswith(f"{bad}: 7 bad row(s)")
    assert [line.split(":")[0].strip() for line in lines[1:]] == [f"line {n}" for n in range(3, 10)]
    assert "'next friday' is not an ISO 8601 time" in lines[1] and "UTC offset" in lines[2]
    assert "unknown assignment 'nope'" in lines[3] and "no student" in lines[4]
    assert "second extension for 'ada'" in lines[5] and "first is on line 2" in lines[5]
    assert "2 fields, expected 3" in lines[6] and "before normalising_flows's due date" in lines[7]
    header = tmp_path / "header.csv"
    header.write_text("name,when\nada,2026-03-05\n")
    with pytest.raises(late.ExtensionsError, match="the first row must be the header student,assignment,due"):
        late.read_extensions(header)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00student")
    with pytest.raises(late.ExtensionsError, match="not UTF-8"):
        late.read_extensions(binary)
    with pytest.raises(late.ExtensionsError, match="cannot be read"):
        late.read_extensions(tmp_path / "absent.csv")


def test_batch_refuses_a_bad_extensions_file_before_grading_anything(tmp_path):
    bad = tmp_path / "ext.csv"
    bad.write_text(f"student,assignment,due\nbob,{A},next friday\ncy,nope,2026-03-05T23:59:00Z\n")
    examples.write_submission(tmp_path / "submitted", "ada", text="{}")
    done = cli("batch", tmp_path / "submitted", "--out", tmp_path / "graded", "--extensions", bad, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "line 2: the due date 'next friday'" in done.stderr and "line 3: unknown assignment 'nope'" in done.stderr
    assert not (tmp_path / "graded" / A).exists()  # nothing graded, nothing written


def test_every_door_refuses_a_bad_extensions_file(tmp_path):
    bad = tmp_path / "ext.csv"
    bad.write_text(f"student,assignment,due\nbob,{A},2026-03-05\n")
    (tmp_path / "submitted").mkdir()
    for args in (("watch", tmp_path / "submitted", "--out", tmp_path / "graded"),
                 ("merge-shards", tmp_path / "merged", tmp_path / "shard-1"),
                 ("merge-manual", tmp_path / "graded", tmp_path / "scores.csv")):
        done = cli(*args, "--extensions", bad, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr, (args[0], done.stderr[-2000:])
        assert "line 2: the due date '2026-03-05' is not an ISO 8601 time with a UTC offset" in done.stderr, args[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ext.csv", "submitted"]  # nothing written


def test_watch_judges_each_page_it_delivers(tmp_path):
    from autograder.watch import landing, loop
    (tmp_path / "submitted").mkdir()
    (tmp_path / "extensions.csv").write_text(f"student,assignment,due\nada,{A},{at(DAY)}\n")
    watch = loop.Watch(tmp_path / "submitted", tmp_path / "graded")
    lt = results.Lateness(submitted_at=at(DAY + 6), source="timestamp.txt")  # 6 minutes after the extension
    notebook = tmp_path / "submitted" / "ada" / A / f"{A}.ipynb"
    with pytest.MonkeyPatch.context() as m:
        m.setitem(course_config.DUE_DATES, A, DUE)
        m.setattr(course_config, "LATE_POLICY", dict(POLICY))
        watch.deadlines = late.deadlines(tmp_path / "graded", say=False)
        watch.deliver(landing.Landed(A, "ada", notebook, notebook.parent, 0.0, ()), _result(lateness=lt))
    data = read_results(tmp_path / "graded" / A / "ada" / "results.json")
    assert data["extra_data"]["lateness"]["extension"] == at(DAY) and data["score"] == 25  # 28 - 3


def test_the_config_check_refuses_a_bad_policy():
    settings = {k: v for k, v in vars(course_config).items() if k.isupper()}
    problems = course_config._problems({**settings, "LATE_POLICY": {"grace_minutes": 5, "percent_per_day": -1,
                                                                    "max_percent": 150, "extensions_file": 3,
                                                                    "max_percnt": 5}})
    assert "LATE_POLICY: percent_per_day must be a percentage from 0 to 100, not -1" in problems
    assert "LATE_POLICY: max_percent must be a percentage from 0 to 100, not 150" in problems
    assert "LATE_POLICY: extensions_file must be a path or None, not 3" in problems
    assert any(p.startswith("LATE_POLICY: unknown key 'max_percnt'") for p in problems)
    assert not course_config._problems(settings)


# ---- one batch, end to end ------------------------------------------------------------------------------------
def _stamp(submitted, student, when):
    """nbgrader's timestamp.txt, in its own format."""
    text = dt.datetime.fromisoformat(when).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    (submitted / student / A / "timestamp.txt").write_text(text)


def _csv(out):
    return {r["student"]: r for r in csv.DictReader(io.StringIO((out / A / "grades.csv").read_text()))}


def _gradebook(db):
    from autograder.integrations.gradebook import open_gradebook
    with open_gradebook(db) as gb:
        return {s.student.id: (s.score, s.late_submission_penalty, s.extension, round(s.total_seconds_late))
                for s in gb.assignment_submissions(A)}


@pytest.mark.slow  # grades one complete notebook (the other two are unreadable files)
def test_a_batch_shows_lateness_everywhere_and_a_changed_policy_only_re_renders(tmp_path, monkeypatch):
    monkeypatch.setitem(course_config.DUE_DATES, A, DUE)
    monkeypatch.setattr(course_config, "LATE_POLICY", dict(POLICY))
    submitted, out, db = tmp_path / "submitted", tmp_path / "graded", f"sqlite:///{tmp_path / 'gradebook.db'}"
    examples.write_submission(submitted, "late", examples.notebook("solutions"))
    examples.write_submission(submitted, "extended", text='{"cells": [')
    examples.write_submission(submitted, "capped", text='{"cells": [')
    _stamp(submitted, "late", "2026-03-04T10:00:00+00:00")      # 34 h 1 min late: 2 days, 20 % of 30 = 6
    _stamp(submitted, "extended", "2026-03-05T12:00:00+00:00")  # late for the course, on time for its extension
    _stamp(submitted, "capped", "2026-03-10T00:00:00+00:00")    # 7 days 1 min: 8 days, 80 % -> 50 % = 15
    (tmp_path / "extensions.csv").write_text(f"student,assignment,due\nextended,{A},2026-03-05T23:59:00+00:00\n")

    graded, _ = run_batch(submitted, out, assignments=[A], jobs=1, gradebook=db)
    rows = _csv(out)
    assert (rows["late"]["total"], rows["late"]["penalty"], rows["late"]["days_late"], rows["late"]["max"]) == (
        "22", "6", "2", "30")  # 28 - 6
    assert rows["late"]["minutes_late"] == "2041.0" and rows["late"]["extension"] == ""
    assert (rows["extended"]["late"], rows["extended"]["penalty"], rows["extended"]["extension"]) == (
        "0", "0", "2026-03-05T23:59:00+00:00")
    assert (rows["capped"]["total"], rows["capped"]["penalty"], rows["capped"]["days_late"]) == ("0", "15", "8")
    assert graded[A]["late"]["score"] == 22 and graded[A]["capped"]["score"] == 0  # results.json
    md = (out / "feedback" / "late" / A / "feedback.md").read_text()
    assert "Late penalty: 6 points" in md and "Total after it: 22 / 30" in md
    extended = (out / "feedback" / "extended" / A / "feedback.md").read_text()
    assert "Submitted on time** for your extended due date" in extended
    report = (out / A / "report" / "index.html").read_text()
    assert "penalty 6 points (20 %), total after it 22" in report
    assert "extended: due 2026-03-05T23:59:00+00:00; on time" in report
    assert _gradebook(db) == {"late": (28, 6, None, 2041 * 60), "extended": (0, 0, dt.timedelta(days=3), 0),
                              "capped": (0, 15, None, (7 * DAY + 1) * 60)}  # nbgrader's export: 28 - 6, ...
    records = {p: p.read_bytes() for p in (out / A).glob("*/graded.json")}

    # a hand score: added, then the same penalty once: 28 + 2 - 6
    scores = tmp_path / "scores.csv"
    scores.write_text("student,grade_id,max_points,score,comment\nlate,bimodal_discussion,2,2,good\n")
    manual.merge(out, scores)
    assert (_csv(out)["late"]["total"], _csv(out)["late"]["penalty"]) == ("24", "6")

    # a new policy and other extensions: re-rendered from the records; nothing is graded or executed again
    monkeypatch.setattr(course_config, "LATE_POLICY", dict(POLICY, percent_per_day=25))
    (tmp_path / "extensions.csv").write_text(f"student,assignment,due\nlate,{A},2026-03-03T23:59:00+00:00\n")

    def executes(*args, **kwargs):
        raise AssertionError("a changed late policy or extension executed a notebook")
    monkeypatch.setattr(batch, "_grade", executes)
    monkeypatch.setattr(batch, "_sandbox_mode", executes)
    run_batch(submitted, out, assignments=[A], jobs=1, gradebook=db)
    rows = _csv(out)
    # late: 10 h 1 min after its extension: 1 day, 25 % of 30 = 7.5; 28 + 2 - 7.5 = 22.5
    assert (rows["late"]["total"], rows["late"]["penalty"], rows["late"]["extension"]) == (
        "22.5", "7.5", "2026-03-03T23:59:00+00:00")
    # extended: no extension now: 2 days 12 h 1 min late, 3 days, 75 % -> 50 % = 15
    assert (rows["extended"]["late"], rows["extended"]["penalty"], rows["extended"]["extension"]) == ("1", "15", "")
    assert {p: p.read_bytes() for p in (out / A).glob("*/graded.json")} == records  # the verdicts are untouched
    assert read_results(out / A / "late" / "results.json")["score"] == 22.5
    assert _gradebook(db)["late"] == (30, 7.5, dt.timedelta(days=1), 601 * 60)  # 28 + 2 by hand; nbgrader takes 7.5
