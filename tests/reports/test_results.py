"""The typed result (autograder/results.py): statuses from pytest's report data, the schema, the renderers."""
import csv
import io
import json
import subprocess
import sys
import textwrap

import jsonschema
import pytest

import course_config
from autograder.render.progress import Progress
from autograder import batch, course, grade, render, results
from autograder.submissions import extract, intake
from autograder.authoring import examples
from autograder.render import feedback

ASSIGNMENT = "normalising_flows"


def _result(status="failed", message="wrong", **kwargs):
    checks = grade.check_results(ASSIGNMENT, "passed")
    checks[0].status, checks[0].message = status, message
    return results.SubmissionResult(assignment=ASSIGNMENT, checks=checks, manual=course.manual_cells(ASSIGNMENT),
                                    **kwargs)


# ---- statuses, decided from pytest's report data -----------------------------------------------------------
RUN_CHECKS = textwrap.dedent("""
    import json, sys
    from autograder import checks, course, grade, reference
    from autograder.worker.client import WorkerDied
    nf = course.protocol("normalising_flows")
    kind = sys.argv[1]

    class Dead:
        def ask(self, request):
            raise WorkerDied("the worker running your code stopped: it was killed (SIGKILL)")

    def ask(request):  # a student's failure whose text looks like a crash of the grader
        raise nf.CheckFailure("Traceback (most recent call last):\\n  File x, line 1\\nValueError: mine")

    if kind == "grader_bug":  # a bug in the grader's own check code: not a CheckFailure
        def broken(*args):
            raise KeyError("a bug in the grader's own check code")
        checks.run_test_cell = broken

    ref = reference.load_reference("normalising_flows")
    plugin = grade._Plugin("normalising_flows", None, ref)
    plugin._ask = grade._asker("normalising_flows", Dead(), plugin.worker_died) if kind == "dead" else ask
    found = grade.run_checks("normalising_flows", plugin._ask, ref, plugin)
    print(json.dumps({t: [c.status, c.message] for t, c in found.items()}))
""")


@pytest.fixture(scope="module")
def statuses():
    out = {}
    for kind in ("student_traceback", "grader_bug", "dead"):
        proc = subprocess.run([sys.executable, "-c", RUN_CHECKS, kind], capture_output=True, text=True,
                              cwd=course_config.ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_a_students_message_that_says_traceback_is_a_failure_not_a_grader_error(statuses):
    found = statuses["student_traceback"]
    assert len(found) == len(course.test_cells(ASSIGNMENT))
    assert {s for s, _ in found.values()} == {"failed"}
    assert all("ValueError: mine" in m for _, m in found.values())


def test_an_exception_in_the_check_code_is_an_internal_error(statuses):
    found = statuses["grader_bug"]
    assert {s for s, _ in found.values()} == {"error"}
    assert all(m == "the grader could not run this check (internal error); please tell your instructor"
               for _, m in found.values())


def test_a_dead_worker_makes_the_check_a_limit_hit(statuses):
    found = statuses["dead"]
    assert {s for s, _ in found.values()} == {"limit"}
    assert all("SIGKILL" in m for _, m in found.values())


# ---- the stored form -------------------------------------------------------------------------------------
def test_results_json_round_trips_and_validates():
    r = _result(students=[results.Student("Ada", "123", "ada@example.com", 7)],
                lateness=intake.lateness("2026-03-02T10:00:00+01:00", "2026-03-01T23:59:00Z", {"grace_minutes": 5}))
    r.checks[0].mistake = "acl-wrong-sign"
    stored = r.to_gradescope()
    results.validate(stored)
    again = results.SubmissionResult.from_gradescope(json.loads(json.dumps(stored)))
    assert again.to_gradescope() == stored
    assert again.checks[0].mistake == "acl-wrong-sign" and again.lateness.late and again.students[0].sid == "123"


def test_points_come_from_the_notebook_metadata():
    stored = _result().to_gradescope()
    maxima = {t["extra_data"]["grade_id"]: t["max_score"] for t in stored["tests"]}
    assert maxima == {c["test_id"]: c["points"] for c in course.test_cells(ASSIGNMENT)}


@pytest.mark.parametrize("breakage", [
    lambda d: d.update(visibility="students_only"),
    lambda d: d["tests"][0].update(status="limit"),  # Gradescope knows passed/failed only
    lambda d: d["tests"][0]["extra_data"].update(status="crashed"),
    lambda d: d["tests"][0].update(score=-1),
    lambda d: d["tests"][1].update(status="passed") or d["tests"][1]["extra_data"].update(status="failed"),
    lambda d: d["extra_data"].pop("assignment"),
    lambda d: d.update(surprise=1),
])
def test_the_schema_rejects_what_gradescope_or_our_readers_could_not_use(breakage):
    stored = _result().to_gradescope()
    breakage(stored)
    with pytest.raises(jsonschema.ValidationError):
        results.validate(stored)


def test_hidden_checks_get_the_configured_visibility():
    stored = _result().to_gradescope({"hidden_check_visibility": "after_due_date"})
    vis = {t["extra_data"]["hidden"]: t["visibility"] for t in stored["tests"]}
    assert vis == {True: "after_due_date", False: "visible"}
    assert _result().to_gradescope()["tests"][-1]["visibility"] == course_config.GRADESCOPE["hidden_check_visibility"]


def test_gradescope_output_does_not_show_hidden_checks_results():
    r = _result()
    hidden = next(c for c in r.checks if c.hidden)
    hidden.status, hidden.message = "failed", "HIDDEN-DETAIL"
    md = render.results_json(r)["output"]
    assert "HIDDEN-DETAIL" not in md and hidden.description not in md and "hidden check" in md
    assert "HIDDEN-DETAIL" in feedback.markdown(r, "s")  # the batch feedback, released after grading, has it


# ---- lateness --------------------------------------------------------------------------------------------
def test_nbgrader_timestamps_and_the_grace_period():
    policy = {"grace_minutes": 5}
    assert not intake.lateness("2026-03-02 00:04:00.000000 UTC", "2026-03-02T00:00:00+00:00", policy).late
    late = intake.lateness("2026-03-02 00:06:00.000000 UTC", "2026-03-02T00:00:00+00:00", policy)
    assert late.late and late.minutes_late == 6
    assert not intake.lateness(None, "2026-03-02T00:00:00Z", policy).late
    assert intake.parse_time("not a time") is None


def test_batch_reads_the_nbgrader_timestamp_next_to_the_notebook(tmp_path, monkeypatch):
    folder = tmp_path / "alice" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text("2026-03-03 12:00:00.000000 UTC")
    monkeypatch.setitem(course_config.DUE_DATES, ASSIGNMENT, "2026-03-02T23:59:00+00:00")
    late = intake.submission_lateness(folder / f"{ASSIGNMENT}.ipynb", ASSIGNMENT)
    assert late.late and late.source == "timestamp.txt" and late.minutes_late == 12 * 60 + 1
    monkeypatch.setitem(course_config.DUE_DATES, ASSIGNMENT, None)
    kept = intake.submission_lateness(folder / f"{ASSIGNMENT}.ipynb", ASSIGNMENT)
    assert not kept.late and kept.submitted_at == "2026-03-03T12:00:00+00:00" and kept.due is None
    (folder / "timestamp.txt").unlink()
    assert intake.submission_lateness(folder / f"{ASSIGNMENT}.ipynb", ASSIGNMENT) is None


# ---- renderers -------------------------------------------------------------------------------------------
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_a_passed_checks_note_reaches_the_feedback_and_survives_the_record():
    """A check that passed after following through on a mistake charged elsewhere says how it was judged."""
    note = "judged as you wrote it, with `acl-inverted-mask` already charged in affine_coupling_layer_contract"
    r = _result(status="passed", message=note)
    stored = r.to_gradescope()
    results.validate(stored)
    assert stored["tests"][0]["output"] == "passed: " + note and stored["tests"][0]["extra_data"]["note"] == note
    again = results.SubmissionResult.from_gradescope(json.loads(json.dumps(stored)))
    assert again.checks[0].message == note and again.to_gradescope() == stored
    assert "acl-inverted-mask" in feedback.markdown(again, "student") and "acl-inverted-mask" in feedback.html_feedback(
        again, "student")


def test_feedback_escapes_everything_from_the_submission():
    r = _result(message=HOSTILE + " ```", cell_output="```\n" + HOSTILE + "\n````",
                notes=[results.Note("cell_error", HOSTILE, where="the cell starting `x`")])
    page = feedback.html_feedback(r, HOSTILE)
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page
    md = feedback.markdown(r, HOSTILE)
    outside_fence = md.split("## Output of your notebook")[0]
    assert "<script>" not in outside_fence and "<img" not in outside_fence
    fence = md.split("## Output of your notebook")[1]
    bar = fence.strip().splitlines()[2]
    assert set(bar) == {"`"} and len(bar) > 4  # longer than the student's own runs of backticks
    assert fence.strip().endswith(bar)


def test_feedback_names_cells_as_the_student_sees_them():
    nb = examples.notebook("solutions")
    code = extract.labelled_code(nb, ASSIGNMENT)
    assert len(code.labels) == len(code.sources)
    at = next(i for i, lab in enumerate(code.labels) if "affine_coupling_layer" in lab)

    class Worker:
        skips = [(at, "it exited with code 3")]
        cell_errors = [(at + 1, "Traceback...\nNameError: name 'flow' is not defined")]
        deaths = ["the worker running your code stopped: it exited with code 3"]
        held = None  # no hidden check had begun

        class output:
            @staticmethod
            def text():
                return ""
    r = grade.assemble(ASSIGNMENT, grade.check_results(ASSIGNMENT, "passed"), code, Worker, 0)
    md = feedback.markdown(r, "s")
    assert "your answer to exercise `affine_coupling_layer` was skipped" in md
    assert "NameError: name 'flow' is not defined" in md and code.labels[at + 1] in md
    assert "code cell" not in md and "cell 5" not in md
    assert all(n.where for n in r.notes if n.kind != "limit" or "skipped" in n.text)


def test_grades_csv_has_items_total_status_lateness_and_ids():
    r = _result(students=[results.Student("Ada", "=1+1", "ada@example.com")],
                lateness=intake.lateness("2026-03-03T00:00:00Z", "2026-03-02T00:00:00Z", {"grace_minutes": 5}))
    text = render.grades_csv({"ada": r, "bob": _result(status="passed")}, ASSIGNMENT)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["total"] == f"{r.score:g}" and rows[0]["max"] == f"{r.max_score:g}"
    assert rows[0]["late"] == "1" and rows[0]["minutes_late"] == "1440.0" and rows[1]["late"] == "0"
    assert rows[0]["sid"] == "'=1+1" and rows[0]["email"] == "ada@example.com"  # no formula from a student id
    assert rows[1]["status"] == "graded"


def test_grades_csv_has_a_column_per_written_answer_and_one_max():
    """The max is the assignment's (autograded plus written), on every row, hand-scored or not; a written
    answer's cell stays empty until a TA scores it, and no total exceeds the max."""
    written = [gid for gid, _ in course.manual_cells(ASSIGNMENT)]
    auto = sum(c["points"] for c in course.test_cells(ASSIGNMENT))
    manual = sum(points for _, points in course.manual_cells(ASSIGNMENT))
    assert written and manual > 0
    full = _result(status="passed").with_hand_scores({written[0]: results.HandScore(manual, "good")})
    text = render.grades_csv({"ada": full, "bob": _result(status="passed")}, ASSIGNMENT)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["max"] for row in rows] == [f"{auto + manual:g}"] * 2
    assert rows[0][written[0]] == f"{manual:g}" and rows[1][written[0]] == ""
    assert float(rows[0]["total"]) == auto + manual and float(rows[1]["total"]) == auto
    assert all(float(row["total"]) <= float(row["max"]) for row in rows)


def test_hand_scores_survive_the_record_round_trip_apart_from_the_verdict():
    """A result with a hand score renders it as a test entry; read back, the hand score is the HandScore again
    and its autograded part (what a batch records) has none."""
    gid, points = course.manual_cells(ASSIGNMENT)[0]
    r = _result().with_hand_scores({gid: results.HandScore(1.5, "half the argument")})
    again = results.SubmissionResult.from_gradescope(r.to_gradescope())
    assert again.hand == {gid: results.HandScore(1.5, "half the argument")}
    assert again.score == r.score == r.auto_score + 1.5 and again.max_score == r.max_score
    assert again.autograded().hand == {} and again.autograded().score == r.auto_score
    assert again.pending() == [] and _result().pending() == [(gid, points)]


def test_progress_without_a_terminal_writes_plain_lines():
    """From the first second: the slots starting, each submission as it starts and ends, the count left and,
    once one has ended, the time left at this run's pace."""
    stream = io.StringIO()
    p = Progress(4, 1, stream=stream)
    p.starting(2)
    p.started("a/alice")
    p.started("a/bob")
    p.update(2, "a/alice")
    p.update(3, "a/bob")
    p.update(4, "a/carol")
    p.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and len(lines) == 7
    assert lines[0] == "grading 4 submissions (1 already graded)" and lines[1].endswith("starting 2 grading slots")
    assert lines[2].endswith("started a/alice") and lines[3].endswith("started a/bob")
    assert lines[4].startswith("[2/4]") and lines[4].endswith("a/alice; 2 left")
    assert lines[5].startswith("[3/4]") and lines[5].endswith("a/bob; 1 left, about 1 s")
    assert lines[6].startswith("[4/4]") and lines[6].endswith("none left")


def test_progress_estimates_the_time_left_from_this_runs_pace():
    """At the pace of the ends after the first (the first waited for the slots to start)."""
    p = Progress(10, 2, stream=io.StringIO())
    p.began -= 30
    p.update(3, "a/first")  # the first end, 30 s in
    assert p.left(3) == "7 left"  # one end: no pace yet
    p.began -= 12  # 42 s in: three more have ended, 4 s each
    assert p.left(6) == "4 left, about 16 s"
    assert p.left(10) == "none left"


def test_progress_on_a_terminal_uses_rich():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    stream = Tty()
    p = Progress(2, stream=stream)
    p.starting(1)
    p.started("a/alice")
    p.update(2, "a/alice")
    p.close()
    assert p.live and "2/2" in stream.getvalue()


def test_an_array_whose_elements_have_no_bytes_is_refused_before_any_cast():
    """A .npy header of dtype V0 and a billion elements is 200 bytes on the wire; casting it would take 8 GB."""
    import base64
    import io as _io
    import numpy as np
    from autograder.worker import wire
    buf = _io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|V0", "fortran_order": False, "shape": (10**9,)})
    line = json.dumps({"value": {"__npy__": base64.b64encode(buf.getvalue()).decode()}})
    assert len(line) < 300
    with pytest.raises(ValueError, match="not an answer"):
        wire.loads(line)
    assert wire.loads(wire.dumps({"value": np.arange(3.0)}))["value"].tolist() == [0.0, 1.0, 2.0]


# ---- caps: every text a result keeps, and its results.json (issue 26, case 5) ------------------------------------
TEXT_LIMIT = 64 * 2**10  # issue 26: at most 64 KiB a text, with a note saying how much was cut
RESULTS_LIMIT = 2**20  # and at most 1 MiB of results.json


def test_every_text_a_result_keeps_is_capped_with_a_note_of_what_was_cut():
    """Set by the constructor or later (the pytest plugin fills a check's message when the check ends), read back
    from a record: each text is at most 64 KiB and says how many bytes were cut; a short text is left as it is."""
    big = "é" * 5_000_000  # 10 MB of UTF-8
    r = _result(message=big, reason=big, cell_output=big, notes=[results.Note("cell_error", big, where=big)])
    r.checks[1].status, r.checks[1].message = "failed", big
    r.students.append(results.Student(name=big))
    texts = [r.checks[0].message, r.checks[1].message, r.reason, r.cell_output, r.notes[0].text, r.notes[0].where,
             r.students[0].name]
    for text in texts:
        assert len(text.encode()) <= TEXT_LIMIT and text.startswith("éé")
        kept = len(text.encode()) - len(text.rsplit(" [", 1)[1].encode()) - 2
        assert text.endswith(f" [... cut here: {len(big.encode()) - kept} more bytes]"), text[-80:]
    one = _result(message=big)
    again = results.SubmissionResult.from_gradescope(one.to_gradescope())
    assert again.checks[0].message == one.checks[0].message  # cut once, not again when read back
    assert _result(message="short").checks[0].message == "short"


def test_results_json_stays_under_a_megabyte_whatever_the_texts():
    """Every check failed with a 10 MB message and the feedback in ``output`` repeats them all: the whole
    results.json is still at most 1 MiB, follows the schema, and keeps every test entry and the score."""
    r = _result()
    for check in r.checks:
        check.status, check.message = "failed", "x" * 10_000_000
    r.notes = [results.Note("cell_error", "y" * 10_000_000) for _ in range(10)]
    for data in (render.results_json(r), r.to_gradescope(output="z" * 10**8)):
        assert len(json.dumps(data, indent=1).encode()) <= RESULTS_LIMIT  # as the store writes it
        results.validate(data)
        assert len(data["tests"]) == len(r.checks) and data["score"] == r.score
        assert all(t["output"].startswith("xx") and "more bytes]" in t["output"] for t in data["tests"])
