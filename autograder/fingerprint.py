"""What produced a verdict: a fingerprint of everything a submission's grade depends on.

A fingerprint is a dict of SHA-256 digests, one per *part*:

* ``submission``: the notebook's bytes (``missing`` when there is none);
* ``checks``: the assignment's hidden checks (``autograder/checks/<assignment>/``, the shared check runner)
  and its protocol module with the visible checks (``source/<assignment>/<module>.py``, ``checks_core.py``);
* ``reference``: the stored reference values (``autograder/reference/<assignment>.json``);
* ``points``: the graded cells of the source notebook (grade ids, points, hidden or visible);
* ``grader``: the grader's own code (every module of ``autograder/`` that takes part in a verdict: reading,
  extracting, the worker and its sandbox, the assembly of the result);
* ``settings``: the limits and the short training budget the worker runs with (``course_config.py``).

A batch stores the fingerprint in each record and regrades exactly the submissions whose fingerprint differs
from the current one, naming the parts that changed. Renderers (feedback, reports, CSV, the gradebook) are
not part of it: changing them re-renders every page without running any student code again.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import course_config
from autograder import course, reference

PACKAGE = Path(__file__).resolve().parent

#: Modules of ``autograder/`` that only render, schedule or integrate; they never change a verdict, so they are
#: left out of the ``grader`` part. Every other module (a new one too) counts as grading code.
NOT_GRADING = frozenset({
    "__main__.py", "answers.py", "batch.py", "examples.py", "feedback.py", "fingerprint.py", "gradebook.py",
    "lms.py", "nbgrader_path.py", "render.py", "store.py", "validate.py",
})
NOT_GRADING_DIRS = frozenset({"gradescope", "templates", "reference", "checks"})

#: The parts, in the order reasons name them, with how a reason says each one changed.
PARTS = {
    "submission": "the submission changed",
    "checks": "the checks of {assignment} changed",
    "reference": "the reference values of {assignment} changed",
    "points": "the points of {assignment} changed",
    "grader": "the grader's code changed",
    "settings": "the grading limits or budget changed",
}


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
    files = [p for p in PACKAGE.rglob("*.py")
             if p.name not in NOT_GRADING and not (NOT_GRADING_DIRS & set(p.relative_to(PACKAGE).parts[:-1]))
             and "__pycache__" not in p.parts]
    checks_core = PACKAGE / "checks"
    files += [checks_core / "__init__.py", checks_core / "test_cells.py"]
    return _digest_files(files, PACKAGE.parent)


@functools.cache
def checks_digest(assignment):
    source = course_config.ROOT / course_config.SOURCE_DIR
    files = sorted((PACKAGE / "checks" / assignment).glob("*.py"))
    files += [PACKAGE / "checks" / "__init__.py", PACKAGE / "checks" / "test_cells.py",
              source / "checks_core.py", source / assignment / f"{course_config.CHECKS_MODULE[assignment]}.py"]
    return _digest_files(files, course_config.ROOT)


@functools.cache
def reference_digest(assignment):
    path = reference.reference_file(assignment)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


@functools.cache
def points_digest(assignment):
    return _digest_json([course.test_cells(assignment), course.manual_cells(assignment)])


def settings_digest(assignment, limits=None):
    return _digest_json({"limits": limits or course_config.GRADING,
                         "budget": course_config.SHORT_BUDGET.get(assignment),
                         "skip_tag": course_config.SKIP_WHEN_GRADING_TAG})


def of(assignment, submission_digest, limits=None):
    """The current fingerprint of a submission whose bytes hash to ``submission_digest`` (None: missing)."""
    return {"submission": submission_digest or "missing", "checks": checks_digest(assignment),
            "reference": reference_digest(assignment), "points": points_digest(assignment),
            "grader": grader_digest(), "settings": settings_digest(assignment, limits)}


def changed(old, new):
    """The parts that differ between a stored fingerprint and the current one (all of them if none is stored)."""
    if not old:
        return list(PARTS)
    return [part for part in PARTS if old.get(part) != new.get(part)]


def reason(parts, assignment):
    """Why a submission is regraded, in words: "the checks of normalising_flows changed"."""
    if set(parts) == set(PARTS):
        return "not graded before"
    return " and ".join(PARTS[p].format(assignment=assignment) for p in parts)
