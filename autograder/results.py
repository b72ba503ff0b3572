"""One typed result per graded submission: the only thing modules read and update.

It carries the autograded checks, the hand scores (``with_hand_scores``), the status and the fingerprint of
what produced it (below). Every fact is set where it becomes known: the checks' statuses by the pytest plugin
(``grade._Plugin``) from pytest's own report data, a limit hit by the code that caught ``WorkerDied``, a missing,
unreadable, invalid or misplaced submission by ``grade.grade_notebook``. Scores are computed from the statuses whenever
they are read. The renderers (``autograder.render``) only read the object, never parse text.

``to_gradescope`` writes everything the object holds as Gradescope's results.json (the Gradescope fields plus
``extra_data``), ``from_gradescope`` reads it back, and ``results.schema.json`` describes it; a batch's records
(``store``) are that form without the feedback text.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import course_config
from autograder import course
from autograder.text import CappedText, answer_text, within

#: The status of one check. ``error``: the grader itself failed on it (not the student's fault); ``limit``:
#: the worker running the student's code died or ran out of time while answering it; ``missing``: it never
#: ran because there was no notebook to run it on.
CHECK_STATUSES = ("passed", "failed", "error", "limit", "missing")

#: The status of the whole submission.
SUBMISSION_STATUSES = ("graded", "missing", "unreadable", "invalid_notebook", "wrong_assignment", "grader_error",
                       "unavailable")

#: Statuses of a verdict that is final for the submission's bytes: a batch records them as done. The others
#: (the grader failed, or could not run here) are tried again by the next run.
FINISHED_STATUSES = ("graded", "missing", "unreadable", "invalid_notebook", "wrong_assignment")

#: What a note about the whole submission is: ``info`` (a remark), ``limit`` (a limit hit or a skipped cell),
#: ``cell_error`` (a cell raised while the notebook ran).
NOTE_KINDS = ("info", "limit", "cell_error")

GRADESCOPE_VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")

#: What a written answer in a submission is (``course.answer``): written, left empty or as the release's stub (``no
#: response``), its cell gone (``missing``), no notebook to read it from (``unreadable``), nothing submitted.
ANSWER_STATUSES = ("answered", "no response", "missing", "unreadable", "not submitted")

#: Statuses of a submission whose notebook holds no answers to this assignment's questions.
_NO_ANSWERS = {"missing": "not submitted", "unreadable": "unreadable", "invalid_notebook": "unreadable",
               "wrong_assignment": "unreadable"}

SCHEMA_PATH = Path(__file__).resolve().with_name("results.schema.json")

#: The largest results.json a result renders to (``to_gradescope``): past it, every text is cut shorter.
RESULTS_BYTES = 2**20


@dataclass
class CheckResult(CappedText):
    """One graded test cell of the notebook, judged."""
    _CAPPED = ("description", "message")
    test_id: str              # the test cell's grade_id
    item: str                 # the exercise it grades (grade_id of the solution cell)
    description: str          # the test cell's first comment line
    points: float             # from the notebook's nbgrader metadata
    hidden: bool              # a hidden test cell (not in the student's release)
    status: str = "missing"
    message: str = ""         # for the student: what went wrong, or for a passed check how it was judged
    mistake: str | None = None  # a catalogued mistake's id
    manual: bool = False      # a written answer scored by hand (``merge-manual``); ``awarded`` is its score
    awarded: float | None = None

    @property
    def score(self):
        if self.manual:
            return self.awarded or 0
        return self.points if self.status == "passed" else 0

    @property
    def name(self):
        return f"{self.item}: {self.description}"


@dataclass
class HandScore(CappedText):
    """A score a TA gave a written answer by hand (``merge-manual``): a record of its own, never a check."""
    _CAPPED = ("comment",)
    score: float
    comment: str = ""


@dataclass
class Note(CappedText):
    """A remark about the whole submission, for the student."""
    _CAPPED = ("text", "where")
    kind: str
    text: str
    where: str | None = None  # the cell it is about, named as the student sees it
    held: bool = False  # written after the first hidden request: held with the hidden results (see grade.assemble)


@dataclass
class Student(CappedText):
    """Who submitted (from Gradescope's submission_metadata.json, or the batch folder's name)."""
    _CAPPED = ("name", "sid", "email")
    name: str | None = None
    sid: str | None = None
    email: str | None = None
    gradescope_id: int | None = None


@dataclass
class WrittenAnswer:
    """A written answer as the student submitted it, for the graders who score it by hand (on Gradescope, a hidden
    test of 0 points). Its text is student text: ``text.answer_text`` (plain, at most ANSWER_CHARS) whenever set."""
    grade_id: str
    status: str  # ANSWER_STATUSES
    text: str = ""

    def __setattr__(self, name, value):
        object.__setattr__(self, name, answer_text(value) if name == "text" else value)

    def shown(self):
        """What a grader reads: the answer, or in one line why there is none."""
        if self.status == "answered":
            return self.text
        if self.status == "missing":
            return (f"No answer written: the notebook has no answer cell {self.grade_id} (deleted, or its nbgrader "
                    "metadata changed).")
        if self.status == "unreadable":
            return ("No answer could be read: the submitted file is not a readable notebook of this assignment; "
                    "look at the submission itself.")
        return "No answer written."


@dataclass
class Lateness:
    """When it was submitted, against which due date (or the student's extension), whether the course's late policy
    calls it late, and the penalty it takes. Only the time (``submitted_at``, ``source``) is a fact of the
    submission; the rest is judged whenever the result is rendered (``submissions.late``), so a record keeps only
    the time (``SubmissionResult.autograded``)."""
    submitted_at: str | None = None  # ISO 8601
    due: str | None = None           # the course's due date (or the platform's)
    late: bool = False
    minutes_late: float = 0.0        # after the due date that applies: the extension's when there is one
    source: str | None = None  # "gradescope" or "timestamp.txt"
    extension: str | None = None     # the student's extended due date, from the extensions file
    days_late: int = 0               # days started after the due date that applies, when late
    penalty_percent: float = 0.0     # of the assignment's maximum: min(days x percent_per_day, max_percent)
    penalty: float = 0.0             # points taken once off the total (autograded plus hand scores)


@dataclass
class SubmissionResult(CappedText):
    """One graded submission. Its text fields, and those of its checks, notes and hand scores, are capped
    (``TEXT_BYTES``) when set, so every renderer gets capped text; its results.json stays under RESULTS_BYTES."""
    _CAPPED = ("reason", "cell_output")
    assignment: str
    checks: list[CheckResult]
    status: str = "graded"
    reason: str = ""            # why a submission is missing/unreadable/not graded, in one sentence
    notes: list[Note] = field(default_factory=list)
    cell_output: str = ""       # what the student's cells printed (bounded)
    manual: list[tuple[str, float]] = field(default_factory=list)  # the written answers: (grade_id, points)
    execution_time: float = 0.0
    sandbox: str | None = None
    students: list[Student] = field(default_factory=list)
    lateness: Lateness | None = None
    fingerprint: dict | None = None  # what produced the verdict (``autograder.fingerprint``)
    hand: dict[str, HandScore] = field(default_factory=dict)  # grade_id -> a TA's score of a written answer
    written: list[WrittenAnswer] = field(default_factory=list)  # the answers' text, for graders (the Gradescope door)

    # ---- scores: the autograded checks, the written answers graded by hand, and both --------------------
    @property
    def auto_score(self):
        return sum(c.score for c in self.checks)

    @property
    def auto_max(self):
        return sum(c.points for c in self.checks)

    @property
    def hand_score(self):
        return sum(h.score for gid, h in self.hand.items() if gid in dict(self.manual))

    @property
    def hand_max(self):
        """Points of the written answers a TA has scored."""
        return sum(points for gid, points in self.manual if gid in self.hand)

    @property
    def manual_max(self):
        return sum(points for _, points in self.manual)

    @property
    def penalty(self):
        """Points the late policy takes off (judged when the result is rendered: ``submissions.late``)."""
        return self.lateness.penalty if self.lateness else 0

    @property
    def score(self):
        """The total: the autograded checks plus the written answers graded by hand, less the late penalty (taken
        once, and never below 0)."""
        return max(0, self.auto_score + self.hand_score - self.penalty)

    @property
    def max_score(self):
        """What the assignment is out of: the autograded checks plus the written answers (one number per
        assignment, whether or not the TAs have scored the answers yet)."""
        return self.auto_max + self.manual_max

    def pending(self):
        """[(grade_id, points)] of the written answers no TA has scored yet."""
        return [(gid, points) for gid, points in self.manual if gid not in self.hand]

    def hand_checks(self):
        """The hand-given scores as CheckResults (``manual=True``), so every page lists them with the checks."""
        return [CheckResult(test_id=gid, item=gid, description="written answer, graded by hand", points=points,
                            hidden=False, status="passed" if self.hand[gid].score >= points else "failed",
                            message=self.hand[gid].comment, manual=True, awarded=self.hand[gid].score)
                for gid, points in self.manual if gid in self.hand]

    def items(self):
        """[(item, [checks])] in notebook order, the written answers scored by hand last."""
        order = {}
        for c in self.checks + self.hand_checks():
            order.setdefault(c.item, []).append(c)
        return list(order.items())

    def item_scores(self):
        return {item: sum(c.score for c in checks) for item, checks in self.items()}

    def scores_by_grade_id(self):
        """{test-cell grade_id: score}: what nbgrader's gradebook stores as each grade cell's auto_score."""
        return {c.test_id: c.score for c in self.checks}

    # ---- the operations on a result ------------------------------------------------------------
    def autograded(self):
        """This result without the hand-given scores and the late policy's judgement (only the submission's time
        is kept): what a batch records."""
        kept = self.lateness and Lateness(submitted_at=self.lateness.submitted_at, source=self.lateness.source)
        return dataclasses.replace(self, hand={}, lateness=kept or None)

    def with_hand_scores(self, given):
        """This result with the TAs' scores ``given`` ({grade_id: HandScore}) of its written answers applied
        (scores of grade_ids that are not written answers of its assignment are ignored)."""
        questions = dict(self.manual)
        return dataclasses.replace(self, hand={gid: h for gid, h in (given or {}).items() if gid in questions})

    def with_written_answers(self, nb):
        """This result with the text of each of its written answers, read from ``nb``, the notebook graded (None
        when none could be read), so graders see them in its results.json (``to_gradescope``)."""
        def one(gid):
            if self.status in _NO_ANSWERS or nb is None:
                return WrittenAnswer(gid, _NO_ANSWERS.get(self.status, "unreadable"))
            try:
                return WrittenAnswer(gid, *course.answer(nb, gid))
            except (AttributeError, TypeError, KeyError):  # a cell or metadata that is not nbgrader's
                return WrittenAnswer(gid, "unreadable")
        return dataclasses.replace(self, written=[one(gid) for gid, _ in self.manual])

    def weighed(self):
        """This verdict weighed as the course weighs it now: each check's points and description, and each written
        answer's points, from the source notebook (``course``), and the fingerprint's ``points`` part to match. A
        points-only change re-renders a stored verdict through this, without running anything again. A check the
        notebook no longer has keeps what it had (its verdict is stale anyway: the ``cells`` part differs)."""
        cells = {c["test_id"]: c for c in course.test_cells(self.assignment)}
        checks = [dataclasses.replace(c, points=cells[c.test_id]["points"],
                                      description=cells[c.test_id]["description"]) if c.test_id in cells else c
                  for c in self.checks]
        written = dict(course.manual_cells(self.assignment))
        fingerprint = self.fingerprint and {**self.fingerprint, "points": points_digest(self.assignment)}
        return dataclasses.replace(self, checks=checks, manual=[(gid, written.get(gid, p)) for gid, p in self.manual],
                                   fingerprint=fingerprint)

    def limit_notes(self):
        return [n for n in self.notes if n.kind == "limit"]

    # ---- results.json ---------------------------------------------------------------------------
    def to_gradescope(self, settings=None, output=""):
        """Gradescope's results.json as a dict. ``settings``: overrides of course_config.GRADESCOPE
        (visibilities); ``output``: the Markdown shown as the submission's text (``render.results_json`` passes
        the student's feedback)."""
        settings = {**_course_settings(), **(settings or {})}
        tests, number = [], {}
        for item_no, (item, checks) in enumerate(self.items(), 1):
            for k, c in enumerate(checks, 1):
                number[c.test_id] = f"{item_no}.{k}"
        for c in self.checks + self.hand_checks():
            tests.append({
                "name": c.name,
                "number": number[c.test_id],
                "score": c.score,
                "max_score": c.points,
                "status": "passed" if c.status == "passed" else "failed",
                "output": c.message if c.manual or c.status != "passed"
                else "passed" + (f": {c.message}" if c.message else ""),
                "tags": [c.item],
                "visibility": settings["hidden_check_visibility"] if c.hidden else "visible",
                "extra_data": {"grade_id": c.test_id, "item": c.item, "hidden": c.hidden, "mistake": c.mistake,
                               "status": c.status, "description": c.description, "manual": c.manual,
                               **({"note": c.message} if c.status == "passed" and c.message and not c.manual else {})},
            })
        tests += self._written_tests(settings)
        extra = {"assignment": self.assignment, "status": self.status, "reason": self.reason,
                 "notes": [asdict(n) for n in self.notes], "cell_output": self.cell_output,
                 "manual": [{"grade_id": g, "points": p} for g, p in self.pending()],
                 "sandbox": self.sandbox, "students": [asdict(s) for s in self.students],
                 "lateness": asdict(self.lateness) if self.lateness else None}
        if self.fingerprint is not None:
            extra["fingerprint"] = dict(self.fingerprint)
        return within({"score": self.score, "execution_time": round(self.execution_time, 2), "output": output,
                       "output_format": "md", "visibility": settings["visibility"],
                       "stdout_visibility": settings["stdout_visibility"], "tests": tests, "extra_data": extra},
                      RESULTS_BYTES)

    def _written_tests(self, settings):
        """A test per written answer, for graders only: its text as plain text, 0 points (``max_score`` 0, so the
        score and what students see of it are the checks' alone), ``written_answer_visibility``."""
        points = dict(self.manual)
        items = [item for item, _ in self.items()]
        counts = {item: len(checks) for item, checks in self.items()}
        tests = []
        for w in self.written:
            if w.grade_id not in counts:
                items.append(w.grade_id)
            counts[w.grade_id] = counts.get(w.grade_id, 0) + 1
            worth = f"{points[w.grade_id]:g} points, " if w.grade_id in points else ""
            tests.append({
                "name": f"{w.grade_id}: written answer ({worth}graded by hand), the student's text for graders",
                "number": f"{items.index(w.grade_id) + 1}.{counts[w.grade_id]}",
                "score": 0, "max_score": 0, "status": "passed",
                "output": w.shown(), "output_format": "text",
                "tags": [w.grade_id],
                "visibility": settings["written_answer_visibility"],
                "extra_data": {"grade_id": w.grade_id, "item": w.grade_id, "hidden": True, "written": True,
                               "answer": w.status},
            })
        return tests

    @classmethod
    def from_gradescope(cls, data):
        """The object back from a results.json this module wrote."""
        extra = data.get("extra_data", {})
        checks, hand, scored, written = [], {}, [], []
        for t in data["tests"]:
            x = t["extra_data"]
            if x.get("written"):
                text = t.get("output", "") if x.get("answer") == "answered" else ""
                written.append(WrittenAnswer(x["grade_id"], x.get("answer", "unreadable"), text))
                continue
            if x.get("manual"):
                hand[x["grade_id"]] = HandScore(t["score"], t.get("output", ""))
                scored.append((x["grade_id"], t["max_score"]))
                continue
            checks.append(CheckResult(
                test_id=x["grade_id"], item=x["item"],
                description=x.get("description") or t["name"].split(": ", 1)[-1], points=t["max_score"],
                hidden=x["hidden"], status=x.get("status") or t["status"],
                message=t.get("output", "") if t["status"] != "passed" else x.get("note", ""),
                mistake=x.get("mistake")))
        pending = [(m["grade_id"], m["points"]) for m in extra.get("manual", [])]
        return cls(assignment=extra["assignment"], checks=checks, status=extra.get("status", "graded"),
                   reason=extra.get("reason", ""), notes=[Note(**n) for n in extra.get("notes", [])],
                   cell_output=extra.get("cell_output", ""),
                   manual=scored + pending,
                   execution_time=data.get("execution_time", 0.0), sandbox=extra.get("sandbox"),
                   students=[Student(**s) for s in extra.get("students", [])],
                   lateness=Lateness(**extra["lateness"]) if extra.get("lateness") else None,
                   fingerprint=extra.get("fingerprint"), hand=hand, written=written)


def _course_settings():
    return course_config.GRADESCOPE


@functools.cache
def schema():
    return json.loads(SCHEMA_PATH.read_text())


def validate(data):
    """Raise jsonschema.ValidationError unless ``data`` is a results.json this grader may write."""
    import jsonschema
    jsonschema.validate(data, schema(), format_checker=jsonschema.FormatChecker())


def typed(result):
    """A SubmissionResult, from itself or from its results.json dict."""
    return result if isinstance(result, SubmissionResult) else SubmissionResult.from_gradescope(result)


# The fingerprint lives in autograder/submissions/fingerprint.py; batch, shards and the tests reach it here too.
from autograder.submissions.fingerprint import (  # noqa: E402
    FINGERPRINT_PARTS, GRADING_CODE, WEIGHT_PARTS, cells_digest, checks_digest, fingerprint, fingerprint_changes, grader_digest,
    only_weights, points_digest, reference_digest, regrade_reason, settings_digest)
