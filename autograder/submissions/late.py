"""The late policy: how late a submission is against its due date or the student's extension, and what the course's
policy takes off for it (``course_config.LATE_POLICY``, ``course_config.DUE_DATES`` and the extensions file).

It is worked out whenever a result is rendered, from the time the submission was made (nbgrader's ``timestamp.txt``,
Gradescope's ``created_at``), and never stored with a verdict: a record keeps only that time
(``SubmissionResult.autograded``). So a changed policy, due date or extension re-renders every output and runs
nothing again. The penalty is a share of the assignment's maximum (autograded plus written), taken once off the
total (autograded plus hand scores), which never goes below 0 (``SubmissionResult.score``).

    late:     more than ``grace_minutes`` after the due date (the student's extension, when the file gives one)
    days:     the days started since that due date: ceil(seconds late / 86 400), 0 when not late
    percent:  min(days x percent_per_day, max_percent)
    penalty:  percent / 100 x the assignment's maximum, in points
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import course_config
from autograder.results import Lateness

#: The extensions file's columns, in this order (a header row first): who, which assignment, the new due date.
COLUMNS = ("student", "assignment", "due")

#: The largest extensions file read (an instructor's list; anything bigger is a mistake).
MAX_BYTES = 4 * 2**20


class ExtensionsError(ValueError):
    """The extensions file cannot be used: the message names the file and gives one line per bad row."""


def parse_time(text):
    """An aware UTC datetime from ISO 8601 (Gradescope's form) or nbgrader's timestamp.txt form
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


def _iso(when):
    return when.isoformat() if when else None


def judge(submitted_at, due, policy, extension=None, max_points=0.0, source=None):
    """A Lateness for a submission made at ``submitted_at`` under ``policy`` (course_config.LATE_POLICY's keys;
    a missing penalty key takes nothing off): against ``extension`` when given, else ``due``. ``max_points``: the
    assignment's maximum, of which the penalty is a share. Either time may be None (then not late)."""
    when, course_due, extended = parse_time(submitted_at), parse_time(due), parse_time(extension)
    deadline = extended or course_due
    seconds = (when - deadline).total_seconds() if when and deadline else 0.0
    late = bool(when and deadline and seconds > 60 * policy.get("grace_minutes", 0))
    days = math.ceil(seconds / 86400) if late else 0
    percent = min(days * policy.get("percent_per_day", 0), policy.get("max_percent", 100)) if late else 0
    return Lateness(submitted_at=_iso(when), due=_iso(course_due), late=late,
                    minutes_late=round(max(seconds / 60, 0.0), 1), source=source, extension=_iso(extended),
                    days_late=days, penalty_percent=percent, penalty=round(max_points * percent / 100, 2))


@dataclass
class Deadlines:
    """What a result's lateness is judged against: the policy, each assignment's due date, and the extensions
    ({(assignment, student): ISO time}), read from ``source``."""
    policy: dict
    due_dates: dict
    extensions: dict = field(default_factory=dict)
    source: Path | None = None

    def judge(self, result, student):
        """``result`` (a SubmissionResult) with its lateness judged for ``student``: the course's due date (else
        the one the result came with, as Gradescope's), the student's extension, and the penalty on the result's
        maximum. A result with no submission time is left as it is."""
        stamp = result.lateness
        if stamp is None:
            return result
        due = self.due_dates.get(result.assignment) or stamp.due
        judged = judge(stamp.submitted_at, due, self.policy, self.extensions.get((result.assignment, student)),
                       result.max_score, stamp.source)
        return dataclasses.replace(result, lateness=judged)


def from_config(extensions=None, source=None, policy=None, due_dates=None):
    """The course's Deadlines (course_config.LATE_POLICY and DUE_DATES, unless ``policy`` or ``due_dates`` are
    given, as ``make demo`` gives its own) with ``extensions``."""
    return Deadlines(policy or course_config.LATE_POLICY, dict(due_dates or course_config.DUE_DATES),
                     dict(extensions or {}), source)


def extensions_path(out, given=None):
    """The extensions file of a batch whose output folder is ``out``: ``given`` (``--extensions``), else
    ``LATE_POLICY["extensions_file"]``: an absolute path as it is, a relative one in the folder that holds ``out``
    (for ``batch submitted``, the course root beside ``submitted/``). None when there is no such file and none was
    given."""
    if given:
        return Path(given)
    name = course_config.LATE_POLICY["extensions_file"]
    if not name:
        return None
    path = Path(name) if Path(name).is_absolute() else Path(out).resolve().parent / name
    return path if path.exists() else None


def deadlines(out, given=None, say=True, policy=None, due_dates=None):
    """The Deadlines for a batch whose output folder is ``out``, with the extensions of ``extensions_path``
    (raises ExtensionsError, listing every bad row). ``say``: one line on stderr naming the file read.
    ``policy``, ``due_dates``: instead of the course's (``from_config``)."""
    path = extensions_path(out, given)
    found = read_extensions(path, due_dates=due_dates) if path else {}
    if path and say:
        sys.stderr.write(f"extensions: {len(found)} from {path}\n")
    return from_config(found, path, policy, due_dates)


def read_extensions(path, assignments=None, due_dates=None):
    """{(assignment, student): ISO time} from the CSV at ``path`` (header ``student,assignment,due``; the due date
    in ISO 8601 with a UTC offset). Every row is checked first; ExtensionsError lists each bad one in one line."""
    assignments = tuple(assignments or course_config.ASSIGNMENTS)
    due_dates = course_config.DUE_DATES if due_dates is None else due_dates
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ExtensionsError(f"{path}: the extensions file is over {MAX_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ExtensionsError(f"{path}: the extensions file cannot be read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise ExtensionsError(f"{path}: the extensions file is not UTF-8 text") from None
    problems, found, first = [], {}, {}
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise ExtensionsError(f"{path}: not a CSV file ({e})") from None
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if tuple(header) != COLUMNS:
        raise ExtensionsError(f"{path}: the first row must be the header {','.join(COLUMNS)}, not "
                              f"{','.join(header)[:80]!r}")
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        problem = _row_problem(row, assignments, due_dates)
        if problem:
            problems.append(f"line {line}: {problem}")
            continue
        student, assignment, due = (cell.strip() for cell in row)
        if (assignment, student) in first:
            problems.append(f"line {line}: a second extension for {student[:80]!r} in {assignment} (the first is on "
                            f"line {first[assignment, student]})")
            continue
        first[assignment, student] = line
        found[assignment, student] = parse_time(due).isoformat()
    if problems:
        raise ExtensionsError(f"{path}: {len(problems)} bad row(s) of the extensions file; fix them and run the "
                              "command again:\n  " + "\n  ".join(problems[:50])
                              + (f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""))
    return found


def _row_problem(row, assignments, due_dates):
    """Why one row of the extensions file cannot be used, or None."""
    if len(row) != len(COLUMNS):
        return f"{len(row)} fields, expected {len(COLUMNS)} ({','.join(COLUMNS)})"
    student, assignment, due = (cell.strip() for cell in row)
    if not student:
        return "no student"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in student) or "/" in student:
        return f"the student {student[:80]!r} holds a / or a control character"
    if assignment not in assignments:
        return f"unknown assignment {assignment[:80]!r} (one of {', '.join(assignments)})"
    try:
        when = _dt.datetime.fromisoformat(due.replace("Z", "+00:00") if due.endswith("Z") else due)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        return (f"the due date {due[:80]!r} is not an ISO 8601 time with a UTC offset "
                "(e.g. 2026-03-09T23:59:00+00:00)")
    course_due = parse_time(due_dates.get(assignment))
    if course_due and when < course_due:
        return f"the new due date {due} is before {assignment}'s due date {course_due.isoformat()}"
    return None
