"""Hidden checks: ``autograder/checks/<assignment>/<item>.py``, one module per graded item.

An *item* is an autograded solution cell of the source notebook (its grade_id); its test cells are the
graded cells whose grade_id starts with ``<item>_``. Each item module defines:

* ``REQUESTS``: name -> request, the hidden inputs. ``make reference`` answers them from the solutions
  and stores the answers in ``autograder/reference/<assignment>.json``.
* ``HIDDEN``: test-cell grade_id -> list of check functions ``fn(ask, ref)``. ``ask`` answers a request
  about the student's objects; ``ref`` maps the module's request names to reference answers. A check
  raises ``CheckFailure`` with a message for the student, and never puts reference values in it.

Every assignment also ships a *protocol* module with its release (``course_config.CHECKS_MODULE``, e.g.
``nf_checks.py``): the question protocol ``answer(namespace, request)``, the visible checks (``VISIBLE``),
the mistake catalogue (``MISTAKES``) and ``check()`` for students. Nothing here is specific to one assignment.
"""
import functools
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

import course_config
from autograder import notebooks
from autograder.worker import wire

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"


def source_notebook(assignment):
    return course_config.ROOT / course_config.SOURCE_DIR / assignment / f"{assignment}.ipynb"


@functools.cache
def source_cells(assignment):
    """The source notebook's cells, read once per process (grading reads its points for every submission)."""
    return tuple(notebooks.read(source_notebook(assignment)).cells)


def _source_cells(assignment):
    return [notebooks.grade_meta(c) for c in source_cells(assignment)]


@functools.cache
def test_ids(assignment):
    """grade_ids of the assignment's graded test cells, in notebook order."""
    return tuple(m["grade_id"] for m in _source_cells(assignment) if m.get("grade") and not m.get("solution"))


@functools.cache
def items(assignment):
    """The autograded items: solution cells whose grade_id prefixes some test cell's, in notebook order."""
    tests = test_ids(assignment)
    return tuple(m["grade_id"] for m in _source_cells(assignment)
                 if m.get("solution") and not m.get("grade") and any(t.startswith(m["grade_id"] + "_") for t in tests))


def item_of(assignment, test_id):
    """The item a test cell belongs to (the longest matching prefix), or None."""
    matches = [i for i in items(assignment) if test_id.startswith(i + "_")]
    return max(matches, key=len) if matches else None


#: The helpers every protocol module imports (``source/checks_core.py``, linked into each assignment folder).
CORE_MODULE = "checks_core"


def _load(name, path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def protocol(assignment):
    """The assignment's protocol module, loaded from source/ under its own name (so item modules import it)."""
    source = course_config.ROOT / course_config.SOURCE_DIR
    _load(CORE_MODULE, source / f"{CORE_MODULE}.py")
    name = course_config.CHECKS_MODULE[assignment]
    return _load(name, source / assignment / f"{name}.py")


def item_module(assignment, item):
    protocol(assignment)  # the item modules import it by name
    return importlib.import_module(f"autograder.checks.{assignment}.{item}")


@functools.cache
def hidden_checks(assignment):
    """test-cell grade_id -> (item, [check functions])."""
    out = {}
    for item in items(assignment):
        for test_id, fns in item_module(assignment, item).HIDDEN.items():
            out[test_id] = (item, fns)
    return out


def graded_test_cells(assignment):
    """[(test-cell grade_id, item)] for every graded test cell the checks know, visible first."""
    visible = [(t, item_of(assignment, t)) for t in protocol(assignment).VISIBLE]
    hidden = [(t, item) for t, (item, _) in hidden_checks(assignment).items()]
    return visible + hidden


def assignment_of_test(test_id):
    """The assignment whose notebook has this graded test cell (grade_ids are unique across the course)."""
    for assignment in course_config.ASSIGNMENTS:
        if test_id in test_ids(assignment):
            return assignment
    raise KeyError(f"no assignment has a graded test cell {test_id!r}")


def detect(nb, filename=None):
    """Which assignment a submitted notebook is: by its graded cells' ids, else by its file name; or None.

    ``nb`` may be None (an unreadable file): then only the name can tell.
    """
    ids = {notebooks.grade_meta(c).get("grade_id") for c in nb.cells} - {None} if nb is not None else set()
    best = max(course_config.ASSIGNMENTS, key=lambda a: len(ids & (set(test_ids(a)) | set(items(a)))))
    if ids & (set(test_ids(best)) | set(items(best))):
        return best
    stem = Path(filename).stem if filename else None
    return stem if stem in course_config.ASSIGNMENTS else None


def run_test_cell(assignment, test_id, ask, reference):
    """Run the checks of one graded test cell (visible or hidden); raises CheckFailure on the first failure."""
    visible = protocol(assignment).VISIBLE
    if test_id in visible:
        for fn in visible[test_id]:
            fn(ask)
        return
    item, fns = hidden_checks(assignment)[test_id]
    for fn in fns:
        fn(ask, reference[item])


#: One array codec for the whole grader: reference values are stored the way answers travel from the worker
#: (``wire``: JSON with arrays as .npy bytes, dtype and shape included, never pickle).
_encode, _decode = wire._encode, wire._decode


def reference_file(assignment):
    return REFERENCE_DIR / f"{assignment}.json"


def save_reference(assignment, values):
    path = reference_file(assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    # One line per (item, request): diffs show which reference values changed.
    lines = []
    for item in sorted(values):
        entries = [f"  {json.dumps(name)}: {json.dumps(_encode(v))}" for name, v in sorted(values[item].items())]
        lines.append(f" {json.dumps(item)}: {{" + ("\n" + ",\n".join(entries) + "\n }" if entries else "}"))
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    return path


def load_reference(assignment):
    path = reference_file(assignment)
    if not path.exists():
        raise FileNotFoundError(f"no reference values at {path}; run `make reference`")
    return _decode(json.loads(path.read_text()))


def build_reference(assignment, namespace):
    """Answer every hidden request from a namespace holding the solutions' objects."""
    answer = protocol(assignment).answer
    return {item: {name: answer(namespace, req) for name, req in item_module(assignment, item).REQUESTS.items()}
            for item in items(assignment)}
