"""The Gradescope bundle: run_autograder on a simulated /autograder tree, and the zip's contents."""
import json
import os
import subprocess
import sys
import zipfile

import nbformat

import course_config
from autograder import examples

ROOT = course_config.ROOT
SCRIPT = ROOT / "autograder" / "gradescope" / "run_autograder"


def run(tree, python=sys.executable):
    env = {**os.environ, "AUTOGRADER_ROOT": str(tree), "AUTOGRADER_SOURCE": str(ROOT), "AUTOGRADER_PYTHON": python}
    subprocess.run(["bash", str(SCRIPT)], env=env, check=True, capture_output=True, timeout=600)
    return json.loads((tree / "results" / "results.json").read_text())


def test_run_autograder_grades_the_submission_into_gradescope_results(tmp_path):
    (tmp_path / "submission").mkdir()
    nbformat.write(examples.notebook("solutions"), str(tmp_path / "submission" / "normalising_flows.ipynb"))
    result = run(tmp_path)
    assert result["score"] == sum(t["max_score"] for t in result["tests"]) == 28
    for t in result["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(t)
        assert isinstance(t["score"], (int, float)) and t["visibility"] in ("visible", "hidden", "after_due_date",
                                                                             "after_published")


def test_the_assignment_is_told_by_the_notebook_not_its_name(tmp_path):
    (tmp_path / "submission").mkdir()
    nb = examples.notebook("solutions", "realnvp_multiscale")
    nbformat.write(nb, str(tmp_path / "submission" / "my homework.ipynb"))
    result = run(tmp_path)
    assert result["extra_data"]["assignment"] == "realnvp_multiscale"
    assert result["score"] == sum(t["max_score"] for t in result["tests"]) > 0


def test_run_autograder_writes_results_even_when_the_grader_cannot_start(tmp_path):
    (tmp_path / "submission").mkdir()
    result = run(tmp_path, python="/nonexistent/python")
    assert result["score"] == 0 and "could not start" in result["output"]


def test_make_gradescope_bundles_setup_and_run_scripts():
    subprocess.run(["make", "gradescope"], cwd=ROOT, check=True, capture_output=True)
    with zipfile.ZipFile(ROOT / "dist" / "gradescope_autograder.zip") as z:
        names = set(z.namelist())
        mode = z.getinfo("run_autograder").external_attr >> 16
    assert {"setup.sh", "run_autograder", "requirements.lock", "course_config.py",
            "autograder/reference/normalising_flows.json", "source/normalising_flows/nf_checks.py",
            "autograder/reference/realnvp_multiscale.json", "source/realnvp_multiscale/ms_checks.py",
            "source/checks_core.py", "source/realnvp_multiscale/checks_core.py"} <= names
    assert mode & 0o111, "run_autograder must be executable"
