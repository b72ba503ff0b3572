"""Hidden checks, one module per graded item (the module name is the item's grade_id).

Each module defines:

* ``REQUESTS``: name -> request, the hidden inputs. ``make reference`` answers them from the solutions
  and stores the answers in ``autograder/reference/<assignment>.json``.
* ``HIDDEN``: test-cell grade_id -> list of check functions ``fn(ask, ref)``. ``ask`` answers a request
  about the student's objects; ``ref`` maps the module's request names to reference answers. A check
  raises ``CheckFailure`` with a message for the student, and never puts reference values in it.
"""
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

import course_config

ITEMS = ("predicted_log_prob_shape", "independent_bernoulli", "mvn_transformed",
         "affine_coupling_layer", "log_det_jacobians", "bimodal_base_distribution")
ASSIGNMENT = "normalising_flows"
REFERENCE_FILE = Path(__file__).resolve().parent.parent / "reference" / f"{ASSIGNMENT}.json"


def protocol():
    """The assignment's ``nf_checks`` module (question protocol and visible checks), from source/."""
    if "nf_checks" in sys.modules:
        return sys.modules["nf_checks"]
    path = course_config.ROOT / course_config.SOURCE_DIR / ASSIGNMENT / "nf_checks.py"
    spec = importlib.util.spec_from_file_location("nf_checks", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["nf_checks"] = module
    spec.loader.exec_module(module)
    return module


def item_module(item):
    return importlib.import_module(f"autograder.checks.{item}")


def hidden_checks():
    """test-cell grade_id -> (item, [check functions])."""
    out = {}
    for item in ITEMS:
        for test_id, fns in item_module(item).HIDDEN.items():
            out[test_id] = (item, fns)
    return out


def graded_test_cells():
    """[(test-cell grade_id, item)] for every graded test cell the checks know, visible first."""
    visible = [(t, next(i for i in ITEMS if t.startswith(i + "_"))) for t in protocol().VISIBLE]
    hidden = [(t, item) for t, (item, _) in hidden_checks().items()]
    return visible + hidden


def run_test_cell(test_id, ask, reference):
    """Run the checks of one graded test cell (visible or hidden); raises CheckFailure on the first failure."""
    nf = protocol()
    if test_id in nf.VISIBLE:
        for fn in nf.VISIBLE[test_id]:
            fn(ask)
        return
    item, fns = hidden_checks()[test_id]
    for fn in fns:
        fn(ask, reference[item])


def _encode(value):
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "shape": list(value.shape)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value):
    if isinstance(value, dict) and "__array__" in value:
        return np.asarray(value["__array__"], dtype="float64").reshape(value["shape"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def save_reference(values, path=REFERENCE_FILE):
    path.parent.mkdir(parents=True, exist_ok=True)
    # One line per (item, request): diffs show which reference values changed.
    lines = []
    for item in sorted(values):
        entries = [f"  {json.dumps(name)}: {json.dumps(_encode(v))}" for name, v in sorted(values[item].items())]
        lines.append(f" {json.dumps(item)}: {{" + ("\n" + ",\n".join(entries) + "\n }" if entries else "}"))
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def load_reference(path=REFERENCE_FILE):
    if not path.exists():
        raise FileNotFoundError(f"no reference values at {path}; run `make reference`")
    return _decode(json.loads(path.read_text()))


def build_reference(namespace):
    """Answer every hidden request from a namespace holding the solutions' objects."""
    answer = protocol().answer
    values = {}
    for item in ITEMS:
        values[item] = {name: answer(namespace, req) for name, req in item_module(item).REQUESTS.items()}
    return values

protocol()  # make `nf_checks` importable for the item modules

