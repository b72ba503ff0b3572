"""What a student is told when a check fails: the failures, the words for an error of their code, the notes' sections.

Part of the shared checks (``checks_core`` re-exports every name), shipped with each release.
"""
import contextlib
import logging
import warnings


class CheckFailure(AssertionError):
    """A check failed; the message is written for the student. ``mistake`` names a catalogued mistake."""

    def __init__(self, message, mistake=None):
        super().__init__(message)
        self.mistake = mistake


class QuestionError(Exception):
    """A request could not be answered from the student's objects (message says why)."""


def catalogued(catalogue, mistake_id, detail=""):
    """A CheckFailure for a catalogued mistake, with its message and where the notes explain it."""
    entry = catalogue[mistake_id]
    text = entry["message"] + (f" ({detail})" if detail else "") + f". See the notes: {entry['section']}."
    return CheckFailure(text, mistake_id)


@contextlib.contextmanager
def quiet():
    """Silence Python warnings and TF/absl logging (nbgrader zeroes a test cell that writes to stderr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = logging.getLogger("tensorflow").level
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        try:
            yield
        finally:
            logging.getLogger("tensorflow").setLevel(old)


#: How much of an error's text is cleaned (its first line, at most 300 characters, is all that is kept).
_ERROR_TEXT_CHARS = 8192


def _without_runs(text, start, end):
    """``text`` without each run from ``start`` to the next ``end`` (one pass, no regular expression)."""
    out, i = [], 0
    while (j := text.find(start, i)) >= 0 and (k := text.find(end, j + len(start))) >= 0:
        out.append(text[i:j])
        i = k + len(end)
    return "".join(out) + text[i:]


def _without_op_tags(text):
    """``text`` without TensorFlow's ``[Op:Name]`` tags, the white space before them and a ``name: ...`` after."""
    while (j := text.find("[Op:")) >= 0 and (k := text.find("]", j)) >= 0:
        tail = text[k + 1:].lstrip()
        if tail.startswith("name:"):
            tail = tail[tail.find("\n"):] if "\n" in tail else ""
        text = text[:j].rstrip() + tail
    return text


def clean_error_text(text):
    """An error's text without TensorFlow's internals: no ``{{function_node ...}}`` prefix, no ``[Op:...]``
    tag, no graph traceback; its first line only, cut to a readable length."""
    text = _without_op_tags(_without_runs(str(text)[:_ERROR_TEXT_CHARS], "{{", "}}"))
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith("in user code"):  # an error inside tf.function: its last line says what
        lines = lines[-1:]
    first = lines[0] if lines else ""
    return first if len(first) <= 300 else first[:297] + "..."


def student_error_message(e):
    """Words for an exception raised by the student's code (never TensorFlow's raw error text)."""
    return "your code " + error_words(type(e).__name__, e)


def error_words(name, text):
    """``raised <name>: "<first line of text>"``, with a hint when it is the release's stub. The library's (or the
    student's) text is quoted inside our sentence, its backticks made plain quotes so none is left unbalanced."""
    detail = clean_error_text(text).replace("`", "'")
    words = f"raised {name}" + (f': "{detail}"' if detail else "")
    if name == "NotImplementedError":
        words += " (the `raise NotImplementedError()` stub is still in place: replace it with your answer)"
    return words


def section_of(sections, test_id):
    """The section of the notes for a test cell: that of the longest exercise name its grade_id starts with."""
    items = [item for item in sections if test_id == item or test_id.startswith(item + "_")]
    return sections[max(items, key=len)] if items else None


def with_section(failure, section):
    """``failure`` with the section of the notes to read again, when its message does not name one yet (a
    catalogued mistake's message does: ``catalogued``)."""
    if not section or "See the notes:" in str(failure):
        return failure
    return CheckFailure(f"{str(failure).rstrip()} See the notes: {section}.", failure.mistake)
