"""Read a submission once: its bytes (``notebooks.submission_bytes``: no links, no FIFOs, capped), the notebook
parsed from them, and, when either fails, why. Every later step of grading takes this object, never the path, so
the file is opened once and parsed once, and the digest in its fingerprint is of the very bytes that were graded.
"""
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import course_config
from autograder import notebooks


@dataclass(frozen=True)
class Submission:
    """A submitted file as read: ``data`` None when it could not be read, ``nb`` None when it is no notebook
    (``error``, a notebooks.NotebookError, says why in either case)."""
    path: Path
    data: Optional[bytes] = None
    nb: Any = None
    error: Optional[notebooks.NotebookError] = None

    @property
    def digest(self):
        """The SHA-256 of the bytes read, or None when there were none (a missing or refused file)."""
        return hashlib.sha256(self.data).hexdigest() if self.data is not None else None


def read(path, max_bytes=None, within=None):
    """The Submission at ``path`` (never raises for bad input): no symbolic link below the folder ``within`` is
    followed, and at most ``max_bytes`` (``course_config.GRADING["submission_bytes"]``) are read."""
    path = Path(path)
    limit = course_config.GRADING["submission_bytes"] if max_bytes is None else max_bytes
    try:
        data = notebooks.submission_bytes(path, limit, within)
    except notebooks.NotebookError as e:
        return Submission(path, error=e)
    try:
        return Submission(path, data, notebooks.read(path, data))
    except notebooks.NotebookError as e:
        return Submission(path, data, error=e)
