"""Checks on a generated release and solutions: no leaks, complete grading metadata, a points table."""
import re

import course_config
from autograder import notebooks

SOLUTION_MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")
# nbgrader finds a region by a delimiter *anywhere in a line*, whatever the comment characters around it:
# `### BEGIN SOLUTION` in code, `<!-- BEGIN SOLUTION -->` (or `### BEGIN SOLUTION`) in markdown.
DELIMITERS = {"SOLUTION": ("BEGIN SOLUTION", "END SOLUTION"),
              "HIDDEN TESTS": ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")}


def paths(assignment):
    root = course_config.ROOT
    name = f"{assignment}.ipynb"
    return (root / course_config.SOURCE_DIR / assignment / name,
            root / course_config.RELEASE_DIR / assignment / name,
            root / course_config.SOLUTION_DIR / assignment / name)


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


def solution_lines(source_nb):
    """Every non-trivial line inside a solution or hidden-test region of the source notebook."""
    lines = set()
    for cell in source_nb.cells:
        for kind in DELIMITERS:
            lines |= {ln.strip() for ln in split_regions(cell.source, kind)[1] if len(ln.strip()) > 12}
    return lines


def solution_cell_problems(source_nb):
    """Solution cells of the *source* notebook whose text nbgrader would silently drop from the release.

    nbgrader replaces each solution region with the stub, and a solution cell with no region at all entirely.
    So every solution cell needs a region. A markdown answer cell (a written question) must hold nothing outside
    it: the question goes in its own markdown cell above, where it cannot vanish or be typed over, and the
    answer cell holds only the model answer and the rubric. In a code cell the lines outside the regions are the
    scaffold the student keeps (signatures, docstrings, the comment naming what to define); they reach the
    release unchanged, so they are allowed. A region in a cell that is not a solution cell makes nbgrader fail."""
    problems = []
    for i, cell in enumerate(source_nb.cells):
        meta = notebooks.grade_meta(cell)
        name = f"cell {i} ({meta.get('grade_id') or cell.get('id')})"
        outside, inside, errors = split_regions(cell.source)
        has_region = len(outside) + len(inside) < len(cell.source.splitlines())
        if not meta.get("solution"):
            if has_region:
                problems.append(f"{name}: has a solution region but is not a solution cell")
            continue
        problems += [f"{name}: {e}" for e in errors]
        if not has_region:
            problems.append(f"{name}: solution cell without a BEGIN SOLUTION / END SOLUTION region; nbgrader "
                            "replaces the whole cell, so everything in it vanishes from the release")
        elif cell.cell_type == "markdown":
            text = [ln.strip() for ln in outside if ln.strip()]
            if text:
                problems.append(f"{name}: markdown answer cell holds text outside its solution region "
                                f"({text[0][:60]!r}); put the question in its own markdown cell above it")
    return problems


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


POINTS_BEGIN = "<!-- points of {assignment}: generated by `python -m autograder validate --markdown`, do not edit -->"
POINTS_END = "<!-- end of points of {assignment} -->"


def points_markdown(assignment):
    """The points table of one assignment, as Markdown: one row per graded item with its test cells' points
    (from the source notebook's nbgrader metadata, nothing else), the written answers, and the totals."""
    from autograder import checks
    rows = points_table(notebooks.read(paths(assignment)[0]))
    items = {}
    for gid, pts, kind in rows:
        item = gid if kind == "manual" else checks.item_of(assignment, gid)
        items.setdefault(item, []).append((gid, pts, kind))
    lines = ["| item | test cells (points) | points |", "|---|---|---|"]
    for item, cells in items.items():
        if cells[0][2] == "manual":
            what = "written answer, graded by hand"
        else:
            what = ", ".join(f"{gid[len(item) + 1:]} ({pts:g}{', hidden' if kind == 'hidden' else ''})"
                             for gid, pts, kind in cells)
        lines.append(f"| `{item}` | {what} | {sum(c[1] for c in cells):g} |")
    auto = sum(pts for _, pts, kind in rows if kind != "manual")
    manual = sum(pts for _, pts, kind in rows if kind == "manual")
    lines.append(f"| **total** | {auto:g} autograded + {manual:g} by hand | **{auto + manual:g}** |")
    return "\n".join(lines)


def points_block(assignment):
    return "\n".join([POINTS_BEGIN.format(assignment=assignment), points_markdown(assignment),
                      POINTS_END.format(assignment=assignment)])


def readme_points_blocks(text):
    """{assignment: the generated block as it stands in a README's text} for every block found."""
    found = {}
    for assignment in course_config.ASSIGNMENTS:
        begin, end = POINTS_BEGIN.format(assignment=assignment), POINTS_END.format(assignment=assignment)
        if begin in text and end in text:
            found[assignment] = text[text.index(begin):text.index(end) + len(end)]
    return found


def write_points_into(path):
    """Replace the generated points blocks in the file at ``path`` with fresh ones; returns the assignments whose
    block changed. An assignment without a block is left out (add its two marker lines first)."""
    path = course_config.ROOT / path  # an absolute path stays as it is
    text = path.read_text()
    changed = []
    for assignment, old in readme_points_blocks(text).items():
        new = points_block(assignment)
        if new != old:
            text = text.replace(old, new)
            changed.append(assignment)
    if changed:
        path.write_text(text)
    return changed


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
    from autograder import reference
    status = 0
    for problem in course_problems() + reference.refuse_stale():
        print("PROBLEM:", problem)
        status = 1
    for assignment in course_config.ASSIGNMENTS:
        source_path, release_path, solution_path = paths(assignment)
        source = notebooks.read(source_path)
        release = notebooks.read(release_path)
        notebooks.read(solution_path)
        problems = ([f"source: {p}" for p in solution_cell_problems(source)]
                    + leaks(source, release) + metadata_problems(release))
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
