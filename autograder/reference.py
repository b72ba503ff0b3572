"""Build the reference values from solutions/: `make reference` (python -m autograder reference).

Reference values answer the hidden checks' requests from the solutions. They go stale when a hidden input
(an item module's ``REQUESTS``), the solutions' code or the short budget changes without ``make reference``:
a correct submission would then be compared with answers to other questions. So each reference file has a
sidecar, ``<assignment>.inputs.json``, holding a digest of what its values were built from; ``stale`` compares
it with the current inputs in about a second (no TensorFlow), and ``validate``, ``grade`` and ``batch`` refuse
to go on while any assignment's values are stale.
"""
import functools
import hashlib
import json

import course_config
from autograder import checks, course, notebooks, store
from autograder.submissions import extract
from autograder.worker import execute, wire


def solution_namespace(assignment):
    """Run the solutions notebook's code as the grader's worker runs a submission's, and return its variables.

    One execution policy (``extract.student_code``): test cells and the cells tagged ``skip-when-grading``
    (training, plots) are skipped, and the short budget goes after the parameters cell.
    """
    import matplotlib
    matplotlib.use("Agg")
    sources, _ = extract.student_code(notebooks.read(course.solution_notebook(assignment)), assignment)
    ns = {}
    errors = execute.run_cells(sources, ns)
    if errors:
        raise RuntimeError("the solutions notebook failed while building references:\n"
                           + "\n".join(f"cell {i}: {msg}" for i, msg in errors))
    return ns


def build(assignment):
    return build_reference(assignment, solution_namespace(assignment))


def differences(new, old, rtol=1e-5, atol=1e-6, prefix=""):
    """Human-readable differences between two reference trees (empty list: identical within tolerance)."""
    import numpy as np
    out = []
    if isinstance(new, dict) and isinstance(old, dict):
        for key in sorted(set(new) | set(old)):
            if key not in new or key not in old:
                out.append(f"{prefix}{key}: only in {'new' if key in new else 'stored'} values")
            else:
                out += differences(new[key], old[key], rtol, atol, f"{prefix}{key}/")
    elif isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        for i, (a, b) in enumerate(zip(new, old)):
            out += differences(a, b, rtol, atol, f"{prefix}{i}/")
    elif isinstance(new, np.ndarray) or isinstance(old, np.ndarray):
        a, b = np.asarray(new, dtype="float64"), np.asarray(old, dtype="float64")
        if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=atol):
            out.append(f"{prefix.rstrip('/')}: values differ")
    elif new != old:
        out.append(f"{prefix.rstrip('/')}: {old!r} -> {new!r}")
    return out


def inputs_digest(assignment):
    """A digest of everything the reference values of ``assignment`` are computed from: every item's hidden
    requests, the solutions' code as ``solution_namespace`` runs it (not their test cells), and the budget."""
    plan = course.plan(assignment)
    requests = {item: checks.item_module(assignment, item).REQUESTS for item in plan.items}
    code = extract.labelled_code(notebooks.read(course.solution_notebook(assignment)), assignment, plan).sources
    text = json.dumps({"requests": _encode(requests), "solutions": code,
                       "budget": course_config.SHORT_BUDGET.get(assignment)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def inputs_file(assignment):
    return reference_file(assignment).with_suffix(".inputs.json")


def save(assignment, values):
    """Store freshly built values and the digest of their inputs; returns the reference file's path."""
    path = save_reference(assignment, values)
    store.write_json(inputs_file(assignment), {"inputs_sha256": inputs_digest(assignment)})
    return path


def stale(assignment):
    """Why the stored reference values of ``assignment`` cannot be trusted, in one line, or None."""
    if not reference_file(assignment).exists():
        return f"{assignment}: there are no reference values; run make reference"
    try:
        stored = json.loads(inputs_file(assignment).read_text()).get("inputs_sha256")
    except (OSError, ValueError, AttributeError):
        stored = None
    if stored is None:
        return f"{assignment}: the reference values do not say what they were built from; run make reference"
    if stored != inputs_digest(assignment):
        return (f"{assignment}: the reference values are stale (the hidden inputs, the solutions or the budget "
                f"changed since they were built); run make reference")
    return None


def refuse_stale(assignments=None):
    """One line per assignment whose reference values are stale (empty: all are current)."""
    return [line for a in (assignments or course_config.ASSIGNMENTS) if (line := stale(a))]


# ---- where reference values are stored -----------------------------------------------------------------------


#: One array codec for the whole grader: reference values are stored the way answers travel from the worker
#: (``wire``: JSON with arrays as .npy bytes, dtype and shape included, never pickle).
_encode, _decode = wire._encode, wire._decode


def reference_file(assignment):
    return course.reference_file(assignment)


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
    """The stored reference values of ``assignment``, read once per process (and again if the file changes)."""
    path = reference_file(assignment)
    if not path.exists():
        raise FileNotFoundError(f"no reference values at {path}; run `make reference`")
    return _decoded(path, path.stat().st_mtime_ns)


@functools.cache
def _decoded(path, mtime_ns):
    return _decode(json.loads(path.read_text()))


def build_reference(assignment, namespace):
    """Answer every hidden request from a namespace holding the solutions' objects."""
    answer = course.protocol(assignment).answer
    return {item: {name: answer(namespace, req) for name, req in checks.item_module(assignment, item).REQUESTS.items()}
            for item in course.items(assignment)}
