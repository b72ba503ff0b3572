"""Grade a directory of submissions: find them, decide what needs grading, grade it in parallel slots, and hand
the results to ``store`` (the records) and ``render`` (everything people read).

What needs grading is decided by fingerprints (``results.fingerprint``): a submission is graded when it has
no finished record, when anything its verdict depends on changed (its bytes, the checks, the reference values,
the graded cells, the grader's code, the limits), or when the instructor asks (``--regrade``). When only what
weighs a verdict changed (the points), its record is weighed again and re-rendered: no notebook runs. Only a finished
verdict is recorded. SIGINT or SIGTERM stop the batch cleanly: the slots and their workers are killed, nothing
is recorded for the submissions in flight, and ``Interrupted`` says how many are left. SIGKILL at any moment
leaves records that are each complete (atomic writes), so a rerun gives the clean run's grades.

Past one machine, a batch is split into shards (``run(shard=(K, N))``, ``batch --shard K/N``); ``autograder.shards``
splits them and merges their records.
"""
import os
import signal
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import course_config
from autograder import grade, manual, reference, render, results
from autograder.submissions import intake, late, read
from autograder import store as storage
from autograder.render.progress import Progress
from autograder.results import FINISHED_STATUSES
from autograder.worker import sandbox
from autograder.worker.zygote import Mother, Zygote, ignore_stops, stops_held


class BatchError(Exception):
    """The batch cannot start (a bad directory, no sandbox, stale reference values); the message says why in
    one line."""


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped the batch: ``graded`` submissions have a finished verdict, ``left`` do not (a
    rerun grades those and nothing else)."""

    def __init__(self, graded, left):
        self.graded, self.left = graded, left
        super().__init__(f"interrupted: {graded} graded, {left} left; rerun to continue")


def grade_one(path, zygote, assignment, limits=None, within=None):
    """Grade one submission (its path, or a submissions.read.Submission) into a results.SubmissionResult; a grader
    failure still gives the student a row (score 0, status grader_error, the reason). An interrupt is never turned
    into a verdict."""
    if _STOP["signal"]:
        raise KeyboardInterrupt
    try:
        result = grade.grade_notebook(path, zygote, assignment, limits, within)
    except Exception as e:  # noqa: BLE001 (one bad submission never stops the batch)
        if _STOP["signal"]:  # its zygote was killed to stop the batch: not a failure of the grader
            raise KeyboardInterrupt from None
        traceback.print_exc(file=sys.stderr)
        result = grade.grader_failed(assignment, e)
    if _STOP["signal"]:  # graded while stopping (its zygote was killed): not a verdict
        raise KeyboardInterrupt
    return result


def _not_a_link(path, what):
    if Path(path).is_symlink():
        raise BatchError(f"{what} {path} is a symbolic link; give the real path")


def _refuse_stale(assignments):
    stale = reference.refuse_stale(assignments)
    if stale:
        raise BatchError("refusing to grade with stale reference values: " + "; ".join(stale))


def grade_file(path, assignment=None, unsafe=False, submission=None):
    """Grade one notebook with its own zygote, as ``assignment`` (told from the notebook unless given).
    The file is read once (``submission``, a submissions.read.Submission, if the caller has read it already):
    the assignment is told, the notebook graded and the fingerprint computed from that one read.
    Raises BatchError if no sandbox is available or the reference values are stale."""
    submission = submission or read.read(path)
    assignment = assignment or intake.which(submission)
    _refuse_stale([assignment])
    mode = _sandbox_mode(unsafe)
    try:
        with _stoppable(), Zygote(mode=mode) as zygote, _in_flight(zygote):
            result = grade_one(submission, zygote, assignment)
    except KeyboardInterrupt:
        raise Interrupted(0, 1) from None
    result.fingerprint = results.fingerprint(assignment, submission.digest)
    return result


def _sandbox_mode(unsafe):
    try:
        mode = sandbox.detect(allow_unsafe=unsafe)
    except sandbox.SandboxUnavailable as e:
        raise BatchError(str(e)) from None
    sys.stderr.write(f"containment: {sandbox.describe(mode)}\n")
    return mode


# ---- interrupts ------------------------------------------------------------------------------------------
# A signal sets the stop flag. While this process grades in a zygote of its own (``--jobs 1``, ``grade``), the
# handler kills that zygote, and with it every worker: the submission in flight ends at once, and ``grade_one``
# turns what it got into KeyboardInterrupt instead of a verdict. Otherwise (waiting for the slots) the handler
# raises KeyboardInterrupt where the batch waits. Either way no library code sees a KeyboardInterrupt of ours.
_STOP = {"signal": None, "zygote": None}


def _on_signal(signum, frame):
    _STOP["signal"] = signum
    zygote = _STOP["zygote"]
    if zygote is None:
        raise KeyboardInterrupt
    try:
        os.kill(zygote.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _in_flight:
    """While inside, a signal kills ``zygote`` (see ``_on_signal``)."""

    def __init__(self, zygote):
        self.zygote = zygote

    def __enter__(self):
        _STOP["zygote"] = self.zygote
        if _STOP["signal"]:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        _STOP["zygote"] = None


class _stoppable:
    """While inside: SIGINT and SIGTERM stop this process's grading (``_on_signal``)."""

    def __enter__(self):
        _STOP["signal"] = None
        self._old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for s, handler in self._old.items():
            signal.signal(s, handler)


# ---- grading slots ---------------------------------------------------------------------------------------
# One grading slot of the parallel pool: a grader process (spawned, so it shares nothing with the parent) with
# its own zygote, forked by the pool's one mother (``zygote.Mother``: TensorFlow is imported once per pool, not
# once per slot). pytest.main is not thread-safe, so parallel checks need separate processes. Slots ignore
# SIGINT and SIGTERM (a Ctrl-C reaches the whole process group): the batch decides, and kills them.
_SLOT = {}


def _slot_start(mode, requests):
    from multiprocessing import util
    ignore_stops()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _SLOT["zygote"] = Zygote(mode=mode, factory=requests)
    requests.close()  # asked once: a slot holds nothing more of its mother
    util.Finalize(None, _SLOT["zygote"].close, exitpriority=10)


def _slot_grade(path, assignment, limits, within):
    result = grade_one(path, _SLOT["zygote"], assignment, limits, within)
    if not _SLOT["zygote"].alive():  # its zygote (or the mother of them all) died: this slot can grade no more.
        os._exit(70)  # Ending it breaks the pool: no verdict from it is recorded, and watch starts new slots.
    return result


class _Slots(ProcessPoolExecutor):
    """The pool of slots, and the mother their zygotes are forked from; shutting the pool down closes her, once
    each zygote has cleaned up after its workers."""

    def __init__(self, jobs, mode):
        import multiprocessing
        self.mother = Mother()
        try:
            super().__init__(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_slot_start,
                             initargs=(mode, self.mother.requests))  # each slot gets its own copy of the socket
        except BaseException:
            self.mother.close()
            raise

    def shutdown(self, wait=True, *, cancel_futures=False):
        try:
            super().shutdown(wait=wait, cancel_futures=cancel_futures)
        finally:
            if wait:
                self.mother.close()


def slot_pool(jobs, mode):
    """``jobs`` grading slots (``_slot_start``): spawned grader processes, each with its own zygote forked by one
    mother. The slots start when work is first submitted: submit inside ``stops_held``."""
    with stops_held():
        return _Slots(jobs, mode)


def kill_slots(pool):
    """Stop ``pool``'s slots now: what they were grading is discarded, never recorded."""
    for process in list((pool._processes or {}).values()):
        process.kill()


def default_jobs():
    """Grading slots to use: ``course_config.BATCH_JOBS``, or one per CPU core this process may use."""
    return course_config.BATCH_JOBS or len(os.sched_getaffinity(0))


def _graded(todo, mode, jobs, limits, within, started):
    """Grade ``todo`` ([(key, path, fingerprint)]), yielding (key, result) as each finishes. ``started(key)`` is
    called as each goes into a slot: a slot is given its next submission when it has finished one, so that
    moment is known."""
    if jobs == 1:
        with Zygote(mode=mode) as zygote:
            for key, path, _ in todo:
                started(key)
                with _in_flight(zygote):
                    result = grade_one(path, zygote, key[0], limits, within)
                yield key, result
        return
    from concurrent.futures import FIRST_COMPLETED, wait
    pool = slot_pool(jobs, mode)
    waiting, futures = list(reversed(todo)), {}
    try:
        while waiting or futures:
            while waiting and len(futures) < jobs:
                key, path, _ = waiting.pop()
                try:
                    with stops_held():  # the slots start here, and never see a Ctrl-C as KeyboardInterrupt
                        futures[pool.submit(_slot_grade, path, key[0], limits, within)] = key
                except Exception as e:  # noqa: BLE001 (a slot died and broke the pool: a grader_error row)
                    yield key, grade.grader_failed(key[0], e)
                    continue
                started(key)
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                key = futures.pop(future)
                try:
                    result = future.result()
                except Exception as e:  # noqa: BLE001 (a slot died: a grader_error row, never a record)
                    result = grade.grader_failed(key[0], e)
                yield key, result
    except BaseException:
        kill_slots(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---- the batch ------------------------------------------------------------------------------------------
def _plan(submissions, store, within, limits, regrade):
    """Split submissions into (done {key: record}, todo [(key, path, fingerprint)], reasons {reason: count},
    weighed [keys]): ``weighed`` are the done ones whose record only needs weighing again (only its points
    changed: ``results.only_weights``); their records in ``done`` are weighed already."""
    done, todo, reasons, weighed = {}, [], {}, []
    for key, path in submissions.items():
        assignment, student = key
        current = results.fingerprint(assignment, intake._digest(path, within), limits)
        record = store.record(assignment, student)
        if regrade is not None and (not regrade or student in regrade):
            why = "asked with --regrade"
        elif record is None:
            why = ("its last grading did not finish" if store.results_path(assignment, student).exists()
                   else "not graded before")
        else:
            parts = results.fingerprint_changes(record.fingerprint, current)
            if not parts:
                done[key] = record
                continue
            if results.only_weights(parts):
                done[key] = record.weighed()
                weighed.append(key)
                continue
            why = results.regrade_reason(parts, assignment)
        todo.append((key, path, current))
        reasons[why] = reasons.get(why, 0) + 1
    return done, todo, reasons, weighed


def _weigh(store, done, todo, weighed):
    """Store the records of ``weighed`` with their new weights, and say per assignment what that took:
    "points of normalising_flows changed: 6 re-rendered, 0 re-executed"."""
    for assignment in dict.fromkeys(a for a, _ in weighed):
        keys = [key for key in weighed if key[0] == assignment]
        for key in keys:
            store.save_record(assignment, key[1], done[key])
        executed = sum(1 for (a, _), _, _ in todo if a == assignment)
        sys.stderr.write(f"points of {assignment} changed: {len(keys)} re-rendered, {executed} re-executed\n")


def run(directory, out=None, assignments=None, gradebook=None, limits=None, jobs=None, unsafe=False,
        regrade=None, shard=None, extensions=None, deadlines=None):
    """Grade every submission under ``directory`` that needs it, with ``jobs`` parallel slots, each worker in
    a sandbox, then render every output. ``regrade``: None (only what changed), [] (everyone) or student names.
    ``shard``: (K, N) to grade only the students of shard K of N (``shards.shard_of``), into an ``out`` of its own.
    ``extensions``: the extensions file (default: ``late.extensions_path``), read before anything is graded; the
    late policy is applied when the outputs are rendered, so a changed policy or extension grades nothing again.
    ``deadlines``: {"policy": ..., "due_dates": ...} instead of the course's (``make demo`` shows a penalty).

    Returns ({assignment: {student: SubmissionResult}}, out), the results with hand scores applied. Writes, per
    assignment, ``out/<assignment>/<student>/graded.json`` (the record) and ``results.json``, ``grades.csv``,
    ``report/index.html``, and the feedback in nbgrader's layout, ``out/feedback/<student>/<assignment>/``.
    Refused names are listed in ``out/refused.json``; a shard's folder also gets ``shard.json``. Raises
    BatchError (nothing graded) if a folder is a link, no sandbox is available, the reference values are stale
    or ``out`` holds another share of the batch, late.ExtensionsError for a bad extensions file, and Interrupted
    on SIGINT or SIGTERM.
    """
    directory = Path(directory)
    out = Path(out) if out else directory.parent / f"{directory.name}_graded"
    _not_a_link(directory, "the submissions folder")
    _not_a_link(out, "the output folder")
    submissions, refused = intake.find_submissions(directory, assignments)
    deadlines = late.deadlines(out, extensions, **(deadlines or {}))
    _refuse_stale(sorted({a for a, _ in submissions}) or assignments)
    if regrade:
        unknown = sorted(set(regrade) - {student for _, student in submissions})
        if unknown:
            raise BatchError(f"--regrade: no submission from {', '.join(unknown)} in {directory}")
    from autograder.shards import _same_share, shard_marker, shard_of  # here: shards imports this module
    store = storage.Store(out)
    marker = None
    if shard:
        if gradebook:
            raise BatchError("--gradebook writes the whole class at once: give it to merge-shards, not to a shard")
        marker = shard_marker(shard, submissions)
        submissions = {key: path for key, path in submissions.items() if shard_of(key[1], shard[1]) == shard[0]}
    _same_share(store, marker)
    out.mkdir(parents=True, exist_ok=True)
    storage.sweep(out)
    if marker:
        store.save_shard(marker)
    for name, reason in refused.items():
        sys.stderr.write(f"refused a submission named {name!r}: {reason}\n")
    storage.write_json(out / storage.REFUSED, refused)
    done, todo, reasons, weighed = _plan(submissions, store, directory, limits, regrade)
    for why, count in reasons.items():
        sys.stderr.write(f"{count} to grade: {why}\n")
    _weigh(store, done, todo, weighed)
    if len(done) > len(weighed):
        sys.stderr.write(f"{len(done) - len(weighed)} already graded, unchanged\n")
    if todo:
        _grade(todo, done, store, directory, limits, jobs, unsafe, len(submissions), deadlines)
    return _render(submissions, done, store, directory, gradebook, deadlines), out


def _grade(todo, done, store, directory, limits, jobs, unsafe, total, deadlines):
    """Grade ``todo`` into ``done``, recording each finished verdict as soon as it is known."""
    mode = _sandbox_mode(unsafe)
    jobs = max(1, min(jobs or default_jobs(), len(todo)))
    progress = Progress(total, len(done))
    progress.starting(jobs)
    paths = {key: path for key, path, _ in todo}
    prints = {key: fp for key, _, fp in todo}
    hand = {assignment: store.hand_scores(assignment) for assignment in {key[0] for key in paths}}
    try:
        with _stoppable():
            for key, result in _graded(todo, mode, jobs, limits, directory,
                                       lambda key: progress.started(f"{key[0]}/{key[1]}")):
                assignment, student = key
                result.fingerprint = prints[key]
                result.lateness = intake.submission_lateness(paths[key], assignment)
                if result.status in FINISHED_STATUSES:  # anything else gets its row, but no record: graded again
                    store.save_record(assignment, student, result)
                done[key] = result
                full = result.with_hand_scores(hand[assignment].get(student))
                render.student(store, assignment, student, deadlines.judge(full, student))
                progress.update(len(done), f"{assignment}/{student}")
    except KeyboardInterrupt:
        finished = sum(1 for r in done.values() if r.status in FINISHED_STATUSES)
        raise Interrupted(finished, total - finished) from None
    finally:
        progress.close()


def _render(submissions, done, store, directory, gradebook, deadlines):
    """Every output of every assignment of the batch, from the records (``render.assignment``)."""
    graded = {}
    for assignment, student in submissions:
        result = done[(assignment, student)]
        result.lateness = intake.submission_lateness(submissions[(assignment, student)], assignment)
        graded.setdefault(assignment, {})[student] = result
    full = {}
    for assignment, rows in graded.items():
        paths = {student: submissions[(assignment, student)] for student in rows}
        manual.collect(rows, paths, store, assignment, directory)
        full[assignment] = render.assignment(store, assignment, rows, gradebook, paths, directory, deadlines)
    return full
