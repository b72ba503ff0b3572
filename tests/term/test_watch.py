"""``watch``: grading on submit. The slow test submits through nbgrader's exchange (release, fetch, submit as
students), grades with ``watch --exchange``, and fetches our feedback with ``nbgrader fetch_feedback``: hidden
results held, then released; a resubmission regraded; a half-copied submission not read until it is whole;
SIGINT (130) and SIGTERM (0) with nothing half-recorded; and a later ``batch`` that regrades nothing. The fast
tests check when a submission counts as landed."""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

import course_config
from autograder import notebooks
from autograder.authoring import examples
from autograder.integrations import nbgrader_path
from autograder.watch import landing

A = "normalising_flows"
BIN = Path(sys.executable).parent


# ---- when a submission has landed (fast) -----------------------------------------------------------------
def test_a_file_still_being_written_is_not_read_until_it_settles(tmp_path):
    folder = tmp_path / "submitted" / "ann" / A
    folder.mkdir(parents=True)
    nb = folder / f"{A}.ipynb"
    nb.write_text('{"cells": [')  # half-copied
    watched = landing.Landing(tmp_path / "submitted", settle=5.0)
    assert watched.poll(now=100.0) == []  # just written: not yet
    nb.write_text('{"cells": [], "metadata": {}}')  # the copy goes on
    assert watched.poll(now=104.0) == []  # changed since: its clock starts again
    assert watched.poll(now=108.0) == []
    [found] = watched.poll(now=109.5)  # unchanged for 5 s
    assert (found.assignment, found.student, found.notebook) == (A, "ann", nb)


def test_the_exchange_inbound_takes_complete_folders_and_each_students_newest(tmp_path):
    inbound = tmp_path / "inbound"
    old = inbound / f"ann+{A}+2026-12-07 10:00:00.000000 UTC+abc"
    new = inbound / f"ann+{A}+2026-12-07 11:00:00.000000 UTC+def"
    partial = inbound / f"bo+{A}+2026-12-07 12:00:00.000000 UTC+ghi"
    for folder in (old, new, partial):
        folder.mkdir(parents=True)
        (folder / f"{A}.ipynb").write_text("{}")
        (folder / "timestamp.txt").write_text(folder.name.split("+")[2])
    for folder in (old, new):  # submit writes the secret last
        (folder / landing.SECRET_FILE).write_text("s")
    past = time.time() - 60
    for path in inbound.rglob("*"):
        os.utime(path, (past, past))
    found = landing.Landing(inbound, exchange=True, settle=1.0).poll()
    assert [(f.student, f.folder) for f in found] == [("ann", new)]  # bo is still being copied
    assert landing.inbound_name("not-a-submission") is None


# ---- the exchange, end to end (slow) ---------------------------------------------------------------------
def _nbgrader(cwd, home, *args):
    env = {**os.environ, "HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}",
           "JUPYTER_CONFIG_DIR": str(Path(home) / ".jupyter")}
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


class _Watch:
    """``python -m autograder watch`` running in the background, its stdout lines in a queue."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder", "watch", *map(str, args)],
                                     cwd=course_config.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines, self.seen, self.taken = queue.Queue(), [], {}  # taken: how far each student's lines were read
        self.err = []  # stderr, read as it comes (a full pipe would stop the watch)
        self.out_reader = threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout],
                                           daemon=True)
        self.out_reader.start()
        self.err_reader = threading.Thread(target=lambda: [self.err.append(line) for line in self.proc.stderr],
                                           daemon=True)
        self.err_reader.start()

    def said(self, text, timeout=120):
        """Wait until a line of stderr contains ``text``."""
        end = time.monotonic() + timeout
        while not any(text in line for line in self.err):
            assert time.monotonic() < end and self.proc.poll() is None, f"no {text!r} in {''.join(self.err)[-3000:]}"
            time.sleep(0.05)

    def line(self, student, timeout=120):
        """The next stdout line of ``student``: [student, assignment, score, status, seconds]."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while self.taken.get(student, 0) < len(self.seen):
                fields = self.seen[self.taken.get(student, 0)]
                self.taken[student] = self.taken.get(student, 0) + 1
                if fields[0] == student:
                    return fields
            try:
                self.seen.append(self.lines.get(timeout=1).rstrip("\n").split("\t"))
            except queue.Empty:
                assert self.proc.poll() is None, "".join(self.err)[-3000:]
        raise AssertionError(f"no line for {student} in {timeout} s; saw {self.seen}")

    def stop(self, signum):
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=60)
        self.out_reader.join(timeout=10)
        self.err_reader.join(timeout=10)
        while not self.lines.empty():
            self.seen.append(self.lines.get().rstrip("\n").split("\t"))
        return code, "".join(self.err)


def _records(out):
    """{student: score} of every record under ``out``; each one must be whole JSON."""
    return {p.parent.name: json.loads(p.read_text())["score"] for p in (Path(out) / A).glob("*/graded.json")}


def _student(tmp_path, exchange, name, nb):
    """A student's home with the hub's nbgrader config, the assignment fetched and ``nb`` saved in it."""
    home = tmp_path / "home" / name
    (home / ".jupyter").mkdir(parents=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        nbgrader_path.student_config(exchange=True) + f"c.Exchange.root = {str(exchange)!r}\n")
    _nbgrader(home, home, "fetch_assignment", A)
    nbformat.write(notebooks.apply_parameters(nb, course_config.SHORT_BUDGET[A]), str(home / A / f"{A}.ipynb"))
    return home


def _feedback(home, name):
    _nbgrader(home, home, "fetch_feedback", A, f"--student={name}")
    pages = sorted((home / A / "feedback").glob(f"*/{A}.html"))
    assert pages, f"fetch_feedback found no feedback for {name}"
    return pages[-1].read_text()  # the newest submission's (folders are named by timestamp)


@pytest.mark.slow
def test_watch_grades_exchange_submissions_as_they_land(tmp_path):
    exchange = tmp_path / "exchange"
    course = nbgrader_path.make_course(tmp_path / "course", {}, A)
    nbgrader_path.write_course_config(course, **{"Exchange.root": str(exchange)})
    instructor = tmp_path / "instructor"
    instructor.mkdir()
    _nbgrader(course, instructor, "generate_assignment", A, "--force")
    nbgrader_path.write_release_configs(course)
    _nbgrader(course, instructor, "release_assignment", A)
    inbound = exchange / course_config.COURSE_ID / "inbound"
    out = tmp_path / "graded"
    complete, untouched = examples.notebook("solutions"), examples.notebook("release")
    alice = _student(tmp_path, exchange, "alice", complete)
    bob = _student(tmp_path, exchange, "bob", untouched)

    # carol's copy stops half-way: no submission_secret.txt yet, half of the notebook
    carol = inbound / f"carol+{A}+2026-12-07 09:00:00.000000 UTC+xyz"
    carol.mkdir()
    whole = nbformat.writes(notebooks.apply_parameters(complete, course_config.SHORT_BUDGET[A])).encode()
    (carol / f"{A}.ipynb").write_bytes(whole[: len(whole) // 2])

    watch = _Watch(inbound, "--exchange", "--out", out, "--jobs", "2")
    _nbgrader(alice, alice, "submit", A, "--student=alice")
    _nbgrader(bob, bob, "submit", A, "--student=bob")
    assert watch.line("alice")[1:4] == [A, "28/30", "graded"]
    assert watch.line("bob")[1:4] == [A, "0/30", "graded"]
    assert float(watch.seen[-1][4].rstrip("s")) < 120
    assert "carol" not in _records(out) and all(fields[0] != "carol" for fields in watch.seen)

    # held: the visible checks only (alice passes all 9 visible points), the hidden ones counted, not shown
    held = _feedback(alice, "alice")
    assert "Score on the visible checks: 9 / 9" in held and "appear when grades are published" in held
    assert "Automatically graded score" not in held and "passed (2 / 2, hidden check)" not in held

    # bob resubmits a complete notebook: graded again
    nbformat.write(notebooks.apply_parameters(complete, course_config.SHORT_BUDGET[A]), str(bob / A / f"{A}.ipynb"))
    time.sleep(1.1)  # nbgrader's timestamps are to the microsecond; the new folder sorts after the old one
    _nbgrader(bob, bob, "submit", A, "--student=bob")
    assert watch.line("bob")[1:4] == [A, "28/30", "graded"]
    assert "Score on the visible checks: 9 / 9" in _feedback(bob, "bob")

    # the instructor releases the hidden results: every page is rendered again, in full, from the records
    released = subprocess.run([sys.executable, "-m", "autograder", "watch", inbound, "--exchange", "--out", out,
                               "--release-hidden", A], cwd=course_config.ROOT, capture_output=True, text=True)
    assert released.returncode == 0 and "2 pages re-rendered, 0 graded" in released.stdout, released.stderr
    full = _feedback(alice, "alice")
    assert "Automatically graded score: 28 / 28" in full and "hidden check" in full
    assert "Automatically graded score: 28 / 28" in _feedback(bob, "bob")

    # carol's copy completes (the notebook, then the timestamp, then the secret), and SIGINT comes while it is
    # being graded: 130, and no record is left half-written (a record, if any, is whole JSON)
    (carol / f"{A}.ipynb").write_bytes(whole)
    (carol / "timestamp.txt").write_text("2026-12-07 09:00:00.000000 UTC")
    (carol / landing.SECRET_FILE).write_text("carols-secret")
    watch.said(f"watch: grading carol/{A}")  # settled (1 s) and in a slot
    code, err = watch.stop(signal.SIGINT)
    assert code == 130, err[-3000:]
    assert "1 in flight discarded" in err, err[-3000:]  # the signal came while carol was being graded
    assert set(_records(out)) <= {"alice", "bob", "carol"}  # each record parses
    assert not list(out.rglob(".tmp-*"))

    # started again: carol (and only carol) is graded; SIGTERM stops it with 0
    again = _Watch(inbound, "--exchange", "--out", out, "--jobs", "1")
    assert again.line("carol")[1:4] == [A, "28/30", "graded"]
    time.sleep(1.5)
    code, err = again.stop(signal.SIGTERM)
    assert code == 0, err[-3000:]
    assert [fields[0] for fields in again.seen] == ["carol"]  # alice and bob were not graded again
    assert _records(out) == {"alice": 28, "bob": 28, "carol": 28}

    # collected into submitted/, a batch on the same OUT regrades nothing watch graded
    _nbgrader(course, instructor, "collect", A)
    batch = subprocess.run([sys.executable, "-m", "autograder", "batch", course / "submitted", "--assignment", A,
                            "--out", out], cwd=course_config.ROOT, capture_output=True, text=True)
    assert batch.returncode == 0, batch.stderr[-3000:]
    assert "to grade" not in batch.stderr and "3 already graded, unchanged" in batch.stderr, batch.stderr


def test_the_held_page_shows_no_hidden_result_and_escapes_student_text():
    from autograder import grade
    from autograder.watch import loop
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)> [l](javascript:alert(3))"
    result = grade.grader_failed(A, ValueError(evil))
    assert any(c.hidden for c in result.checks)
    held, full = loop.page(result, "bob<script>", False), loop.page(result, "bob<script>", True)
    for page in (held, full):
        assert "<script" not in page and "<img" not in page and 'href="javascript' not in page
    assert "appear when grades are published" in held and "appear when grades are published" not in full
    assert all(c.description not in held for c in result.checks if c.hidden)
