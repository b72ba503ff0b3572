"""``make setup`` in two checkouts that share one venv: the second never rewrites the first's ``nf_course.pth``.

Each checkout here holds the Makefile under test, course_config.py and an empty requirements.lock (so ``pip install``
has nothing to fetch), and its ``.venv`` is a link to one venv made for the test.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The slow tier (pytest -m "not slow" leaves it out): it makes two venvs with pip (12-50 s here).
pytestmark = pytest.mark.slow


def _checkout(where):
    where.mkdir()
    for name in ("Makefile", "course_config.py", "pyproject.toml"):
        shutil.copy(ROOT / name, where / name)
    (where / "requirements.lock").write_text("# nothing to install in this test\n")
    return where


def _make(where, *targets):
    return subprocess.run(["make", *targets, f"PYTHON={sys.executable}"], cwd=where, capture_output=True, text=True,
                          timeout=300)


def test_a_second_checkout_never_takes_over_a_shared_venv(tmp_path):
    shared = tmp_path / "shared-venv"
    subprocess.run([sys.executable, "-m", "venv", str(shared)], check=True)
    pth = next(shared.glob("lib/python*/site-packages")) / "nf_course.pth"
    first, second = _checkout(tmp_path / "first"), _checkout(tmp_path / "second")
    for checkout in (first, second):
        (checkout / ".venv").symlink_to(shared)

    made = _make(first, "setup")
    assert made.returncode == 0, made.stdout + made.stderr
    assert pth.read_text().strip() == str(first)  # the venv is the first checkout's

    earlier = (second / "requirements.lock").stat().st_mtime - 60  # the second's lock is newer (a later clone)
    os.utime(shared / ".installed", (earlier, earlier))
    refused = _make(second, "setup")
    assert refused.returncode != 0
    assert pth.read_text().strip() == str(first)  # untouched: the first checkout's kernels still import its own code
    message = refused.stderr.strip().splitlines()[0]
    assert str(first) in message and str(second) in message and "rm .venv, then make setup" in message
    assert _make(second, "normalise").returncode != 0  # nor is it used by any target that needs the venv

    (second / ".venv").unlink()  # what the message says: this checkout gets a venv of its own
    made = _make(second, "setup")
    assert made.returncode == 0, made.stdout + made.stderr
    own = next((second / ".venv").glob("lib/python*/site-packages")) / "nf_course.pth"
    assert own.read_text().strip() == str(second) and pth.read_text().strip() == str(first)
