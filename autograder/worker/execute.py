"""Run a notebook's code cells in a namespace with Jupyter semantics.

An exception (or ``SystemExit``) in one cell is recorded and the next cell still runs, as when a student
runs all cells in Jupyter. Test cells are skipped: the submission's copy of the tests is never trusted.
"""
import contextlib
import io
import os
import traceback

from autograder import notebooks
from autograder.text import capped


def code_cells(nb, skip_tests=True):
    """The sources of the code cells to run, in order."""
    return [c.source for c in nb.cells
            if c.cell_type == "code" and not (skip_tests and notebooks.is_test_cell(c))]


def strip_magics(source):
    # Shell escapes and line magics are IPython syntax, not Python; a student's `!pip` must not run.
    return "\n".join(("pass  # " + line) if line.lstrip().startswith(("!", "%")) else line
                     for line in source.splitlines())


class _Discard(io.TextIOBase):
    def write(self, text):
        return len(text)


def run_cells(sources, namespace, capture=True, before_cell=None):
    """Execute each source in ``namespace``; return a list of (index, error text) for failed cells.

    With ``capture`` the cells' printed output is discarded; without it, it goes to the real stdout
    (the worker's, which the grader drains with a size cap). ``before_cell(i)`` is called before cell i.
    """
    namespace.setdefault("__name__", "__main__")
    os.environ.setdefault("MPLBACKEND", "Agg")
    errors = []
    for i, src in enumerate(sources):
        if before_cell is not None:
            before_cell(i)
        sink = contextlib.redirect_stdout(_Discard()) if capture else contextlib.nullcontext()
        try:
            with sink:
                exec(compile(strip_magics(src), f"<cell {i}>", "exec"), namespace)
        except BaseException as e:  # noqa: BLE001 (SystemExit and KeyboardInterrupt too, as in Jupyter)
            if isinstance(e, KeyboardInterrupt):
                raise
            errors.append((i, capped("".join(traceback.format_exception_only(type(e), e)).strip())))
    return errors


def execute_notebook(path, overrides=None, timeout=None, cwd=None):
    """Execute a notebook with nbclient, top to bottom, stopping at the first error.

    ``overrides`` replace values of the ``parameters`` cell. Returns the executed notebook; raises
    ``nbclient.exceptions.CellExecutionError`` naming the failing cell.
    """
    from pathlib import Path

    import nbclient

    import course_config

    nb = notebooks.read(path)
    if overrides:
        nb = notebooks.apply_parameters(nb, overrides)
    client = nbclient.NotebookClient(
        nb, timeout=timeout or course_config.EXECUTION_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(cwd or Path(path).parent)}})
    client.execute()
    return nb
