"""Results in Gradescope's schema (results.json), written atomically, plus the summary text."""
import json
import os
import tempfile
import time
from pathlib import Path

from autograder import checks, notebooks

HIDDEN_MARK = "### BEGIN HIDDEN TESTS"


def _description(source):
    first = source.strip().splitlines()[0] if source.strip() else ""
    text = first.lstrip("#").strip()
    for prefix in ("Hidden test:", "Checks that", "Checks"):
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
    return text or "checks"


def test_cells(assignment):
    """The graded test cells of the source notebook: the single source of points and descriptions."""
    out = []
    for cell in checks.source_cells(assignment):
        meta = notebooks.grade_meta(cell)
        if not notebooks.is_test_cell(cell):
            continue
        test_id = meta["grade_id"]
        item = checks.item_of(assignment, test_id)
        out.append({"test_id": test_id, "item": item, "points": meta["points"],
                    "hidden": HIDDEN_MARK in cell.source, "description": _description(cell.source)})
    return out


def manual_cells(assignment):
    return [(notebooks.grade_meta(c)["grade_id"], notebooks.grade_meta(c)["points"])
            for c in checks.source_cells(assignment)
            if notebooks.grade_meta(c).get("grade") and notebooks.grade_meta(c).get("solution")]


def summary(notes, worker):
    lines = list(notes) + worker.skip_notes
    if worker.cell_errors:
        lines.append(f"{len(worker.cell_errors)} of your code cells raised an error while your notebook ran:")
        lines += [f"  cell {i + 1}: {msg.splitlines()[-1][:300]}" for i, msg in worker.cell_errors[:10]]
    lines += worker.deaths
    output = worker.output.text().strip()
    if output:
        lines.append("Output of your notebook (truncated if long):\n" + output[-4000:])
    return "\n".join(lines)


def results(assignment, outcomes, output, started, missing="this check did not run"):
    """A Gradescope results dict for ``assignment`` from {test_id: (passed, message, mistake)}."""
    cells = test_cells(assignment)
    tests = []
    for c in cells:
        passed, message, mistake = outcomes.get(c["test_id"], (False, missing, None))
        tests.append({
            "name": f"{c['item']}: {c['description']}",
            "score": c["points"] if passed else 0,
            "max_score": c["points"],
            "status": "passed" if passed else "failed",
            "output": message if not passed else "passed",
            "visibility": "visible",
            "extra_data": {"grade_id": c["test_id"], "item": c["item"], "hidden": c["hidden"],
                           "mistake": mistake},
        })
    manual = manual_cells(assignment)
    if manual:
        output = (output + "\n" if output else "") + "Graded by hand later: " + ", ".join(
            f"{gid} ({pts} points)" for gid, pts in manual) + "."
    return {"score": sum(t["score"] for t in tests), "output": output, "tests": tests,
            "execution_time": round(time.monotonic() - started, 2), "extra_data": {"assignment": assignment}}


def write_atomic(data, path):
    """Write JSON so a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
