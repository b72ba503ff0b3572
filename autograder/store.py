"""Where a batch's results live on disk: the only module that knows the output layout and writes to it.

The output folder OUT of ``python -m autograder batch`` holds two kinds of files:

* **records**, the facts a rerun starts from. Nothing else is ever read back.
  - ``OUT/<assignment>/<student>/graded.json``: the autograded result with its fingerprint
    (``autograder.fingerprint``). It is written once the verdict is final, in one atomic rename, so it is
    the done marker: a submission without one, or with a fingerprint that no longer matches, is graded again.
  - ``OUT/<assignment>/hand_scores.json``: the scores TAs gave by hand (``merge-manual``), kept apart from
    the autograded records, so a regrade never loses them.
  - ``OUT/<assignment>/written_answers.json``: the written answers, for the TAs' page.
  - ``OUT/shard.json``: only in a shard's folder (``batch --shard K/N``): which share of the batch it holds,
    of which split, and a digest of the roster the shard saw, so ``merge-shards`` can tell that the shards
    belong together (``shards.merge``).
* **renderings**, rewritten from the records whenever anything changes (``autograder.render``):
  ``results.json`` per student, ``grades.csv``, ``report/``, ``feedback/<student>/<assignment>/``.

Every write is atomic (a temporary file in the same folder, then ``os.replace``): a reader, or a rerun after
SIGKILL, sees the old file or the new one, never half of one. A killed run may leave its temporary files
behind; ``sweep`` removes them at the next start.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from autograder import course
from autograder.results import HandScore, SubmissionResult

RECORD = "graded.json"
RESULTS = "results.json"
HAND_SCORES = "hand_scores.json"
WRITTEN_ANSWERS = "written_answers.json"
GRADES_CSV = "grades.csv"
REPORT_DIR = "report"
FEEDBACK_DIR = "feedback"
REFUSED = "refused.json"
SHARD = "shard.json"
#: Names a student's folder cannot have: they would stand where an assignment's outputs go (``similarity`` and
#: ``lms``: the folders of the similarity report and of ``integrations.lms_export``).
RESERVED_NAMES = frozenset({GRADES_CSV, REPORT_DIR, HAND_SCORES, WRITTEN_ANSWERS, REFUSED, "answers.html",
                            "manual_scores.csv", "similarity", "lms"})
_TEMPORARY = ".tmp-"  # prefix of the temporary files of atomic writes


class RecordError(ValueError):
    """A record holds what this grader never writes (a hand score above its question's points, say); the
    message says which file and why, in one line."""


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically; unchanged content is not rewritten (mtimes say what changed)."""
    path = Path(path)
    try:
        if path.read_bytes() == data:
            return path
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_TEMPORARY}{path.name}.")
    try:
        os.fchmod(fd, _FILE_MODE)  # as open() would create it (mkstemp's files are owner-only)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path, text):
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, data):
    """JSON, atomically."""
    return write_text(path, json.dumps(data, indent=1) + "\n")


def read_json(path):
    """The JSON in ``path``, or None when it is absent or not JSON (a file this module did not finish)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def sweep(folder):
    """Remove the temporary files a killed run left under ``folder``; returns how many."""
    count = 0
    for path in Path(folder).rglob(f"{_TEMPORARY}*"):
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            count += 1
    return count


_FIX = "fix or remove the file, then merge-manual the scores again"


def _hand_scores(path, student, given, points):
    """One student's entry of a hand-score record, checked: {grade_id: HandScore}."""
    if not isinstance(given, dict):
        raise RecordError(f"{path}: the entry of {student[:80]!r} is not a set of scores; " + _FIX)
    out = {}
    for gid, entry in given.items():
        score = entry.get("score") if isinstance(entry, dict) else None
        comment = entry.get("comment", "") if isinstance(entry, dict) else None
        if gid not in points:
            raise RecordError(f"{path}: {student[:80]!r} has a score for {gid!r}, which is no hand-graded question; "
                              + _FIX)
        if (isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score)
                or not isinstance(comment, str) or set(entry) - {"score", "comment"}):
            raise RecordError(f"{path}: the {gid} score of {student[:80]!r} is not a number with a comment; "
                              + _FIX)
        if not 0 <= score <= points[gid]:
            raise RecordError(f"{path}: the {gid} score of {student[:80]!r} is {score:g}, outside 0..{points[gid]:g}; "
                              + _FIX)
        if not float(score * 2).is_integer():  # the README: hand scores are in halves (manual.SCORE_STEP)
            raise RecordError(f"{path}: the {gid} score of {student[:80]!r} is {score:g}, not in halves; " + _FIX)
        out[gid] = HandScore(score, comment)
    return out


class Store:
    """One batch output folder."""

    def __init__(self, out):
        self.out = Path(out)

    # ---- layout ----------------------------------------------------------------------------------
    def assignment_dir(self, assignment):
        return self.out / assignment

    def student_dir(self, assignment, student):
        return self.out / assignment / student

    def results_path(self, assignment, student):
        return self.student_dir(assignment, student) / RESULTS

    def record_path(self, assignment, student):
        return self.student_dir(assignment, student) / RECORD

    def feedback_dir(self, assignment, student):
        return self.out / FEEDBACK_DIR / student / assignment

    def grades_csv(self, assignment):
        return self.out / assignment / GRADES_CSV

    def report_dir(self, assignment):
        return self.out / assignment / REPORT_DIR

    def written_answers_path(self, assignment):
        return self.out / assignment / WRITTEN_ANSWERS

    def hand_scores_path(self, assignment):
        return self.out / assignment / HAND_SCORES

    def students(self, assignment):
        """Students with a result (a record or a rendering) for ``assignment``, sorted."""
        folder = self.assignment_dir(assignment)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir()
                      if p.is_dir() and not p.is_symlink() and ((p / RECORD).exists() or (p / RESULTS).exists()))

    # ---- records -----------------------------------------------------------------------------------
    def record(self, assignment, student):
        """The stored autograded result (with its fingerprint), or None if there is no finished one."""
        data = read_json(self.record_path(assignment, student))
        if not isinstance(data, dict):
            return None
        try:
            return SubmissionResult.from_gradescope(data)
        except (KeyError, TypeError, ValueError):
            return None

    def save_record(self, assignment, student, result):
        """Record a finished verdict. Only the autograded part is stored: hand scores live in their own file."""
        return write_json(self.record_path(assignment, student), result.autograded().to_gradescope(output=""))

    def hand_scores(self, assignment):
        """{student: {grade_id: HandScore}} given by TAs for ``assignment``, each checked against its question's
        points: RecordError (one line) for a score outside 0..points, an unknown grade_id or a malformed entry."""
        path = self.hand_scores_path(assignment)
        data = read_json(path) or {}
        points = {q["grade_id"]: q["points"] for q in course.questions(assignment)}
        if not isinstance(data, dict):
            raise RecordError(f"{path}: not a hand-score record; " + _FIX)
        return {student: _hand_scores(path, student, given, points) for student, given in data.items()}

    def save_hand_scores(self, assignment, scores):
        data = {student: {gid: asdict(h) for gid, h in sorted(given.items())}
                for student, given in sorted(scores.items()) if given}
        return write_json(self.hand_scores_path(assignment), data)

    def written_answers(self, assignment):
        return read_json(self.written_answers_path(assignment))

    def refused(self):
        """{name: why} of the submissions the batch refused (``refused.json``)."""
        data = read_json(self.out / REFUSED)
        return data if isinstance(data, dict) else {}

    def shard(self):
        """What ``shard.json`` says this folder holds ({"shard": K, "of": N, ...}), or None (not a shard's)."""
        data = read_json(self.out / SHARD)
        return data if isinstance(data, dict) else None

    def save_shard(self, marker):
        return write_json(self.out / SHARD, marker)

    def assignments(self, known):
        """The assignments of ``known`` that have a folder of results here, in ``known``'s order."""
        return [a for a in known if self.assignment_dir(a).is_dir() and self.students(a)]
