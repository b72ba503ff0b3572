"""The Jinja2 environments every page is drawn with, and their filters.

The HTML environment autoescapes. The Markdown one escapes every value (``_md_value``): no ``<`` and no ``&`` that
would start an entity, no character that would start a link, an image, emphasis or a table, no line that would
start a heading, a list or a quote; a value's line breaks are hard breaks inside the paragraph it is in. Code
spans a message marks with backticks stay code spans (their content is literal in Markdown); ``code`` makes one
of any text, and ``fence`` puts text in a fence longer than any run of backticks in it. So no text from a
submission becomes markup on a page, and it still reads as written. Every scan here is linear.
"""
import functools
import re
from pathlib import Path

import jinja2
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent / "templates"


#: How each check status reads to a student.
STATUS_WORDS = {"passed": "passed", "failed": "failed", "error": "not graded (grader error)",
                "limit": "stopped by a limit", "missing": "not run"}


_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # an & that would start an HTML entity


def _no_tags(text):
    """No tag and no entity from ``text``; a lone ``>`` or ``&`` stays readable in the raw file."""
    return _ENTITY.sub("&amp;", text).replace("<", "&lt;")


def _runs(text, ch):
    """[(start, length)] of every run of ``ch`` in ``text``."""
    runs, at = [], text.find(ch)
    while at >= 0:
        end = at
        while end < len(text) and text[end] == ch:
            end += 1
        runs.append((at, end - at))
        at = text.find(ch, end)
    return runs


#: Escaped wherever they are: emphasis, tables and the escape itself. A ``]`` is escaped where a link or an image
#: would go on (``](`` or ``][``); a ``[`` alone opens nothing.
_ANYWHERE = str.maketrans({c: "\\" + c for c in "\\*|"})
#: What starts a block when it opens a line: headings, quotes, lists, setext underlines, fences.
_LINE_START = tuple("#>-+=~")


def _escape_runs(text, ch, keep):
    """``text`` with every run of ``ch`` escaped, except those ``keep(text, start, end)`` keeps."""
    pieces, pos = [], 0
    for start, length in _runs(text, ch):
        end = start + length
        pieces += [text[pos:start], text[start:end] if keep(text, start, end) else ("\\" + ch) * length]
        pos = end
    return "".join(pieces) + text[pos:]


def _inside_a_word(text, start, end):  # an underscore run between two letters or digits never makes emphasis
    return start > 0 and end < len(text) and text[start - 1].isalnum() and text[end].isalnum()


def _escape_text(text, at_line_start):
    """Markdown that shows ``text`` (which holds no backtick) as it is."""
    out = text.translate(_ANYWHERE).replace("](", "\\](").replace("][", "\\][")
    out = _escape_runs(out, "_", _inside_a_word)
    out = _escape_runs(out, "~", lambda text, start, end: end - start == 1)  # ~~ is strikethrough
    if at_line_start:
        out = out.lstrip(" \t")
        digits = len(out) - len(out.lstrip("0123456789"))
        if out.startswith(_LINE_START):
            out = "\\" + out
        elif digits and out[digits:digits + 1] in (".", ")"):
            out = out[:digits] + "\\" + out[digits:]
    return out


def _md_line(line, at_line_start):
    """One line of a value: every code span it marks (a run of backticks and the next run of the same length, as
    CommonMark pairs them) kept, every other backtick and all the text around them escaped."""
    runs = _runs(line, "`")
    closer, after = {}, {}  # run -> the next run of its length; length -> the nearest run of it seen so far
    for i in range(len(runs) - 1, -1, -1):
        closer[i], after[runs[i][1]] = after.get(runs[i][1]), i
    pieces, pos, i = [], 0, 0
    while i < len(runs):
        start, length = runs[i]
        pieces.append(_escape_text(line[pos:start], at_line_start and pos == 0))
        if closer[i] is None:  # no closing run: literal backticks
            pieces.append("\\`" * length)
            pos, i = start + length, i + 1
        else:
            pos = runs[closer[i]][0] + length
            pieces.append(line[start:pos])
            i = closer[i] + 1
    pieces.append(_escape_text(line[pos:], at_line_start and pos == 0))
    return "".join(pieces)


def _md_value(value):
    """Every ``{{ }}`` value of a Markdown template (a Markup one, such as a fence, is already safe)."""
    if isinstance(value, Markup):
        return value
    lines = [line for line in _no_tags("" if value is None else str(value)).splitlines() if line.strip()]
    return "\\\n".join(_md_line(line, n > 0) for n, line in enumerate(lines))


def _code(text):
    """An inline code span that shows ``text`` literally, on one line."""
    text = " ".join(_no_tags("" if text is None else str(text)).splitlines())
    if not text:
        return Markup("")
    bar = "`" * (max((n for _, n in _runs(text, "`")), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""  # CommonMark strips one space from each side
    return Markup(f"{bar}{pad}{text}{pad}{bar}")


def _fence(text, lang=""):
    """A fenced code block that ``text`` cannot close early."""
    longest = max((n for _, n in _runs(str(text), "`")), default=0)
    bar = "`" * max(3, longest + 1)
    return Markup(f"{bar}{lang}\n{text}\n{bar}")


def _points(value):
    return f"{value:g}"


def _ticks(text):
    """HTML for a message that marks code with Markdown backticks: escaped first, then `x` becomes <code>x</code>."""
    escaped = str(Markup.escape("" if text is None else text))
    return Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped))


def _duration(minutes):
    """How late, in the unit a person would use."""
    if minutes < 120:
        return f"{minutes:.0f} minutes"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} hours"
    return f"{minutes / 1440:.1f} days"


@functools.cache
def env(kind):
    """The Jinja2 environment for ``html`` (autoescape) or ``md`` templates."""
    if kind == "html":
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    else:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                                 finalize=_md_value, undefined=jinja2.StrictUndefined,
                                 trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(points=_points, fence=_fence, code=_code, duration=_duration, ticks=_ticks)
    env.globals.update(STATUS_WORDS=STATUS_WORDS)
    return env
