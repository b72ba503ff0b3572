"""One typed result per graded submission, and how it renders to Gradescope's results.json.

Every fact is set where it becomes known: the checks' statuses by the pytest plugin (``grade._Plugin``) from
pytest's own report data, a limit hit by the code that caught ``WorkerDied``, a missing or unreadable
submission by ``grade.grade``. The renderers (results.json here, grades.csv and the score table in
``batch``, the feedback and the instructor report in ``feedback``) only read the object, never parse text.

``results.json`` is the stored form: ``to_gradescope`` writes everything the object holds (the Gradescope
fields plus ``extra_data``), ``from_gradescope`` reads it back, and ``results.schema.json`` describes it.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: The status of one check. ``error``: the grader itself failed on it (not the student's fault); ``limit``:
#: the worker running the student's code died or ran out of time while answering it; ``missing``: it never
#: ran because there was no notebook to run it on.
CHECK_STATUSES = ("passed", "failed", "error", "limit", "missing")

#: The status of the whole submission.
SUBMISSION_STATUSES = ("graded", "missing", "unreadable", "wrong_assignment", "grader_error", "unavailable")

#: Statuses of a verdict that is final for the submission's bytes: a batch records them as done. The others
#: (the grader failed, or could not run here) are tried again by the next run.
FINISHED_STATUSES = ("graded", "missing", "unreadable", "wrong_assignment")

#: What a note about the whole submission is: ``info`` (a remark), ``limit`` (a limit hit or a skipped cell),
#: ``cell_error`` (a cell raised while the notebook ran).
NOTE_KINDS = ("info", "limit", "cell_error")

GRADESCOPE_VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")

SCHEMA_PATH = Path(__file__).resolve().with_name("results.schema.json")


@dataclass
class CheckResult:
    """One graded test cell of the notebook, judged."""
    test_id: str              # the test cell's grade_id
    item: str                 # the exercise it grades (grade_id of the solution cell)
    description: str          # the test cell's first comment line
    points: float             # from the notebook's nbgrader metadata
    hidden: bool              # a hidden test cell (not in the student's release)
    status: str = "missing"
    message: str = ""         # for the student; empty when passed
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
class HandScore:
    """A score a TA gave a written answer by hand (``merge-manual``): a record of its own, never a check."""
    score: float
    comment: str = ""


@dataclass
class Note:
    """A remark about the whole submission, for the student."""
    kind: str
    text: str
    where: str | None = None  # the cell it is about, named as the student sees it


@dataclass
class Student:
    """Who submitted (from Gradescope's submission_metadata.json, or the batch folder's name)."""
    name: str | None = None
    sid: str | None = None
    email: str | None = None
    gradescope_id: int | None = None


@dataclass
class Lateness:
    """When it was submitted, against which due date, and whether the course's late policy calls it late."""
    submitted_at: str | None = None  # ISO 8601
    due: str | None = None
    late: bool = False
    minutes_late: float = 0.0
    source: str | None = None  # "gradescope" or "timestamp.txt"


@dataclass
class SubmissionResult:
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
    def score(self):
        """Everything scored so far: the autograded checks plus the written answers graded by hand."""
        return self.auto_score + self.hand_score

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
        """This result without the hand-given scores: what a batch records."""
        return dataclasses.replace(self, hand={})

    def with_hand_scores(self, given):
        """This result with the TAs' scores ``given`` ({grade_id: HandScore}) of its written answers applied
        (scores of grade_ids that are not written answers of its assignment are ignored)."""
        questions = dict(self.manual)
        return dataclasses.replace(self, hand={gid: h for gid, h in (given or {}).items() if gid in questions})

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
                "output": c.message if c.manual or c.status != "passed" else "passed",
                "tags": [c.item],
                "visibility": settings["hidden_check_visibility"] if c.hidden else "visible",
                "extra_data": {"grade_id": c.test_id, "item": c.item, "hidden": c.hidden, "mistake": c.mistake,
                               "status": c.status, "description": c.description, "manual": c.manual},
            })
        extra = {"assignment": self.assignment, "status": self.status, "reason": self.reason,
                 "notes": [asdict(n) for n in self.notes], "cell_output": self.cell_output,
                 "manual": [{"grade_id": g, "points": p} for g, p in self.pending()],
                 "sandbox": self.sandbox, "students": [asdict(s) for s in self.students],
                 "lateness": asdict(self.lateness) if self.lateness else None}
        if self.fingerprint is not None:
            extra["fingerprint"] = dict(self.fingerprint)
        return {"score": self.score, "execution_time": round(self.execution_time, 2), "output": output,
                "output_format": "md", "visibility": settings["visibility"],
                "stdout_visibility": settings["stdout_visibility"], "tests": tests, "extra_data": extra}

    @classmethod
    def from_gradescope(cls, data):
        """The object back from a results.json this module wrote."""
        extra = data.get("extra_data", {})
        checks, hand, scored = [], {}, []
        for t in data["tests"]:
            x = t["extra_data"]
            if x.get("manual"):
                hand[x["grade_id"]] = HandScore(t["score"], t.get("output", ""))
                scored.append((x["grade_id"], t["max_score"]))
                continue
            checks.append(CheckResult(
                test_id=x["grade_id"], item=x["item"],
                description=x.get("description") or t["name"].split(": ", 1)[-1], points=t["max_score"],
                hidden=x["hidden"], status=x.get("status") or t["status"],
                message=t.get("output", "") if t["status"] != "passed" else "", mistake=x.get("mistake")))
        pending = [(m["grade_id"], m["points"]) for m in extra.get("manual", [])]
        return cls(assignment=extra["assignment"], checks=checks, status=extra.get("status", "graded"),
                   reason=extra.get("reason", ""), notes=[Note(**n) for n in extra.get("notes", [])],
                   cell_output=extra.get("cell_output", ""),
                   manual=scored + pending,
                   execution_time=data.get("execution_time", 0.0), sandbox=extra.get("sandbox"),
                   students=[Student(**s) for s in extra.get("students", [])],
                   lateness=Lateness(**extra["lateness"]) if extra.get("lateness") else None,
                   fingerprint=extra.get("fingerprint"), hand=hand)


def _course_settings():
    import course_config
    return course_config.GRADESCOPE


@functools.cache
def schema():
    return json.loads(SCHEMA_PATH.read_text())


def validate(data):
    """Raise jsonschema.ValidationError unless ``data`` is a results.json this grader may write."""
    import jsonschema
    jsonschema.validate(data, schema(), format_checker=jsonschema.FormatChecker())


# ---- submission times and the late policy ---------------------------------------------------------
def parse_time(text):
    """An aware datetime from ISO 8601 (Gradescope's form) or nbgrader's timestamp.txt form
    ("2026-11-30 09:01:14.123456 UTC", read the way nbgrader reads it); None if ``text`` is empty or not a
    time. A time without a zone is taken as UTC."""
    if not text:
        return None
    text = str(text).strip()
    try:
        when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        from nbgrader.utils import parse_utc
        try:
            when = parse_utc(text)  # naive, in UTC
        except (ValueError, OverflowError):
            return None
    return when.astimezone(_dt.timezone.utc) if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


def lateness(submitted_at, due, policy, source=None):
    """A Lateness for a submission time and a due date under ``policy`` (course_config.LATE_POLICY:
    ``grace_minutes``: how late still counts as on time). Either time may be None (then not late)."""
    when, deadline = parse_time(submitted_at), parse_time(due)
    minutes = (when - deadline).total_seconds() / 60 if when and deadline else 0.0
    late = bool(when and deadline and minutes > policy.get("grace_minutes", 0))
    return Lateness(submitted_at=when.isoformat() if when else None, due=deadline.isoformat() if deadline else None,
                    late=late, minutes_late=round(max(minutes, 0.0), 1), source=source)


def typed(result):
    """A SubmissionResult, from itself or from its results.json dict."""
    return result if isinstance(result, SubmissionResult) else SubmissionResult.from_gradescope(result)
