"""The student-side check, ``python -m nf_checks NOTEBOOK.ipynb`` (or ``ms_checks``): the notebook's cells run
in a fresh kernel without its training cells, then its visible checks, one verdict per test cell.

Part of the shared checks (``checks_core`` re-exports every name), shipped with each release. Needs Jupyter's
nbformat and nbclient besides numpy.
"""
import importlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from checks_failures import CheckFailure, clean_error_text, error_words, quiet, section_of, with_section


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
    final = nbformat.v4.new_code_cell(f"__import__('checks_notebook').report_visible({name!r}, globals())")
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
