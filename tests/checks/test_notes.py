"""The notes of the source notebooks: equation numbers, what the exercises tell students, the parameters cell."""
import re

import pytest

import course_config
from autograder import checks, notebooks

ROOT = course_config.ROOT
ASSIGNMENTS = course_config.ASSIGNMENTS


def _source(assignment):
    return notebooks.read(ROOT / "source" / assignment / f"{assignment}.ipynb")


def _cell(nb, cell_id):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def _numbers(text):
    return [int(n) for n in re.split(r",\s*", text)]


def _prose(markdown):
    """Markdown without its math, code and HTML, where a number in parentheses can only be a reference."""
    for pattern in (r"\$\$.*?\$\$", r"\$[^$]*\$", r"`[^`]*`", r"<[^>]*>", r"\[[^\]]*\]\([^)]*\)"):
        markdown = re.sub(pattern, " ", markdown, flags=re.S)
    return markdown


def equation_tags(nb):
    """Every number given to an equation by \\tag{...}, in order of appearance (with repeats)."""
    return [n for c in nb.cells if c.cell_type == "markdown" for t in re.findall(r"\\tag\{([^}]*)\}", c.source)
            for n in _numbers(t)]


def equation_references(nb):
    """(cell id, number) for every "(N)" or "(N, M)" in the prose of the notes, the references section aside."""
    refs = []
    for c in nb.cells:
        if c.cell_type != "markdown" or c.source.startswith("## References"):
            continue
        for group in re.findall(r"\((\d+(?:,\s*\d+)*)\)", _prose(c.source)):
            refs += [(c.get("id"), n) for n in _numbers(group)]
    return refs


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_equation_numbers_are_unique_and_every_reference_names_one(assignment):
    nb = _source(assignment)
    tags = equation_tags(nb)
    assert len(tags) == len(set(tags)), f"equation numbers used twice: {sorted({t for t in tags if tags.count(t) > 1})}"
    assert tags == sorted(tags), "equation numbers should increase down the notebook"
    dangling = [(cell, n) for cell, n in equation_references(nb) if n not in tags]
    assert not dangling, f"references to equations that do not exist: {dangling}"


def test_the_coupling_figure_names_the_coupling_equations_of_the_notes():
    """The figure's titles give the numbers of the coupling formulas: the split forms of section 5 and the masked ones."""
    nice = _cell(_source("normalising_flows"), "md-nice").source
    tag = {name: re.search(pattern + r"[^$]*?\\tag\{([^}]*)\}", nice, re.S).group(1) for name, pattern in [
        ("split forward", r"\\odot\\exp\\big\(s\(\\mathbf\{x\}_\{1:d\}\)\\big\)"),
        ("split inverse", r"\\odot\\exp\\big\(-s\(\\mathbf\{z\}_\{1:d\}\)\\big\)"),
        ("masked forward", r"\+ t\(b\\odot\\mathbf\{x\}\)\\Big\)"),
        ("masked inverse", r"\\exp\\big\(-s\(b\\odot\\mathbf\{z\}\)\\big\)\\Big\)")]}
    text = (ROOT / "source" / "make_figures.py").read_text()
    assert f"Scale and shift, equations ({tag['split forward']}) and ({tag['masked forward']})" in text, tag
    assert f"Undo it, equations ({tag['split inverse']}) and ({tag['masked inverse']})" in text, tag


def test_the_coupling_formulas_are_referred_to_by_their_numbers():
    """Where the notes say which formula `forward` computes, the number is the masked scale-and-shift equation's."""
    nb = _source("normalising_flows")
    nice = _cell(nb, "md-nice").source
    forward_tag = re.search(r"b\\odot\\mathbf\{x\}\)\\Big\), \\tag\{(\d+)\}", nice).group(1)
    inverse_tag = re.search(r"b\\odot\\mathbf\{z\}\)\\big\)\\Big\), \\tag\{(\d+)\}", nice).group(1)
    for text in (nice, _cell(nb, "md-subclassing").source):
        assert re.search(rf"`forward`.{{0,200}}equation \({forward_tag}\)", text, re.S), text[:200]
        assert re.search(rf"`inverse`.{{0,60}}equation \({inverse_tag}\)", text, re.S)


def test_exercise_1_points_at_the_cell_that_defines_mvn3():
    nb = _source("normalising_flows")
    cells = nb.cells
    text = _cell(nb, "md-ex1").source
    answer = next(i for i, c in enumerate(cells) if notebooks.grade_meta(c).get("grade_id") == "predicted_log_prob_shape")
    defining = next(i for i, c in enumerate(cells) if c.cell_type == "code" and "mvn3 =" in c.source)
    assert defining > answer, "mvn3 must be defined after the prediction is made"
    first_line = cells[defining].source.splitlines()[0]
    if defining != answer + 1:
        assert "cell *below* the answer cell" not in text and "the cell below the answer" not in text
        assert first_line in text, f"Exercise 1 should name the cell to read, e.g. by its first line {first_line!r}"


def test_exercise_6_states_the_criterion_of_the_hidden_check():
    bimodal = checks.item_module("normalising_flows", "bimodal_base_distribution")
    text = _cell(_source("normalising_flows"), "md-ex6").source
    for needed in (f"{bimodal.MIN_MODE_MASS:.0%}", f"{bimodal.DIP:.0%}", f"[{bimodal.AXIS[0]:.0f}, {bimodal.AXIS[-1]:.0f}]^2",
                   f"{bimodal.STEP}", "local maxima", "dip"):
        assert needed in text, f"Exercise 6 should state the check's criterion: {needed!r} is missing"


def test_the_log_scale_interval_is_the_same_in_the_text_and_the_figure():
    text = _cell(_source("normalising_flows"), "md-slsfn").source
    figure = (ROOT / "source" / "make_figures.py").read_text()
    assert "[e^{-1}, e]" not in text, "tanh never reaches -1 or 1: the interval is open"
    assert "$s$ lies in $(-1, 1)$" in text and "$(e^{-1}, e)$" in text
    assert "s\\\\in(-1,1)" in figure and "(e^{-1},e)" in figure


def test_the_coupling_figure_uses_tfps_letters_in_the_bijectors_row():
    figure = (ROOT / "source" / "make_figures.py").read_text()
    rows = re.findall(r'\("our bijector", "([^"]*)"\)', figure)
    assert len(rows) == 2 and all("mathbf{y}" in r and "mathbf{z}" not in r for r in rows), rows


def _budget(cell_source, quick):
    source = re.sub(r"^QUICK = \w+", f"QUICK = {quick}", cell_source, flags=re.M)
    namespace = {}
    exec(compile(source, "parameters", "exec"), namespace)  # plain assignments only
    return {k: v for k, v in namespace.items() if k.isupper()}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_parameters_cell_offers_a_quick_budget(assignment):
    """QUICK = True gives a budget for checking work: fewer epochs, nothing larger; the default stays the full one."""
    cell = notebooks.parameters_cell(_source(assignment))
    assert re.search(r"^QUICK = False\b", cell.source, re.M), "the parameters cell should offer QUICK = True/False"
    full, quick = _budget(cell.source, False), _budget(cell.source, True)
    assert quick["EPOCHS"] < full["EPOCHS"]
    for name, value in full.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "SEED":
            assert quick[name] <= value, f"the quick budget has a larger {name}"
    assert set(course_config.SHORT_BUDGET[assignment]) <= set(full)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_notes_and_readme_give_quiet_and_loaded_timings_within_a_third_of_the_timeout(assignment):
    """The notebook says how long it took at the default budget on a quiet and on a loaded machine, the students'
    guide (docs/students.md) says the same, and the longest cell under load needed at most a third of the cell
    timeout."""
    text = _cell(_source(assignment), "md-title").source
    found = re.search(r"ran in\s+(\d+) s when the machine was otherwise quiet, and in (\d+) s with two busy processes"
                      r".*?took (\d+) s and (\d+) s", text, re.S)
    assert found, "the notes should give the measured timings, quiet and loaded"
    quiet_wall, loaded_wall, quiet_max, loaded_max = map(int, found.groups())
    assert loaded_max <= course_config.EXECUTION_TIMEOUT / 3, f"the longest cell took {loaded_max} s under load"
    assert quiet_max <= quiet_wall and loaded_max <= loaded_wall
    guide = (ROOT / "docs" / "students.md").read_text()
    assert re.search(rf"\| `{assignment}` \| {quiet_wall} s \| {quiet_max} s \(`[^`]+`\) \| {loaded_wall} s \| "
                     rf"{loaded_max} s \(`[^`]+`\) \|", guide), "docs/students.md's timings table should match the notes"
