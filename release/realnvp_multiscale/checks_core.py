"""What every assignment's self-check module shares: failures, the question helpers, running checks.

Ships with each release next to the assignment's own module (``nf_checks.py``, ``ms_checks.py``), which
defines the question protocol ``answer``, the visible checks ``VISIBLE`` and the mistake catalogue
``MISTAKES``. Needs nothing but numpy (and TensorFlow where a question touches tensors); the student-side
check at the end (``python -m nf_checks NOTEBOOK.ipynb``) also needs Jupyter's nbformat and nbclient.
"""
import ast
import contextlib
import importlib
import inspect
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class CheckFailure(AssertionError):
    """A check failed; the message is written for the student. ``mistake`` names a catalogued mistake."""

    def __init__(self, message, mistake=None):
        super().__init__(message)
        self.mistake = mistake


class QuestionError(Exception):
    """A request could not be answered from the student's objects (message says why)."""


def catalogued(catalogue, mistake_id, detail=""):
    """A CheckFailure for a catalogued mistake, with its message and where the notes explain it."""
    entry = catalogue[mistake_id]
    text = entry["message"] + (f" ({detail})" if detail else "") + f". See the notes: {entry['section']}."
    return CheckFailure(text, mistake_id)


@contextlib.contextmanager
def quiet():
    """Silence Python warnings and TF/absl logging (nbgrader zeroes a test cell that writes to stderr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = logging.getLogger("tensorflow").level
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        try:
            yield
        finally:
            logging.getLogger("tensorflow").setLevel(old)


# --------------------------------------------------------------------------------------------
# Answering questions
# --------------------------------------------------------------------------------------------
def tf_modules():
    import tensorflow as tf
    import tensorflow_probability as tfp
    return tf, tfp


#: How much of an error's text is cleaned (its first line, at most 300 characters, is all that is kept).
_ERROR_TEXT_CHARS = 8192


def _without_runs(text, start, end):
    """``text`` without each run from ``start`` to the next ``end`` (one pass, no regular expression)."""
    out, i = [], 0
    while (j := text.find(start, i)) >= 0 and (k := text.find(end, j + len(start))) >= 0:
        out.append(text[i:j])
        i = k + len(end)
    return "".join(out) + text[i:]


def _without_op_tags(text):
    """``text`` without TensorFlow's ``[Op:Name]`` tags, the white space before them and a ``name: ...`` after."""
    while (j := text.find("[Op:")) >= 0 and (k := text.find("]", j)) >= 0:
        tail = text[k + 1:].lstrip()
        if tail.startswith("name:"):
            tail = tail[tail.find("\n"):] if "\n" in tail else ""
        text = text[:j].rstrip() + tail
    return text


def clean_error_text(text):
    """An error's text without TensorFlow's internals: no ``{{function_node ...}}`` prefix, no ``[Op:...]``
    tag, no graph traceback; its first line only, cut to a readable length."""
    text = _without_op_tags(_without_runs(str(text)[:_ERROR_TEXT_CHARS], "{{", "}}"))
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith("in user code"):  # an error inside tf.function: its last line says what
        lines = lines[-1:]
    first = lines[0] if lines else ""
    return first if len(first) <= 300 else first[:297] + "..."


def student_error_message(e):
    """Words for an exception raised by the student's code (never TensorFlow's raw error text)."""
    return "your code " + error_words(type(e).__name__, e)


def error_words(name, text):
    """``raised <name>: "<first line of text>"``, with a hint when it is the release's stub. The library's (or the
    student's) text is quoted inside our sentence, its backticks made plain quotes so none is left unbalanced."""
    detail = clean_error_text(text).replace("`", "'")
    words = f"raised {name}" + (f': "{detail}"' if detail else "")
    if name == "NotImplementedError":
        words += " (the `raise NotImplementedError()` stub is still in place: replace it with your answer)"
    return words


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


def shape_list(shape):
    try:
        return [int(d) for d in shape]
    except (TypeError, ValueError):
        return None


def int_sequence(obj):
    """The values of a sequence of integers in any container (tuple, list, tf.TensorShape, numpy or tensor
    of ints, numpy ints), as Python ints; None if ``obj`` is not one."""
    if isinstance(obj, (str, bytes, dict, bool)) or obj is None:
        return None
    try:
        if hasattr(obj, "as_list"):  # tf.TensorShape
            obj = obj.as_list()
        if hasattr(obj, "numpy"):
            obj = obj.numpy()
        items = list(obj)
    except Exception:
        return None
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)) or v is None:
            return None
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        if not np.isfinite(f) or f != round(f) or np.ndim(v) != 0:
            return None
        out.append(int(round(f)))
    return out


def fresh(tf, x, dtype="float32"):
    """A new tensor that no bijector has seen before (bijectors cache by tensor identity)."""
    return tf.constant(np.array(x, dtype=dtype, copy=True))


def as_array(value, what):
    try:
        arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype="float64")
    except Exception as e:
        raise QuestionError(f"{what} did not return something convertible to an array "
                            f"({type(e).__name__}: {e})") from None
    return arr


def describe(obj):
    """Plain facts about a student's object: type, and shapes for a distribution."""
    _, tfp = tf_modules()
    out = {"type": type(obj).__name__, "module": type(obj).__module__,
           "is_distribution": isinstance(obj, tfp.distributions.Distribution),
           "is_bijector": isinstance(obj, tfp.bijectors.Bijector)}
    if out["is_distribution"]:
        out["event_shape"] = shape_list(obj.event_shape)
        out["batch_shape"] = shape_list(obj.batch_shape)
        out["dtype"] = getattr(obj.dtype, "name", str(obj.dtype))
    if isinstance(obj, type):
        out["is_bijector_class"] = issubclass(obj, tfp.bijectors.Bijector)
    elif isinstance(obj, (tuple, list)):
        out["value"] = [v if isinstance(v, (int, float, str, bool)) or v is None else repr(v) for v in obj]
        out["item_types"] = [type(v).__name__ for v in obj]
        out["items_integral"] = [isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                                 for v in obj]
    elif isinstance(obj, (int, float, str, bool)) or obj is None:
        out["value"] = obj
    if isinstance(obj, (tuple, list, np.ndarray)) or type(obj).__name__ in ("TensorShape", "EagerTensor"):
        out["ints"] = int_sequence(obj)  # the value of a shape-like answer, whatever its container
    return out


def min_event_ndims(bij):
    v = getattr(bij, "forward_min_event_ndims", None)
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def autodiff_jacobian(tf, forward, x, event_ndims=1):
    """Each example's Jacobian of ``forward`` at ``x`` by autodiff, events flattened: [N, D, D].

    One gradient per output coordinate (D is small): the rows of every example's Jacobian at once, since
    examples do not interact. Ten times faster in eager mode than ``tape.batch_jacobian``.
    """
    n = int(x.shape[0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = forward(x)
        if not tf.is_tensor(y) or y.shape.rank is None:
            raise QuestionError("forward must return a tensor to take its Jacobian by autodiff.")
        outputs = tf.unstack(tf.reshape(y, [n, -1]), axis=-1)  # recorded on the tape, like forward itself
    rows = [tape.gradient(out, x) for out in outputs]
    if any(r is None for r in rows):
        raise QuestionError("forward's output is not differentiable with respect to its input "
                            "(is a NumPy conversion in the way?).")
    return as_array(tf.stack([tf.reshape(r, [n, -1]) for r in rows], axis=-2), "the autodiff Jacobian of forward")


def bijector_answer(tf, bij, method, x, event_ndims, request=None):
    """Call one method of a bijector on the fresh tensor ``x``: the dispatch both assignments share.

    ``event_ndims`` is the assignment's event rank (a request may override it for ``ildj``). Methods:
    forward, inverse, fldj, ildj, jacobian (each example's d forward / d x by autodiff, events flattened:
    [N, D, D]) and describe (forward_min_event_ndims, type, name and what forward returns).
    """
    request = request or {}
    if method == "forward":
        return as_array(bij.forward(x), "forward")
    if method == "inverse":
        return as_array(bij.inverse(x), "inverse")
    if method == "fldj":
        return as_array(bij.forward_log_det_jacobian(x, event_ndims=request.get("event_ndims", event_ndims)),
                        "forward_log_det_jacobian")
    if method == "ildj":
        return as_array(bij.inverse_log_det_jacobian(x, event_ndims=request.get("event_ndims", event_ndims)),
                        "inverse_log_det_jacobian")
    if method == "jacobian":
        return autodiff_jacobian(tf, bij.forward, x)
    if method == "describe":
        y = bij.forward(x)
        return {"forward_min_event_ndims": min_event_ndims(bij), "type": type(bij).__name__,
                "name": str(getattr(bij, "name", "")), "returns": "tensor" if tf.is_tensor(y) else type(y).__name__}
    raise QuestionError(f"unknown bijector method {method!r}")


# --------------------------------------------------------------------------------------------
# Writing checks
# --------------------------------------------------------------------------------------------
def ask_or_fail(ask, request):
    """Ask a question; turn a QuestionError or a crash in the student's code into a CheckFailure."""
    try:
        return ask(request)
    except CheckFailure:
        raise
    except QuestionError as e:
        raise CheckFailure(str(e)) from None
    except Exception as e:  # the student's code raised
        raise CheckFailure(student_error_message(e)) from None


def require(condition, message):
    if not condition:
        raise CheckFailure(message)


def close(actual, expected, rtol=1e-4, atol=1e-4):
    a, e = np.asarray(actual, dtype="float64"), np.asarray(expected, dtype="float64")
    return a.shape == e.shape and bool(np.all(np.isfinite(a))) and np.allclose(a, e, rtol=rtol, atol=atol)


def without_unit_axes(got, shape):
    """``got`` reshaped to ``shape`` when the two differ only by axes of size 1 (a batch axis of size 1 that a shape
    check charges already), else unchanged: a value check judges the values, not that axis again."""
    got, shape = np.asarray(got), tuple(shape)
    if got.shape != shape and [d for d in got.shape if d != 1] == [d for d in shape if d != 1]:
        return got.reshape(shape)
    return got


def first_difference(actual, expected, rtol=1e-4, atol=1e-4, hidden=False):
    """A short description of where two arrays differ, for a failure message.

    With ``hidden`` (the expected values are reference values the student must not see) it gives shapes and
    how many values differ, but no number computed from the expected values (not even a difference).
    """
    a, e = np.asarray(actual, dtype="float64"), np.asarray(expected, dtype="float64")
    if a.shape != e.shape:
        return f"shape {list(a.shape)} where {list(e.shape)} was expected"
    bad = ~np.isclose(a, e, rtol=rtol, atol=atol)
    if not bad.any():
        return "no difference"
    if hidden:
        return (f"{int(bad.sum())} of {a.size} values differ from the reference (tolerance rtol={rtol}, "
                f"atol={atol})" + ("; some of yours are not finite" if not np.all(np.isfinite(a)) else ""))
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"{int(bad.sum())} of {a.size} values differ; first at index {list(idx)}: "
            f"got {a[idx]:.6g}, expected {e[idx]:.6g} (rtol={rtol}, atol={atol})")


def rng(seed):
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------
# Running checks in the notebook
# --------------------------------------------------------------------------------------------
def section_of(sections, test_id):
    """The section of the notes for a test cell: that of the longest exercise name its grade_id starts with."""
    items = [item for item in sections if test_id == item or test_id.startswith(item + "_")]
    return sections[max(items, key=len)] if items else None


def with_section(failure, section):
    """``failure`` with the section of the notes to read again, when its message does not name one yet (a
    catalogued mistake's message does: ``catalogued``)."""
    if not section or "See the notes:" in str(failure):
        return failure
    return CheckFailure(f"{str(failure).rstrip()} See the notes: {section}.", failure.mistake)


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


# --------------------------------------------------------------------------------------------
# The student-side check: python -m nf_checks NOTEBOOK.ipynb
# --------------------------------------------------------------------------------------------
#: The tag of the cells that only train or draw: no check reads what they make. The same value as
#: course_config.SKIP_WHEN_GRADING_TAG, which a release cannot import (a test keeps the two equal).
SKIP_TAG = "skip-when-grading"
#: Starts the line on which the kernel hands the visible checks' results back to the command.
_RESULTS_MARK = "checks_core visible results: "
def _heading(line):
    """The text of a Markdown ATX heading line (``## Title ##``), or None: a scan, not a regular expression."""
    body = line[len(line) - len(line.lstrip(" ")):] if len(line) - len(line.lstrip(" ")) <= 3 else ""
    level = len(body) - len(body.lstrip("#"))
    rest = body[level:]
    if not 1 <= level <= 6 or not rest[:1].isspace():
        return None
    text = rest.strip().rstrip("#").rstrip()
    return text or None


class BadInput(Exception):
    """The command's argument is not a notebook of this assignment; the message is one line for the student."""


@dataclass
class CheckResult:
    """One visible check: the test cell (grade_id) that runs it, its one-line summary, and its verdict."""
    cell: str
    summary: str
    passed: bool
    message: str = ""
    mistake: str = None


@dataclass
class Step:
    """A code cell to run, how the student finds it, and whether it is set-up (above the first exercise)."""
    source: str
    label: str
    setup: bool


@dataclass
class Report:
    """What ``run_notebook_checks`` found: the visible checks' results, the cells that raised, and notes."""
    notebook: str
    results: list = field(default_factory=list)
    errors: list = field(default_factory=list)        # "<cell label> raised <error>: ..." per failing cell
    notes: list = field(default_factory=list)
    stopped: str = ""                                 # why the run stopped early, if it did
    ran: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def failed(self):
        return [r for r in self.results if not r.passed]

    @property
    def status(self):
        """0 when every visible check passes, 1 when one fails or they could not run."""
        return 1 if self.failed or not self.results else 0

    def lines(self):
        out = [f"{self.notebook}: ran {self.ran} code cells in a fresh kernel, without its test cells and the "
               f"{self.skipped} cells tagged `{SKIP_TAG}` (training and plots)", *self.notes]
        out += [f"error {e}" for e in self.errors] + ([self.stopped] if self.stopped else [])
        out += [f"PASS  {r.cell}: {r.summary}" if r.passed else f"FAIL  {r.cell}: {r.message}" for r in self.results]
        n, bad = len(self.results), len(self.failed)
        summary = (f"{n - bad} of {n} visible checks pass" + (f", {bad} fail" if bad else "") if n
                   else "the visible checks did not run")
        if self.errors:
            summary += f"; {len(self.errors)} cell{'s' if len(self.errors) > 1 else ''} raised an error (above)"
        out.append(f"{summary}. Hidden checks run when your work is graded. {self.seconds:.1f} s")
        return out


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _grading(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell):
    """A locked test cell of nbgrader (visible or hidden checks), known by its metadata."""
    return cell.get("cell_type") == "code" and bool(_grading(cell).get("grade")) and not _grading(cell).get("solution")


def _short(text, width=50):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def cell_label(cell, heading=None):
    """How the student finds a code cell in Jupyter: the exercise it answers (its grade_id), else its first
    comment line or line of code, with the section heading above it."""
    if _grading(cell).get("solution") and _grading(cell).get("grade_id"):
        return f"your answer to exercise `{_grading(cell)['grade_id']}`"
    lines = [ln.strip() for ln in cell.get("source", "").splitlines() if ln.strip()]
    comments = [ln.lstrip("#").strip() for ln in lines if ln.startswith("#") and ln.lstrip("#").strip()]
    label = (f"the cell starting \"# {_short(comments[0])}\"" if comments
             else f"the cell starting `{_short(lines[0])}`" if lines else "an empty cell")
    return label + (f" in section \"{_short(heading)}\"" if heading else "")


def plan(nb):
    """(steps, skipped, notes): the code cells the student-side check runs, in order.

    The rule, from the notebook's own metadata: run every code cell except nbgrader's test cells (their
    visible checks run once at the end, one verdict each, as in grading) and the cells tagged
    ``skip-when-grading`` (training, plots). A notebook with no cell so tagged (the tags were removed) runs
    all its other cells, training included, at its own budget, and says so. The cells above the first
    exercise are set-up (imports, the ``parameters`` cell, data): the run stops if one of them raises.
    """
    tagged = any(SKIP_TAG in _tags(c) for c in nb["cells"])
    steps, skipped, heading, seen_exercise = [], 0, None, False
    for cell in nb["cells"]:
        if cell.get("cell_type") == "markdown":
            found = [_heading(line) for line in cell.get("source", "").splitlines()]
            heading = next((h for h in reversed(found) if h), heading)
        if cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        seen_exercise = seen_exercise or bool(_grading(cell).get("solution"))
        if SKIP_TAG in _tags(cell):
            skipped += 1
            continue
        steps.append(Step(cell.get("source", ""), cell_label(cell, heading), setup=not seen_exercise))
    notes = [] if tagged else [f"No cell is tagged `{SKIP_TAG}`, so every cell runs, training included, at the "
                               "budget of your parameters cell: this may take minutes."]
    return steps, skipped, notes


def read_notebook(path):
    """The notebook at ``path`` (nbformat 4), or BadInput saying in one line why it cannot be read."""
    import nbformat
    path = Path(path)
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if path.is_dir():
        raise BadInput(f"{path} is a folder; give the notebook file, e.g. {path / '<name>.ipynb'}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.read(str(path), as_version=4)
            nbformat.validate(nb)
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path} cannot be read: {e.strerror or e}") from None
    except Exception as e:  # NotJSONError, ValidationError, a JSON document that is not a notebook
        first = clean_error_text(e) or type(e).__name__
        raise BadInput(f"{path} is not a Jupyter notebook ({_short(first, 120)})") from None
    return nb


def _kernel_manager_class():
    """A Jupyter kernel manager whose kernel is this very Python (``sys.executable``), whatever the
    ``python3`` kernelspec of the machine points to: the check runs where the student ran the command."""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    class ThisPythonKernel(KernelManager):
        @property
        def kernel_spec(self):
            if self._kernel_spec is None:
                self._kernel_spec = KernelSpec(
                    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    display_name=f"Python ({sys.executable})", language="python")
            return self._kernel_spec

    return ThisPythonKernel


def report_visible(protocol_name, namespace):
    """Run in the notebook's kernel: every visible check of the protocol module against ``namespace``, each
    on its own, printed as one line of JSON for ``run_notebook_checks``."""
    protocol = importlib.import_module(protocol_name)
    ask = protocol.local_asker(namespace)
    sections = getattr(protocol, "SECTIONS", {})
    results = []
    for cell, checks in protocol.VISIBLE.items():  # one result per test cell: its checks in order, as the cell runs them
        summaries = [" ".join((fn.__doc__ or fn.__name__).strip().split("\n\n")[0].split()) for fn in checks]
        result = CheckResult(cell, " ".join(summaries), True)
        for fn in checks:
            try:
                with quiet():
                    fn(ask)
            except CheckFailure as e:
                e = with_section(e, section_of(sections, cell))
                result.passed, result.message, result.mistake = False, str(e), e.mistake
                break
            except Exception as e:  # a fault of the check itself: still a failure, never a pass
                result.passed, result.message = False, "the check could not run: " + error_words(type(e).__name__, e)
                break
        results.append(result.__dict__)
    print(_RESULTS_MARK + json.dumps(results))


def _stdout(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _run_cells(client, run, steps, report):
    """Execute ``run``'s cells in order (a prelude, the steps, the visible checks), recording errors in ``report``."""
    from nbclient.exceptions import CellExecutionError, DeadKernelError
    for index, cell in enumerate(run.cells):
        step = steps[index - 1] if 0 < index <= len(steps) else None
        where = step.label if step else "the visible checks"
        try:
            client.execute_cell(cell, index)
        except CellExecutionError as e:
            if e.ename == "KeyboardInterrupt":
                raise KeyboardInterrupt from None
            report.errors.append(f"{where} {error_words(e.ename, e.evalue)}")
            if step is None or step.setup:
                report.stopped = f"{where} raised an error, so nothing after it ran: fix it first."
                return
        except DeadKernelError:
            report.stopped = f"the kernel died in {where}, so nothing after it ran."
            return
        if step is not None:
            report.ran += 1


def _forward_interrupt(kernel_pid):
    """A SIGINT handler that passes the first Ctrl-C on to the kernel and raises KeyboardInterrupt on the second."""
    pressed = []

    def handler(signum, frame):
        pressed.append(signum)
        if len(pressed) > 1 or not kernel_pid:
            raise KeyboardInterrupt
        os.kill(kernel_pid, signal.SIGINT)
    return handler


def run_notebook_checks(path, protocol):
    """Run a notebook's graded cells without its training cells, then its visible checks; return a Report.

    ``protocol`` is the assignment's protocol module (``nf_checks``, ``ms_checks``). The cells (see ``plan``)
    run in a fresh Jupyter kernel of this Python, with the notebook's folder as working directory and the
    protocol module's folder first on ``sys.path``. A cell that raises is reported under its exercise name
    and the run goes on, since later exercises do not depend on it; a set-up cell that raises, a dead kernel
    or Ctrl-C stops it. Then each visible check of ``protocol.VISIBLE`` runs once, on the notebook's
    variables, as in grading. Nothing is written: the notebook on disk is only read.
    """
    start = time.monotonic()
    path = Path(path)
    nb = read_notebook(path)
    ids = {_grading(c).get("grade_id") for c in nb.cells}
    name = Path(protocol.__file__).stem
    if not ids & set(protocol.VISIBLE):
        raise BadInput(f"{path.name} has none of the test cells that {name} checks ({', '.join(protocol.VISIBLE)}): "
                       "is it another assignment's notebook, or did its cells lose their nbgrader metadata?")
    import nbformat
    from nbclient import NotebookClient

    steps, skipped, notes = plan(nb)
    report = Report(path.name, notes=notes, skipped=skipped)
    folder = str(Path(protocol.__file__).resolve().parent)
    prelude = nbformat.v4.new_code_cell(f"__import__('sys').path.insert(0, {folder!r})")
    final = nbformat.v4.new_code_cell(f"__import__('checks_core').report_visible({name!r}, globals())")
    cells = [nbformat.v4.new_code_cell(s.source) for s in steps]
    run = nbformat.v4.new_notebook(cells=[prelude, *cells, final], metadata=nb.metadata)
    client = NotebookClient(run, timeout=None, kernel_manager_class=_kernel_manager_class(),
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    env = dict(os.environ, MPLBACKEND="Agg")  # figures are drawn off-screen, never shown
    # The kernel's own log (its start-up warnings) is not the student's concern: errors come back as messages.
    with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):
        # The kernel runs in a session of its own, so the terminal's Ctrl-C reaches only this process: pass it on,
        # which ends the running cell with KeyboardInterrupt (below); a second Ctrl-C stops waiting for the kernel.
        previous = signal.signal(signal.SIGINT, _forward_interrupt(getattr(client.km.provisioner, "pid", None)))
        try:
            _run_cells(client, run, steps, report)
        finally:
            signal.signal(signal.SIGINT, previous)
    for line in _stdout(final).splitlines():
        if line.startswith(_RESULTS_MARK):
            report.results = [CheckResult(**r) for r in json.loads(line[len(_RESULTS_MARK):])]
    report.seconds = time.monotonic() - start
    return report


def main(argv, protocol):
    """``python -m <protocol> NOTEBOOK.ipynb``: print the visible checks' verdicts and return the exit status,
    0 when all pass, 1 when one fails (or they could not run), 2 for bad input, 130 on Ctrl-C."""
    name = Path(protocol.__file__).stem
    usage = (f"usage: python -m {name} NOTEBOOK.ipynb (run in the assignment's folder): runs the notebook without "
             "its training cells, then its visible checks")
    if len(argv) == 1 and argv[0] in ("-h", "--help"):
        print(usage)
        return 0
    if len(argv) != 1:
        print(usage, file=sys.stderr)
        return 2
    try:
        report = run_notebook_checks(argv[0], protocol)
    except BadInput as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted; nothing was written", file=sys.stderr)
        return 130
    print("\n".join(report.lines()))
    return report.status
