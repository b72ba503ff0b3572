"""`python -m autograder validate`'s rule on solution cells: nothing in a solution cell of the source may sit where
nbgrader would drop it, so no written question (or any other text) can vanish from the release again."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import course_config
from autograder import notebooks
from autograder.authoring import validate

QUESTION = "**Written answer.** Why does a base with two modes help an invertible map?"
MODEL_ANSWER = "A continuous invertible map cannot tear one mode in two."


def _solution(cell, grade_id, grade=False, points=None):
    cell.metadata["nbgrader"] = {"grade": grade, "grade_id": grade_id, "locked": False, "solution": True,
                                 "schema_version": 3, **({"points": points} if points else {})}
    return cell


def _answer(text, grade_id="discussion"):
    return _solution(new_markdown_cell(text), grade_id, grade=True, points=2)


def _good_notebook():
    """The layout the course uses: the question in its own cell, the answer cell all solution region, and code
    solution cells whose scaffold (a comment, a signature, a docstring) sits outside their regions."""
    return new_notebook(cells=[
        new_markdown_cell(QUESTION),
        _answer(f"<!-- BEGIN SOLUTION -->\n**Model answer.** {MODEL_ANSWER}\n\n**Rubric.** 1 + 1 points.\n"
                "<!-- END SOLUTION -->"),
        _answer("### BEGIN SOLUTION\nAnother model answer, with nbgrader's code-style delimiters.\n### END SOLUTION\n",
                "discussion_2"),
        _solution(new_code_cell("# Define x\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), "x"),
        _solution(new_code_cell('def f(a):\n    """Return a + 1."""\n    ### BEGIN SOLUTION\n    return a + 1\n'
                                "    ### END SOLUTION"), "f"),
        new_code_cell("print(x)"),
    ])


BAD = {
    # the defect of issue 14: the question inside the answer cell, no region, so nbgrader replaced all of it
    "question in an answer cell without a region": _answer(f"{QUESTION}\n\nYOUR ANSWER HERE"),
    "question above the region of an answer cell": _answer(
        f"{QUESTION}\n<!-- BEGIN SOLUTION -->\n{MODEL_ANSWER}\n<!-- END SOLUTION -->"),
    "text after the region of an answer cell": _answer(
        f"<!-- BEGIN SOLUTION -->\n{MODEL_ANSWER}\n<!-- END SOLUTION -->\nRubric: 2 points."),
    "code solution cell without a region": _solution(new_code_cell("# Define x\nx = 1"), "x"),
    "region never closed": _solution(new_code_cell("### BEGIN SOLUTION\nx = 1"), "x"),
    "nested regions": _solution(new_code_cell("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), "x"),
    "END without BEGIN": _solution(new_code_cell("x = 1\n### END SOLUTION"), "x"),
    "region in a cell that is not a solution cell": new_markdown_cell(
        f"Notes.\n<!-- BEGIN SOLUTION -->\n{MODEL_ANSWER}\n<!-- END SOLUTION -->"),
}


def test_the_course_layout_passes():
    assert validate.solution_cell_problems(_good_notebook()) == []


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_bad_solution_cell_is_reported(case):
    nb = _good_notebook()
    nb.cells.insert(2, BAD[case])
    problems = validate.solution_cell_problems(nb)
    assert len(problems) == 1 and problems[0].startswith("cell 2 "), (case, problems)


def test_the_message_says_what_to_do():
    nb = new_notebook(cells=[_answer(f"{QUESTION}\n\nYOUR ANSWER HERE")])
    [problem] = validate.solution_cell_problems(nb)
    assert "discussion" in problem and "whole cell" in problem and "vanishes" in problem
    nb = new_notebook(cells=[_answer(f"{QUESTION}\n<!-- BEGIN SOLUTION -->\nx\n<!-- END SOLUTION -->")])
    [problem] = validate.solution_cell_problems(nb)
    assert "Written answer" in problem and "own markdown cell above" in problem


def test_nbgrader_keeps_what_the_rule_allows_and_drops_the_model_answer():
    """The rule agrees with nbgrader: run its ClearSolutions on the good notebook."""
    from nbgrader.preprocessors import ClearSolutions
    nb, _ = ClearSolutions(code_stub={"python": course_config.CODE_STUB},
                           text_stub=course_config.TEXT_STUB).preprocess(_good_notebook(), {})
    sources = [c.source for c in nb.cells]
    assert sources[0] == QUESTION
    assert sources[1].strip() == sources[2].strip() == course_config.TEXT_STUB
    assert sources[3].startswith("# Define x\n") and "x = 1" not in sources[3]
    assert '"""Return a + 1."""' in sources[4] and "return a + 1" not in sources[4]
    assert not any(MODEL_ANSWER in s for s in sources)


def test_model_answers_count_as_solution_lines_for_the_leak_check():
    secret = validate.solution_lines(_good_notebook())
    assert f"**Model answer.** {MODEL_ANSWER}" in secret and "x = 1" not in secret  # short lines are skipped
    release = _good_notebook()
    release.cells[1].source = f"I think: **Model answer.** {MODEL_ANSWER}"
    assert any("solution lines" in p for p in validate.leaks(_good_notebook(), release))


@pytest.mark.parametrize("assignment", course_config.ASSIGNMENTS)
def test_source_notebooks_pass_and_every_question_reaches_the_release(assignment):
    source_path, release_path, _ = validate.paths(assignment)
    source = notebooks.read(source_path)
    assert validate.solution_cell_problems(source) == []
    release = nbformat.read(str(release_path), as_version=4)
    manual = [i for i, c in enumerate(release.cells)
              if c.cell_type == "markdown" and notebooks.grade_meta(c).get("solution")]
    assert manual, "every assignment has a written answer"
    for i in manual:
        assert release.cells[i].source.strip() == course_config.TEXT_STUB
        question = release.cells[i - 1]
        assert question.cell_type == "markdown" and "Written answer" in question.source, (
            f"{assignment}: the cell above the answer cell {i} does not hold the question")
