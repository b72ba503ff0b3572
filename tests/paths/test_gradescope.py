"""The Gradescope bundle: run_autograder and setup.sh on a simulated /autograder tree, and the zip's contents.

No container engine is available here, so setup.sh runs against a temporary folder standing in for /autograder,
with apt-get and add-apt-repository replaced by stubs that record their arguments, a real python3.11 building
the venv, and an empty requirements.lock (installing TensorFlow is left to Gradescope's own build).
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
from conftest import read_results

import course_config
from autograder import course
from autograder.authoring import examples

#: The slow tier (pytest -m 'not slow' leaves it out): run_autograder on real submissions, one grader start each (about a minute).
pytestmark = pytest.mark.slow

ROOT = course_config.ROOT
SCRIPT = ROOT / "autograder" / "integrations" / "gradescope" / "run_autograder"
SETUP = ROOT / "autograder" / "integrations" / "gradescope" / "setup.sh"


def total(assignment):
    """The autograded points of an assignment, from the source notebook's metadata."""
    return sum(c["points"] for c in course.test_cells(assignment))


def metadata(created_at="2026-03-01T10:00:00.000000-08:00", due="2026-03-02T23:59:00.000000-08:00"):
    """submission_metadata.json as Gradescope documents it."""
    return {"id": 123456, "created_at": created_at, "submission_method": "upload",
            "assignment": {"due_date": due, "group_size": None, "group_submission": False, "id": 25828,
                           "course_id": 1234, "late_due_date": None, "release_date": "2026-02-20T00:00:00-08:00",
                           "title": "Normalising flows", "total_points": "31.0"},
            "users": [{"email": "ada@example.edu", "id": 1234, "name": "Ada Lovelace", "sid": "s1815"}],
            "previous_submissions": []}


def run(tree, python=sys.executable, extra_env=None, assignment="normalising_flows"):
    """run_autograder as the bundle of ``assignment`` runs it (the bundle's ASSIGNMENT file names it)."""
    env = {**os.environ, "AUTOGRADER_ROOT": str(tree), "AUTOGRADER_SOURCE": str(ROOT), "AUTOGRADER_PYTHON": python,
           "AUTOGRADER_ASSIGNMENT": assignment, **(extra_env or {})}
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return read_results(tree / "results" / "results.json")


def submit(tree, nb, name="normalising_flows.ipynb", meta=None):
    (tree / "submission").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(tree / "submission" / name))
    if meta is not None:
        (tree / "submission_metadata.json").write_text(json.dumps(meta))


def test_run_autograder_grades_the_submission_into_gradescope_results(tmp_path):
    submit(tmp_path, examples.notebook("solutions"), meta=metadata())
    result = run(tmp_path)
    assert result["score"] == sum(t["max_score"] for t in result["tests"]) == total("normalising_flows")
    assert result["output_format"] == "md" and result["output"].startswith("# Feedback on `normalising_flows`")
    assert result["visibility"] == course_config.GRADESCOPE["visibility"]
    assert result["stdout_visibility"] == course_config.GRADESCOPE["stdout_visibility"]
    hidden = [t for t in result["tests"] if t["extra_data"]["hidden"] and not t["extra_data"].get("written")]
    assert hidden and {t["visibility"] for t in hidden} == {course_config.GRADESCOPE["hidden_check_visibility"]}
    [(question, points)] = course.manual_cells("normalising_flows")  # its text, for graders only, at 0 points
    [written] = [t for t in result["tests"] if t["extra_data"].get("written")]
    assert written["name"].startswith(f"{question}: written answer ({points:g} points")
    assert written["visibility"] == course_config.GRADESCOPE["written_answer_visibility"] and written["max_score"] == 0 and "Model answer" in written["output"]
    assert {t["visibility"] for t in result["tests"] if not t["extra_data"]["hidden"]} == {"visible"}
    for t in result["tests"]:
        assert t["tags"] == [t["extra_data"]["item"]] and t["number"].count(".") == 1
    assert len({t["number"] for t in result["tests"]}) == len(result["tests"])
    [student] = result["extra_data"]["students"]
    assert student == {"name": "Ada Lovelace", "sid": "s1815", "email": "ada@example.edu", "gradescope_id": 1234}
    assert result["extra_data"]["lateness"]["late"] is False


def test_a_submission_after_the_due_date_is_flagged_late(tmp_path):
    nb = examples.notebook("release")  # quick to grade
    submit(tmp_path, nb, meta=metadata(created_at="2026-03-03T09:00:00-08:00", due="2026-03-02T23:59:00-08:00"))
    result = run(tmp_path)
    late = result["extra_data"]["lateness"]
    assert late["late"] is True and late["minutes_late"] == 9 * 60 + 1 and late["source"] == "gradescope"
    assert "Submitted late" in result["output"]


def test_the_grace_period_of_the_late_policy_applies(tmp_path):
    grace = course_config.LATE_POLICY["grace_minutes"]
    assert grace >= 1
    submit(tmp_path, examples.notebook("release"),
           meta=metadata(created_at="2026-03-03T00:00:00Z", due=f"2026-03-02T23:{60 - grace:02d}:00Z"))
    assert run(tmp_path)["extra_data"]["lateness"]["late"] is False


def test_the_only_notebook_is_graded_whatever_its_name(tmp_path):
    submit(tmp_path, examples.notebook("solutions", "realnvp_multiscale"), name="my homework.ipynb")
    result = run(tmp_path, assignment="realnvp_multiscale")
    assert result["extra_data"]["assignment"] == "realnvp_multiscale"
    assert result["score"] == sum(t["max_score"] for t in result["tests"]) == total("realnvp_multiscale")
    assert result["extra_data"]["students"] == [] and result["extra_data"]["lateness"] is None  # no metadata


def test_a_bundle_grades_its_own_assignment_only(tmp_path):
    """The realnvp_multiscale notebook uploaded to the normalising_flows assignment scores 0 and says which
    notebook was expected; so does an upload with no notebook at all."""
    submit(tmp_path / "other", examples.notebook("solutions", "realnvp_multiscale"), name="realnvp_multiscale.ipynb")
    result = run(tmp_path / "other")
    assert result["score"] == 0 and result["extra_data"]["status"] == "wrong_assignment"
    assert result["extra_data"]["assignment"] == "normalising_flows"
    assert "`realnvp_multiscale`" in result["output"] and "`normalising_flows.ipynb`" in result["output"]
    (tmp_path / "none" / "submission").mkdir(parents=True)
    (tmp_path / "none" / "submission" / "notes.txt").write_text("forgot the notebook")
    result = run(tmp_path / "none")
    assert result["score"] == 0 and result["extra_data"]["status"] == "missing"
    assert "No `normalising_flows.ipynb` was submitted" in result["output"]


def test_without_a_sandbox_the_results_say_grading_is_unavailable(tmp_path):
    """sandbox.detect finds no containment (simulated by a probe that refuses): no crash, a clear results.json."""
    submit(tmp_path, examples.notebook("solutions"), meta=metadata())
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "from autograder.worker import sandbox\n"
        "def _refuse(allow_unsafe=False, force=None):\n"
        "    raise sandbox.SandboxUnavailable('no namespaces and not root (simulated)')\n"
        "sandbox.detect = _refuse\n")
    result = run(tmp_path, extra_env={"PYTHONPATH": f"{shim}:{ROOT}"})
    assert result["score"] == 0 and result["extra_data"]["status"] == "unavailable"
    assert "Grading is unavailable" in result["output"] and "simulated" in result["output"]
    assert result["extra_data"]["students"][0]["sid"] == "s1815"
    assert {t["extra_data"]["status"] for t in result["tests"] if not t["extra_data"].get("written")} == {"error"}
    assert [t["extra_data"]["answer"] for t in result["tests"] if t["extra_data"].get("written")] == ["answered"]


def test_run_autograder_writes_results_even_when_the_grader_cannot_start(tmp_path):
    (tmp_path / "submission").mkdir()
    result = run(tmp_path, python="/nonexistent/python")
    assert result["score"] == 0 and "could not start" in result["output"]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A clone of the committed repo with the working tree's Makefile (its gradescope target under test)."""
    where = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(where)], check=True)
    shutil.copy(ROOT / "Makefile", where / "Makefile")
    git = ["git", "-C", str(where), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-am", "the Makefile under test"], check=True)
    return where


def make_gradescope(where, *args):
    # No venv in the clone, and none is made: the target needs only git and a Python.
    return subprocess.run(["make", "gradescope", f"PYTHON={sys.executable}", *args], cwd=where, capture_output=True,
                          text=True, timeout=300)


def test_make_gradescope_bundles_what_is_committed(clone):
    """One zip per assignment, each naming its assignment, built from HEAD; it works with a venv in place, as
    right after make demo (the zip step runs in another folder)."""
    venv_python = clone / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True, exist_ok=True)
    venv_python.symlink_to(sys.executable)
    (clone / "autograder" / "uncommitted_probe.py").write_text("print('not committed')\n")
    try:
        refused = make_gradescope(clone)
        assert refused.returncode != 0 and "uncommitted" in refused.stdout + refused.stderr
        assert not list((clone / "dist").glob("*.zip")) if (clone / "dist").exists() else True
        built = make_gradescope(clone, "ALLOW_DIRTY=1")
        assert built.returncode == 0, built.stdout + built.stderr
    finally:
        (clone / "autograder" / "uncommitted_probe.py").unlink()
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    for assignment in course_config.ASSIGNMENTS:
        with zipfile.ZipFile(clone / "dist" / f"gradescope_{assignment}.zip") as z:
            names = set(z.namelist())
            mode = z.getinfo("run_autograder").external_attr >> 16
            assert z.read("COMMIT").decode() == head
            assert z.read("ASSIGNMENT").decode().strip() == assignment
        assert "autograder/uncommitted_probe.py" not in names
        assert {"setup.sh", "run_autograder", "requirements.lock", "course_config.py",
                "autograder/reference/normalising_flows.json", "source/normalising_flows/nf_checks.py",
                "autograder/reference/realnvp_multiscale.json", "source/realnvp_multiscale/ms_checks.py",
                "source/checks_core.py", "source/realnvp_multiscale/checks_core.py"} <= names
        # every support file that ships with a release (the protocol modules, their parts, the shared checks_*.py)
        assert {str(p.relative_to(ROOT)) for a in course_config.ASSIGNMENTS for p in course.support_files(a)} <= names
        assert mode & 0o111, "run_autograder must be executable"
    assert make_gradescope(clone).returncode == 0  # clean again: builds without ALLOW_DIRTY


def test_setup_sh_builds_the_environment_in_a_simulated_autograder_tree(tmp_path):
    python311 = shutil.which("python3.11")
    if python311 is None:
        pytest.skip("python3.11 is not installed here, and setup.sh builds its venv with it")
    tree, stubs = tmp_path / "autograder", tmp_path / "stubs"
    (tree / "source").mkdir(parents=True)
    stubs.mkdir()
    shutil.copy(ROOT / "course_config.py", tree / "source")
    (tree / "source" / "requirements.lock").write_text("")  # TensorFlow's install is Gradescope's to do
    for tool in ("apt-get", "add-apt-repository"):
        (stubs / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls.log"\n')
        (stubs / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.path.dirname(python311)}:/usr/bin:/bin", "AUTOGRADER_ROOT": str(tree),
           "AUTOGRADER_SKIP_WARMUP": "1", "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(["bash", str(SETUP)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[0] == "apt-get update -q" and "apt-get install -y -q python3.11 python3.11-venv" in calls
    venv_python = tree / "venv" / "bin" / "python"
    check = subprocess.run([str(venv_python), "-c", "import course_config, sys; print(course_config.ROOT, "
                            "sys.version_info[:2])"], capture_output=True, text=True, cwd="/", env=env)
    assert check.stdout.split()[0] == str(tree / "source") and "(3, 11)" in check.stdout
