"""Grade a directory of submissions: find them, decide what needs grading, grade it in parallel slots, and hand
the results to ``store`` (the records) and ``render`` (everything people read).

What needs grading is decided by fingerprints (``autograder.fingerprint``): a submission is graded when it has
no finished record, when anything that produced its record changed (its bytes, the checks, the reference
values, the points, the grader's code, the limits), or when the instructor asks (``--regrade``). Only a finished
verdict is recorded. SIGINT or SIGTERM stop the batch cleanly: the slots and their workers are killed, nothing
is recorded for the submissions in flight, and ``Interrupted`` says how many are left. SIGKILL at any moment
leaves records that are each complete (atomic writes), so a rerun gives the clean run's grades.

Past one machine, a batch is split into shards (``run(shard=(K, N))``, ``batch --shard K/N``): each grades the
students whose name hashes to K (``shard_of``) into a folder of its own, and ``merge`` combines the shards'
records into one output folder and renders it as one batch would (``render.assignment``), after checking that
the shards are one complete split of the same roster, graded by the same code.
"""
import hashlib
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import course_config
from autograder import grade, intake, manual, reference, render, results
from autograder import store as storage
from autograder.results import FINISHED_STATUSES
from autograder.worker import sandbox
from autograder.worker.zygote import Zygote


class BatchError(Exception):
    """The batch cannot start (a bad directory, no sandbox, stale reference values); the message says why in
    one line."""


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped the batch: ``graded`` submissions have a finished verdict, ``left`` do not (a
    rerun grades those and nothing else)."""

    def __init__(self, graded, left):
        self.graded, self.left = graded, left
        super().__init__(f"interrupted: {graded} graded, {left} left; rerun to continue")


class _Progress:
    """A batch's progress on stderr: a ``rich`` bar on a terminal; one plain line per submission (no carriage
    returns, nothing redrawn) when stderr is a file or a pipe, as in CI logs."""

    def __init__(self, total, done=0, stream=None):
        self.total, self.started, self.stream = total, time.monotonic(), stream or sys.stderr
        self.live = self.stream.isatty()
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            self._bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.description}"), console=Console(file=self.stream))
            self._bar.start()
            self._task = self._bar.add_task("", total=total, completed=done)
        else:
            self.stream.write(f"grading {total} submissions" + (f" ({done} already graded)" if done else "") + "\n")
            self.stream.flush()

    def update(self, done, label):
        if self.live:
            self._bar.update(self._task, completed=done, description=label[:40])
        else:
            self.stream.write(f"[{done}/{self.total}] {time.monotonic() - self.started:.1f}s {label}\n")
            self.stream.flush()

    def close(self):
        if self.live:
            self._bar.stop()


def grade_one(path, zygote, assignment, limits=None, within=None):
    """Grade one submission into a results.SubmissionResult; a grader failure still gives the student a row
    (score 0, status grader_error, the reason). An interrupt is never turned into a verdict."""
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


def grade_file(path, assignment=None, unsafe=False):
    """Grade one notebook with its own zygote, as ``assignment`` (told from the notebook unless given).
    Raises BatchError if no sandbox is available or the reference values are stale."""
    assignment = assignment or intake._which(Path(path))
    _refuse_stale([assignment])
    mode = _sandbox_mode(unsafe)
    try:
        with _stoppable(), Zygote(mode=mode) as zygote, _in_flight(zygote):
            result = grade_one(path, zygote, assignment)
    except KeyboardInterrupt:
        raise Interrupted(0, 1) from None
    result.fingerprint = results.fingerprint(assignment, intake._digest(path, None))
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
# its own zygote. pytest.main is not thread-safe, so parallel checks need separate processes. Slots ignore
# SIGINT and SIGTERM (a Ctrl-C reaches the whole process group): the batch decides, and kills them.
_SLOT = {}


def _slot_start(mode):
    from multiprocessing import util
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _SLOT["zygote"] = Zygote(mode=mode)
    util.Finalize(None, _SLOT["zygote"].close, exitpriority=10)


def _slot_grade(path, assignment, limits, within):
    return grade_one(path, _SLOT["zygote"], assignment, limits, within)


def default_jobs():
    """Grading slots to use: ``course_config.BATCH_JOBS``, or one per CPU core this process may use."""
    return course_config.BATCH_JOBS or len(os.sched_getaffinity(0))


def _graded(todo, mode, jobs, limits, within):
    """Grade ``todo`` ([(key, path, fingerprint)]), yielding (key, result) as each finishes."""
    if jobs == 1:
        with Zygote(mode=mode) as zygote:
            for key, path, _ in todo:
                with _in_flight(zygote):
                    result = grade_one(path, zygote, key[0], limits, within)
                yield key, result
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_slot_start, initargs=(mode,))
    try:
        futures = {pool.submit(_slot_grade, path, key[0], limits, within): key for key, path, _ in todo}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as e:  # noqa: BLE001 (a slot died: a grader_error row, never a record)
                result = grade.grader_failed(futures[future][0], e)
            yield futures[future], result
    except BaseException:
        for process in list((pool._processes or {}).values()):  # stop now: in-flight work is discarded
            process.kill()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---- the batch ------------------------------------------------------------------------------------------
def _plan(submissions, store, within, limits, regrade):
    """Split submissions into (done {key: record}, todo [(key, path, fingerprint)], reasons {reason: count})."""
    done, todo, reasons = {}, [], {}
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
            why = results.regrade_reason(parts, assignment)
        todo.append((key, path, current))
        reasons[why] = reasons.get(why, 0) + 1
    return done, todo, reasons


def run(directory, out=None, assignments=None, gradebook=None, limits=None, jobs=None, unsafe=False,
        regrade=None, shard=None):
    """Grade every submission under ``directory`` that needs it, with ``jobs`` parallel slots, each worker in
    a sandbox, then render every output. ``regrade``: None (only what changed), [] (everyone) or student names.
    ``shard``: (K, N) to grade only the students of shard K of N (``shard_of``), into an ``out`` of its own.

    Returns ({assignment: {student: SubmissionResult}}, out), the results with hand scores applied. Writes, per
    assignment, ``out/<assignment>/<student>/graded.json`` (the record) and ``results.json``, ``grades.csv``,
    ``report/index.html``, and the feedback in nbgrader's layout, ``out/feedback/<student>/<assignment>/``.
    Refused names are listed in ``out/refused.json``; a shard's folder also gets ``shard.json``. Raises
    BatchError (nothing graded) if a folder is a link, no sandbox is available, the reference values are stale
    or ``out`` holds another share of the batch, and Interrupted on SIGINT or SIGTERM.
    """
    directory = Path(directory)
    out = Path(out) if out else directory.parent / f"{directory.name}_graded"
    _not_a_link(directory, "the submissions folder")
    _not_a_link(out, "the output folder")
    submissions, refused = intake.find_submissions(directory, assignments)
    _refuse_stale(sorted({a for a, _ in submissions}) or assignments)
    if regrade:
        unknown = sorted(set(regrade) - {student for _, student in submissions})
        if unknown:
            raise BatchError(f"--regrade: no submission from {', '.join(unknown)} in {directory}")
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
    done, todo, reasons = _plan(submissions, store, directory, limits, regrade)
    for why, count in reasons.items():
        sys.stderr.write(f"{count} to grade: {why}\n")
    if done:
        sys.stderr.write(f"{len(done)} already graded, unchanged\n")
    if todo:
        _grade(todo, done, store, directory, limits, jobs, unsafe, len(submissions))
    return _render(submissions, done, store, directory, gradebook), out


def _grade(todo, done, store, directory, limits, jobs, unsafe, total):
    """Grade ``todo`` into ``done``, recording each finished verdict as soon as it is known."""
    mode = _sandbox_mode(unsafe)
    jobs = max(1, min(jobs or default_jobs(), len(todo)))
    progress = _Progress(total, len(done))
    paths = {key: path for key, path, _ in todo}
    prints = {key: fp for key, _, fp in todo}
    hand = {assignment: store.hand_scores(assignment) for assignment in {key[0] for key in paths}}
    try:
        with _stoppable():
            for key, result in _graded(todo, mode, jobs, limits, directory):
                assignment, student = key
                result.fingerprint = prints[key]
                result.lateness = intake.submission_lateness(paths[key], assignment)
                if result.status in FINISHED_STATUSES:  # anything else gets its row, but no record: graded again
                    store.save_record(assignment, student, result)
                done[key] = result
                render.student(store, assignment, student, result.with_hand_scores(hand[assignment].get(student)))
                progress.update(len(done), f"{assignment}/{student}")
    except KeyboardInterrupt:
        finished = sum(1 for r in done.values() if r.status in FINISHED_STATUSES)
        raise Interrupted(finished, total - finished) from None
    finally:
        progress.close()


def _render(submissions, done, store, directory, gradebook):
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
        full[assignment] = render.assignment(store, assignment, rows, gradebook, paths, directory)
    return full




# ---- shards: one batch on several machines ---------------------------------------------------------------
# A student's shard is a hash of their name modulo N, not a place in the sorted roster: a student who joins or
# leaves moves nobody else, so a shard's records stay valid (and are not graded again) when the roster changes
# a little. Every assignment of a student lands in the same shard, so a student's pages come from one place.
# sha256, not hash(), which Python salts per process. The shares are even only on average: N shards of S
# students hold S/N each, give or take about sqrt(S/N).
SPLIT = "sha256 of the student's name, modulo N"


def parse_shard(text):
    """(K, N) from ``--shard K/N`` (shard K of N, counted from 1); BatchError saying why in one line."""
    k, _, n = str(text).partition("/")
    try:
        k, n = int(k), int(n)
    except ValueError:
        k = n = None
    if k is None or not 1 <= k <= n:
        raise BatchError(f"--shard takes K/N, shard K of N counted from 1 (1 <= K <= N, e.g. 2/3); got {text!r}")
    return k, n


def shard_of(student, n):
    """The shard (1..n) that grades ``student``: the first 8 bytes of sha256(name), modulo n, plus 1."""
    return int.from_bytes(hashlib.sha256(student.encode("utf-8")).digest()[:8], "big") % n + 1


def _roster(submissions):
    students = sorted({student for _, student in submissions})
    return len(students), hashlib.sha256("\n".join(students).encode("utf-8")).hexdigest()


def shard_marker(shard, submissions):
    """What a shard's ``shard.json`` says: its K and N, how students were split, the assignments and the whole
    roster the shard saw (a count and a digest), and its share ({assignment: [student]}, what it owes)."""
    k, n = shard
    count, digest = _roster(submissions)
    assignments = [a for a in course_config.ASSIGNMENTS if any(a == key[0] for key in submissions)]
    share = {a: [student for assignment, student in submissions if assignment == a and shard_of(student, n) == k]
             for a in assignments}
    return {"shard": k, "of": n, "split": SPLIT, "assignments": assignments,
            "roster": {"students": count, "sha256": digest}, "share": share}


def _label(marker):
    return f"shard {marker['shard']}/{marker['of']}"


def _same_share(store, marker):
    """Refuse an output folder that holds another share of the batch than the one about to be graded in it."""
    held = store.shard()
    asked = (marker["shard"], marker["of"]) if marker else None
    if held is not None and (held.get("shard"), held.get("of")) != asked:
        raise BatchError(f"{store.out} holds {_label(held)} of a split batch: "
                         + (f"give {_label(marker)} its own --out" if marker else
                            f"grade it with --shard {held.get('shard')}/{held.get('of')}, or merge the shards "
                            "into a new folder with merge-shards"))
    if held is None and marker and store.assignments(course_config.ASSIGNMENTS):
        raise BatchError(f"{store.out} holds the results of a batch that was not split; give {_label(marker)} "
                         "its own --out")


def merge(out, shards, gradebook=None, directory=None):
    """Combine the records of ``shards`` (the output folders of ``batch --shard K/N``, one per K) into ``out``
    and render every output from them as one batch would: results.json, feedback, grades.csv, the report, the
    written answers for the TAs and, with ``gradebook``, nbgrader's gradebook (its ``autograded/`` notebooks
    and feedback pages need the submissions folder ``directory``).

    Refused with BatchError, before anything is written: a folder that is not a shard's; shards of different
    splits, assignments or rosters; a shard given twice or missing; an unfinished shard; a student in two
    shards; shards graded by different code, checks, reference values, points or limits (their fingerprints);
    an ``out`` that is a shard, or holds results of students no shard has. ``out``'s hand scores are kept.
    Returns ({assignment: {student: SubmissionResult}}, out) as ``run`` does."""
    out = Path(out)
    _not_a_link(out, "the output folder")
    parts = [_open_shard(folder, out) for folder in shards]
    _one_split(parts)
    merged, owner, hand = {}, {}, {}
    for marker, store in parts:
        for assignment in marker["assignments"]:
            rows = render.stored_results(store, assignment)
            owed = marker["share"].get(assignment, [])
            lacking = [student for student in owed if student not in rows]
            if lacking:
                raise BatchError(f"{_label(marker)} ({store.out}) is unfinished: {len(lacking)} of its {len(owed)} "
                                 f"{assignment} results are not there; run it again to finish (what is done is kept)")
            for student in owed:
                result = rows[student]
                if (assignment, student) in owner:
                    raise BatchError(f"{student} ({assignment}) is in both {owner[assignment, student]} and "
                                     f"{_label(marker)} ({store.out}); each student belongs to one shard")
                owner[assignment, student] = f"{_label(marker)} ({store.out})"
                merged.setdefault(assignment, {})[student] = result
            for student, given in store.hand_scores(assignment).items():
                if student in owed:
                    hand.setdefault(assignment, {})[student] = given
    _same_grading(merged, owner)
    target = storage.Store(out)
    _merge_target(target, merged, hand)
    out.mkdir(parents=True, exist_ok=True)
    storage.sweep(out)
    refused = {}
    for _, store in parts:  # every shard saw the same folder (its roster says so), so each lists the same names
        refused.update(store.refused())
    storage.write_json(out / storage.REFUSED, refused)
    paths, directory = {}, Path(directory) if directory else None
    if directory:
        paths, _ = intake.find_submissions(directory, list(merged))
    full = {}
    for assignment in [a for a in course_config.ASSIGNMENTS if a in merged]:
        rows = dict(sorted(merged[assignment].items()))
        for student, result in rows.items():
            if result.status in FINISHED_STATUSES:
                target.save_record(assignment, student, result)
        answers = {}
        for _, store in parts:
            answers.update(store.written_answers(assignment) or {})
        storage.write_json(target.written_answers_path(assignment), {s: answers[s] for s in rows if s in answers})
        kept = target.hand_scores(assignment)
        given = {**hand.get(assignment, {}), **kept}
        if given != kept:
            target.save_hand_scores(assignment, given)
        where = {student: paths[assignment, student] for student in rows if (assignment, student) in paths}
        full[assignment] = render.assignment(target, assignment, rows, gradebook, where or None, directory)
    unfinished = sum(r.status not in FINISHED_STATUSES for rows in merged.values() for r in rows.values())
    if unfinished:
        sys.stderr.write(f"{unfinished} submission(s) have no finished verdict (the grader failed on them); "
                         "run their shard again to grade them\n")
    return full, out


def _open_shard(folder, out):
    folder = Path(folder)
    _not_a_link(folder, "the shard folder")
    if not folder.is_dir():
        raise BatchError(f"{folder} is not a folder")
    if folder.resolve() == out.resolve():
        raise BatchError(f"{folder} is both a shard and the output folder; merge into a new folder")
    store = storage.Store(folder)
    marker = store.shard()
    if marker is None or not {"shard", "of", "assignments", "roster", "share"} <= set(marker):
        raise BatchError(f"{folder} is not a shard's output (no readable {storage.SHARD}); grade each shard with "
                         "batch DIR --shard K/N --out FOLDER")
    return marker, store


def _one_split(parts):
    """The shards are one complete split of one roster: the same N, assignments and roster, each K once."""
    if not parts:
        raise BatchError("merge-shards needs the output folders of the shards to merge")
    first, first_store = parts[0]
    seen = {}
    for marker, store in parts:
        where = f"{_label(marker)} ({store.out})"
        if marker["of"] != first["of"]:
            raise BatchError(f"{where} and {_label(first)} ({first_store.out}) belong to different splits")
        if marker["assignments"] != first["assignments"]:
            raise BatchError(f"{where} graded {', '.join(marker['assignments']) or 'nothing'} but "
                             f"{_label(first)} graded {', '.join(first['assignments']) or 'nothing'}; give every "
                             "shard the same --assignment")
        if marker["roster"] != first["roster"]:
            raise BatchError(f"{where} saw {marker['roster']['students']} students and {_label(first)} saw "
                             f"{first['roster']['students']} (or other names); run every shard again on the same "
                             "submissions (what is unchanged is not graded again)")
        if marker["shard"] in seen:
            raise BatchError(f"{_label(marker)} is given twice ({seen[marker['shard']]} and {store.out})")
        seen[marker["shard"]] = store.out
    missing = [k for k in range(1, first["of"] + 1) if k not in seen]
    if missing:
        raise BatchError(f"missing shard{'s' if len(missing) > 1 else ''} "
                         + ", ".join(f"{k}/{first['of']}" for k in missing) + f" of {first['of']}; merge needs "
                         "every shard's output")


def _same_grading(merged, owner):
    """Every result was graded by the same code, checks, reference values, points and limits (the fingerprint
    without its ``submission`` part); else the shard that differs and the parts, in words."""
    for assignment, rows in merged.items():
        first = None
        for student, result in rows.items():
            grading = {p: v for p, v in (result.fingerprint or {}).items() if p != "submission"}
            if first is None:
                first = (student, grading)
                continue
            changed = [p for p in results.fingerprint_changes(first[1], grading) if p != "submission"]
            if changed:
                raise BatchError(f"{owner[assignment, student]} and {owner[assignment, first[0]]} were graded "
                                 f"differently ({results.regrade_reason(changed, assignment).replace(' changed', '')}"
                                 " differ); run the older shard again with the same grader so all agree")


def _merge_target(target, merged, hand):
    """Refuse an ``out`` that is a shard, holds students no shard has, or hand scores that a shard contradicts."""
    held = target.shard()
    if held is not None:
        raise BatchError(f"{target.out} holds {_label(held)}; merge into a new folder")
    for assignment in course_config.ASSIGNMENTS:
        extra = sorted(set(target.students(assignment)) - set(merged.get(assignment, {})))
        if extra:
            raise BatchError(f"{target.out} holds results of {', '.join(extra[:5])}"
                             + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
                             + f" ({assignment}) that no shard has; merge into a new folder")
        kept = target.hand_scores(assignment)
        for student, given in hand.get(assignment, {}).items():
            if student in kept and kept[student] != given:
                raise BatchError(f"{target.out} and a shard hold different hand scores for {student} "
                                 f"({assignment}); merge-manual them into {target.out} instead")
