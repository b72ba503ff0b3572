"""One batch on several machines: a batch is split into shards (``batch.run(shard=(K, N))``, ``batch --shard
K/N``): each grades the students whose name hashes to K (``shard_of``) into a folder of its own, and ``merge``
combines the shards' records into one output folder and renders it as one batch would (``render.assignment``),
after checking that the shards are one complete split of the same roster, graded by the same code.
"""
import hashlib
import sys
from pathlib import Path

import course_config
from autograder import intake, render, results
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
