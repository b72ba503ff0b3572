"""Which code of a submission runs in the worker: the student's cells, never their copy of the tests."""
from dataclasses import dataclass, field

import course_config
from autograder import course, notebooks
from autograder.text import CUT, shortened


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


@dataclass
class Code:
    """What the worker runs for a submission: ``sources`` in order, a ``labels`` entry per source naming it as
    the student sees it in Jupyter (never a cell number), and ``notes`` for the student."""
    sources: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    notes: list = field(default_factory=list)


#: The first line of each of the release's stubs (course_config.CODE_STUB, TEXT_STUB), without its comment mark.
_STUB_LINES = {stub.splitlines()[0].lstrip("#").strip() for stub in (course_config.CODE_STUB, course_config.TEXT_STUB)}


# Student text is scanned with str methods, never matched by a regex: Python's re backtracks, and a heading
# regex once took 42 s on "# a" followed by 2,500 spaces. Each scan below is linear in the cell, and holds a
# piece of it at a time (``_lines``): 16 million lines as one list would take about 800 MB of the grader's memory.
_PIECE = 64 * 2**10


def _lines(text, backwards=False):
    """The lines of ``text`` (as ``str.splitlines`` gives them), split a piece of about ``_PIECE`` characters at a
    time, first to last or last to first."""
    if not backwards:
        start = 0
        while start < len(text):
            end = text.find("\n", start + _PIECE) + 1 or len(text)
            yield from text[start:end].splitlines()
            start = end
        return
    end = len(text)
    while end > 0:
        start = text.rfind("\n", 0, max(end - _PIECE, 0)) + 1
        yield from reversed(text[start:end].splitlines())
        end = start


def _assigns_all(source, names):
    """Whether lines of ``source`` start by assigning each of ``names`` (``EPOCHS = 10`` assigns ``EPOCHS``)."""
    left = set(names)
    if not all(name in source for name in left):  # most cells: decided without splitting a line
        return False
    for line in _lines(source):
        name, equals, _ = line.partition("=")
        left.discard(name.rstrip() if equals else None)
        if not left:
            return True
    return not left


def _heading(line):
    """The text of a Markdown ATX heading (CommonMark: at most three spaces, one to six ``#``, then a space, a tab or
    the end of the line; an optional closing run of ``#`` after a space), else None. An empty heading is None."""
    body = line.lstrip(" ")
    if len(line) - len(body) > 3:
        return None
    text = body.lstrip("#")
    if not 1 <= len(body) - len(text) <= 6 or text[:1] not in ("", " ", "\t"):
        return None
    text = text.strip(" \t")
    unclosed = text.rstrip("#")
    if not unclosed or unclosed[-1] in " \t":
        text = unclosed.rstrip(" \t")
    return text or None


def last_heading(markdown):
    """The last heading of a Markdown cell, or None."""
    if "#" not in markdown:
        return None
    for line in _lines(markdown, backwards=True):
        found = _heading(line) if "#" in line else None
        if found:
            return found
    return None


def _short(text, width=60):
    """``text`` on one line, its runs of white space made one space, cut between words to ``width``."""
    words = text.split(maxsplit=width)  # never more than width + 1 pieces, however long the text
    text = " ".join(words[:width])
    if len(words) <= width and len(text) <= width:
        return text
    return shortened(text, width) if len(text) > width else text + CUT  # cut between words, saying so


def cell_label(cell, heading=None):
    """How a student finds this code cell: the exercise it answers (its grade_id), else its first comment
    line, else its first line of code; with the markdown heading above it, when there is one."""
    grade_id = notebooks.grade_meta(cell).get("grade_id")
    if notebooks.grade_meta(cell).get("solution") and grade_id:
        return f"your answer to exercise `{grade_id}`"
    first = comment = None
    for line in _lines(cell.source):
        line = line.strip()
        first = first or line or None
        text = line.lstrip("#").strip() if line.startswith("#") else None
        if text and text not in _STUB_LINES:
            comment = text
            break
    if comment:
        label = f"the cell starting \"# {_short(comment, 50)}\""
    elif first:
        label = f"the cell starting `{_short(first, 50)}`"
    else:
        label = "an empty cell"
    return label + (f" in section \"{_short(heading, 50)}\"" if heading else "")


def student_code(nb, assignment):
    """(sources to run, notes for the student) for a submission notebook; see ``labelled_code``."""
    code = labelled_code(nb, assignment)
    return code.sources, code.notes


def labelled_code(nb, assignment, plan=None):
    """A ``Code`` for a submission notebook, with the release's cells and the items from ``plan`` (the assignment's
    course.Plan; asked of the course model when not given).

    Skips test cells, whether recognised by their nbgrader metadata or by their text (a student who
    strips the metadata does not get their test cells run). Skips the cells that only train or draw: those
    tagged ``skip-when-grading`` in the release (matched by cell id) or in the submission. Puts the short
    training budget right after the parameters cell, found by its tag or, if the tag is gone, by what it
    assigns.
    """
    plan = plan or course.plan(assignment)
    if plan.release_tests is None:
        raise FileNotFoundError(f"no release notebook at {course.release_notebook(assignment)}")
    known_tests, skip_ids = plan.release_tests, plan.skip_ids
    overrides = course_config.SHORT_BUDGET[assignment]
    code, placed, heading = Code(), False, None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = last_heading(cell.source) or heading
        if cell.cell_type != "code":
            continue
        if notebooks.is_test_cell(cell) or cell.source.strip() in known_tests:
            continue
        if cell.get("id") in skip_ids or course_config.SKIP_WHEN_GRADING_TAG in _tags(cell):
            continue
        code.sources.append(cell.source)
        code.labels.append(cell_label(cell, heading))
        tagged = "parameters" in _tags(cell)
        if not placed and (tagged or _assigns_all(cell.source, overrides)):
            code.sources.append("\n".join(f"{k} = {v!r}" for k, v in overrides.items()))
            code.labels.append("the grader's short training budget, set after your parameters cell")
            placed = True
    if not placed:
        code.notes.append("The parameters cell was not found, so your notebook ran with its own training budget.")
    ids = {notebooks.grade_meta(c).get("grade_id") for c in nb.cells}
    texts = {c.source.strip() for c in nb.cells}
    if not any(i and i.startswith(plan.items) for i in ids) and not (known_tests & texts):
        code.notes.append(f"This notebook does not look like the `{assignment}` assignment (none of its graded "
                          "cells are here). Did you submit the right file?")
    return code
