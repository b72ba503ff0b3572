"""A term, not one batch: interrupts, regrades, fixed checks, misplaced notebooks and bad input, through the CLI as
an instructor runs it. Every comparison is with the grades of a clean, uninterrupted run of the same batch."""
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import course_copy, read_results, write_term_submissions

import course_config
from autograder import course, reference, results
from autograder.submissions import intake

A = "normalising_flows"
ROOT = course_config.ROOT


def _batch(submitted, out, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "autograder", "batch", str(submitted), "--out", str(out),
                           "--assignment", A, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _submissions(root):
    """Four students: complete, partly wrong, untouched, and a notebook of the other assignment."""
    return write_term_submissions(root / "submitted", A)


def _grades(out):
    return (out / A / "grades.csv").read_text()


def _scores(out):
    """{student: (status, {test grade_id: score})} from the rendered results.json files."""
    found = {}
    for path in sorted((out / A).glob("*/results.json")):
        data = read_results(path)
        found[path.parent.name] = (data["extra_data"]["status"],
                                   {t["extra_data"]["grade_id"]: t["score"] for t in data["tests"]})
    return found


@pytest.fixture
def clean(term_batch):
    """The session's term batch (``conftest.term_batch``): the clean run every test here compares with."""
    return term_batch


@pytest.mark.slow  # grades a batch (the clean run)
def test_the_clean_run_gives_each_case_its_grade(clean):
    submitted, out, _ = clean
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(_grades(out)))}
    auto = sum(c["points"] for c in course.test_cells(A))
    assert float(rows["complete"]["total"]) == auto and rows["complete"]["status"] == "graded"
    assert 0 < float(rows["partly_wrong"]["total"]) < auto
    assert float(rows["untouched"]["total"]) == 0
    assert rows["other_one"]["status"] == "wrong_assignment" and float(rows["other_one"]["total"]) == 0
    assert (rows["absent"]["status"], rows["broken"]["status"]) == ("missing", "unreadable")
    assert float(rows["absent"]["total"]) == float(rows["broken"]["total"]) == 0
    assert len({r["max"] for r in rows.values()}) == 1
    feedback = (out / "feedback" / "other_one" / A / "feedback.md").read_text()
    assert "`realnvp_multiscale`" in feedback
    assert "wrong_assignment" in (out / A / "report" / "index.html").read_text()


@pytest.mark.slow  # grades a batch (the clean run)
def test_a_rerun_with_nothing_changed_grades_nothing_and_starts_no_tensorflow(clean, tmp_path):
    submitted, out, _ = clean
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    records = {p: p.stat().st_mtime_ns for p in copy.rglob("graded.json")}
    proc = _batch(submitted, copy)
    assert proc.returncode == 0, proc.stderr
    assert "6 already graded, unchanged" in proc.stderr and "to grade" not in proc.stderr
    assert "containment" not in proc.stderr  # no sandbox, no zygote: nothing to grade
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("graded.json")} == records
    assert _grades(copy) == _grades(out)


@pytest.mark.slow  # grades a batch (the clean run)
def test_a_changed_check_regrades_exactly_its_assignment_and_says_why(clean, tmp_path, monkeypatch):
    """Fingerprints: a change in a check module of the assignment regrades everyone of it, naming the cause;
    --regrade STUDENT regrades one student; an unknown name is refused."""
    submitted, out, _ = clean
    current = results.fingerprint(A, "x")
    record = json.loads((out / A / "complete" / "graded.json").read_text())["extra_data"]["fingerprint"]
    assert {k: v for k, v in record.items() if k != "submission"} == {k: v for k, v in current.items()
                                                                      if k != "submission"}
    changed = dict(record, checks="0" * 64)
    assert results.fingerprint_changes(changed, dict(record)) == ["checks"]
    assert results.regrade_reason(["checks"], A) == f"the checks of {A} changed"
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    path = copy / A / "untouched" / "graded.json"  # as if graded under other checks
    data = json.loads(path.read_text())
    data["extra_data"]["fingerprint"]["checks"] = "0" * 64
    path.write_text(json.dumps(data))
    proc = _batch(submitted, copy)
    assert proc.returncode == 0, proc.stderr
    assert f"1 to grade: the checks of {A} changed" in proc.stderr and "5 already graded" in proc.stderr
    proc = _batch(submitted, copy, "--regrade", "complete")
    assert "1 to grade: asked with --regrade" in proc.stderr
    assert _grades(copy) == _grades(out)
    proc = _batch(submitted, copy, "--regrade", "nobody_here")
    assert proc.returncode == 2 and "no submission from nobody_here" in proc.stderr


@pytest.mark.slow  # three commands, one of them starting TensorFlow
def test_stale_reference_values_are_refused(tmp_path):
    """A hidden input changed without make reference: validate, grade and batch refuse, naming make reference.
    In a copy of the course, so that nothing graded meanwhile from the repository sees stale values."""
    root = course_copy(tmp_path / "course")
    sidecar = root / reference.inputs_file(A).relative_to(ROOT)
    assert sidecar.exists()
    sidecar.write_text(json.dumps({"inputs_sha256": "0" * 64}))
    solution = str(root / course_config.SOLUTION_DIR / A / f"{A}.ipynb")
    submitted = write_term_submissions(tmp_path / "submitted", A)
    for command in (["validate"], ["reference", "--check"], ["grade", solution, "--out", str(tmp_path / "r.json")],
                    ["batch", str(submitted), "--out", str(tmp_path / "out")]):
        proc = subprocess.run([sys.executable, "-m", "autograder", *command], cwd=root, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode != 0 and "make reference" in proc.stdout + proc.stderr, command
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "out").exists()
    assert reference.stale(A) is None  # the repository's own values were never touched


def test_the_stale_check_sees_a_changed_hidden_input(monkeypatch):
    from autograder import checks
    module = checks.item_module(A, "independent_bernoulli")
    before = reference.inputs_digest(A)
    monkeypatch.setitem(module.REQUESTS, "probe", {"op": "log_prob", "x": [0.0, 1.0, 1.0]})
    assert reference.inputs_digest(A) != before


@pytest.mark.parametrize("target, expected", [
    ("nosuch.ipynb", "no such file"),
    ("README.md", "not valid JSON"),
    ("autograder", "is a folder"),
])
def test_grade_refuses_what_is_not_a_notebook_in_one_line(target, expected, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", target, "--out", str(tmp_path / "r.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and expected in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "r.json").exists()


# ---- interrupts: the property -------------------------------------------------------------------------------
KILL_POINTS = [(sig, jobs, fraction) for jobs in (1, 2) for sig in (signal.SIGINT, signal.SIGKILL)
               for fraction in (0.15, 0.35, 0.55, 0.75, 0.95)]


def _records(out):
    found = {}
    for path in (out / A).glob("*/graded.json"):
        data = json.loads(path.read_text())
        found[path.parent.name] = (data["extra_data"]["status"],
                                   {t["extra_data"]["grade_id"]: t["score"] for t in data["tests"]})
    return found


@pytest.mark.slow
def test_interrupts_at_20_moments_never_change_a_grade(clean, tmp_path):
    """Kill the batch with SIGINT (as Ctrl-C: the whole process group) or SIGKILL at 20 moments, with one and
    with two slots. After each kill every record present is exactly the clean run's, a SIGINT ends in one line
    and exit 130, and a plain rerun gives the clean run's grades.csv byte for byte. Each kill run regrades
    everyone (--regrade), so the kills land while grading; every fourth starts from nothing."""
    submitted, out, seconds = clean
    want_csv, want = _grades(out), _scores(out)
    want_records = _records(out)
    work = tmp_path / "out"
    for n, (sig, jobs, fraction) in enumerate(KILL_POINTS):
        if n % 4 == 0:
            shutil.rmtree(work, ignore_errors=True)
        command = [sys.executable, "-m", "autograder", "batch", str(submitted), "--out", str(work),
                   "--assignment", A, "--jobs", str(jobs), "--regrade"]
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        time.sleep(max(0.2, fraction * seconds))
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        _, err = proc.communicate(timeout=120)
        where = f"kill point {n}: {signal.Signals(sig).name}, --jobs {jobs}, after {fraction:.0%}"
        if sig == signal.SIGINT and proc.returncode != 0:
            assert proc.returncode == 130, (where, err[-2000:])
            assert "Traceback" not in err, (where, err[-3000:])
            lines = [line for line in err.splitlines() if line.startswith("interrupted:")]
            assert len(lines) == 1 and "rerun" in lines[0], (where, err[-2000:])
        for student, record in _records(work).items():
            assert record == want_records[student], (where, student)
        rerun = _batch(submitted, work)
        assert rerun.returncode == 0, (where, rerun.stderr[-2000:])
        assert _grades(work) == want_csv, where
        assert _scores(work) == want, where
    assert not list(work.rglob(".tmp-*"))


@pytest.mark.slow  # grades a batch (the clean run)
def test_the_gradebook_step_skips_a_notebook_of_another_assignment(clean, tmp_path):
    """nbgrader's own steps would crash the whole class on it (OverwriteCells looks for cells it lacks): the
    gradebook gets 0 for each of its grade cells and no autograded notebook, and everyone else is written."""
    from nbgrader.api import Gradebook

    from autograder import render, store
    submitted, out, _ = clean
    shutil.copytree(out, tmp_path / "out")
    s = store.Store(tmp_path / "out")
    found, _ = intake.find_submissions(submitted, [A])
    paths = {student: path for (_, student), path in found.items()}
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    render.assignment(s, A, render.stored_results(s, A), gradebook=db, submissions=paths, within=submitted)
    assert (tmp_path / course_config.AUTOGRADED_DIR / "complete" / A / f"{A}.ipynb").exists()
    assert not (tmp_path / course_config.AUTOGRADED_DIR / "other_one").exists()
    with Gradebook(db, course_config.COURSE_ID) as gb:
        grades = gb.find_submission_notebook(A, A, "other_one").grades
        assert grades and all((g.auto_score or 0) == 0 for g in grades)
        assert gb.find_submission(A, "complete").score == sum(c["points"] for c in course.test_cells(A))


@pytest.mark.slow  # starts the batch's slots four times (no submission is graded to the end)
def test_a_ctrl_c_while_the_slots_start_prints_no_traceback(tmp_path):
    """The slots and their zygotes are separate interpreters in the batch's process group. A Ctrl-C that lands
    while they are still importing is held until they ignore it: the instructor sees the one 'interrupted' line,
    never a KeyboardInterrupt traceback from a helper (found by the kill points above under load)."""
    submitted = _submissions(tmp_path)
    for delay in (0.0, 0.3, 1.0, 2.0):  # after the batch names its containment: the slots are starting
        proc = subprocess.Popen([sys.executable, "-m", "autograder", "batch", str(submitted), "--out",
                                 str(tmp_path / "out"), "--jobs", "2", "--regrade"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("containment"):
                break
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        err = "".join(seen) + proc.communicate(timeout=120)[1]
        assert proc.returncode == 130, (delay, err[-2000:])
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, (delay, err[-3000:])
        assert [line for line in err.splitlines() if line.startswith("interrupted:")], (delay, err[-2000:])


def _zygotes(session):
    """{pid: parent pid} of the zygote processes (``python -m autograder.worker.zygote``, and their forks) in
    ``session``."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry.name}/stat").read()
            cmdline = open(f"/proc/{entry.name}/cmdline", "rb").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if int(fields[3]) == session and b"autograder.worker.zygote" in cmdline:
            found[int(entry.name)] = int(fields[1])
    return found


@pytest.mark.slow  # grades a batch of 4
def test_a_batchs_slots_share_one_interpreter_that_imported_tensorflow(clean, tmp_path):
    """Issue 27: the fixed cost paid once. Every slot's zygote is a fork of one mother interpreter (the only
    zygote whose parent is not a zygote), and a batch of two slots ends with none of them left."""
    submitted, _, _ = clean
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "batch", str(submitted), "--out", str(tmp_path / "o"),
                             "--assignment", A, "--jobs", "2"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen = {}
    while proc.poll() is None:
        seen.update(_zygotes(proc.pid))
        time.sleep(0.05)
    assert proc.returncode == 0, proc.stderr.read()[-2000:]
    roots = [pid for pid, parent in seen.items() if parent not in seen]
    assert len(roots) == 1, seen  # one interpreter imported TensorFlow
    slots = [pid for pid, parent in seen.items() if parent == roots[0]]
    assert len(slots) == 2, seen  # a zygote forked for each slot
    assert not _zygotes(proc.pid)


@pytest.mark.slow  # starts a slot and grades one untouched notebook
def test_a_slot_whose_zygote_died_records_nothing_more_and_ends():
    """The slots' zygotes live and die with their mother. A slot whose zygote is gone ends itself, so no verdict
    made without a zygote is returned, and the pool breaks (watch then starts new slots; batch gives a
    grader_error row, graded again at the next run)."""
    from concurrent.futures.process import BrokenProcessPool

    from autograder import batch
    from autograder.worker import sandbox
    from autograder.worker.zygote import stops_held
    release = ROOT / course_config.RELEASE_DIR / A / f"{A}.ipynb"
    pool = batch.slot_pool(1, sandbox.detect())
    try:
        with stops_held():
            first = pool.submit(batch._slot_grade, release, A, None, None)
        assert first.result(timeout=300).status == "graded"
        os.kill(pool.mother.process.pid, signal.SIGKILL)
        second = pool.submit(batch._slot_grade, release, A, None, None)
        with pytest.raises(BrokenProcessPool):
            second.result(timeout=300)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
