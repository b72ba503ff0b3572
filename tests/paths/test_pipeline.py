"""The nbgrader pipeline: release/ and solutions/ are exactly what `make release` makes from source/."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import course_config
from autograder import notebooks
from autograder.authoring import validate
from autograder.worker import execute

#: The slow tier (pytest -m 'not slow' leaves it out): regenerates the release and runs the solutions top to bottom (about a minute).
pytestmark = pytest.mark.slow

ASSIGNMENTS = course_config.ASSIGNMENTS
ROOT = course_config.ROOT
NBGRADER = [str(Path(sys.executable).parent / "nbgrader")]


def _cells(nb):
    return [(c.cell_type, c.get("id"), c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """Run the same commands as `make release` in a scratch course directory."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source", root / "source")
    env_path = f"{Path(sys.executable).parent}:" + __import__("os").environ["PATH"]
    for command, assignment in [(c, a) for a in ASSIGNMENTS for c in ("generate_assignment", "generate_solution")]:
        subprocess.run(NBGRADER + [command, assignment, "--JupyterApp.config_file=course_config.py",
                                   f"--CourseDirectory.root={root}", "--force", "--log-level=ERROR"],
                       cwd=ROOT, check=True, env={**__import__("os").environ, "PATH": env_path})
    notebooks.normalise_tree(root / "release", root / "solutions")
    return root


@pytest.fixture(params=ASSIGNMENTS)
def assignment(request):
    return request.param


@pytest.fixture
def apaths(assignment):
    return validate.paths(assignment)


@pytest.fixture
def asource(apaths):
    return notebooks.read(apaths[0])


@pytest.mark.parametrize("step", ["release", "solutions"])
def test_committed_notebooks_match_a_fresh_build(regenerated, step, assignment):
    committed = notebooks.read(ROOT / step / assignment / f"{assignment}.ipynb")
    fresh = notebooks.read(regenerated / step / assignment / f"{assignment}.ipynb")
    diff = [i for i, (a, b) in enumerate(zip(_cells(committed), _cells(fresh))) if a != b]
    assert len(committed.cells) == len(fresh.cells), f"{step}: cell count differs; run `make release`"
    assert not diff, f"{step}: cells {diff[:5]} differ from a fresh `make release` (hand edit?)"


@pytest.mark.parametrize("step", ["release", "solutions"])
def test_supporting_files_match_source(step, assignment):
    src = ROOT / "source" / assignment
    for path in src.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb" and "__pycache__" not in path.parts:
            copy = ROOT / step / assignment / path.relative_to(src)
            assert copy.exists() and copy.read_bytes() == path.read_bytes(), f"{copy} is stale: run `make release`"


def test_release_leaks_nothing(asource, apaths):
    release = notebooks.read(apaths[1])
    assert validate.leaks(asource, release) == []
    text = apaths[1].read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "check_hidden", "autograder.checks.incell"):
        assert marker not in text, f"{marker!r} reached the release"


def test_leak_detector_catches_a_pasted_solution_line(source_nb, paths):
    release = notebooks.read(paths[1])
    stub = next(c for c in release.cells if "raise NotImplementedError" in c.source)
    stub.source += "\nindependent_bernoulli = tfd.Independent(tfd.Bernoulli(probs=[0.1, 0.3, 0.5]), reinterpreted_batch_ndims=1)"
    assert any("solution lines" in p for p in validate.leaks(source_nb, release))


def test_release_stubs_every_solution_and_keeps_grading_metadata(asource, apaths):
    release = notebooks.read(apaths[1])
    src_meta = {notebooks.grade_meta(c)["grade_id"]: notebooks.grade_meta(c)
                for c in asource.cells if notebooks.grade_meta(c)}
    rel_meta = {notebooks.grade_meta(c)["grade_id"]: (c, notebooks.grade_meta(c))
                for c in release.cells if notebooks.grade_meta(c)}
    assert set(rel_meta) == set(src_meta)
    assert validate.metadata_problems(release) == []
    for gid, (cell, meta) in rel_meta.items():
        assert meta.get("points") == src_meta[gid].get("points"), gid
        if meta.get("solution") and cell.cell_type == "code":
            assert course_config.CODE_STUB.splitlines()[-1] in cell.source, f"{gid} has no stub"
        if meta.get("grade") and not meta.get("solution"):
            assert meta.get("locked"), f"test cell {gid} is not locked"


CONTRACT = {"normalising_flows": ("predicted_log_prob_shape", "independent_bernoulli", "mvn_transformed",
                                  "affine_coupling_layer", "log_det_jacobians", "bimodal_base_distribution"),
            "realnvp_multiscale": ("preprocess", "checkerboard_mask", "channel_mask", "squeeze", "image_coupling",
                                   "multiscale")}


def test_graded_items_are_the_contract(asource, assignment):
    ids = {notebooks.grade_meta(c).get("grade_id") for c in asource.cells if notebooks.grade_meta(c)}
    for item in CONTRACT[assignment]:
        assert item in ids
        assert any(i.startswith(item + "_") for i in ids), f"{item} has no test cell"


def test_git_notebooks_have_no_outputs_and_are_normalised():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    paths = [ROOT / p for p in tracked] or list(ROOT.glob("*/*/*.ipynb"))
    assert paths
    for path in paths:
        nb = notebooks.read(path)
        for cell in nb.cells:
            assert cell.get("id"), f"{path}: a cell has no id"
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path}: stored outputs"
        ids = [c.id for c in nb.cells]
        assert len(ids) == len(set(ids)), f"{path}: duplicate cell ids"
        assert path.read_text() == nbformat.writes(notebooks.normalise(notebooks.read(path))) + "\n", \
            f"{path} is not normalised: run `make normalise`"


def test_parameters_cell_holds_every_budget(asource, assignment):
    cell = notebooks.parameters_cell(asource)
    assert cell is not None
    for name in course_config.SHORT_BUDGET[assignment]:
        assert f"{name} =" in cell.source


#: The cells that train a flow, which print a line of progress per epoch (at most one every few seconds).
TRAINING_CELLS = {"normalising_flows": ["train", "retrain"],
                  "realnvp_multiscale": ["train-multiscale", "baseline-single-scale"]}


def test_solutions_execute_top_to_bottom(apaths, assignment, tmp_path):
    """nbclient runs the whole solutions notebook at the short budget; hidden test cells write no stderr."""
    work = tmp_path / assignment
    shutil.copytree(apaths[2].parent, work)
    nb = execute.execute_notebook(work / apaths[2].name, course_config.SHORT_BUDGET[assignment], cwd=work)
    graded = [c for c in nb.cells if notebooks.is_test_cell(c)]
    assert graded
    for cell in graded:
        gid = notebooks.grade_meta(cell)["grade_id"]
        assert not [o for o in cell.outputs if o.get("name") == "stderr" or o.output_type == "error"], \
            f"test cell {gid} wrote to stderr or failed"
        assert "passed" in "".join(o.get("text", "") for o in cell.outputs), gid
    assert not (work / "plots").exists(), "the cleanup cell should remove the frames"
    # Each training cell prints its progress to stdout ("epoch 1/1"), none of it to stderr (issue 20). (Keras may
    # still warn on stderr there that SaveSamples is slow at this budget's SAVE_EVERY = 2; no cell is graded by it.)
    for cell_id in TRAINING_CELLS[assignment]:
        cell = next(c for c in nb.cells if c.get("id") == cell_id)
        errors = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
        assert "epoch" not in errors, f"training cell {cell_id} printed its progress to stderr: {errors!r}"
        printed = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
        assert re.search(r"epoch +1/1\b", printed), f"training cell {cell_id} printed no progress: {printed!r}"
