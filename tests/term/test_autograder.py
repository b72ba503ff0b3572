"""python -m autograder: isolated worker, hidden checks in the grader, Gradescope results, batches."""
import json
import subprocess
import sys

import nbformat
import pytest
from conftest import read_results, run_batch

import course_config
from autograder import course, notebooks, reference, render
from autograder.authoring import examples

#: The slow tier (pytest -m 'not slow' leaves it out): a mixed batch of both assignments, graded once for the module (about a minute).
pytestmark = pytest.mark.slow

ASSIGNMENT = "normalising_flows"
CELLS = course.test_cells(ASSIGNMENT)
POINTS = {c["test_id"]: c["points"] for c in CELLS}
TOTAL = sum(POINTS.values())
LIMITS = {**course_config.GRADING, "check_seconds": 8, "cell_seconds": 60}


def _stripped(nb):
    nb = nbformat.from_dict(nb)
    nb.metadata = {}
    for cell in nb.cells:
        cell.metadata = {}
    return nb


def _without(nb, grade_id):
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if notebooks.grade_meta(c).get("grade_id") != grade_id]
    return nb


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One batch with the demo submissions (both assignments) plus broken and hostile ones, graded once."""
    root = tmp_path_factory.mktemp("batch")
    submitted = examples.build_demo(root / "submitted")
    solutions = examples.notebook("solutions")
    examples.write_submission(submitted, "stripped_metadata", _stripped(solutions))
    examples.write_submission(submitted, "deleted_bernoulli_cell", _without(solutions, "independent_bernoulli"))
    text = nbformat.writes(solutions).replace('"nbformat": 4', '"nbformat": 3')
    examples.write_submission(submitted, "wrong_nbformat", text=text)
    examples.write_submission(submitted, "infinite_loop", examples.apply(solutions, examples.INFINITE_LOOP_IN_LOG_DET))
    (submitted / "no_notebook").mkdir()
    (submitted / "loose").mkdir()  # a notebook outside any assignment folder, under a name of its own
    nbformat.write(examples.notebook("solutions", "realnvp_multiscale"), str(submitted / "loose" / "homework.ipynb"))
    graded, out = run_batch(submitted, root / "graded", limits=LIMITS)
    return graded, out, root


@pytest.fixture(scope="module")
def graded(mixed):
    """(rows of the first assignment, output folder, batch folder)."""
    return mixed[0][ASSIGNMENT], mixed[1], mixed[2]


def failed(result):
    return {t["extra_data"]["grade_id"] for t in result["tests"] if t["status"] == "failed"}


def test_every_student_gets_a_row_and_a_results_file(graded):
    rows, out, root = graded
    students = {p.name for p in (root / "submitted").iterdir()}
    assert set(rows) == students
    for student in students:
        assert json.loads((out / ASSIGNMENT / student / "results.json").read_text())["score"] == \
            rows[student]["score"]
    lines = (out / ASSIGNMENT / "grades.csv").read_text().splitlines()
    written = [gid for gid, _ in course.manual_cells(ASSIGNMENT)]
    assert lines[0].split(",") == ["student", *course.items(ASSIGNMENT), *written, *render.CSV_AFTER_ITEMS]
    assert len(lines) == len(students) + 1


def test_a_mixed_batch_grades_each_notebook_as_its_own_assignment(mixed):
    graded, out, root = mixed
    other = "realnvp_multiscale"
    assert set(graded) == {ASSIGNMENT, other}
    students = {p.name for p in (root / "submitted").iterdir()}
    assert set(graded[other]) == students  # every student has a row in every assignment of the batch
    cells = {c["test_id"]: c["points"] for c in course.test_cells(other)}
    assert graded[other]["complete"]["score"] == sum(cells.values())
    wrong = set().union(*(examples.MULTISCALE_EDITS[n].failing for n in examples.DEMO["partly_wrong"][other][1]))
    assert failed(graded[other]["partly_wrong"]) == wrong
    assert "no such file" in graded[other]["untouched"]["output"]  # submitted nothing for it
    lines = (out / other / "grades.csv").read_text().splitlines()
    written = [gid for gid, _ in course.manual_cells(other)]
    assert lines[0].split(",") == ["student", *course.items(other), *written, *render.CSV_AFTER_ITEMS]
    assert len(lines) == len(students) + 1
    assert (out / other / "report" / "index.html").exists()
    assert (out / "feedback" / "partly_wrong" / other / "feedback.md").exists()
    # told apart by its graded cells, not by its folder or file name
    assert graded[other]["loose"]["score"] == sum(cells.values())
    assert graded[other]["loose"]["extra_data"]["assignment"] == other


def test_results_follow_the_gradescope_schema(graded):
    rows, out, _ = graded
    hidden_visibility = course_config.GRADESCOPE["hidden_check_visibility"]
    for student, result in rows.items():
        assert read_results(out / ASSIGNMENT / student / "results.json") == result  # validates against the schema
        assert result["score"] == sum(t["score"] for t in result["tests"])
        assert result["output_format"] == "md" and result["visibility"] and result["stdout_visibility"]
        numbers = [t["number"] for t in result["tests"]]
        assert len(set(numbers)) == len(numbers)
        for t in result["tests"]:
            grade_id = t["extra_data"]["grade_id"]
            assert t["name"].startswith(t["extra_data"]["item"] + ": ") and grade_id.startswith(t["extra_data"]["item"])
            assert t["tags"] == [t["extra_data"]["item"]]
            assert t["max_score"] == POINTS[grade_id]  # points come from the notebook's metadata
            assert t["visibility"] == (hidden_visibility if t["extra_data"]["hidden"] else "visible")
            assert "Traceback" not in t["output"]


def test_check_statuses_are_set_where_they_happen(graded):
    """A worker death is a limit, a missing notebook is missing, a wrong answer is failed: from the typed result,
    not from the message text."""
    rows, _, _ = graded
    status = {s: {t["extra_data"]["grade_id"]: t["extra_data"]["status"] for t in r["tests"]} for s, r in rows.items()}
    crashed = examples.OS_EXIT_IN_INVERSE.failing
    assert {g for g, st in status["crashes_in_inverse"].items() if st == "limit"} == crashed
    assert set(status["no_notebook"].values()) == {"missing"} and rows["no_notebook"]["extra_data"]["status"] == "missing"
    assert rows["truncated_file"]["extra_data"]["status"] == "unreadable"
    assert {st for st in status["partly_wrong"].values()} == {"passed", "failed"}
    assert set(status["complete"].values()) == {"passed"}


def test_solutions_score_full_marks(graded):
    assert graded[0]["complete"]["score"] == TOTAL


def test_untouched_release_scores_zero_with_a_message_per_item(graded):
    result = graded[0]["untouched"]
    assert result["score"] == 0
    assert all("is not defined" in t["output"] or "stub is still in place" in t["output"]
               for t in result["tests"]), [t["output"] for t in result["tests"]]


def test_partly_wrong_loses_exactly_the_checks_its_mistakes_break(graded):
    names = examples.DEMO["partly_wrong"][ASSIGNMENT][1]
    want = set().union(*(examples.MISTAKE_EDITS[n].failing for n in names))
    result = graded[0]["partly_wrong"]
    assert failed(result) == want
    assert result["score"] == TOTAL - sum(POINTS[t] for t in want)


def test_a_worker_crash_costs_only_the_items_it_touches(graded):
    result = graded[0]["crashes_in_inverse"]
    assert failed(result) == examples.OS_EXIT_IN_INVERSE.failing == {
        "affine_coupling_layer_contract", "affine_coupling_layer_inverse", "affine_coupling_layer_properties"}
    messages = [t["output"] for t in result["tests"] if t["status"] == "failed"]
    assert all("exited with code 3" in m for m in messages)


def test_an_infinite_loop_is_timed_out_and_costs_only_its_checks(graded):
    result = graded[0]["infinite_loop"]
    assert failed(result) == examples.INFINITE_LOOP_IN_LOG_DET.failing == {"affine_coupling_layer_log_det"}
    assert any("ran past the 8 s limit" in t["output"] for t in result["tests"])


@pytest.mark.parametrize("student, phrase", [
    ("truncated_file", "not valid JSON"),
    ("wrong_nbformat", "not an nbformat 4 notebook"),
    ("no_notebook", "no such file"),
])
def test_unreadable_notebooks_score_zero_with_a_clear_message(graded, student, phrase):
    result = graded[0][student]
    assert result["score"] == 0
    assert phrase in result["output"] and all(phrase in t["output"] for t in result["tests"])


def test_stripped_metadata_is_graded_on_the_code(graded):
    assert graded[0]["stripped_metadata"]["score"] == TOTAL


def test_a_deleted_solution_cell_costs_only_its_item(graded):
    result = graded[0]["deleted_bernoulli_cell"]
    assert failed(result) == {t for t in POINTS if t.startswith("independent_bernoulli")}


def test_training_and_drawing_cells_are_not_run_when_grading():
    """Cells tagged skip-when-grading in the release are skipped by id even if the tag is removed; a
    student's own tagged cell is skipped too; every other cell runs, parameters cell and budget included."""
    from autograder.submissions import extract
    tag = course_config.SKIP_WHEN_GRADING_TAG
    release = examples.notebook("release")
    tagged = [c for c in release.cells if tag in c.metadata.get("tags", [])]
    assert any("model.fit" in c.source or "fit(" in c.source for c in tagged)
    untagged = _stripped(release)  # tags gone with the metadata; cell ids remain
    extra = nbformat.v4.new_code_cell("print('mine, tagged')", metadata={"tags": [tag]})
    copied = nbformat.v4.new_code_cell(tagged[0].source)  # the same code in a new, untagged cell runs
    untagged.cells += [extra, copied]
    sources, _ = extract.student_code(untagged, ASSIGNMENT)
    assert "print('mine, tagged')" not in sources
    assert sources.count(tagged[0].source) == 1 and sources[-1] == tagged[0].source
    expected = [c.source for c in release.cells if c.cell_type == "code" and tag not in c.metadata.get("tags", [])
                and not notebooks.is_test_cell(c)]
    assert [s for s in sources[:-1] if not s.startswith("EPOCHS = ")] == expected


def test_cli_grade_refuses_a_missing_file_in_one_line(tmp_path):
    """An instructor's typo is not a student's submission: no results file, exit 2, one line."""
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "missing.ipynb"),
                           "--out", str(out)], capture_output=True, text=True, cwd=course_config.ROOT)
    assert proc.returncode == 2 and "no such file" in proc.stderr and not out.exists()
    assert proc.stderr.strip().count("\n") == 0


def test_cli_batch_rejects_a_missing_directory(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autograder", "batch", str(tmp_path / "nope")],
                          capture_output=True, text=True, cwd=course_config.ROOT)
    assert proc.returncode == 2 and "not a directory" in proc.stderr


def _reference_numbers():
    """Every non-trivial value in the stored reference, as a hidden check could print it."""
    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                yield from walk(x)
        elif isinstance(v, list):
            for x in v:
                yield from walk(x)
        elif hasattr(v, "ravel"):
            yield from (float(x) for x in v.ravel())
    values = {x for x in walk(reference.load_reference(ASSIGNMENT)) if abs(x) > 1e-2 and x != round(x)}
    return {f"{x:.6g}" for x in values} | {f"{x:.6f}" for x in values}


def test_feedback_never_shows_reference_values(graded):
    secret = _reference_numbers()
    rows, out, _ = graded
    for student in rows:
        text = (out / "feedback" / student / ASSIGNMENT / "feedback.md").read_text()
        hidden_outputs = " ".join(t["output"] for t in rows[student]["tests"] if t["extra_data"]["hidden"])
        leaked = {v for v in secret if v in hidden_outputs}
        assert not leaked, (student, sorted(leaked)[:5])
        assert "Automatically graded score" in text


def test_feedback_names_each_mistake_of_the_submission(graded):
    rows, out, _ = graded
    md = (out / "feedback" / "partly_wrong" / ASSIGNMENT / "feedback.md").read_text()
    html = (out / "feedback" / "partly_wrong" / ASSIGNMENT / "feedback.html").read_text()
    for mistake_id in examples.DEMO["partly_wrong"][ASSIGNMENT][1]:
        assert f"recognised mistake: `{mistake_id}`" in md
        assert mistake_id in html
        assert course.protocol(ASSIGNMENT).MISTAKES[mistake_id]["section"] in md


def test_instructor_report_shows_what_to_reteach_and_who_hit_limits(graded):
    rows, out, _ = graded
    page = (out / ASSIGNMENT / "report" / "index.html").read_text()
    for png in ("scores.png", "pass_rates.png", "mistakes.png"):
        assert (out / ASSIGNMENT / "report" / png).stat().st_size > 1000 and png in page
    assert "Re-teach first" in page
    for mistake_id in examples.DEMO["partly_wrong"][ASSIGNMENT][1]:
        assert mistake_id in page
    for student in ("crashes_in_inverse", "truncated_file", "infinite_loop", "wrong_nbformat"):
        assert f"<li>{student}:" in page


def test_a_grader_failure_still_writes_a_results_file_for_everyone(tmp_path, monkeypatch):
    from autograder import grade

    def broken(*args, **kwargs):
        raise RuntimeError("simulated grader bug")
    monkeypatch.setattr(grade, "grade_notebook", broken)
    submitted = tmp_path / "submitted"
    for student in ("a", "b"):
        examples.write_submission(submitted, student, examples.notebook("release"))
    _, out = run_batch(submitted, tmp_path / "graded", jobs=1)  # in this process, where the patch applies
    for student in ("a", "b"):
        result = json.loads((out / ASSIGNMENT / student / "results.json").read_text())
        assert result["score"] == 0 and "simulated grader bug" in result["output"]
        assert len(result["tests"]) == len(CELLS)
        assert not (out / ASSIGNMENT / student / "graded.json").exists()  # not a verdict: the next run grades it


def test_a_real_batchs_pages_render_in_a_browser(graded, tmp_path):
    """The feedback of a submission that crashed the worker, and the instructor report, drawn by Chromium."""
    from browser import dom, ink, keep, screenshot
    rows, out, _ = graded
    page = out / "feedback" / "crashes_in_inverse" / ASSIGNMENT / "feedback.html"
    assert ink(keep(screenshot(page, tmp_path / "batch_feedback_crashes_in_inverse.png"))) > 0.01
    text = dom(page)
    assert f"Automatically graded score: {rows['crashes_in_inverse']['score']:g} / {TOTAL:g}" in text
    assert "stopped by a limit" in text and "exited with code 3" in text
    assert "code cell" not in text  # cells are named as the student sees them, never by number
    report_page = out / ASSIGNMENT / "report" / "index.html"
    assert ink(keep(screenshot(report_page, tmp_path / "batch_instructor_report.png"))) > 0.02
    assert "<li>crashes_in_inverse:" in dom(report_page)
