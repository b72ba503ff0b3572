"""One batch on several machines: a batch is split into shards (``batch.run(shard=(K, N))``, ``batch --shard
K/N``): each grades the students whose name hashes to K (``shard_of``) into a folder of its own, and ``merge``
combines the shards' records into one output folder and renders it as one batch would (``render.assignment``),
after checking that the shards are one complete split of the same roster, graded by the same code.
"""
import hashlib
import sys
from pathlib import Path

import course_config
from autograder import course, render, results
from autograder.submissions import intake, late
from autograder import store as storage
from autograder.batch import BatchError, _not_a_link
from autograder.results import FINISHED_STATUSES


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


def _roster(students):
    """The count and the digest of a roster (any iterable of names)."""
    students = sorted(set(students))
    return {"students": len(students), "sha256": hashlib.sha256("\n".join(students).encode("utf-8")).hexdigest()}


def shard_marker(shard, submissions):
    """What a shard's ``shard.json`` says: its K and N, how students were split, the assignments and the whole
    roster the shard saw (a count and a digest), and its share ({assignment: [student]}, what it owes)."""
    k, n = shard
    assignments = [a for a in course_config.ASSIGNMENTS if any(a == key[0] for key in submissions)]
    share = {a: [student for assignment, student in submissions if assignment == a and shard_of(student, n) == k]
             for a in assignments}
    return {"shard": k, "of": n, "split": SPLIT, "assignments": assignments,
            "roster": _roster(student for _, student in submissions), "share": share}


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


def merge(out, shards, gradebook=None, directory=None, extensions=None):
    """Combine the records of ``shards`` (the output folders of ``batch --shard K/N``, one per K) into ``out``
    and render every output from them as one batch would: results.json, feedback, grades.csv, the report, the
    written answers for the TAs and, with ``gradebook``, nbgrader's gradebook (its ``autograded/`` notebooks
    and feedback pages need the submissions folder ``directory``).

    Nothing a shard's files say is trusted where it can be recomputed: each shard's share comes from the roster
    (``directory``'s students, else every student the shards hold a result of, checked against the roster every
    shard saw) and ``shard_of``, never from its ``shard.json``; a record counts only for its autograded verdict,
    with the notebook's checks and points; hand scores come only from ``out``'s own record, each checked against
    its question's points (a shard's ``hand_scores.json`` is not read).

    Refused with BatchError, before anything is written: a folder that is not a shard's; shards of different
    splits, assignments or rosters; a roster other than the shards saw; a shard given twice or missing; an
    unfinished shard; a student in a shard the split does not give it; a record with checks or points the
    notebook does not give; shards graded by different code, checks, reference values, points or limits (their
    fingerprints); an ``out`` that is a shard, holds results of students no shard has, or a hand score outside
    its question's points, and a bad extensions file (late.ExtensionsError). ``out``'s hand scores are kept. The late
    policy and the extensions (``extensions``, default ``late.extensions_path``) are applied as the outputs are
    rendered, from each record's submission time.
    Returns ({assignment: {student: SubmissionResult}}, out) as ``run`` does."""
    out = Path(out)
    _not_a_link(out, "the output folder")
    deadlines = late.deadlines(out, extensions)
    parts = [_open_shard(folder, out) for folder in shards]
    _one_split(parts)
    directory = Path(directory) if directory else None
    roster = _merge_roster(parts, directory)
    merged, owner = {}, {}
    for assignment in parts[0][0]["assignments"]:
        for marker, store in parts:
            rows = render.stored_results(store, assignment)
            owed = [student for student in roster if shard_of(student, marker["of"]) == marker["shard"]]
            lacking = [student for student in owed if student not in rows]
            if lacking:
                raise BatchError(f"{_label(marker)} ({store.out}) is unfinished: {len(lacking)} of its {len(owed)} "
                                 f"{assignment} results are not there; run it again to finish (what is done is kept)")
            for student in owed:
                owner[assignment, student] = f"{_label(marker)} ({store.out})"
                merged.setdefault(assignment, {})[student] = _checked(rows[student], student, owner)
        _strays(parts, assignment, owner)
    _same_grading(merged, owner)
    target = storage.Store(out)
    _merge_target(target, merged)
    for marker, store in parts:
        if any(store.hand_scores_path(a).exists() for a in marker["assignments"]):
            sys.stderr.write(f"{_label(marker)} ({store.out}) holds hand scores; a merge takes hand scores only from "
                             f"{out}'s own record: merge-manual them into {out}\n")
    out.mkdir(parents=True, exist_ok=True)
    storage.sweep(out)
    refused = {}
    for _, store in parts:  # every shard saw the same folder (its roster says so), so each lists the same names
        refused.update(store.refused())
    storage.write_json(out / storage.REFUSED, refused)
    paths = {}
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
        where = {student: paths[assignment, student] for student in rows if (assignment, student) in paths}
        full[assignment] = render.assignment(target, assignment, rows, gradebook, where or None, directory,
                                             deadlines)
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
    if not _well_formed(marker):
        raise BatchError(f"{folder} is not a shard's output (no readable {storage.SHARD}); grade each shard with "
                         "batch DIR --shard K/N --out FOLDER")
    return marker, store


def _well_formed(marker):
    """A ``shard.json`` as ``shard_marker`` writes it (its share is not read: the split is recomputed)."""
    if marker is None or not {"shard", "of", "assignments", "roster"} <= set(marker):
        return False
    k, n, roster = marker["shard"], marker["of"], marker["roster"]
    return (all(type(x) is int for x in (k, n)) and 1 <= k <= n and isinstance(marker["assignments"], list)
            and set(marker["assignments"]) <= set(course_config.ASSIGNMENTS) and isinstance(roster, dict)
            and set(roster) == {"students", "sha256"})


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


def _merge_target(target, merged):
    """Refuse an ``out`` that is a shard, holds students no shard has, or a hand-score record this grader would
    not write (a score above its question's points: ``store.hand_scores`` checks each)."""
    held = target.shard()
    if held is not None:
        raise BatchError(f"{target.out} holds {_label(held)}; merge into a new folder")
    for assignment in course_config.ASSIGNMENTS:
        extra = sorted(set(target.students(assignment)) - set(merged.get(assignment, {})))
        if extra:
            raise BatchError(f"{target.out} holds results of {', '.join(extra[:5])}"
                             + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
                             + f" ({assignment}) that no shard has; merge into a new folder")
        try:
            target.hand_scores(assignment)
        except storage.RecordError as e:
            raise BatchError(str(e)) from None


def _merge_roster(parts, directory):
    """The roster the split is recomputed from: the submissions folder's students when it is given, else every
    student the shards' folders hold a result of; either must be the roster every shard saw (its count and digest),
    so a student left out of a share, or a record dropped, is refused instead of vanishing."""
    first = parts[0][0]
    if directory:
        submissions, _ = intake.find_submissions(directory, first["assignments"])
        students, source = {student for _, student in submissions}, f"the submissions folder {directory} holds"
    else:
        students = {s for _, store in parts for a in first["assignments"] for s in store.students(a)}
        source = "the shards' folders hold results of"
        named = students | {s for marker, _ in parts for owed in _shares(marker) for s in owed}
        if _roster(students) != first["roster"] and _roster(named) == first["roster"]:
            students = named  # a shard has not finished: its shard.json names whom it lacks, the digest confirms it
    if _roster(students) != first["roster"]:
        raise BatchError(f"{source} {len(students)} students, but the shards saw {first['roster']['students']} (or "
                         "other names); run every shard again on the same submissions (what is unchanged is not "
                         "graded again)")
    return sorted(students)


def _shares(marker):
    """The lists of names a ``shard.json`` gives as its share (only a hint: the roster's digest must confirm them)."""
    share = marker.get("share")
    if not isinstance(share, dict):
        return []
    return [[s for s in owed if isinstance(s, str)] for owed in share.values() if isinstance(owed, list)]


def _strays(parts, assignment, owner):
    """Refuse a result in a shard's folder that the split does not give that shard."""
    for marker, store in parts:
        here = f"{_label(marker)} ({store.out})"
        for student in store.students(assignment):
            if owner.get((assignment, student)) != here:
                raise BatchError(f"{student[:80]!r} ({assignment}) is in {here}, but the split gives it to "
                                 f"{owner.get((assignment, student), 'no shard (not on the roster)')}; each student "
                                 f"belongs to one shard ({SPLIT})")


def _checked(result, student, owner):
    """A shard's record as a merge may use it: only the autograded verdict (hand scores come from the merge's own
    record), and only checks and written answers of the assignment's notebook, with its points."""
    tests = {c["test_id"]: c["points"] for c in course.test_cells(result.assignment)}
    written = dict(course.manual_cells(result.assignment))
    if (any(tests.get(c.test_id) != c.points for c in result.checks)
            or any(written.get(gid) != points for gid, points in result.manual)):
        raise BatchError(f"the record of {student[:80]!r} ({result.assignment}) in {owner[result.assignment, student]} "
                         "holds checks or points the notebook does not give; run that shard again")
    return result.autograded()
