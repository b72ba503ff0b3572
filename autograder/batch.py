"""Grade a directory of submissions: results.json per student, grades.csv, nbgrader gradebook scores."""
import csv
import os
import stat
import sys
import time
import traceback
from pathlib import Path

import course_config
from autograder import answers, checks, feedback, grade, notebooks, report, sandbox
from autograder.zygote import Zygote


class BatchError(Exception):
    """The batch cannot start (a bad directory, no sandbox); the message says why in one line."""


def _read(path, within=None):
    return notebooks.submission_bytes(path, course_config.GRADING["submission_bytes"], within)


def _which(path, present=(), within=None):
    """The assignment of a notebook found outside an assignment folder: by its graded cells, else its name."""
    try:
        nb = notebooks.read(path, _read(path, within))
    except notebooks.NotebookError:
        nb = None
    found = checks.detect(nb, path.name)
    if found:
        return found
    return next(iter(present)) if len(present) == 1 else course_config.ASSIGNMENTS[0]


def _is_dir(path):
    """A real directory, not a symbolic link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def name_problem(name):
    """Why ``name`` cannot be a student's name in a batch, or None."""
    if name in (".", ".."):
        return "the name is . or .."
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name) or "/" in name:
        return "the name holds control characters"
    return None


def find_submissions(directory, assignments=None):
    """({(assignment, student): notebook path}, {name: why it was refused}) under ``directory``.

    Layouts: nbgrader's ``submitted/<student>/<assignment>/*.ipynb``, a folder per student holding notebooks,
    or a flat folder of ``<student>.ipynb``. A notebook outside an assignment folder is told apart by its
    graded cells (else its file name). Every student gets a row in every assignment of the batch: one with
    nothing for it is graded as missing. Symbolic links are never followed: a student whose folder or file
    is one gets a row that says so (``notebooks.submission_bytes``). Names that cannot be a folder or a CSV
    row (``..``, control characters) are refused and listed.
    """
    directory = Path(directory)
    wanted = tuple(assignments or course_config.ASSIGNMENTS)
    found, loose, students, refused = {}, [], [], {}
    entries = sorted(p for p in directory.iterdir() if not p.name.startswith(".") or p.suffix == ".ipynb")
    for entry in entries:
        if entry.suffix == ".ipynb" and not _is_dir(entry):
            loose.append((entry.stem, entry))
        elif _is_dir(entry) or entry.is_symlink():
            students.append(entry.name)
        if not _is_dir(entry):
            continue
        for folder in sorted(d for d in entry.iterdir() if d.name in wanted):
            nbs = sorted(folder.glob("*.ipynb")) if _is_dir(folder) else []
            preferred = [p for p in nbs if p.name == f"{folder.name}.ipynb"]
            found[(folder.name, entry.name)] = (preferred or nbs or [folder / f"{folder.name}.ipynb"])[0]
        loose += [(entry.name, p) for p in sorted(entry.glob("*.ipynb"))]
    present = {a for a, _ in found}
    for student, path in loose:
        assignment = _which(path, present, directory)
        if assignment in wanted:
            found.setdefault((assignment, student), path)
    present = {a for a, _ in found} or set(wanted)
    for student in students + [student for student, _ in loose]:
        for assignment in present:
            found.setdefault((assignment, student), directory / student / assignment / f"{assignment}.ipynb")
    for assignment, student in list(found):
        if name_problem(student):
            refused[student] = name_problem(student)
            del found[(assignment, student)]
    order = {a: i for i, a in enumerate(course_config.ASSIGNMENTS)}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0][1]))), refused


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
    (score 0, status grader_error, the reason)."""
    try:
        return grade.grade(path, zygote, assignment, limits, within)
    except Exception as e:  # noqa: BLE001 (one bad submission never stops the batch)
        traceback.print_exc(file=sys.stderr)
        return _failure(assignment, e)


def _failure(assignment, error):
    return report.grader_failed(assignment, error)


def _digest(path, within):
    import hashlib
    try:
        return hashlib.sha256(_read(path, within)).hexdigest()
    except notebooks.NotebookError:
        return None


def submission_lateness(path, assignment):
    """A results.Lateness from nbgrader's ``timestamp.txt`` next to the notebook (written by ``nbgrader submit``
    and ``collect``), against ``course_config.DUE_DATES`` under ``course_config.LATE_POLICY`` (never late
    without a due date, but the time is kept); None when there is no readable timestamp."""
    from autograder import results
    due = getattr(course_config, "DUE_DATES", {}).get(assignment)
    try:
        stamp = notebooks.submission_bytes(Path(path).parent / "timestamp.txt", 200).decode("utf-8", "replace")
    except notebooks.NotebookError:
        return None
    if results.parse_time(stamp) is None:
        return None
    return results.lateness(stamp, due, getattr(course_config, "LATE_POLICY", {}), source="timestamp.txt")


def _finished(folder, digest):
    """The stored result if this submission (same bytes) was fully graded before, else None.

    ``graded.json`` is written last, after results.json and the feedback, so a batch killed midway
    regrades the student it was working on and keeps everyone before.
    """
    import json
    try:
        marker = json.loads((folder / "graded.json").read_text())
        if digest is not None and marker.get("submission_sha256") == digest:
            return json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        pass
    return None


def _not_a_link(path, what):
    if Path(path).is_symlink():
        raise BatchError(f"{what} {path} is a symbolic link; give the real path")


def grade_file(path, out, assignment=None, unsafe=False):
    """Grade one notebook with its own zygote; ``out`` is where its results.json will go.

    The assignment is told from the notebook unless given. Creates ``out``'s folder. The caller writes the
    result (it may add to it first). Raises BatchError if ``out`` is a link or no sandbox is available.
    """
    out = Path(out)
    _not_a_link(out, "the results file")
    out.parent.mkdir(parents=True, exist_ok=True)
    mode = _sandbox_mode(unsafe)
    assignment = assignment or _which(Path(path))
    with Zygote(mode=mode) as zygote:
        result = grade_one(path, zygote, assignment)
    return result


def _sandbox_mode(unsafe):
    try:
        mode = sandbox.detect(allow_unsafe=unsafe)
    except sandbox.SandboxUnavailable as e:
        raise BatchError(str(e)) from None
    sys.stderr.write(f"containment: {sandbox.describe(mode)}\n")
    return mode


def write_gradebook(rows, assignment, db_url, submissions=None, within=None):
    """Scores into nbgrader's gradebook (auto_score of each grade cell), creating the assignment and its cells in
    a new database, and the ``autograded/`` notebooks formgrader shows next to it (``autograder.gradebook``).
    ``submissions``: {student: notebook path}; ``within``: the batch folder. Returns the autograded folder."""
    from autograder import gradebook
    try:
        return gradebook.write(rows, assignment, db_url, submissions, within=within)
    except gradebook.GradebookError as e:
        raise BatchError(str(e)) from None


def _grade_and_store(zygote, student, path, digest, out, assignment, limits, within):
    """Grade one submission, then write its results and feedback; ``graded.json`` last, so a killed batch
    regrades it. ``within``: the batch folder, below which no symbolic link is followed."""
    result = grade_one(path, zygote, assignment, limits, within)
    result.lateness = submission_lateness(path, assignment)
    folder = out / assignment / student
    stored = result.to_gradescope()
    report.write_atomic(stored, folder / "results.json")
    feedback.write_student(student, result, out, assignment)
    report.write_atomic({"submission_sha256": digest}, folder / "graded.json")
    return stored


# One grading slot of the parallel pool: a grader process (spawned, so it shares nothing with the parent)
# with its own zygote. pytest.main is not thread-safe, so parallel checks need separate processes.
_SLOT = {}


def _slot_start(mode):
    from multiprocessing import util
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _SLOT["zygote"] = Zygote(mode=mode)
    util.Finalize(None, _SLOT["zygote"].close, exitpriority=10)


def _slot_grade(*args):
    return _grade_and_store(_SLOT["zygote"], *args)


def default_jobs():
    """Grading slots to use: ``course_config.BATCH_JOBS``, or one per CPU core this process may use."""
    return course_config.BATCH_JOBS or len(os.sched_getaffinity(0))


def _grade_todo(todo, done, submissions, out, limits, directory, mode, jobs, progress):
    """Grade ``todo`` into ``done`` ({(assignment, student): results.json dict}), in this process or a pool."""
    if jobs == 1:
        with Zygote(mode=mode) as zygote:
            for (assignment, student), path, digest in todo:
                done[(assignment, student)] = _grade_and_store(zygote, student, path, digest, out, assignment,
                                                               limits, directory)
                progress.update(len(done), f"{assignment}/{student}")
    elif todo:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_slot_start, initargs=(mode,)) as pool:
            futures = {pool.submit(_slot_grade, student, path, digest, out, assignment, limits, directory): key
                       for key, path, digest in todo for assignment, student in [key]}
            for future in as_completed(futures):
                assignment, student = key = futures[future]
                try:
                    done[key] = future.result()
                except Exception as e:  # noqa: BLE001 (a grading slot died: no graded.json, so a rerun retries)
                    done[key] = _failure(assignment, e).to_gradescope()
                    report.write_atomic(done[key], out / assignment / student / "results.json")
                progress.update(len(done), f"{assignment}/{student}")


def run(directory, out=None, assignments=None, gradebook=None, limits=None, jobs=None, unsafe=False):
    """Grade every submission under ``directory`` with ``jobs`` parallel slots, each worker in a sandbox.

    Returns ({assignment: {student: result}}, out). Writes, per assignment, ``out/<assignment>/<student>/
    results.json``, ``out/<assignment>/grades.csv`` and ``out/<assignment>/report/index.html``, and the
    feedback in nbgrader's layout, ``out/feedback/<student>/<assignment>/``. Refused names are listed in
    ``out/refused.json``. Raises BatchError (nothing graded) if a folder is a link or no sandbox is available.
    """
    directory = Path(directory)
    out = Path(out) if out else directory.parent / f"{directory.name}_graded"
    _not_a_link(directory, "the submissions folder")
    _not_a_link(out, "the output folder")
    mode = _sandbox_mode(unsafe)
    submissions, refused = find_submissions(directory, assignments)
    out.mkdir(parents=True, exist_ok=True)
    for name, reason in refused.items():
        sys.stderr.write(f"refused a submission named {name!r}: {reason}\n")
    report.write_atomic(refused, out / "refused.json")
    done, todo = {}, []
    for key, path in submissions.items():
        digest = _digest(path, directory)
        stored = _finished(out / key[0] / key[1], digest)
        if stored is not None:  # resumed batch: this exact submission is already graded
            done[key] = stored
        else:
            todo.append((key, path, digest))
    jobs = max(1, min(jobs or default_jobs(), len(todo)))
    progress = _Progress(len(submissions), len(done))
    try:
        _grade_todo(todo, done, submissions, out, limits, directory, mode, jobs, progress)
    finally:
        progress.close()
    graded = {}
    for assignment, student in submissions:
        graded.setdefault(assignment, {})[student] = done[(assignment, student)]
    for assignment, rows in graded.items():
        report.write_csv(rows, out / assignment / "grades.csv", assignment)
        feedback.write_instructor_report(rows, out / assignment / "report", assignment)
        paths = {student: submissions[(assignment, student)] for student in rows}
        answers.store(rows, paths, out / assignment, assignment, directory)
        if gradebook:
            write_gradebook(rows, assignment, gradebook, paths, directory)
    return graded, out


def table(rows, assignment):
    """The score table of one assignment's batch, one column per item."""
    items = list(checks.items(assignment))
    maxima = {}
    for c in report.test_cells(assignment):
        maxima[c["item"]] = maxima.get(c["item"], 0) + c["points"]
    short = [f"ex{n}" for n in range(1, len(items) + 1)]
    width = max([len(s) for s in rows] + [7])
    lines = [f"{assignment}:", f"{'student':<{width}} " + " ".join(f"{s:>11}" for s in short) + f" {'total':>7}"]
    for student, result in rows.items():
        s = report.item_scores(result)
        lines.append(f"{student:<{width}} " + " ".join(f"{s.get(i, 0):>5g} / {maxima[i]:<3g}" for i in items)
                     + f" {result['score']:>4g}/{sum(maxima.values()):g}")
    lines.append("  " + ", ".join(f"{s} = {i}" for s, i in zip(short, items)))
    return "\n".join(lines)
