"""make bench's building blocks, at a tiny size (the benchmark itself is too slow for CI)."""
import json
import subprocess
import sys

import pytest

import bench.__main__ as bench
import course_config
from autograder.authoring import examples

#: The slow tier (pytest -m 'not slow' leaves it out): the benchmark's parts at a tiny size, each starting workers (about a minute).
pytestmark = pytest.mark.slow


def test_the_throughput_batch_is_the_advertised_mix():
    subs = bench.mixed_submissions()
    assert len(subs) == 20
    kinds = {k: sum(s.startswith(k) for s in subs) for k in ("complete", "wrong", "untouched")}
    assert kinds == {"complete": 7, "wrong": 7, "untouched": 6}
    solutions = [c.source for c in examples.notebook("solutions").cells]
    for student, nb in subs.items():
        if student.startswith("wrong"):
            names = student.split("_", 2)[2].split("+")
            assert len(names) == 2 and examples.MISTAKE_EDITS[names[0]].grade_id != examples.MISTAKE_EDITS[names[1]].grade_id
            changed = [a for a, b in zip((c.source for c in nb.cells), solutions) if a != b]
            assert len(changed) == 2, student  # each mistake edited its own solution cell


def test_the_training_comparison_uses_the_same_budget_and_a_comparable_network():
    proc = subprocess.run([sys.executable, "-m", "bench.parts", "training", "30", "1"], cwd=course_config.ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    ours, theirs = out["notebook"][0], out["tfp_realnvp"][0]
    assert out["steps"] == 30
    for run in (ours, theirs):
        assert run["step_ms"] > 0 and 0 < run["valid_nll"] < 5
    # Same hidden layers; RealNVP's conditioner sees one coordinate instead of the masked pair.
    assert 0.9 < ours["parameters"] / theirs["parameters"] < 1.1


def test_the_sandbox_cost_is_measured_for_every_containment_offered():
    proc = subprocess.run([sys.executable, "-m", "bench.parts", "sandbox", "3"], cwd=course_config.ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(out["modes"]["none"]) == 2 and "namespaces" in out["overhead_ms"]
    for runs in out["modes"].values():
        assert all(r["start_ms"] > 0 and r["stop_ms"] > 0 for r in runs)
