"""Student text, capped: whatever a submission raises or prints, a result keeps at most ``TEXT_BYTES`` of each text,
with a note saying how much was cut (``capped``). Used where a result's texts are set (``CappedText``, the base of
``results``' dataclasses), where its results.json is built (``within``) and, for the student's sake, in the worker
before it sends an error (a long message then costs its text, not the worker).
"""
import json

#: The most UTF-8 bytes one text of a result keeps (a check's message, a note, a reason, the printed output).
TEXT_BYTES = 64 * 2**10


def capped(text, limit=TEXT_BYTES):
    """``text`` cut to at most ``limit`` bytes of UTF-8, ending with a note that says how many bytes were cut.
    Cutting a cut text again leaves it as it is (a record read back renders the same)."""
    if not isinstance(text, str) or len(text) * 4 <= limit:
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    keep = max(limit - 64, 0)
    kept = _whole_words(data[:keep].decode("utf-8", "ignore"), data[keep:keep + 1] not in b" \t\r\n")
    return kept + f" [... cut here: {len(data) - len(kept.encode('utf-8', 'surrogatepass'))} more bytes]"


#: How a text cut short for a page or a line says so (``shortened``).
CUT = " [...]"


def _whole_words(head, mid_word, slack=200):
    """``head``, the start of a longer text, without the word it ends in the middle of (``mid_word``: the text goes on
    with no space): cut at its last whitespace when that is within its last ``slack`` characters (a longer run
    without a space, a path or a token, is cut where it is), without trailing whitespace."""
    if mid_word and head and not head[-1].isspace():
        space = max(head.rfind(" ", max(len(head) - slack, 0)), head.rfind("\n", max(len(head) - slack, 0)))
        head = head[:space] if space > 0 else head
    return head.rstrip()


def shortened(text, width):
    """``text`` in at most ``width`` characters: whole, or cut after the last whole word that fits, ending with CUT
    to say so. Never in the middle of a word, unless its first word alone is longer than ``width``."""
    text = str(text)
    if len(text) <= width:
        return text
    room = max(width - len(CUT), 1)
    return _whole_words(text[:room], not text[room].isspace(), slack=room) + CUT


class CappedText:
    """A record whose text fields (``_CAPPED``) are cut to TEXT_BYTES whenever they are set: by ``__init__``, by
    ``from_gradescope`` or by a later assignment (the pytest plugin fills a check's message as the check ends)."""
    _CAPPED = ()

    def __setattr__(self, name, value):
        if name in self._CAPPED:
            value = capped(value)
        object.__setattr__(self, name, value)


def _size(data):
    """Bytes of ``data`` written as ``store.write_json`` writes it (every non-ASCII character escaped)."""
    return len(json.dumps(data, indent=1))


def _cut_texts(value, limit):
    if isinstance(value, str):
        return capped(value, limit)
    if isinstance(value, dict):
        return {k: _cut_texts(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_texts(v, limit) for v in value]
    return value


def within(data, budget):
    """``data`` (JSON) in at most ``budget`` bytes as ``store.write_json`` writes it: while it is larger, every text
    in it is cut to a quarter of the last cap, down to 256 bytes a text (results.json: its tests and notes are
    bounded by the notebook and ``grade.assemble``, so that always fits in 1 MiB)."""
    limit = TEXT_BYTES
    while _size(data) > budget and limit > 256:
        limit //= 4
        data = _cut_texts(data, limit)
    return data


#: The most characters of a written answer a grader is shown on Gradescope (``answer_text``); the whole answer
#: stays in the submitted notebook.
ANSWER_CHARS = 20_000

#: C0 controls but tab and newline, DEL, C1 controls, and lone surrogates (which no UTF-8 reader takes): dropped.
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0),
                           *range(0xD800, 0xE000)])


def plain(text):
    """``text`` with nothing in it but printable characters, tabs and newlines: ``\\r\\n`` and ``\\r`` become newlines,
    every other control character and any lone surrogate is dropped. One pass of ``str.translate``, no regex."""
    return str(text).replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)


def answer_text(text, limit=ANSWER_CHARS):
    """A student's written answer as graders read it: ``plain``, and at most ``limit`` characters, ending with a note
    that says how much was cut and where the rest is. Doing it again changes nothing (a result read back renders the
    same)."""
    text = plain(text)
    if len(text) <= limit:
        return text
    keep = _whole_words(text[:limit - 200], not text[limit - 200].isspace())
    return keep + (f"\n\n[... cut here: {len(text) - len(keep)} more characters. The whole answer is in the "
                   "submitted notebook.]")
