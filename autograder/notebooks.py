"""Reading, normalising and inspecting nbgrader notebooks."""
import errno
import functools
import json
import os
import re
import stat
import warnings
from pathlib import Path

import nbformat


class NotebookError(Exception):
    """A notebook could not be read; the message says why, in words."""


class NotSubmitted(NotebookError):
    """No file is where the submission should be."""


class InvalidMetadata(NotebookError):
    """A notebook nbformat accepts whose nbgrader metadata is not nbgrader's (``"nbgrader": "x"``, a list for a
    grade_id): it cannot be told which cell is which, so it is graded as nothing, with a status of its own."""


#: What a cell's nbgrader metadata must be (nbgrader's own types), checked by ``read`` on every notebook.
NBGRADER_SCHEMA_PATH = Path(__file__).resolve().with_name("nbgrader_metadata.schema.json")


def submission_bytes(path, max_bytes, within=None):
    """The bytes of a submitted file, read safely: never through a symbolic link (the file itself, or any
    folder below ``within``), never from a FIFO or a device, never more than ``max_bytes``. Raises
    NotebookError (NotSubmitted if there is no file)."""
    path = Path(path)
    name = path.name
    if within is not None:
        here = Path(within)
        for part in path.relative_to(within).parts[:-1]:
            here = here / part
            if here.is_symlink():
                raise NotebookError(f"{part} is a symbolic link, not a folder; submit the notebook file itself")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotSubmitted(f"{name}: no such file") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotebookError(f"{name} is a symbolic link, not a notebook file; submit the file itself") from None
        raise NotebookError(f"{name}: cannot be opened ({e.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotebookError(f"{name} is not a regular file")
        if info.st_nlink > 1:  # the same file under another name, perhaps somebody else's (or the solutions)
            raise NotebookError(f"{name} is a hard link to another file ({info.st_nlink} names for one file); "
                                "submit a copy of your notebook")
        if info.st_size > max_bytes:
            raise NotebookError(f"{name} is {info.st_size / 2**20:.1f} MiB, more than the {max_bytes / 2**20:g} MiB "
                                "a notebook may have (clear its outputs and submit again)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise NotebookError(f"{name} grew past {max_bytes / 2**20:g} MiB while it was read")
        return data
    finally:
        os.close(fd)


def not_a_notebook(path, max_bytes):
    """Why ``path`` cannot be graded as a notebook, in one line (missing, a folder, unreadable, not a
    notebook), or None when it reads as one (a notebook with invalid nbgrader metadata is one: it is graded,
    with the status that says so)."""
    path = Path(path)
    if (path.is_dir() and not path.is_symlink()) or (not path.exists() and not path.is_symlink()):
        return refusal(path, None)
    try:
        read(path, submission_bytes(path, max_bytes))
    except NotebookError as e:
        return refusal(path, e)
    return None


def refusal(path, error):
    """``not_a_notebook``'s answer for a file already read: ``error`` is the NotebookError that reading it raised
    (None: it read as a notebook)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        return f"{path} is a folder; give the notebook file (.ipynb) to grade"
    if not path.exists() and not path.is_symlink():
        return f"{path}: no such file"
    if error is None or isinstance(error, InvalidMetadata):
        return None
    text = str(error)
    return text if text.startswith(str(path)) else f"{path}: {text}"


def read(path, data=None):
    """Read and validate a notebook (from ``data`` if given); raise NotebookError saying what is wrong."""
    path = Path(path)
    try:
        text = (path.read_bytes() if data is None else data).decode("utf-8")
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise NotebookError(f"{path}: cannot be read ({e})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                            "the file may be truncated") from None
    except RecursionError:  # a nesting bomb: "[[[[...]]]]" thousands deep
        raise NotebookError(f"{path}: its JSON is nested too deeply to be a notebook") from None
    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        raise NotebookError(f"{path}: not an nbformat 4 notebook (nbformat={raw.get('nbformat') if isinstance(raw, dict) else None})")
    if not isinstance(raw.get("cells"), list):
        raise NotebookError(f"{path}: has no list of cells")
    try:
        with warnings.catch_warnings():  # missing or duplicate ids are repaired below, not warned about
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
        _repair_ids(nb)
        nbformat.validate(nb)
    except RecursionError:
        raise NotebookError(f"{path}: its JSON is nested too deeply to be a notebook") from None
    except Exception as e:
        raise NotebookError(f"{path}: not a valid notebook ({(str(e).splitlines() or [type(e).__name__])[0]})") from None
    _check_nbgrader_metadata(nb, path)
    return nb


@functools.cache
def _nbgrader_validator():
    import jsonschema
    schema = json.loads(NBGRADER_SCHEMA_PATH.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def _check_nbgrader_metadata(nb, path):
    """Raise InvalidMetadata, in one line that names the cell and the field, for the first cell whose nbgrader
    metadata is not what ``NBGRADER_SCHEMA_PATH`` says. The line never quotes the value (it may be megabytes)."""
    for cell in nb.cells:
        if "nbgrader" not in cell.metadata:
            continue
        error = min(_nbgrader_validator().iter_errors(cell.metadata["nbgrader"]),
                    key=lambda e: list(map(str, e.absolute_path)), default=None)
        if error is not None:
            field = "".join(f".{part}" for part in error.absolute_path)
            raise InvalidMetadata(f"{path}: cell `{cell.id}`: `metadata.nbgrader{field}` must be "
                                  + error.schema.get("must_be", "as nbgrader writes it"))


def _repair_ids(nb):
    """Give missing or duplicated cell ids fresh ones: the student's work is graded, not the ids."""
    seen = set()
    for i, cell in enumerate(nb.cells):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = f"repaired-{i}"
        seen.add(cell["id"])
    nb.nbformat_minor = max(nb.get("nbformat_minor", 5), 5)


def normalise(nb):
    """Strip outputs and execution counts, and make sure every cell has an id (nbformat >= 4.5)."""
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 5), 5)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        if not cell.get("id"):
            cell["id"] = f"cell-{i}"
    return nb


def write(nb, path):
    nbformat.validate(nb)
    nbformat.write(nb, str(path))


def grade_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_cells(nb):
    """(cell, nbgrader metadata) for every cell that carries points."""
    return [(c, grade_meta(c)) for c in nb.cells if grade_meta(c).get("grade")]


def is_test_cell(cell):
    m = grade_meta(cell)
    return bool(m.get("grade")) and not m.get("solution") and cell.cell_type == "code"


def parameters_cell(nb):
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def apply_parameters(nb, overrides):
    """Append overrides to the notebook's `parameters` cell (papermill convention). Returns a copy."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cell = parameters_cell(nb)
    if cell is None:
        raise NotebookError("the notebook has no cell tagged `parameters`")
    missing = [k for k in overrides if f"{k} =" not in cell.source]
    if missing:
        raise NotebookError(f"the parameters cell does not define {missing}")
    cell.source += "\n# overrides for a short run\n" + "\n".join(f"{k} = {v!r}" for k, v in overrides.items())
    return nb


def normalise_tree(*roots):
    """Normalise every notebook under the given directories in place; return the paths changed."""
    changed = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            before = path.read_text(encoding="utf-8")
            nb = normalise(read(path))
            after = nbformat.writes(nb) + "\n"
            if after != before:
                path.chmod(0o644)
                path.write_text(after, encoding="utf-8")
                changed.append(path)
    return changed


# ---- nbgrader's regions: the one place that knows its delimiters ---------------------------------------------
SOLUTION_MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")


# nbgrader finds a region by a delimiter *anywhere in a line*, whatever the comment characters around it:
# `### BEGIN SOLUTION` in code, `<!-- BEGIN SOLUTION -->` (or `### BEGIN SOLUTION`) in markdown.
DELIMITERS = {"SOLUTION": ("BEGIN SOLUTION", "END SOLUTION"),
              "HIDDEN TESTS": ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")}


def split_regions(source, kind="SOLUTION"):
    """Read a cell the way nbgrader's ClearSolutions does: (lines outside the regions, lines inside them, errors).

    Delimiter lines belong to neither. Errors are what nbgrader would refuse: a nested BEGIN, an END without a
    BEGIN (nbgrader ignores it silently, which hides a typo), a region never closed."""
    begin, end = DELIMITERS[kind]
    outside, inside, errors, open_at = [], [], [], None
    for n, line in enumerate(source.splitlines(), 1):
        if begin in line:
            if open_at is not None:
                errors.append(f"line {n}: {begin} inside the region opened on line {open_at}")
            open_at = n
        elif end in line:
            if open_at is None:
                errors.append(f"line {n}: {end} without a {begin} before it")
            open_at = None
        else:
            (outside if open_at is None else inside).append(line)
    if open_at is not None:
        errors.append(f"line {open_at}: {begin} is never closed by {end}")
    return outside, inside, errors
