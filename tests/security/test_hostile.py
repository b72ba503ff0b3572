"""A corpus of hostile and faulty submissions, each with the test cells it must fail.

Each case is the solutions (or the release) with one change. Tampering cases have a real mistake underneath
(``exp(+s)`` in the inverse) and must still lose exactly that mistake's points. Faults must cost only the
checks they touch, and broken notebooks are graded on what the student wrote. The whole corpus is graded in
one batch.
"""
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest
from conftest import read_results, run_batch
from nbformat.v4 import new_code_cell

import course_config
from autograder import course, notebooks, reference
from autograder.authoring import examples

#: The slow tier (pytest -m 'not slow' leaves it out): every case grades real submissions in sandboxed workers (minutes).
pytestmark = pytest.mark.slow

ASSIGNMENT = "normalising_flows"
POINTS = {c["test_id"]: c["points"] for c in course.test_cells(ASSIGNMENT)}
ALL = frozenset(POINTS)
LIMITS = {**course_config.GRADING, "check_seconds": 8, "cell_seconds": 40, "submission_seconds": 240}
ROOT = course_config.ROOT
EXP_SIGN = examples.MISTAKE_EDITS["acl-inverse-exp-sign"]


def with_cell(nb, source, at=None):
    nb = nbformat.from_dict(nb)
    nb.cells.insert(len(nb.cells) if at is None else at, new_code_cell(source))
    return nb


def edit(grade_id, old, new):
    return examples.Mistake(grade_id, ((old, new),), frozenset())


def tampering(code):
    """The exp(+s) mistake, plus code that tries to make the grader pass it anyway."""
    return lambda sol, rel: with_cell(examples.apply(sol, EXP_SIGN), code), EXP_SIGN.failing


def _test_cells_only(nb, transform):
    nb = nbformat.from_dict(nb)
    tests = [c for c in nb.cells if notebooks.is_test_cell(c)]
    others = [c for c in nb.cells if not notebooks.is_test_cell(c)]
    nb.cells = transform(tests, others)
    return nb


def _json_edit(nb, change):
    raw = json.loads(nbformat.writes(nb))
    change(raw)
    return json.dumps(raw)


def _retype(nb, grade_id):
    nb = nbformat.from_dict(nb)
    for i, c in enumerate(nb.cells):
        if notebooks.grade_meta(c).get("grade_id") == grade_id:
            nb.cells[i] = nbformat.v4.new_markdown_cell(c.source, id=c.id)
    return nb


SOLUTIONS_PATH = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
REFERENCE_PATH = ROOT / "autograder" / "reference" / f"{ASSIGNMENT}.json"
ITEM_CELLS = {i: frozenset(t for t in POINTS if t.startswith(i + "_")) for i in course.items(ASSIGNMENT)}

#: name -> (builder(solutions, release) -> notebook or JSON text, test cells that must fail)
CORPUS = {
    # -- tampering: patches live in the worker; the verdict is computed in the grader -------------------
    "patch_np_allclose": tampering(
        "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, **k: True"),
    "patch_numpy_testing": tampering(
        "import numpy.testing as nt\nnt.assert_allclose = lambda *a, **k: None"),
    "patch_tf_debugging": tampering(
        "import tensorflow as tf\ntf.debugging.assert_near = lambda *a, **k: None\n"
        "tf.debugging.assert_equal = lambda *a, **k: None"),
    "redefine_builtins": tampering(
        "import builtins\nbuiltins.print = lambda *a, **k: None\nbuiltins.exit = builtins.quit = None\n"
        "builtins.AssertionError = type('AssertionError', (Exception,), {})"),
    "patch_autograder": tampering(
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\ntry:\n    import autograder.checks as c\n"
        "    c.run_test_cell = lambda *a, **k: None\nexcept Exception as e:\n    print('blocked:', e)"),
    "patch_pytest": tampering("import pytest\npytest.fail = lambda *a, **k: None\n"
                              "import _pytest.outcomes\n_pytest.outcomes.fail = pytest.fail"),
    "patch_nf_checks": tampering(
        "import nf_checks\nnf_checks.close = lambda *a, **k: True\nnf_checks.require = lambda *a, **k: None\n"
        "nf_checks.check = lambda *a, **k: print('all visible checks passed')"),
    "override_ipython_traceback": tampering(
        "try:\n    from IPython.core import ultratb\n    ultratb.VerboseTB.__call__ = lambda *a, **k: None\n"
        "except Exception:\n    pass"),
    "fake_results_files": tampering(
        "import json, os\nfake = {'score': 999, 'tests': []}\n"
        "for d in ['.', '..', '../..', os.path.expanduser('~')]:\n    for name in ('results.json', 'grades.csv'):\n"
        "        try:\n            open(os.path.join(d, name), 'w').write(json.dumps(fake))\n"
        "        except OSError:\n            pass"),
    "always_equal_prediction": (
        lambda sol, rel: examples.apply(sol, edit(
            "predicted_log_prob_shape", "predicted_log_prob_shape = (5, 1, 2)",
            "class AlwaysEqual(tuple):\n    def __eq__(self, other):\n        return True\n"
            "predicted_log_prob_shape = AlwaysEqual((9, 9))")),
        frozenset({"predicted_log_prob_shape_form", "predicted_log_prob_shape_value"})),
    # -- faults: each costs only the checks it touches ------------------------------------------------
    "sys_exit_in_a_cell": (lambda sol, rel: with_cell(sol, "import sys\nsys.exit('stop here')", at=5),
                           frozenset()),
    "os_exit_in_a_method": (lambda sol, rel: examples.apply(sol, examples.OS_EXIT_IN_INVERSE),
                            examples.OS_EXIT_IN_INVERSE.failing),
    "infinite_loop_in_a_method": (lambda sol, rel: examples.apply(sol, examples.INFINITE_LOOP_IN_LOG_DET),
                                  examples.INFINITE_LOOP_IN_LOG_DET.failing),
    "memory_growth_in_a_method": (lambda sol, rel: examples.apply(sol, edit(
        "affine_coupling_layer", "def _forward_log_det_jacobian(self, x):\n",
        "def _forward_log_det_jacobian(self, x):\n        if x.shape[-1] == 6:\n"
        "            hog = [bytearray(2**28) for _ in range(64)]\n")),
        frozenset({"affine_coupling_layer_log_det"})),  # the property checks never ask D=6
    "megabytes_of_output": (lambda sol, rel: with_cell(sol, "for _ in range(200000):\n    print('x' * 100)", at=5),
                            frozenset()),
    "recursion_bomb": (lambda sol, rel: with_cell(sol, "def f(n):\n    return f(n + 1)\nf(0)", at=5), frozenset()),
    "deep_recursion_crash": (lambda sol, rel: with_cell(
        sol, "import sys, threading\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)", at=5),
        frozenset()),
    "subprocess_left_running": (lambda sol, rel: with_cell(
        sol, "import subprocess\nsubprocess.Popen(['sleep', '417'])", at=5), frozenset()),
    "cache_trap_garbage_inverse": (lambda sol, rel: examples.apply(sol, examples.CACHE_TRAP),
                                   examples.CACHE_TRAP.failing),
    # -- broken notebooks: graded on what the student wrote --------------------------------------------
    "missing_cell_ids": (lambda sol, rel: _json_edit(sol, lambda raw: [c.pop("id") for c in raw["cells"]]),
                         frozenset()),
    "duplicate_cell_ids": (lambda sol, rel: _json_edit(sol, lambda raw: [c.update(id="same") for c in raw["cells"]]),
                           frozenset()),
    "deleted_test_cells": (lambda sol, rel: _test_cells_only(examples.apply(sol, EXP_SIGN), lambda t, o: o),
                           EXP_SIGN.failing),
    "duplicated_test_cells": (lambda sol, rel: _test_cells_only(sol, lambda t, o: o + t + t), frozenset()),
    "reordered_test_cells": (lambda sol, rel: _test_cells_only(sol, lambda t, o: t[::-1] + o), frozenset()),
    "edited_test_cells": (lambda sol, rel: _json_edit(
        examples.apply(sol, EXP_SIGN),
        lambda raw: [c.update(source="print('all visible checks passed')") for c in raw["cells"]
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade") and c["cell_type"] == "code"
                     and not c["metadata"]["nbgrader"].get("solution")]), EXP_SIGN.failing),
    "changed_cell_type": (lambda sol, rel: _retype(sol, "independent_bernoulli"), ITEM_CELLS["independent_bernoulli"]),
    "different_assignment": (lambda sol, rel: nbformat.v4.new_notebook(
        cells=[new_code_cell("x = 1"), new_code_cell("print('week 3 homework')")]), ALL),
    "wrong_nbformat": (lambda sol, rel: nbformat.writes(sol).replace('"nbformat": 4', '"nbformat": 3'), ALL),
    "truncated_json": (lambda sol, rel: nbformat.writes(sol)[:5000], ALL),
}
# The sandbox shows the worker nothing of the repo, with or without root.
CORPUS.update({
    "replay_reference_values": (lambda sol, rel: with_cell(rel, (
        "import json\ntry:\n"
        f"    ref = json.load(open({str(REFERENCE_PATH)!r}))\n"
        "    predicted_log_prob_shape = tuple(ref['predicted_log_prob_shape']['prediction']['value'])\n"
        "except OSError as e:\n    print('blocked:', e)")), ALL),
    "exec_the_solutions": (lambda sol, rel: with_cell(rel, (
        "import json\ntry:\n"
        f"    nb = json.load(open({str(SOLUTIONS_PATH)!r}))\n"
        "    for c in nb['cells']:\n        if c['cell_type'] == 'code':\n"
        "            try:\n                exec(''.join(c['source']), globals())\n"
        "            except Exception:\n                pass\n"
        "except OSError as e:\n    print('blocked:', e)")), ALL),
})


#: Untouched releases graded in the corpus's batch, so that it is a class of 50 or more.
CLASSMATES = 40


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    sol, rel = examples.notebook("solutions"), examples.notebook("release")
    for name, (build, _) in CORPUS.items():
        made = build(sol, rel)
        if isinstance(made, str):
            examples.write_submission(root / "submitted", name, text=made)
        else:
            examples.write_submission(root / "submitted", name, made)
    for i in range(CLASSMATES):  # the class around them: a batch of 50 or more, every row kept
        examples.write_submission(root / "submitted", f"student{i:02d}", rel)
    started = time.monotonic()
    graded, out = run_batch(root / "submitted", root / "graded", limits=LIMITS)
    return graded[ASSIGNMENT], out / ASSIGNMENT, root, time.monotonic() - started


def test_every_results_file_of_the_corpus_follows_the_schema(corpus):
    rows, out, _, _ = corpus
    for name in rows:
        read_results(out / name / "results.json")


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_case_loses_exactly_the_checks_it_breaks(corpus, name):
    rows = corpus[0]
    result = rows[name]
    failed = {t["extra_data"]["grade_id"] for t in result["tests"] if t["status"] == "failed"}
    assert failed == set(CORPUS[name][1]), (failed, result["output"][:1500])
    assert result["score"] == sum(POINTS[t] for t in POINTS if t not in failed)
    assert "Traceback" not in json.dumps(result)


def test_output_stays_bounded(corpus):
    rows = corpus[0]
    assert len(rows["megabytes_of_output"]["output"]) < 20_000
    assert "output truncated" in rows["megabytes_of_output"]["output"]


def test_no_process_is_left_running(corpus):
    leftover = subprocess.run(["pgrep", "-f", "sleep 417"], capture_output=True, text=True).stdout.split()
    assert leftover == []


def test_fake_results_files_do_not_count(corpus):
    rows, out, _, _ = corpus
    stored = read_results(out / "fake_results_files" / "results.json")
    assert stored["score"] == rows["fake_results_files"]["score"] < 999
    assert "999" not in (out / "grades.csv").read_text()


def test_a_different_assignment_is_named(corpus):
    assert "does not look like" in corpus[0]["different_assignment"]["output"]


def test_every_case_ends_within_the_submission_cap(corpus):
    for name, result in corpus[0].items():
        assert result["execution_time"] < LIMITS["submission_seconds"] + 30, name


def _session_processes(sid):
    """Live processes of session ``sid``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry))
    return found


def test_a_killed_batch_resumes_without_regrading_or_losing_anyone(tmp_path):
    submitted = tmp_path / "submitted"
    sol, rel = examples.notebook("solutions"), examples.notebook("release")
    for i in range(4):
        examples.write_submission(submitted, f"s{i}", rel if i % 2 else sol)
    out = tmp_path / "graded"
    command = [sys.executable, "-m", "autograder", "batch", str(submitted), "--out", str(out)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    done = out / ASSIGNMENT
    while not (done / "s0" / "graded.json").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # The zygote dies with its grader and each worker with its zygote: nothing of the session survives.
    deadline = time.monotonic() + 10
    while _session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(proc.pid) == []
    assert (done / "s0" / "graded.json").exists() and not (done / "grades.csv").exists()
    first = (done / "s0" / "results.json").stat().st_mtime_ns
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    assert (done / "s0" / "results.json").stat().st_mtime_ns == first  # not regraded
    lines = (done / "grades.csv").read_text().splitlines()
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["s0", "s1", "s2", "s3"]


def test_a_batch_of_50_or_more_with_hostile_submissions_gives_everyone_a_row(corpus):
    """The corpus is graded in one batch with a class of untouched releases around it: every student gets
    exactly one row of grades.csv and a results.json that is the row's, and each classmate scores 0."""
    rows, out, _, _ = corpus
    assert len(rows) == len(CORPUS) + CLASSMATES >= 50
    for name in rows:
        assert read_results(out / name / "results.json") == rows[name]
    lines = (out / "grades.csv").read_text().splitlines()
    assert len(lines) == len(rows) + 1 and sorted(line.split(",")[0] for line in lines[1:]) == sorted(rows)
    assert all(rows[f"student{i:02d}"]["score"] == 0 for i in range(CLASSMATES))


def _numbers(value):
    """Every float in a (nested) reference entry."""
    import numpy as np
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _numbers(v)]
    if isinstance(value, (np.ndarray, np.generic, float, int)) and not isinstance(value, bool):
        return [float(x) for x in np.ravel(np.asarray(value, dtype="float64"))]
    return []


def test_no_reference_value_reaches_a_check_message(corpus):
    """Every check message the students of the corpus get, scanned for every reference value (to 4
    significant digits). Values that the release itself shows, and whole numbers, are public."""
    import re
    rows = corpus[0]
    release_text = nbformat.writes(examples.notebook("release"))
    public = {f"{float(x):.4g}" for x in re.findall(r"-?\d+\.\d+", release_text)}
    secret = {f"{v:.4g}" for v in _numbers(reference.load_reference(ASSIGNMENT))
              if v == v and v != round(v)} - public
    leaks = {}
    for name, result in rows.items():
        for test in result["tests"]:
            shown = {f"{float(x):.4g}" for x in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", test["output"])}
            if shown & secret:
                leaks[(name, test["extra_data"]["grade_id"])] = sorted(shown & secret)
    assert len(secret) > 50 and leaks == {}, leaks
