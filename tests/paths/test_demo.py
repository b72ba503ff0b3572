"""``make demo`` as a newcomer runs it: every output it names exists, the planted copies are the similarity report's
top pairs, the late submission with an extension loses one day's penalty in grades.csv, its feedback and the
Canvas file, and nobody else loses anything."""
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import course_config

NF = "normalising_flows"


@pytest.mark.slow  # grades the demo's 14 notebooks
def test_the_demo_shows_each_feature_and_names_where_it_is(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autograder", "demo", "--dir", str(tmp_path / "demo")],
                          cwd=course_config.ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    named = re.findall(r"(?:similarity \(\w+, .*\): |canvas gradebook file: )(\S+)", out)
    assert len(named) == 4, out[-2000:]  # a similarity page and a Canvas file per assignment
    assert all(Path(p).is_file() for p in named), named
    graded = tmp_path / "demo" / "graded"

    # the planted copies of partly_wrong are the two most similar pairs of normalising_flows
    pairs = json.loads((graded / NF / "similarity" / "similarity.json").read_text())["pairs"]
    assert {(p["a"], p["b"]) for p in pairs[:2]} == {("partly_wrong", "partly_wrong_renamed"),
                                                     ("partly_wrong", "partly_wrong_plus_one")}, pairs[:4]

    # partly_wrong came 2 h 01 min after its extension: one started day, 10 % of the 30 points, once
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((graded / NF / "grades.csv").read_text()))}
    items = [k for k in next(iter(rows.values())) if k not in {"student", "total", "max", "status", "late",
             "minutes_late", "submitted_at", "extension", "days_late", "penalty", "sid", "email"}]
    late = rows["partly_wrong"]
    assert (late["late"], late["extension"], late["days_late"], late["minutes_late"]) == (
        "1", "2026-03-03T23:59:00+00:00", "1", "121.0")
    assert float(late["penalty"]) == 3.0 and float(late["max"]) == 30
    assert float(late["total"]) == sum(float(late[k] or 0) for k in items) - 3
    for student, row in rows.items():
        if student != "partly_wrong":
            assert row["late"] == "0" and float(row["penalty"] or 0) == 0, student
            assert float(row["total"]) == sum(float(row[k] or 0) for k in items), student
    assert "Late penalty: 3 points" in (graded / "feedback" / "partly_wrong" / NF / "feedback.md").read_text()

    # the Canvas file carries the same totals as grades.csv
    canvas = list(csv.reader(io.StringIO((graded / NF / "lms" / "canvas.csv").read_text())))
    by_email = {row[3]: row[5] for row in canvas[2:]}
    assert {s: float(by_email[f"{s}@example.edu"]) for s in rows} == {s: float(r["total"]) for s, r in rows.items()}
