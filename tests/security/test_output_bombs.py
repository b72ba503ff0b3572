"""Output bombs (issue 26, case 5): whatever a worker sends, every text that reaches a result is capped
(``autograder.text.TEXT_BYTES``), results.json stays under ``RESULTS_BYTES``, the grader's memory stays
bounded, and the classmates graded in the same batch get exactly their own scores."""
import json
import resource
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell

import course_config
from autograder import course
from autograder.authoring import examples

TEXT_BYTES = 64 * 2**10  # what issue 26 asks: every text of a result at most 64 KiB, with a note of what was cut
RESULTS_BYTES = 2**20  # and a results.json of at most 1 MiB

A = "normalising_flows"
POINTS = {c["test_id"]: c["points"] for c in course.test_cells(A)}
LIMITS = {**course_config.GRADING, "check_seconds": 30, "cell_seconds": 60, "submission_seconds": 600}

#: A cell that prints 200 MB to stdout and stderr, then raises with a 50 MB message.
PRINT_AND_RAISE = """
import sys
for _ in range(100):
    print("p" * 1_000_000)
    sys.stderr.write("e" * 1_000_000)
raise RuntimeError("m" * 50_000_000)
"""

#: The exercise's methods raise with 15 MB messages (the worker cuts them to TEXT_BYTES), and the worker's own socket
#: is patched so that each error reply it sends holds 15 MB of text anyway, and 900 kB for the inverse: what a
#: worker that cuts nothing would send. The 900 kB are cut by the grader; 15 MB of text is a protocol error (the
#: worker dies on that check, which scores 0, and a fresh one takes the next).
ERRORS = """
import json, socket
def _bomb(*args, **kwargs):
    raise ValueError("z" * 15_000_000)
def _inverse_bomb(*args, **kwargs):
    raise ValueError("inverse" + "z" * 15_000_000)
AffineCouplingLayer._forward = _bomb
AffineCouplingLayer._inverse = _inverse_bomb
log_det_jacobians = _bomb
_sendall = socket.socket.sendall
def _inflated(self, data, *args):
    if data.startswith(b'{"error"'):
        size = 900_000 if b"inverse" in data[:200] else 15_000_000
        data = json.dumps({"error": "ValueError: " + "w" * size}).encode() + b"\\n"
    return _sendall(self, data, *args)
socket.socket.sendall = _inflated
"""

#: The checks of the items whose methods the bombs replace: only these may fail.
AFFECTED = {t for t in POINTS if t.startswith(("affine_coupling_layer", "log_det_jacobians"))}

GRADER = """
import json, sys
from autograder import batch
graded, out = batch.run(sys.argv[1], sys.argv[2], assignments=["normalising_flows"], jobs=1,
                        limits=json.loads(sys.argv[3]))
# VmHWM, the high-water mark of this program's own memory: ru_maxrss would also count the pytest process this one
# was forked from (Linux keeps a process's peak across exec), over 1.4 GB late in a whole-suite run.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"maxrss_kib": int(hwm.split()[1])}))
"""


def _with_cell(nb, source):
    nb = nbformat.from_dict(nb)
    nb.cells.append(new_code_cell(source))
    return nb


@pytest.fixture(scope="module")
def bombed(tmp_path_factory):
    root = tmp_path_factory.mktemp("bombs")
    solutions = examples.notebook("solutions")
    notebooks = {"victim": solutions, "printer": _with_cell(solutions, PRINT_AND_RAISE),
                 "errors": _with_cell(solutions, ERRORS)}
    for student, nb in notebooks.items():
        (root / "submitted" / student / A).mkdir(parents=True)
        nbformat.write(nb, str(root / "submitted" / student / A / f"{A}.ipynb"))
    proc = subprocess.run([sys.executable, "-c", GRADER, str(root / "submitted"), str(root / "out"),
                           json.dumps(LIMITS)], cwd=course_config.ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "out", json.loads(proc.stdout.strip().splitlines()[-1])


def _results(out, student):
    path = out / A / student / "results.json"
    return path.stat().st_size, json.loads(path.read_text())


def _passed(data):
    return {t["extra_data"]["grade_id"] for t in data["tests"] if t["extra_data"]["status"] == "passed"}


@pytest.mark.slow  # grades three submissions, two of them bombs
def test_results_json_stays_under_a_megabyte_and_every_text_is_capped(bombed):
    out, _ = bombed
    for student in ("printer", "errors"):
        size, data = _results(out, student)
        assert size <= RESULTS_BYTES, (student, size)
        texts = [data["output"], data["extra_data"]["cell_output"]] + [t["output"] for t in data["tests"]] \
            + [n["text"] for n in data["extra_data"]["notes"]]
        assert all(len(text.encode()) <= TEXT_BYTES for text in texts[1:]), student
        feedback = out / "feedback" / student / A
        assert sum(p.stat().st_size for p in feedback.iterdir()) <= 4 * 2**20, student
    _, data = _results(out, "errors")
    cut = [t["output"] for t in data["tests"] if t["extra_data"]["status"] != "passed"]
    assert cut and all("more bytes]" in text or "stopped" in text for text in cut), [c[:300] for c in cut]
    assert any("more bytes]" in text for text in cut) and any("KiB of text" in text for text in cut)


@pytest.mark.slow  # grades three submissions, two of them bombs
def test_the_bombs_cost_only_what_they_touch_and_the_victim_nothing(bombed):
    out, _ = bombed
    _, victim = _results(out, "victim")
    assert _passed(victim) == set(POINTS) and victim["score"] == sum(POINTS.values())
    _, printer = _results(out, "printer")
    assert _passed(printer) == set(POINTS)  # its last cell raised: recorded, the rest still graded
    assert any("RuntimeError" in n["text"] for n in printer["extra_data"]["notes"])
    _, errors = _results(out, "errors")
    assert set(POINTS) - AFFECTED <= _passed(errors)
    assert {"log_det_jacobians_visible", "affine_coupling_layer_forward", "affine_coupling_layer_inverse"} \
        <= set(POINTS) - _passed(errors)  # each calls a replaced method


@pytest.mark.slow  # grades three submissions, two of them bombs
def test_the_graders_memory_stays_bounded(bombed):
    """The grader's own peak (``VmHWM`` of the process that ran the batch; its workers are other processes)."""
    _, usage = bombed
    assert usage["maxrss_kib"] * 1024 <= 600 * 2**20, usage
    print(f"grader peak RSS: {usage['maxrss_kib'] / 1024:.0f} MiB")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 <= 2**32  # this test process, for scale
