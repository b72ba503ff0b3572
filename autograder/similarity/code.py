"""The code each student wrote, as the grader ran it: read again from the submission, checked against its record.

No student code is executed or imported here: a notebook is parsed as JSON (``notebooks.read``), its code cells are
chosen as ``extract.labelled_code`` chooses them for the worker, and cells the student left as the release gave them
are dropped (they are boilerplate: the code every student starts from). A notebook is compared only if its bytes are
the ones its record was graded from (the record's ``fingerprint["submission"]``), so the report is about the graded
code, never about a file changed since.
"""
import hashlib
from dataclasses import dataclass, field

import course_config
from autograder import course, notebooks
from autograder.submissions import extract

#: Most characters of one student's code that are compared and shown (a pasted blob is cut, and the page says so).
CODE_CHARS = 64 * 2**10
_BUDGET_LABEL = "the grader's short training budget"


@dataclass
class StudentCode:
    """One student's own code for one assignment: ``cells`` [(label, source)] in notebook order."""
    student: str
    cells: list = field(default_factory=list)
    capped: bool = False

    @property
    def text(self):
        """The cells as one Python text, each under a comment naming it as the student sees it (comments are
        never compared: copydetect drops them)."""
        return "\n\n".join(f"# --- {_one_line(label)}\n{source.rstrip()}" for label, source in self.cells) + "\n"


def _one_line(text):
    return " ".join(text.split())[:120]


def release_code(assignment):
    """The release's code cells: what every student starts from (the boilerplate)."""
    nb = notebooks.read(course.release_notebook(assignment))
    return [c.source for c in nb.cells if c.cell_type == "code"]


def student_code(student, nb, assignment, boilerplate_cells):
    """A StudentCode of the cells the grader ran for ``nb`` that the student wrote or changed."""
    code = extract.labelled_code(nb, assignment)
    same = {s.strip() for s in boilerplate_cells}
    out, size = StudentCode(student), 0
    for label, source in zip(code.labels, code.sources):
        if label.startswith(_BUDGET_LABEL) or not source.strip() or source.strip() in same:
            continue
        if size + len(source) > CODE_CHARS:
            source, out.capped = source[:max(CODE_CHARS - size, 0)], True
        out.cells.append((label, source))
        size += len(source)
        if out.capped:
            break
    return out


def graded_code(records, paths, assignment, within=None):
    """({student: StudentCode}, {student: why left out}) for the students whose record says ``graded`` and whose
    notebook at ``paths[student]`` still has the bytes that were graded."""
    boilerplate = release_code(assignment)
    found, left_out = {}, {}
    for student, record in sorted(records.items()):
        if record.status != "graded":
            left_out[student] = f"not graded ({record.status})"
            continue
        path = paths.get(student)
        try:
            data = notebooks.submission_bytes(path, course_config.GRADING["submission_bytes"], within)
        except (notebooks.NotebookError, TypeError):
            left_out[student] = "its notebook is no longer in the submissions folder"
            continue
        if (record.fingerprint or {}).get("submission") != hashlib.sha256(data).hexdigest():
            left_out[student] = "its notebook changed since it was graded (run batch again)"
            continue
        try:
            nb = notebooks.read(path, data)
        except notebooks.NotebookError:
            left_out[student] = "its notebook cannot be read"
            continue
        found[student] = student_code(student, nb, assignment, boilerplate)
    return found, left_out
