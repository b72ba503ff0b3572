"""Points live in the source notebooks' nbgrader metadata only: the README's tables are generated from it."""
import subprocess
import sys

import course_config
from autograder import course
from autograder.authoring import validate


def test_the_readme_points_tables_match_the_notebooks():
    readme = (course_config.ROOT / "README.md").read_text()
    blocks = validate.readme_points_blocks(readme)
    assert set(blocks) == set(course_config.ASSIGNMENTS), "README.md lacks the generated points table of some assignment"
    for assignment, block in blocks.items():
        assert block == validate.points_block(assignment), (
            f"README.md's points table of {assignment} is stale: run python -m autograder validate --markdown README.md")


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
