"""Points live in the source notebooks' nbgrader metadata only: the points tables of the instructors' guide
(docs/instructors.md) are generated from it, and no other page repeats a point or a total."""
import re
import subprocess
import sys

import course_config
from autograder import course
from autograder.authoring import validate


POINTS_PAGE = "docs/instructors.md"


def test_the_guides_points_tables_match_the_notebooks():
    text = (course_config.ROOT / POINTS_PAGE).read_text()
    blocks = validate.readme_points_blocks(text)
    assert set(blocks) == set(course_config.ASSIGNMENTS), (
        f"{POINTS_PAGE} lacks the generated points table of some assignment")
    for assignment, block in blocks.items():
        assert block == validate.points_block(assignment), (
            f"{POINTS_PAGE}'s points table of {assignment} is stale: "
            f"run python -m autograder validate --markdown {POINTS_PAGE}")


def test_make_release_rewrites_the_page_that_holds_the_tables():
    makefile = (course_config.ROOT / "Makefile").read_text()
    assert f"-m autograder validate --markdown {POINTS_PAGE}" in makefile


def test_no_page_repeats_a_total_outside_the_generated_tables():
    """Issue 27: after a points change the prose still said "28 for normalising_flows" and "30 and 25"."""
    pages = [course_config.ROOT / "README.md"] + sorted((course_config.ROOT / "docs").glob("*.md"))
    totals = set()
    for assignment in course_config.ASSIGNMENTS:
        auto = sum(c["points"] for c in course.test_cells(assignment))
        manual = sum(p for _, p in course.manual_cells(assignment))
        totals |= {f"{auto:g}", f"{auto + manual:g}"}
    for page in pages:
        text = page.read_text()
        blocks = validate.readme_points_blocks(text)
        assert not blocks or page == course_config.ROOT / POINTS_PAGE, (
            f"{page.name} holds a points table; link to {POINTS_PAGE} instead")
        for block in blocks.values():
            text = text.replace(block, "")
        said = [f"{a} and {b}" for a in totals for b in totals if a != b] + [f"{a} for `" for a in totals] + [
            f"{a} points" for a in totals]
        for phrase in said:
            assert not re.search(rf"(?<![\d.]){re.escape(phrase)}", text), (
                f"{page.name} repeats a total ({phrase!r}); refer to the points table in {POINTS_PAGE}")


def test_the_points_table_totals_come_from_the_metadata():
    for assignment in course_config.ASSIGNMENTS:
        auto = sum(c["points"] for c in course.test_cells(assignment))
        manual = sum(p for _, p in course.manual_cells(assignment))
        assert f"| **total** | {auto:g} autograded + {manual:g} by hand | **{auto + manual:g}** |" in \
            validate.points_markdown(assignment)


def test_a_stale_table_is_rewritten(tmp_path):
    readme = tmp_path / "README.md"
    block = validate.points_block("normalising_flows")
    readme.write_text("intro\n" + block.replace("| **30** |", "| **99** |").replace("(3, hidden)", "(7, hidden)")
                      + "\noutro\n")
    assert validate.readme_points_blocks(readme.read_text())["normalising_flows"] != block
    proc = subprocess.run([sys.executable, "-m", "autograder", "validate", "--markdown", str(readme)],
                          cwd=course_config.ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "updated (normalising_flows)" in proc.stdout
    assert readme.read_text() == "intro\n" + block + "\noutro\n"


def test_a_page_without_tables_is_refused_not_reported_up_to_date(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("no tables here\n")
    proc = subprocess.run([sys.executable, "-m", "autograder", "validate", "--markdown", str(page)],
                          cwd=course_config.ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and "holds no points table" in proc.stderr and "up to date" not in proc.stdout
