"""``watch``: grade each submission as it lands, in warm slots, and hand its feedback back through nbgrader.

The slots are ``batch``'s (a spawned grader process per slot, each with its own zygote forked from the pool's one
pre-warmed mother; started once, kept for the whole watch, and started again if one dies). Each settled submission (``landing``) is fingerprinted as ``batch`` does; one whose
record already matches is not graded again, so a ``watch`` restarted, or a later ``batch DIR --out OUT`` on the same
notebooks, regrades nothing it graded. A resubmission has other bytes, hence another fingerprint, and is graded
again. Each finished verdict is recorded (``store.save_record``), its results.json and feedback rendered
(``render.student``), and its page written where ``nbgrader fetch_feedback`` finds it:

* ``--exchange``: ``<inbound>/../feedback/<md5(secret + notebook id)>.html``, as ``ExchangeReleaseFeedback`` names it;
* ``submitted/``: ``<course>/feedback/<student>/<assignment>/<notebook>.html`` with the submission's timestamp and
  secret, for ``nbgrader release_feedback`` (``integrations.gradebook.write_feedback_pages``).

While the hidden results are held (until ``watch --release-hidden ASSIGNMENT`` writes ``OUT/<assignment>/
hidden_released.json``), that page shows the visible checks only, as Gradescope's text does; once released it is
the full page. Releasing re-renders from the records; nothing is graded again.

SIGINT or SIGTERM (``batch._stoppable``) kill the slots: what was in flight is discarded, and a record and its
pages are written with both signals blocked, so nothing is half-recorded. Exit status 130 for SIGINT, 0 for SIGTERM.
"""
import hashlib
import signal
import sys
import time
from pathlib import Path

import course_config
from autograder import batch, grade, notebooks, render, results
from autograder import store as storage
from autograder.integrations import gradebook
from autograder.render import feedback
from autograder.results import FINISHED_STATUSES
from autograder.submissions import intake, late
from autograder.watch.landing import SECRET_FILE, Landing
from autograder.worker.zygote import stops_held

RELEASED = "hidden_released.json"
_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def released(store, assignment):
    """Whether the instructor has released ``assignment``'s hidden results to students."""
    return (course_config.GRADESCOPE.get("hidden_check_visibility") == "visible"
            or storage.read_json(store.assignment_dir(assignment) / RELEASED) is not None)


def page(result, student, shown_all):
    """The student's HTML feedback page: the full one, or (hidden results held) the visible checks only."""
    if shown_all:
        return feedback.html_feedback(result, student)
    import mistune
    md = feedback.markdown(result, student, for_gradescope=True)  # hidden checks counted, never shown
    body = mistune.create_markdown(escape=False, plugins=["table"])(md)  # values are escaped by the template
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Feedback</title></head><body>\n{body}</body></html>\n'


class Watch:
    """One watched folder, its output store and where its feedback pages go."""

    def __init__(self, directory, out, exchange=False, assignments=None, limits=None, settle=None, stream=None,
                 extensions=None):
        self.directory, self.exchange, self.limits = Path(directory), exchange, limits
        self.store = storage.Store(out)
        self.deadlines = late.deadlines(out, extensions)  # read once, at the start (late.ExtensionsError if bad)
        self.landing = Landing(directory, exchange, assignments, settle)
        self.stream = stream or sys.stdout
        self._digests = {}    # folder -> (signature, sha256 of the notebook)
        self._delivered = {}  # (assignment, student) -> (digest, released) of the page last written
        self._released = {}

    def digest(self, landed):
        cached = self._digests.get(landed.folder)
        if cached and cached[0] == landed.signature:
            return cached[1]
        value = intake._digest(landed.notebook, self.directory)
        self._digests[landed.folder] = (landed.signature, value)
        return value

    def deliver(self, landed, result):
        """The student's results.json, feedback and exchange page from ``result`` (hand scores applied)."""
        a, s = landed.assignment, landed.student
        full = self.deadlines.judge(result.with_hand_scores(self.store.hand_scores(a).get(s)), s)
        render.student(self.store, a, s, full)
        html = page(full, s, self._released.get(a, False))
        if self.exchange:
            # never through a link or from a FIFO: the inbound folder is writable by every student
            try:
                secret = notebooks.submission_bytes(landed.folder / SECRET_FILE, 4096, self.directory)
            except notebooks.NotebookError as e:
                sys.stderr.write(f"watch: no feedback page for {s}/{a}: {e}\n")
                return
            name = hashlib.md5(secret + landed.notebook.stem.encode()).hexdigest()
            storage.write_text(self.directory.parent / course_config.FEEDBACK_DIR / f"{name}.html", html)
        else:
            gradebook.write_feedback_pages({s: html}, a, None, {s: landed.notebook}, within=self.directory,
                                           root=self.directory.parent)

    def record(self, landed, digest, result):
        """Record a finished verdict and deliver it; signals wait until both are done."""
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            result.fingerprint = results.fingerprint(landed.assignment, digest, self.limits)
            result.lateness = intake.submission_lateness(landed.notebook, landed.assignment)
            if result.status in FINISHED_STATUSES:
                self.store.save_record(landed.assignment, landed.student, result)
            self.deliver(landed, result)
            self._delivered[(landed.assignment, landed.student)] = (digest, self._released.get(landed.assignment))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def refresh_released(self):
        """Re-deliver every page whose held state changed (the instructor released): from records, no grading."""
        for a in self.landing.assignments:
            self._released[a] = released(self.store, a)

    def todo(self, in_flight):
        """Settled submissions that need grading: [(landed, digest)]. Those whose record matches (graded before,
        by ``watch`` or ``batch``) get their pages (again, when the release changed) without grading."""
        out = []
        for landed in self.landing.poll():
            key = (landed.assignment, landed.student)
            if key in in_flight:
                continue
            digest = self.digest(landed)
            if self._delivered.get(key) == (digest, self._released.get(landed.assignment)):
                continue
            record = self.store.record(*key)
            current = results.fingerprint(landed.assignment, digest, self.limits)
            if record is not None and not results.fingerprint_changes(record.fingerprint, current):
                self.record(landed, digest, record)
                continue
            if self._delivered.get(key, (None,))[0] == digest:  # a grader error on these bytes: not again
                continue
            out.append((landed, digest))
        return out

    def line(self, landed, result):
        seconds = max(0.0, time.time() - landed.landed)
        self.stream.write(f"{landed.student}\t{landed.assignment}\t{result.score:g}/{result.max_score:g}"
                          f"\t{result.status}\t{seconds:.1f}s\n")
        self.stream.flush()


def _warm():
    """A slot's first task: returns (which slot) once the slot's zygote has imported TensorFlow and answers (a
    zygote starts answering only then; asked to reap a process that is not its child, it answers at once)."""
    import os
    batch._SLOT["zygote"].wait(os.getpid())
    time.sleep(0.3)  # long enough that the other slots take the other warm-up tasks
    return os.getpid()


def _kill(pool):
    """Stop ``pool``'s slots now: what they were grading is discarded, never recorded."""
    batch.kill_slots(pool)
    pool.shutdown(wait=True, cancel_futures=True)


def _slots(jobs, mode):
    """``jobs`` warm grading slots (``batch``'s: a spawned grader process each, with its own zygote forked from the
    pool's mother), all started."""
    started = time.monotonic()
    sys.stderr.write(f"watch: starting {jobs} grading slot{'s' if jobs > 1 else ''}\n")
    pool = batch.slot_pool(jobs, mode)
    ready = set()
    try:
        while len(ready) < jobs:  # every slot has started its zygote (the pool starts one process per task)
            with stops_held():  # the slots start here, and never see a Ctrl-C as KeyboardInterrupt
                futures = [pool.submit(_warm) for _ in range(jobs)]
            ready |= {f.result() for f in futures}
    except BaseException:
        _kill(pool)
        raise
    sys.stderr.write(f"watch: {jobs} slot{'s' if jobs > 1 else ''} ready in {time.monotonic() - started:.1f}s\n")
    return pool


def run(directory, out, exchange=False, assignments=None, limits=None, jobs=None, unsafe=False, interval=0.5,
        settle=None, stream=None, extensions=None):
    """Watch ``directory`` until SIGINT (returns 130) or SIGTERM (returns 0). Raises batch.BatchError when it
    cannot start (no sandbox, stale reference values, a folder that is a link or absent), late.ExtensionsError for a
    bad extensions file (``extensions``, default ``late.extensions_path``: read once, when it starts)."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool
    directory, out = Path(directory), Path(out)
    batch._not_a_link(directory, "the watched folder")
    batch._not_a_link(out, "the output folder")
    if not directory.is_dir():
        raise batch.BatchError(f"no folder {directory} to watch")
    watch = Watch(directory, out, exchange, assignments, limits, settle, stream, extensions)
    batch._refuse_stale(list(watch.landing.assignments))
    mode = batch._sandbox_mode(unsafe)
    out.mkdir(parents=True, exist_ok=True)
    storage.sweep(out)
    jobs = max(1, jobs or batch.default_jobs())
    pool, in_flight = None, {}
    try:
        with batch._stoppable():
            pool = _slots(jobs, mode)
            sys.stderr.write(f"watch: watching {directory}\n")
            tries = {}
            while True:
                if pool._broken:  # a slot died, and with it every task of the pool: start the slots again
                    sys.stderr.write("watch: a grading slot died; starting the slots again\n")
                    in_flight.clear()  # graded again in the new slots
                    _kill(pool)
                    pool = None
                    pool = _slots(jobs, mode)
                watch.refresh_released()
                for landed, digest in watch.todo({v[0] for v in in_flight.values()}):
                    try:
                        future = pool.submit(batch._slot_grade, landed.notebook, landed.assignment, limits, directory)
                    except BrokenProcessPool:  # a slot died while idle: started again at the top of the loop
                        break
                    in_flight[future] = ((landed.assignment, landed.student), landed, digest)
                    sys.stderr.write(f"watch: grading {landed.student}/{landed.assignment}\n")
                if not in_flight:
                    time.sleep(interval)
                    continue
                done, _ = wait(list(in_flight), timeout=interval, return_when=FIRST_COMPLETED)
                for future in done:
                    key, landed, digest = in_flight.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool as e:  # a slot died: fresh slots grade it again, once
                        tries[(key, digest)] = tries.get((key, digest), 0) + 1
                        if tries[(key, digest)] < 2:
                            continue
                        result = grade.grader_failed(key[0], e)
                    except Exception as e:  # noqa: BLE001 (a grader_error row, never a record)
                        result = grade.grader_failed(key[0], e)
                    watch.record(landed, digest, result)
                    watch.line(landed, result)
    except KeyboardInterrupt:
        if pool is not None:
            _kill(pool)  # in-flight work is discarded, not recorded
            pool = None
        sys.stderr.write(f"watch: stopped; {len(in_flight)} in flight discarded (graded again at the next start)\n")
        return 0 if batch._STOP["signal"] == signal.SIGTERM else 130
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def release_hidden(directory, out, assignment, exchange=False, extensions=None):
    """Release ``assignment``'s hidden results: mark it released and re-render every page of it that ``watch``
    delivered, from the records (no grading). Returns how many pages were written."""
    store = storage.Store(out)
    watch = Watch(directory, out, exchange, [assignment], settle=0.0, stream=sys.stderr, extensions=extensions)
    storage.write_json(store.assignment_dir(assignment) / RELEASED, {"released_at": time.time()})
    watch.refresh_released()
    count = 0
    for landed in watch.landing.poll():
        record = store.record(landed.assignment, landed.student)
        digest = watch.digest(landed)
        current = results.fingerprint(landed.assignment, digest)
        if record is not None and not results.fingerprint_changes(record.fingerprint, current):
            watch.record(landed, digest, record)
            count += 1
    return count
