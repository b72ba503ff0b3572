"""Which code of a submission runs in the worker: the student's cells, never their copy of the tests."""
import re

import course_config
from autograder import checks, notebooks

_ASSIGNS = re.compile(r"^([A-Z_][A-Z0-9_]*)\s*=", re.M)


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _release_cells(assignment):
    """(sources of the release's test cells, ids of its skip-when-grading cells)."""
    path = course_config.ROOT / course_config.RELEASE_DIR / assignment / f"{assignment}.ipynb"
    cells = notebooks.read(path).cells
    return ({c.source.strip() for c in cells if notebooks.is_test_cell(c)},
            {c.get("id") for c in cells if course_config.SKIP_WHEN_GRADING_TAG in _tags(c)})


def student_code(nb, assignment):
    """(sources to run, notes for the student) for a submission notebook.

    Skips test cells, whether recognised by their nbgrader metadata or by their text (a student who
    strips the metadata does not get their test cells run). Skips the cells that only train or draw: those
    tagged ``skip-when-grading`` in the release (matched by cell id) or in the submission. Puts the short
    training budget right after the parameters cell, found by its tag or, if the tag is gone, by what it
    assigns.
    """
    known_tests, skip_ids = _release_cells(assignment)
    overrides = course_config.SHORT_BUDGET[assignment]
    sources, notes, placed = [], [], False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if notebooks.is_test_cell(cell) or cell.source.strip() in known_tests:
            continue
        if cell.get("id") in skip_ids or course_config.SKIP_WHEN_GRADING_TAG in _tags(cell):
            continue
        sources.append(cell.source)
        tagged = "parameters" in _tags(cell)
        if not placed and (tagged or set(overrides) <= set(_ASSIGNS.findall(cell.source))):
            sources.append("\n".join(f"{k} = {v!r}" for k, v in overrides.items()))
            placed = True
    if not placed:
        notes.append("The parameters cell was not found, so your notebook ran with its own training budget.")
    ids = {notebooks.grade_meta(c).get("grade_id") for c in nb.cells}
    texts = {c.source.strip() for c in nb.cells}
    if not any(i and i.startswith(checks.items(assignment)) for i in ids) and not (known_tests & texts):
        notes.append(f"This notebook does not look like the `{assignment}` assignment (none of its graded "
                     "cells are here). Did you submit the right file?")
    return sources, notes
