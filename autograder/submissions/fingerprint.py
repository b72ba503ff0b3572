"""A verdict's fingerprint: what produced it. The parts a verdict depends on (the submission, the checks, the
reference values, the graded cells, the grader's code, the limits) are kept apart from the part that only weighs it
(the points), so a batch regrades exactly what changed and re-renders what only needs weighing again."""
import functools
import hashlib
import json
from pathlib import Path

import course_config
from autograder import course


# ---- fingerprints: what produced a verdict, and what weighs it ------------------------------------------------
# A fingerprint is a dict of SHA-256 digests, one per *part*. Most parts are what a verdict (each check's status,
# message and mistake, the notes) depends on:
#
# * ``submission``: the notebook's bytes (``missing`` when there is none);
# * ``checks``: the assignment's hidden checks (``autograder/checks/<assignment>/``, the shared check runner)
#   and the support files that ship with its release (``source/<assignment>/*.py``: its protocol module with the
#   visible checks, the modules it is made of, and the shared ``checks_*.py``);
# * ``reference``: the stored reference values (``autograder/reference/<assignment>.json``);
# * ``cells``: which graded cells there are (grade ids, items, hidden or visible, the written questions) and what
#   of the release the worker's code extraction reads (its test cells' sources, its skip-when-grading cells);
# * ``grader``: the grader's own code (every module of ``autograder/`` that takes part in a verdict: reading,
#   extracting, the worker and its sandbox, the assembly of the result);
# * ``settings``: the limits and the short training budget the worker runs with (``course_config.py``).
#
# One part only weighs a verdict (WEIGHT_PARTS): ``points``, the points of the graded cells and of the written
# questions (nbgrader's metadata of the source notebook, which ``make release`` copies into release/ and
# solutions/). The late policy, due dates and extensions are in no part: lateness and its penalty are worked out
# whenever a result is rendered (``submissions/late.py``), and a record keeps only the submission's time.
#
# A batch stores the fingerprint in each record. A submission whose verdict parts all match is not graded again;
# if only its weights changed, its record is weighed again (``SubmissionResult.weighed``) and re-rendered, with no
# notebook run and no TensorFlow imported; otherwise it is graded again, naming the parts that changed. Renderers
# (feedback, reports, CSV, the gradebook) are in no part: changing them re-renders every page.
PACKAGE = Path(__file__).resolve().parents[1]  # autograder/

#: The grader's code that decides a verdict: the path from a notebook's bytes to the checks' statuses (reading,
#: extracting, the course model, the worker and its sandbox, running the checks). The checks themselves are their
#: own part. Scheduling, the records, the renderers and the integrations never change a verdict, so a change to
#: them re-renders the pages without grading anyone again; scores are computed from the stored statuses when a
#: result is rendered, so this module is not among them either.
GRADING_CODE = ("grade.py", "submissions/read.py", "submissions/extract.py", "submissions/fingerprint.py", "notebooks.py", "course.py", "reference.py",
                "text.py", "worker")

#: The parts, in the order reasons name them, with how a reason says each one changed.
FINGERPRINT_PARTS = {
    "submission": "the submission changed",
    "checks": "the checks of {assignment} changed",
    "reference": "the reference values of {assignment} changed",
    "cells": "the graded cells of {assignment} changed",
    "points": "the points of {assignment} changed",
    "grader": "the grader's code changed",
    "settings": "the grading limits or budget changed",
}

#: The parts that only weigh a verdict: a change in them alone re-renders, never re-executes.
WEIGHT_PARTS = ("points",)


def _digest_files(paths, root):
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(Path(path).relative_to(root)).encode() + b"\0")
        h.update(Path(path).read_bytes() + b"\0")
    return h.hexdigest()


def _digest_json(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


@functools.cache
def grader_digest():
    files = [p for name in GRADING_CODE for p in ([PACKAGE / name] if name.endswith(".py")
                                                  else sorted((PACKAGE / name).rglob("*.py")))]
    return _digest_files(files, PACKAGE.parent)


@functools.cache
def checks_digest(assignment):
    files = sorted((PACKAGE / "checks" / assignment).glob("*.py"))
    files += [PACKAGE / "checks" / "__init__.py", PACKAGE / "checks" / "test_cells.py",
              *course.support_files(assignment)]
    return _digest_files(files, course_config.ROOT)


@functools.cache
def reference_digest(assignment):
    path = course.reference_file(assignment)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


@functools.cache
def cells_digest(assignment):
    """Which graded cells the assignment has and what of its release the extraction reads: not their points."""
    plan = course.plan(assignment)
    tests, skipped = plan.release_tests or (), plan.skip_ids or ()
    return _digest_json({"tests": [(c["test_id"], c["item"], c["hidden"]) for c in course.test_cells(assignment)],
                         "written": [gid for gid, _ in course.manual_cells(assignment)],
                         "release": [sorted(tests), sorted(skipped, key=str)]})


@functools.cache
def points_digest(assignment):
    """The points of the assignment's graded cells and written questions: what weighs a verdict."""
    return _digest_json([[(c["test_id"], c["points"]) for c in course.test_cells(assignment)],
                         course.manual_cells(assignment)])


def settings_digest(assignment, limits=None):
    return _digest_json({"limits": limits or course_config.GRADING,
                         "budget": course_config.SHORT_BUDGET.get(assignment),
                         "skip_tag": course_config.SKIP_WHEN_GRADING_TAG})


def fingerprint(assignment, submission_digest, limits=None):
    """The current fingerprint of a submission whose bytes hash to ``submission_digest`` (None: missing)."""
    return {"submission": submission_digest or "missing", "checks": checks_digest(assignment),
            "reference": reference_digest(assignment), "cells": cells_digest(assignment),
            "points": points_digest(assignment), "grader": grader_digest(),
            "settings": settings_digest(assignment, limits)}


def fingerprint_changes(old, new):
    """The parts that differ between a stored fingerprint and the current one (all of them if none is stored)."""
    if not old:
        return list(FINGERPRINT_PARTS)
    return [part for part in FINGERPRINT_PARTS if old.get(part) != new.get(part)]


def only_weights(parts):
    """Whether ``parts`` (changed, as ``fingerprint_changes`` gives them) only weigh the verdict: re-render it."""
    return bool(parts) and all(part in WEIGHT_PARTS for part in parts)


def regrade_reason(parts, assignment):
    """Why a submission is regraded, in words: "the checks of normalising_flows changed"."""
    if set(parts) == set(FINGERPRINT_PARTS):
        return "not graded before"
    return " and ".join(FINGERPRINT_PARTS[p].format(assignment=assignment) for p in parts)
