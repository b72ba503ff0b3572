"""The layout's limits, checked so nobody has to remember them: no module of the project's own code over
MAX_LINES lines, and no folder holding more than MAX_MODULES modules (``__init__.py`` included; sub-packages
are folders of their own). Fast: it reads files, never imports them.

The project's code is ``autograder/``, ``bench/``, ``source/`` and ``tests/``, each with its subfolders. A
symbolic link is a generated copy (``source/<assignment>/checks_core.py`` links to ``source/checks_core.py``) and
is not counted twice.
"""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AREAS = ("autograder", "bench", "source", "tests")
MAX_LINES = 400
MAX_MODULES = 12
SKIP = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


def modules(top):
    """Every .py file under ``top`` that is the project's own (no links, no caches), sorted."""
    return sorted(p for p in Path(top).rglob("*.py")
                  if not p.is_symlink() and not SKIP & set(p.relative_to(top).parts))


def long_modules(top, root=ROOT):
    """["path: N lines"] for each module under ``top`` longer than MAX_LINES."""
    out = []
    for path in modules(top):
        with open(path, "rb") as f:
            lines = sum(1 for _ in f)
        if lines > MAX_LINES:
            out.append(f"{path.relative_to(root)}: {lines} lines")
    return out


def crowded_folders(top, root=ROOT):
    """["folder/: N modules (names)"] for each folder under ``top`` (itself included) with more than MAX_MODULES."""
    per = {}
    for path in modules(top):
        per.setdefault(path.parent, []).append(path.stem)
    return [f"{folder.relative_to(root)}/: {len(names)} modules ({', '.join(names)})"
            for folder, names in sorted(per.items()) if len(names) > MAX_MODULES]


@pytest.mark.parametrize("area", AREAS)
def test_no_module_is_longer_than_the_limit(area):
    found = long_modules(ROOT / area)
    assert not found, f"modules over {MAX_LINES} lines (split them by responsibility):\n  " + "\n  ".join(found)


@pytest.mark.parametrize("area", AREAS)
def test_no_folder_holds_more_modules_than_the_limit(area):
    found = crowded_folders(ROOT / area)
    assert not found, (f"folders over {MAX_MODULES} modules (move modules into sub-packages named for their part):"
                       "\n  " + "\n  ".join(found))


def test_the_limits_name_what_breaks_them(tmp_path):
    """The two checks above can fail: a folder of 13 modules and a module of 401 lines are named, a link is not
    counted, and a folder of 12 short modules passes."""
    crowded, fine = tmp_path / "pkg" / "crowded", tmp_path / "pkg" / "fine"
    crowded.mkdir(parents=True)
    fine.mkdir()
    for i in range(MAX_MODULES + 1):
        (crowded / f"m{i}.py").write_text("x = 1\n")
    for i in range(MAX_MODULES - 1):
        (fine / f"m{i}.py").write_text("x = 1\n" * MAX_LINES)
    (fine / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (fine / "link.py").symlink_to(fine / "long.py")
    assert crowded_folders(tmp_path / "pkg", tmp_path) == [
        f"pkg/crowded/: {MAX_MODULES + 1} modules ({', '.join(sorted(f'm{i}' for i in range(MAX_MODULES + 1)))})"]
    assert long_modules(tmp_path / "pkg", tmp_path) == [f"pkg/fine/long.py: {MAX_LINES + 1} lines"]
