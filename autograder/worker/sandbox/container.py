"""The single-submission container mode: for root in a container that holds one submission and offers neither
namespaces nor Landlock (Gradescope under Docker's default seccomp profile, on a kernel without Landlock).

The worker runs as in the uid fallback (a uid of its own, a private work directory, its keeper killing every
process of that uid), with the seccomp filter as its only barrier to the network, and without Landlock. What
keeps the grader's files from it is their permissions: before the first worker starts, the grader takes every
permission for other users away from the folder the container gives it (Gradescope's ``/autograder``: the
hidden checks, the reference values, the solutions, the results), leaving only the way through (execute, not
read) to the interpreter and the venv where they live inside it.

That edit of the grader's own files is only sound in a container that is thrown away after one submission, so
the mode is never chosen by itself: the environment variable ``NF_GRADER_SINGLE_SUBMISSION`` must name that
folder (``run_autograder`` sets it).
"""
import os
import stat
from pathlib import Path

SWITCH = "NF_GRADER_SINGLE_SUBMISSION"


def folder():
    """The folder the container gives the grader, if the mode is switched on here; else None."""
    value = os.environ.get(SWITCH)
    return Path(value).resolve() if value and Path(value).is_dir() else None


def lock(folders, keep):
    """Take read, write and execute for others away from everything under ``folders``, except that the
    directories leading to a path in ``keep`` (the interpreter, the venv) keep others' execute bit."""
    keep = [Path(k).resolve() for k in keep]
    for top in folders:
        top = Path(top).resolve()
        if any(top == k or k in top.parents for k in keep):
            continue  # inside the interpreter or the venv: nothing of the grader's to hide there
        _lock(top, keep)


def _lock(path, keep):
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return
    leads = [k for k in keep if path in k.parents]
    if not leads:
        os.chmod(path, stat.S_IMODE(mode) & ~0o007)
        return
    os.chmod(path, (stat.S_IMODE(mode) & ~0o007) | 0o001)
    for entry in os.scandir(path):
        child = Path(entry.path)
        if child not in keep:
            _lock(child, keep)
