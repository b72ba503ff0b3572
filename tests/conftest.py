import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import copy  # noqa: E402
import json  # noqa: E402

import pytest  # noqa: E402

import course_config  # noqa: E402
from autograder import checks, course, notebooks, reference
from autograder.authoring import validate  # noqa: E402

ASSIGNMENT = "normalising_flows"


def pytest_configure(config):
    for assignment in course_config.ASSIGNMENTS:
        for item in course.items(assignment):
            config.addinivalue_line("markers", f"{item}: tests of the graded item {item}")


@pytest.fixture(scope="session")
def paths():
    return validate.paths(ASSIGNMENT)


@pytest.fixture(scope="session")
def source_nb(paths):
    return notebooks.read(paths[0])


@pytest.fixture(scope="session")
def solution_ns_session():
    """The solutions notebook's variables after a short-budget run (built once per test session)."""
    return reference.solution_namespace(ASSIGNMENT)


@pytest.fixture(scope="session")
def ms_solution_ns_session():
    """The multiscale solutions notebook's variables, as ``solution_ns_session`` (built once per test session)."""
    return reference.solution_namespace("realnvp_multiscale")


@pytest.fixture
def solution_ns(solution_ns_session):
    """A shallow copy, so a test can replace a student's answer without affecting other tests."""
    return copy.copy(solution_ns_session)


def run_test_cell(test_id, ns, assignment=ASSIGNMENT):
    """Run one test cell's checks (visible or hidden) in-process; None, or (message, catalogued mistake id)."""
    nf = course.protocol(assignment)
    try:
        with nf.quiet():
            checks.run_test_cell(assignment, test_id, nf.local_asker(ns), reference.load_reference(assignment))
    except nf.CheckFailure as e:
        return str(e), e.mistake
    return None


def solution_cell(nb, item):
    """The source of ``item``'s solution cell in ``nb``, without nbgrader's solution markers, as a student runs it."""
    cell = next(c for c in nb.cells if notebooks.grade_meta(c).get("grade_id") == item)
    return "\n".join(ln for ln in cell.source.splitlines() if "SOLUTION" not in ln)


def item_score(assignment, ns, item):
    """(points scored, points available) of one item's test cells on ``ns``, each cell all or nothing as nbgrader
    gives it."""
    points = {c["test_id"]: c["points"] for c in course.test_cells(assignment)}
    cells = [t for t in course.test_ids(assignment) if course.item_of(assignment, t) == item]
    return (sum(points[t] for t in cells if run_test_cell(t, ns, assignment) is None),
            sum(points[t] for t in cells))


def write_term_submissions(submitted, assignment=ASSIGNMENT):
    """The cheapest real cases of a term: complete, partly wrong (the demo's mistakes), untouched, and a notebook
    of the other assignment, in nbgrader's submitted/{student}/{assignment}/ layout under ``submitted``."""
    import shutil

    from autograder.authoring import examples
    examples.write_submission(submitted, "complete", examples.notebook("solutions"))
    partly = examples.apply(examples.notebook("solutions"),
                            *(examples.EDITS[assignment][m] for m in examples.DEMO["partly_wrong"][assignment][1]))
    examples.write_submission(submitted, "partly_wrong", partly)
    examples.write_submission(submitted, "untouched", examples.notebook("release"))
    other = submitted / "other_one" / assignment
    other.mkdir(parents=True)
    shutil.copy(course_config.ROOT / course_config.SOLUTION_DIR / "realnvp_multiscale" / "realnvp_multiscale.ipynb",
                other / "realnvp_multiscale.ipynb")
    return submitted


def write_term_batch(submitted, assignment=ASSIGNMENT):
    """The term's submissions (``write_term_submissions``) and two that run no code: a student who submitted
    nothing (``absent``) and one whose notebook is not JSON (``broken``)."""
    write_term_submissions(submitted, assignment)
    (submitted / "absent" / assignment).mkdir(parents=True)
    (submitted / "broken" / assignment).mkdir(parents=True)
    (submitted / "broken" / assignment / f"{assignment}.ipynb").write_text('{"cells": [')
    return submitted


@pytest.fixture(scope="session")
def term_batch(tmp_path_factory):
    """The term's batch (``write_term_batch``), graded once per test session by ``batch`` as an instructor runs it
    (two slots): (submitted folder, output folder, seconds it took). Every test that reads it compares with it;
    a test that grades or renders again works on a copy of the output folder."""
    import time
    root = tmp_path_factory.mktemp("term")
    submitted = write_term_batch(root / "submitted")
    started = time.monotonic()
    proc = cli("batch", submitted, "--out", root / "clean", "--assignment", ASSIGNMENT)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    return submitted, root / "clean", seconds


def course_copy(root):
    """What grading reads of the course (its config, notebooks, checks and grader), copied under ``root``: a test
    that changes the course changes the copy, and runs ``python -m autograder`` there (``cwd=root``)."""
    import shutil
    root.mkdir(parents=True)
    for name in ("course_config.py", "source", "release", "solutions", "autograder"):
        src = course_config.ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "build"))
        else:
            shutil.copy(src, root / name)
    return root


def read_results(path):
    """A results.json the grader wrote, checked against autograder/results.schema.json."""
    from autograder import results
    data = json.loads(open(path).read())
    results.validate(data)
    return data


def _written_by_students(path):
    return any(part in ("submitted", "submission", "in") for part in path.parts)


@pytest.fixture(scope="session", autouse=True)
def every_results_file_follows_the_schema(tmp_path_factory):
    """After the session: every results.json any test wrote (under pytest's temporary folders) validates
    against the schema, not only those a test reads. Files inside submission folders are a student's."""
    yield
    import jsonschema

    from autograder import results
    base = tmp_path_factory.getbasetemp()
    bad = []
    for path in sorted(base.rglob("results.json")):
        if path.is_symlink() or _written_by_students(path.relative_to(base)):
            continue
        try:
            results.validate(json.loads(path.read_text()))
        except (ValueError, jsonschema.ValidationError) as e:
            bad.append(f"{path}: {str(e).splitlines()[0]}")
    assert not bad, "results.json files that break autograder/results.schema.json:\n" + "\n".join(bad[:20])


def cli(*args, timeout=600, **kwargs):
    """``python -m autograder ARGS`` from the repository, as an instructor runs it: the finished process."""
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=course_config.ROOT,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def run_batch(*args, **kwargs):
    """``batch.run``, with each student's result as the results.json it rendered on disk (schema-checked):
    ({assignment: {student: results.json dict}}, out)."""
    from autograder import batch, store
    graded, out = batch.run(*args, **kwargs)
    s = store.Store(out)
    return {a: {student: read_results(s.results_path(a, student)) for student in rows}
            for a, rows in graded.items()}, out


def one_per_item(cases, item, ids=None):
    """The cases of a parametrized test as pytest.params: the first case of each ``item(case)`` runs in the fast
    tier, the others are marked ``slow``. So ``pytest -m "not slow"`` still judges every item of a catalogue
    once, and the whole suite (``make test``) judges every case. ``ids``: a case's id (default: pytest's)."""
    seen, params = set(), []
    for case in cases:
        key = item(case)
        marks = () if key not in seen else (pytest.mark.slow,)
        seen.add(key)
        values = case if isinstance(case, tuple) else (case,)
        params.append(pytest.param(*values, marks=marks, id=ids(case) if ids else None))
    return params
