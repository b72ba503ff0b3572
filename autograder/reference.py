"""Build the reference values from solutions/: `make reference` (python -m autograder reference)."""
import course_config
from autograder import checks, execute, extract, notebooks


def solutions_path(assignment):
    return course_config.ROOT / course_config.SOLUTION_DIR / assignment / f"{assignment}.ipynb"


def solution_namespace(assignment):
    """Run the solutions notebook's code as the grader's worker runs a submission's, and return its variables.

    One execution policy (``extract.student_code``): test cells and the cells tagged ``skip-when-grading``
    (training, plots) are skipped, and the short budget goes after the parameters cell.
    """
    import matplotlib
    matplotlib.use("Agg")
    sources, _ = extract.student_code(notebooks.read(solutions_path(assignment)), assignment)
    ns = {}
    errors = execute.run_cells(sources, ns)
    if errors:
        raise RuntimeError("the solutions notebook failed while building references:\n"
                           + "\n".join(f"cell {i}: {msg}" for i, msg in errors))
    return ns


def build(assignment):
    return checks.build_reference(assignment, solution_namespace(assignment))


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
