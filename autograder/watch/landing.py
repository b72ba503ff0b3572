"""Which submissions have landed whole in a watched folder, and when.

Two layouts:

* nbgrader's ``submitted/<student>/<assignment>/`` (``collect`` writes it): a submission is the notebook of an
  assignment folder with what lies beside it (``timestamp.txt``, ``submission_secret.txt``).
* the exchange's inbound folder, ``EXCHANGE_ROOT/COURSE_ID/inbound`` (``--exchange``), as nbgrader 0.9.6's
  ``ExchangeSubmit`` writes it: one folder per submission named ``<student>+<assignment>+<timestamp>[+<random>]``,
  the notebooks copied first, then ``timestamp.txt``, then ``submission_secret.txt``. A folder without the secret
  is still being written. A student's newest timestamp is their submission (as ``nbgrader collect`` takes it).

In ``submitted/`` a submission is read only once it has *settled*: the names, sizes and mtimes of its folder's
files have not changed for ``settle`` seconds, so a file still being copied is never read half-way. In the exchange
the secret says the copy is complete, and ``settle`` (0 by default there) only adds a wait. Nothing here follows
a symbolic link; a notebook is read later, once, by ``notebooks.submission_bytes`` (which refuses links too).
"""
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import course
from autograder.submissions import intake

SECRET_FILE = "submission_secret.txt"


@dataclass(frozen=True)
class Landed:
    """One submission that has landed: its key, notebook, folder and the newest mtime of its files (epoch s)."""
    assignment: str
    student: str
    notebook: Path
    folder: Path
    landed: float
    signature: tuple


def _is_dir(path):
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def signature(folder):
    """(name, size, mtime_ns) of each regular file in ``folder``, sorted; links and folders are listed by name."""
    out = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return ()
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        out.append((entry.name, st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else (entry.name, -1, 0))
    return tuple(out)


def _notebook(folder, assignment):
    nbs = sorted(Path(folder).glob("*.ipynb"))
    preferred = [p for p in nbs if p.name == course.notebook_name(assignment)]
    return (preferred or nbs or [Path(folder) / course.notebook_name(assignment)])[0]


def _submitted(directory, assignments):
    """{(assignment, student): folder} in nbgrader's submitted/ layout."""
    found = {}
    for entry in sorted(Path(directory).iterdir()):
        if entry.name.startswith(".") or not _is_dir(entry) or intake.name_problem(entry.name):
            continue
        for folder in sorted(entry.iterdir()):
            if folder.name in assignments and _is_dir(folder):
                found[(folder.name, entry.name)] = folder
    return found


def inbound_name(name):
    """(student, assignment, timestamp) of an inbound folder's name, or None when it is not one of nbgrader's."""
    parts = name.split("+")
    if len(parts) not in (3, 4) or not all(parts[:3]):
        return None
    return parts[0], parts[1], parts[2]


def _inbound(directory, assignments):
    """{(assignment, student): folder}: each student's newest complete submission in the exchange's inbound."""
    from nbgrader.utils import parse_utc
    newest = {}
    for entry in Path(directory).iterdir():
        parsed = inbound_name(entry.name)
        if not parsed or not _is_dir(entry) or parsed[1] not in assignments or intake.name_problem(parsed[0]):
            continue
        try:  # submit writes the secret last, in one write: until it is there, the folder is being copied
            secret = os.lstat(entry / SECRET_FILE)
        except OSError:
            continue
        if not stat.S_ISREG(secret.st_mode) or not secret.st_size:
            continue
        student, assignment, stamp = parsed
        try:
            when = parse_utc(stamp)
        except (ValueError, OverflowError):
            continue
        key = (assignment, student)
        if key not in newest or (when, entry.name) > newest[key][0]:
            newest[key] = ((when, entry.name), entry)
    return {key: folder for key, (_, folder) in newest.items()}


class Landing:
    """The settled submissions of a watched folder, polled: ``poll()`` returns every settled one."""

    def __init__(self, directory, exchange=False, assignments=None, settle=None):
        import course_config
        self.directory, self.exchange = Path(directory), exchange
        self.settle = (0.0 if exchange else 1.0) if settle is None else settle
        self.assignments = tuple(assignments or course_config.ASSIGNMENTS)
        self._seen = {}  # folder -> (signature, monotonic time it was first seen with that signature)

    def poll(self, now=None):
        now = time.monotonic() if now is None else now
        found = (_inbound if self.exchange else _submitted)(self.directory, self.assignments)
        out, seen = [], {}
        for (assignment, student), folder in sorted(found.items()):
            sig = signature(folder)
            newest = max((m for _, size, m in sig if size >= 0), default=0) / 1e9
            first = self._seen.get(folder)
            since = first[1] if first and first[0] == sig else now
            if first is None and time.time() - newest >= self.settle:  # already still before we looked
                since = now - self.settle
            seen[folder] = (sig, since)
            if not sig or now - since < self.settle:
                continue
            out.append(Landed(assignment, student, _notebook(folder, assignment), folder, newest, sig))
        self._seen = seen
        return out
