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
import sys

import pytest
from conftest import item_score, solution_cell

from autograder import course
from autograder.authoring import examples

NF, MS = "normalising_flows", "realnvp_multiscale"
course.protocol(NF)  # puts the protocol modules' folder, and so checks_core, on the path
names_defined = sys.modules["checks_core"].names_defined  # as the worker uses it
STUB = "raise NotImplementedError()"


@pytest.fixture(scope="module")
def namespaces(solution_ns_session, ms_solution_ns_session):
    return {NF: solution_ns_session, MS: ms_solution_ns_session}


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


def score(assignment, base, item, source):
    """The item's points with ``source`` run in place of its solution cell: the names that cell defines are taken
    out of the solutions' namespace first, so a stub that raises at the top level (as the release's does) leaves
    them undefined."""
    ns = dict(base)
    for name in names_defined(solution_cell(examples.notebook("source", assignment), item)):
        ns.pop(name, None)
    try:
        exec(source, ns)
    except Exception:  # noqa: BLE001
        pass
    return item_score(assignment, ns, item)[0]


def catalogue(assignment, item):
    """(the source notebook, {mistake id: its edit}) for one item."""
    return (examples.notebook("source", assignment),
            {m: e for m, e in examples.EDITS[assignment].items() if e.grade_id == item})


ITEMS = [(a, i) for a in (NF, MS) for i in course.items(a)]


@pytest.mark.slow
@pytest.mark.parametrize("assignment, item", ITEMS, ids=[f"{a}/{i}" for a, i in ITEMS])
def test_a_mistake_never_raises_a_stubs_score(assignment, item, namespaces):
    solutions, mistakes = catalogue(assignment, item)
    base = namespaces[assignment]
    honest = {what: score(assignment, base, item, src) for what, src in stubs(solution_cell(solutions, item)).items()}
    worse = []
    for mistake_id, edit in mistakes.items():
        for what, src in stubs(solution_cell(examples.apply(solutions, edit), item)).items():
            if what in honest and (got := score(assignment, base, item, src)) > honest[what]:
                worse.append(f"{mistake_id} with {what} stubbed: {got} > the stub alone's {honest[what]}")
    assert not worse, "\n".join(worse)


@pytest.mark.slow
@pytest.mark.parametrize("assignment, item", ITEMS, ids=[f"{a}/{i}" for a, i in ITEMS])
def test_two_mistakes_never_score_more_than_one(assignment, item, namespaces):
    solutions, mistakes = catalogue(assignment, item)
    base = namespaces[assignment]
    alone = {m: score(assignment, base, item, solution_cell(examples.apply(solutions, e), item))
             for m, e in mistakes.items()}
    worse = []
    for (m1, e1), (m2, e2) in itertools.combinations(mistakes.items(), 2):
        try:
            both = examples.apply(solutions, e1, e2)
        except ValueError:  # the two edits change the same text: not a pair one notebook can hold
            continue
        if (got := score(assignment, base, item, solution_cell(both, item))) > min(alone[m1], alone[m2]):
            worse.append(f"{m1} + {m2}: {got} > {min(alone[m1], alone[m2])}")
    assert not worse, "\n".join(worse)


def test_stubs_cover_every_method_of_the_coupling_layer():
    """The stubs the properties run over are the layer's four hooks (the property is only as wide as this)."""
    src = solution_cell(examples.notebook("source", NF), "affine_coupling_layer")
    assert set(stubs(src)) == {f"AffineCouplingLayer.{m}" for m in
                               ("_forward", "_inverse", "_forward_log_det_jacobian", "_inverse_log_det_jacobian")}
    assert all(STUB in s for s in stubs(src).values())
