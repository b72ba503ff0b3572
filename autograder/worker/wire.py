"""The grader <-> worker channel: one JSON object per line; arrays travel as .npy bytes, never pickle."""
import base64
import io
import json

import numpy as np


def _encode(value):
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        buf = io.BytesIO()
        np.save(buf, np.asarray(value), allow_pickle=False)
        return {"__npy__": base64.b64encode(buf.getvalue()).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot send a {type(value).__name__} over the worker channel")


def _array(arr):
    """An array read off the wire, refused unless each element has bytes of its own: a dtype of zero itemsize
    (``V0``) lets a 200-byte message claim a billion elements, which a later cast would allocate for real."""
    if arr.dtype.itemsize == 0 or arr.dtype.kind == "V":
        raise ValueError(f"an array of dtype {arr.dtype} is not an answer")
    return arr


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__npy__"}:
            return _array(np.load(io.BytesIO(base64.b64decode(value["__npy__"])), allow_pickle=False))
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def text_bytes(value):
    """How many characters of a decoded message are not arrays: its strings and keys, counted."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(str(k)) + text_bytes(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(text_bytes(v) for v in value)
    return 0


def dumps(message):
    return (json.dumps(_encode(message)) + "\n").encode("utf-8")


def loads(line):
    return _decode(json.loads(line))


class LineTooLong(Exception):
    """The peer sent more than the limit without ending its line."""


class LineBuffer:
    """Splits a byte stream into lines in linear time, refusing any line longer than ``limit`` bytes.

    Each byte is scanned once (the search resumes where the last one stopped), and a consumed line is cut
    from the front of a ``bytearray``, which CPython does without copying the rest.
    """

    def __init__(self, limit):
        self.limit, self.buf, self.scanned = limit, bytearray(), 0

    def feed(self, chunk):
        self.buf += chunk

    def line(self):
        """The next complete line (without its newline), or None; raises LineTooLong."""
        end = self.buf.find(b"\n", self.scanned)
        if end < 0:
            self.scanned = len(self.buf)
            if self.scanned > self.limit:
                raise LineTooLong(f"a message longer than {self.limit} bytes")
            return None
        if end > self.limit:
            raise LineTooLong(f"a message longer than {self.limit} bytes")
        line = bytes(self.buf[:end])
        del self.buf[:end + 1]
        self.scanned = 0
        return line


def read_line(sock, buffer):
    """Block until ``buffer`` holds a line from ``sock``; None when the peer has closed it."""
    while True:
        line = buffer.line()
        if line is not None:
            return line
        chunk = sock.recv(1 << 20)
        if not chunk:
            return None
        buffer.feed(chunk)
