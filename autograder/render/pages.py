"""The Jinja2 environments every page is drawn with, and their filters.

The HTML environment autoescapes. The Markdown one escapes every ``<`` and every ``&`` that would start an
entity in every value (``_md_value``), and ``fence`` puts text in a fence longer than any run of backticks in it,
so no text from a submission becomes markup on a page.
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


def _md_value(value):
    """Every ``{{ }}`` value of a Markdown template: no tag and no entity from any text (a fence is already safe);
    a lone ``>`` or ``&`` stays readable in the raw file."""
    if isinstance(value, Markup):
        return value
    text = "" if value is None else str(value)
    return _ENTITY.sub("&amp;", text).replace("<", "&lt;")


def _fence(text, lang=""):
    """A fenced code block that ``text`` cannot close early."""
    longest = max((len(run) for run in re.findall(r"`+", str(text))), default=0)
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
    env.filters.update(points=_points, fence=_fence, duration=_duration, ticks=_ticks)
    env.globals.update(STATUS_WORDS=STATUS_WORDS)
    return env
