"""Checks on a generated release and solutions: no leaks, complete grading metadata, a points table."""
import re

import course_config
from autograder import notebooks

SOLUTION_MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


def paths(assignment):
    root = course_config.ROOT
    name = f"{assignment}.ipynb"
    return (root / course_config.SOURCE_DIR / assignment / name,
            root / course_config.RELEASE_DIR / assignment / name,
            root / course_config.SOLUTION_DIR / assignment / name)


def solution_lines(source_nb):
    """Every non-trivial line inside a solution or hidden-test region of the source notebook."""
    lines = set()
    for cell in source_nb.cells:
        for _, body in REGION.findall(cell.source):
            lines |= {ln.strip() for ln in body.splitlines() if len(ln.strip()) > 12}
    return lines


def leaks(source_nb, release_nb):
    """Problems that would give the release away: markers, solution lines, hidden tests, in any cell."""
    secret = solution_lines(source_nb)
    problems = []
    for i, cell in enumerate(release_nb.cells):
        text = cell.source + "\n" + str(cell.get("metadata", {}))
        if SOLUTION_MARKERS.search(text):
            problems.append(f"cell {i}: contains a solution or hidden-test marker")
        found = {ln for ln in secret if ln in text}
        if found:
            problems.append(f"cell {i}: contains solution lines such as {sorted(found)[0]!r}")
    return problems


def metadata_problems(nb):
    problems, seen = [], set()
    for i, cell in enumerate(nb.cells):
        meta = notebooks.grade_meta(cell)
        if not meta:
            continue
        gid = meta.get("grade_id")
        if not gid:
            problems.append(f"cell {i}: nbgrader cell without a grade_id")
        elif gid in seen:
            problems.append(f"cell {i}: duplicate grade_id {gid!r}")
        seen.add(gid)
        if meta.get("grade") and not isinstance(meta.get("points"), (int, float)):
            problems.append(f"cell {i} ({gid}): graded cell without points")
    return problems


def points_table(nb):
    """[(grade_id, points, kind)] for every graded cell, in notebook order."""
    rows = []
    for cell, meta in notebooks.graded_cells(nb):
        kind = "manual" if meta.get("solution") else ("hidden" if "HIDDEN" in cell.source else "visible")
        rows.append((meta["grade_id"], meta["points"], kind))
    return rows


def course_problems():
    """What breaks grading across the course: a grade_id in two assignments (the in-kernel hidden cells find
    their assignment by it), a test cell no check covers, a missing protocol module."""
    from autograder import checks
    problems, owner = [], {}
    for assignment in course_config.ASSIGNMENTS:
        module = course_config.CHECKS_MODULE.get(assignment)
        path = course_config.ROOT / course_config.SOURCE_DIR / assignment / f"{module}.py"
        if not module or not path.exists():
            problems.append(f"{assignment}: no protocol module (course_config.CHECKS_MODULE, source/{assignment}/)")
            continue
        for gid in checks.test_ids(assignment) + checks.items(assignment):
            if gid in owner:
                problems.append(f"grade_id {gid!r} is in both {owner[gid]} and {assignment}")
            owner[gid] = assignment
        covered = {t for t, _ in checks.graded_test_cells(assignment)}
        problems += [f"{assignment}: test cell {t!r} has no checks" for t in checks.test_ids(assignment)
                     if t not in covered]
    return problems


def main():
    status = 0
    for problem in course_problems():
        print("PROBLEM:", problem)
        status = 1
    for assignment in course_config.ASSIGNMENTS:
        source_path, release_path, solution_path = paths(assignment)
        source = notebooks.read(source_path)
        release = notebooks.read(release_path)
        notebooks.read(solution_path)
        problems = leaks(source, release) + metadata_problems(release)
        print(f"{assignment}: release {release_path.relative_to(course_config.ROOT)}, "
              f"solutions {solution_path.relative_to(course_config.ROOT)}")
        rows = points_table(source)
        width = max(len(r[0]) for r in rows)
        for gid, pts, kind in rows:
            print(f"  {gid:<{width}}  {pts:>4}  {kind}")
        print(f"  {'total':<{width}}  {sum(r[1] for r in rows):>4}")
        for p in problems:
            print("  PROBLEM:", p)
        status |= bool(problems)
        if not problems:
            print("  release: stubs and visible tests only (no solution lines, no hidden tests)")
    return status
