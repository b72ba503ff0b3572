"""What every assignment's self-check module shares: failures, the question helpers, running checks.

Ships with each release next to the assignment's own module (``nf_checks.py``, ``ms_checks.py``), which
defines the question protocol ``answer``, the visible checks ``VISIBLE`` and the mistake catalogue
``MISTAKES``. Needs nothing but numpy (and TensorFlow where a question touches tensors); the student-side
check (``python -m nf_checks NOTEBOOK.ipynb``) also needs Jupyter's nbformat and nbclient.

This module is the one the others import from. It keeps what the grader's worker records of the cells that
ran and looks names up in the student's namespace, runs checks in the notebook, and re-exports the names of
the modules it is made of, each shipped with it (``source/checks_*.py``, linked into each assignment folder):

* ``checks_failures``: the failures, the words for an error of the student's code, the notes' sections;
* ``checks_answers``: answering a question about the student's objects (shapes, arrays, bijector methods);
* ``checks_compare``: writing checks (ask, require, compare arrays, describe a difference);
* ``checks_notebook``: the student-side check of a whole notebook (``python -m nf_checks NOTEBOOK.ipynb``).
"""
import ast
import inspect
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from checks_answers import (  # noqa: E402,F401 (re-exported: the protocol modules import them from here)
    as_array, autodiff_jacobian, bijector_answer, describe, fresh, int_sequence, min_event_ndims, shape_list,
    tf_modules)
from checks_compare import (  # noqa: E402,F401
    ask_or_fail, close, first_difference, require, rng, without_unit_axes)
from checks_failures import (  # noqa: E402,F401
    CheckFailure, QuestionError, catalogued, clean_error_text, error_words, quiet, section_of,
    student_error_message, with_section)
from checks_notebook import (  # noqa: E402,F401
    SKIP_TAG, BadInput, CheckResult, Report, Step, cell_label, is_test_cell, main, plan, read_notebook,
    report_visible, run_notebook_checks)


#: name -> the error of the cell that should have defined it, and the code of the cells that ran, in order (both
#: filled by the grader's worker after the cells ran: ``record_cells``).
UNDEFINED_BY_ERROR = {}
CELL_SOURCES = []


def names_defined(source):
    """The names a cell's top level assigns, defines or imports (none if it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return names


def record_cells(sources, errors, namespace):
    """Keep the cells' code, and for each name a failed cell should have defined and left undefined, that cell's
    error ([(cell index, error text)]), cut to one short line."""
    CELL_SOURCES[:] = sources
    for i, text in errors:
        last = text.strip().splitlines()[-1] if text.strip() else "an error"
        for name in names_defined(sources[i]):
            if name not in namespace:
                UNDEFINED_BY_ERROR.setdefault(name, last if len(last) <= 200 else last[:197] + "...")


def defining_cell(name):
    """The code of the last cell that defines ``name`` at its top level (None if none, or outside the worker)."""
    return next((src for src in reversed(CELL_SOURCES) if name in names_defined(src)), None)


def lookup(ns, path):
    """Resolve ``"name"`` or ``"name.attr"`` in the student's namespace."""
    head, *rest = path.split(".")
    if head not in ns:
        cause = UNDEFINED_BY_ERROR.get(head)
        if cause:
            raise QuestionError(f"`{head}` is not defined, because the cell that defines it stopped with an error "
                                f"({cause}). Fix that error first.")
        raise QuestionError(f"`{head}` is not defined. Run the cell that defines it (and the cells above it).")
    obj = ns[head]
    for attr in rest:
        if not hasattr(obj, attr):
            raise QuestionError(f"`{head}` has no attribute `{attr}`.")
        obj = getattr(obj, attr)
    return obj


def run_checks(checks, ask, label, section=None):
    """Run checks in order, print one line per passed check, raise on the first failure."""
    for fn in checks:
        summary = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
        try:
            with quiet():
                fn(ask)
        except CheckFailure as e:
            raise CheckFailure(f"[{label}] {with_section(e, section)}", e.mistake) from None
        print(f"  ok  {summary}")


def entry_points(visible, answer, sections=None):
    """A protocol module's ``local_asker(namespace)`` and ``check(name, namespace=None)``."""
    def local_asker(namespace):
        """``ask`` for objects in this process (the notebook's own kernel)."""
        def ask(request):
            with quiet():
                return answer(namespace, request)
        return ask

    def check(name, namespace=None):
        """Run visible checks against the variables of the calling notebook, offline.

        ``name`` is a test cell's grade_id or a whole exercise (all of its visible checks), for example
        ``check("affine_coupling_layer")`` or ``check("squeeze")``.
        """
        cells = [name] if name in visible else [t for t in visible if t.startswith(name + "_")]
        if not cells:
            raise KeyError(f"no visible checks named {name!r}; choose an exercise, or one of {sorted(visible)}")
        ns = namespace if namespace is not None else inspect.currentframe().f_back.f_globals
        for test_id in cells:
            run_checks(visible[test_id], local_asker(ns), test_id, section_of(sections or {}, test_id))
        print(f"{name}: all visible checks passed. Hidden checks run when your work is graded.")

    return local_asker, check
