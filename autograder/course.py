"""The course model: each assignment's notebooks, graded items, test cells, points, written questions and
protocol module, all read from the source notebook's nbgrader metadata and ``course_config.py``, and which
assignment a submitted notebook is. Every other module asks here; nothing else builds a notebook's path.

An *item* is an autograded solution cell of the source notebook (its grade_id); its test cells are the graded
cells whose grade_id starts with ``<item>_``. A *written question* is a markdown solution cell with points,
graded by hand.
"""
import functools
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import course_config
from autograder import notebooks


def notebook_name(assignment):
    return f"{assignment}.ipynb"


def notebook_path(step, assignment, root=None):
    """``<root>/<step>/<assignment>/<assignment>.ipynb``: nbgrader's layout, for step ``source``, ``release``,
    ``solutions`` or a student's folder."""
    return Path(root or course_config.ROOT) / step / assignment / notebook_name(assignment)


def reference_file(assignment):
    """Where the reference values of ``assignment`` are stored (``make reference`` writes them)."""
    return Path(__file__).resolve().parent / "reference" / f"{assignment}.json"


def release_notebook(assignment):
    return notebook_path(course_config.RELEASE_DIR, assignment)


def solution_notebook(assignment):
    return notebook_path(course_config.SOLUTION_DIR, assignment)


def source_notebook(assignment):
    return notebook_path(course_config.SOURCE_DIR, assignment)


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


def support_files(assignment):
    """The modules that ship with the assignment's release, as nbgrader copies them: every ``.py`` file of
    ``source/<assignment>/``, that is its protocol module, the modules that one is made of, and the links to the
    shared ``source/checks_*.py``."""
    return sorted((course_config.ROOT / course_config.SOURCE_DIR / assignment).glob("*.py"))


def protocol(assignment):
    """The assignment's protocol module, imported under its own name (so item modules import it) from
    ``source/<assignment>/``, with the support files it imports from there (``checks_core`` among them); that
    folder is on ``sys.path`` only while it is imported."""
    name = course_config.PROTOCOL_MODULES[assignment]
    if name not in sys.modules:
        folder = str(course_config.ROOT / course_config.SOURCE_DIR / assignment)
        sys.path.insert(0, folder)
        try:
            importlib.import_module(name)
        finally:
            sys.path.remove(folder)
    return sys.modules[name]


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


HIDDEN_MARK = notebooks.DELIMITERS["HIDDEN TESTS"][0]


def _description(source):
    first = source.strip().splitlines()[0] if source.strip() else ""
    text = first.lstrip("#").strip()
    for prefix in ("Hidden test:", "Checks that", "Checks"):
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
    return text or "checks"


def test_cells(assignment):
    """The graded test cells of the source notebook: the single source of points and descriptions."""
    out = []
    for cell in source_cells(assignment):
        meta = notebooks.grade_meta(cell)
        if not notebooks.is_test_cell(cell):
            continue
        test_id = meta["grade_id"]
        item = item_of(assignment, test_id)
        out.append({"test_id": test_id, "item": item, "points": meta["points"],
                    "hidden": HIDDEN_MARK in cell.source, "description": _description(cell.source)})
    return out


def manual_cells(assignment):
    return [(notebooks.grade_meta(c)["grade_id"], notebooks.grade_meta(c)["points"])
            for c in source_cells(assignment)
            if notebooks.grade_meta(c).get("grade") and notebooks.grade_meta(c).get("solution")]


def answer(nb, grade_id):
    """(status, text) of the written answer ``grade_id`` in the student's notebook ``nb``: ``answered``, ``no
    response`` (empty, or the release's stub), ``missing`` (no such cell) or ``unreadable`` (``nb`` is None: no
    notebook to read it from). ``text`` is the cell's source, stripped, as the student wrote it."""
    if nb is None:
        return "unreadable", ""
    cell = next((c for c in nb.cells if notebooks.grade_meta(c).get("grade_id") == grade_id), None)
    if cell is None:
        return "missing", ""
    text = cell.source.strip() if isinstance(cell.source, str) else ""
    if not text or text == course_config.TEXT_STUB:
        return "no response", text
    return "answered", text


def questions(assignment):
    """[{grade_id, points, question, model}] for the hand-graded cells of the source notebook, in order:
    ``question`` is the markdown cell just above the answer cell, ``model`` the solution region (model answer
    and rubric)."""
    cells = source_cells(assignment)
    out = []
    for i, cell in enumerate(cells):
        meta = notebooks.grade_meta(cell)
        if not (meta.get("grade") and meta.get("solution") and cell.cell_type == "markdown"):
            continue
        above = cells[i - 1] if i and cells[i - 1].cell_type == "markdown" else None
        out.append({"grade_id": meta["grade_id"], "points": meta["points"],
                    "question": above.source if above is not None else "", "model": _region(cell.source)})
    return out


def _region(source):
    inside = notebooks.split_regions(source)[1]
    return "\n".join(inside).strip() if inside else source.strip()


# ---- what grading one submission needs, asked once ----------------------------------------------------------
class _ItemOf(dict):
    """test-cell grade_id -> its item; a grade_id that is no graded test cell gets ``item_of``'s answer."""

    def __init__(self, assignment, test_ids):
        super().__init__((t, item_of(assignment, t)) for t in test_ids)
        self.assignment = assignment

    def __missing__(self, test_id):
        return item_of(self.assignment, test_id)


@dataclass(frozen=True)
class Plan:
    """Everything grading a submission of ``assignment`` asks the course model: its items, its graded test cells
    (ids, items, points, descriptions), its hand-graded cells, the release's test cells and skip-when-grading cells,
    and its protocol module. Built once per process (again when the release changes) by ``plan``, then handed
    along the grading path, which never asks the course model again."""
    assignment: str
    items: tuple
    test_ids: tuple
    item_of: dict
    test_cells: tuple
    manual_cells: tuple
    release_tests: frozenset  # sources of the release's test cells (None: there is no release notebook)
    skip_ids: frozenset  # ids of the release's cells tagged course_config.SKIP_WHEN_GRADING_TAG
    protocol: ModuleType


def plan(assignment):
    """The assignment's Plan, built once (and again if its release notebook changes)."""
    release = release_notebook(assignment)
    return _plan(assignment, release.stat().st_mtime_ns if release.exists() else None)


@functools.cache
def _plan(assignment, release_mtime_ns):
    release_tests = skip_ids = None
    if release_mtime_ns is not None:
        cells = notebooks.read(release_notebook(assignment)).cells
        release_tests = frozenset(c.source.strip() for c in cells if notebooks.is_test_cell(c))
        skip_ids = frozenset(c.get("id") for c in cells
                             if course_config.SKIP_WHEN_GRADING_TAG in c.get("metadata", {}).get("tags", []))
    return Plan(assignment=assignment, items=items(assignment), test_ids=test_ids(assignment),
                item_of=_ItemOf(assignment, test_ids(assignment)),
                test_cells=tuple(test_cells(assignment)), manual_cells=tuple(manual_cells(assignment)),
                release_tests=release_tests, skip_ids=skip_ids, protocol=protocol(assignment))
