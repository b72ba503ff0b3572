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


#: The deepest nesting of lists and objects a message may have. Answers are a few levels deep; json.loads and
#: ``_decode`` recurse once per level, so a line of 100,000 ``[`` would raise RecursionError in the grader.
MAX_DEPTH = 64
#: Every byte but the four brackets and the quote, for bytes.translate to delete.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
#: An opening bracket as the step +1, a closing one as -1 (the byte 255 read as int8).
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class TooDeep(ValueError):
    """A message nested deeper than MAX_DEPTH: a protocol error, found before any parser recurses."""


def deeper_than(line, limit):
    """Whether the lists and objects of a JSON text nest more than ``limit`` deep, found without recursion, in time
    linear in its length (bytes methods and numpy reductions over 1 MiB pieces). Brackets inside strings do not
    count. For text that is not JSON it is the answer for its longest valid prefix or more, all a parser reaches."""
    line = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else bytes(line)
    if line.count(b"[") + line.count(b"{") <= limit:  # cannot nest deeper: every real answer stops here
        return False
    # Escapes first: a run of backslashes escapes in pairs, then a lone one before a quote keeps the string open.
    plain = line.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(plain.translate(None, _NOT_STRUCTURE).split(b'"')[::2])
    level = 0
    for at in range(0, len(outside), 1 << 20):
        levels = np.cumsum(np.frombuffer(outside[at:at + (1 << 20)].translate(_STEPS), np.int8), dtype=np.int64)
        if level + levels.max() > limit:
            return True
        level += int(levels[-1])
    return False


def loads(line):
    """The message of one line; raises ValueError (TooDeep for a nesting bomb) for anything that is not one. A line
    is UTF-8: json.loads would also read UTF-16 or UTF-32 bytes, in which ``deeper_than`` sees no escapes."""
    text = line if isinstance(line, str) else bytes(line).decode("utf-8")
    if deeper_than(line, MAX_DEPTH):
        raise TooDeep(f"a message nested more than {MAX_DEPTH} deep")
    return _decode(json.loads(text))


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
