"""Monotone grades over both mistake catalogues: adding a mistake, or stubbing a method, never raises a score.

For every item, in-process on the solutions' namespace (as ``test_fairness`` runs answers):

* every catalogued mistake of the item, with each method of the item stubbed (``raise NotImplementedError()``),
  scores no more than the same stub without the mistake;
* every pair of catalogued mistakes of one item (whose edits both apply) scores no more than either mistake
  alone.

A check that skipped a stubbed method after a "named" mistake would break the first property (issue 25's
stub + forward_min_event_ndims=0 scored 8/10 against the honest stub's 4/10).
"""
import ast
import itertools
import json

import pytest
from conftest import run_test_cell

from autograder import course, notebooks, reference
from autograder.authoring import examples

NF, MS = "normalising_flows", "realnvp_multiscale"
STUB = "raise NotImplementedError()"


@pytest.fixture(scope="module")
def namespaces(solution_ns_session):
    return {NF: solution_ns_session, MS: reference.solution_namespace(MS)}


def _points(assignment):
    nb = json.loads(course.notebook_path("source", assignment).read_text())
    return {m["grade_id"]: m.get("points", 0) for c in nb["cells"]
            if (m := c["metadata"].get("nbgrader", {})).get("grade") and c["cell_type"] == "code"}


def _cell_source(nb, item):
    cell = next(c for c in nb.cells if notebooks.grade_meta(c).get("grade_id") == item)
    return "\n".join(ln for ln in cell.source.splitlines() if "SOLUTION" not in ln)


def stubs(source):
    """{what is stubbed: the cell's source with it stubbed}: each method of each class the cell defines, each
    function it defines, or (a cell that only assigns values) the whole cell, as the release gives it."""
    tree, lines = ast.parse(source), source.splitlines()
    out = {}

    def stub_body(fn):
        first = fn.body[0]
        indent = " " * first.col_offset
        return "\n".join(lines[:first.lineno - 1] + [indent + STUB] + lines[fn.end_lineno:])

    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and fn.name != "__init__":
                    out[f"{node.name}.{fn.name}"] = stub_body(fn)
        elif isinstance(node, ast.FunctionDef):
            out[node.name] = stub_body(node)
    return out or {"the cell": STUB}


def item_score(assignment, base, item, source, points):
    ns = dict(base)
    try:
        exec(source, ns)
    except Exception:  # noqa: BLE001 (a stubbed cell that raises at the top level, as in the release)
        pass
    return sum(points[t] for t in course.test_ids(assignment)
               if course.item_of(assignment, t) == item and run_test_cell(t, ns, assignment) is None)


ITEMS = [(a, i) for a in (NF, MS) for i in course.items(a)]


@pytest.mark.slow
@pytest.mark.parametrize("assignment, item", ITEMS, ids=[f"{a}/{i}" for a, i in ITEMS])
def test_a_mistake_never_raises_a_stubs_score(assignment, item, namespaces):
    base, points = namespaces[assignment], _points(assignment)
    mistakes = {m: e for m, e in examples.EDITS[assignment].items() if e.grade_id == item}
    solutions = examples.notebook("source", assignment)
    honest = {what: item_score(assignment, base, item, src, points)
              for what, src in stubs(_cell_source(solutions, item)).items()}
    worse = []
    for mistake_id, edit in mistakes.items():
        wrong = stubs(_cell_source(examples.apply(solutions, edit), item))
        for what, src in wrong.items():
            if what in honest and (got := item_score(assignment, base, item, src, points)) > honest[what]:
                worse.append(f"{mistake_id} with {what} stubbed: {got} > the stub alone's {honest[what]}")
    assert not worse, "\n".join(worse)


@pytest.mark.slow
@pytest.mark.parametrize("assignment, item", ITEMS, ids=[f"{a}/{i}" for a, i in ITEMS])
def test_two_mistakes_never_score_more_than_one(assignment, item, namespaces):
    base, points = namespaces[assignment], _points(assignment)
    mistakes = {m: e for m, e in examples.EDITS[assignment].items() if e.grade_id == item}
    solutions = examples.notebook("source", assignment)
    alone = {m: item_score(assignment, base, item, _cell_source(examples.apply(solutions, e), item), points)
             for m, e in mistakes.items()}
    worse = []
    for (m1, e1), (m2, e2) in itertools.combinations(mistakes.items(), 2):
        try:
            both = examples.apply(solutions, e1, e2)
        except ValueError:  # the two edits change the same text: not a pair one notebook can hold
            continue
        got = item_score(assignment, base, item, _cell_source(both, item), points)
        if got > min(alone[m1], alone[m2]):
            worse.append(f"{m1} + {m2}: {got} > {min(alone[m1], alone[m2])}")
    assert not worse, "\n".join(worse)


def test_stubs_cover_every_method_of_the_coupling_layer():
    """The stubs the properties run over are the layer's four hooks (the property is only as wide as this)."""
    src = _cell_source(examples.notebook("source", NF), "affine_coupling_layer")
    assert set(stubs(src)) == {f"AffineCouplingLayer.{m}" for m in
                               ("_forward", "_inverse", "_forward_log_det_jacobian", "_inverse_log_det_jacobian")}
    assert all(STUB in s for s in stubs(src).values())
