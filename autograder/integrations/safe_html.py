"""Student Markdown as formgrader shows it, with nothing in it that runs in a TA's browser.

nbgrader's formgrader renders each markdown cell of an autograded notebook with nbconvert's ``markdown2html``,
which passes raw HTML through (``HTMLExporter.sanitize_html`` is off by default, and formgrader's own template
ignores it for markdown cells): a written answer holding ``<script>`` or ``onerror=`` would run in the TA's
browser, with the TA's session. Every markdown cell we write into ``autograded/`` (and every one formgrader
renders, through ``SanitiseMarkdown`` in course_config.py) goes through ``markdown``:

* a cell whose rendering bleach leaves exactly as it is (tags, attributes and URLs all on the allow-list below)
  is kept as written, so an honest answer and the notes keep their Markdown;
* any other cell is replaced by its rendering as bleach cleans it: a tag off the list is shown as text (the TA
  sees ``<script>`` written out), an event attribute, a ``javascript:`` link or a remote image is dropped. The
  cleaned HTML is written as one line inside a ``<div>``, which Markdown passes through unchanged;
* a cell longer than ``RENDER_CHARS`` is not rendered at all (Markdown is parsed by regular expressions): its
  first ``RENDER_CHARS`` characters are shown escaped, with the number left out.

Raw cells (which the HTML export writes out verbatim when their format is HTML) are escaped.
"""
import html

import bleach
from bleach.css_sanitizer import CSSSanitizer
from nbconvert.preprocessors import Preprocessor

#: The longest markdown cell that is rendered; a longer one is shown as escaped text.
RENDER_CHARS = 64 * 1024

TAGS = bleach.ALLOWED_TAGS | {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "div", "span", "img", "table", "thead", "tbody",
    "tr", "th", "td", "del", "sup", "sub", "dl", "dt", "dd"}
_CSS = CSSSanitizer(allowed_css_properties=["width", "height", "text-align"])


def _local(url):
    """A URL inside the course folder (a figure next to the notebook), not one that leaves it."""
    head = url.strip().split("/", 1)[0]
    return ":" not in head and not url.strip().startswith(("//", "\\"))


def _attribute(tag, name, value):
    if name == "title" or (name == "id" and tag in ("a", "h1", "h2", "h3", "h4", "h5", "h6")):
        return True
    if name == "class":
        return tag in ("a", "code", "span", "div", "pre")
    if tag == "a":
        return name == "href"
    if tag == "img":
        return name in ("alt", "width", "height", "style") or (name == "src" and _local(value))
    return tag in ("td", "th") and name in ("align", "style")


_CLEANER = bleach.Cleaner(tags=TAGS, attributes=_attribute, protocols=bleach.ALLOWED_PROTOCOLS,
                          strip=False, strip_comments=True, css_sanitizer=_CSS)


def _one_block(cleaned):
    """HTML that Markdown passes through unchanged: a single line starting with ``<div>`` (an HTML block ends
    only at a blank line); a newline becomes its character reference, which HTML reads back as a newline."""
    return "<div>" + cleaned.replace("\r", "&#13;").replace("\n", "&#10;") + "</div>"


def markdown(source):
    """A markdown cell's source, made safe to render: itself when bleach would change nothing in its
    rendering, else the cleaned rendering as one HTML block."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    if len(source) > RENDER_CHARS:
        cut = len(source) - RENDER_CHARS
        return _one_block(f"<pre>{html.escape(source[:RENDER_CHARS])}</pre>"
                          f"<p>({cut} more characters of this cell are not shown)</p>")
    rendered = markdown2html_mistune(source)
    cleaned = _CLEANER.clean(rendered)
    return source if cleaned == rendered else _one_block(cleaned)


class SanitiseMarkdown(Preprocessor):
    """Every markdown cell made safe to render (``markdown``), every raw cell escaped. In nbgrader's pipeline
    after ``autograde``'s steps (``gradebook.write_autograded``), and in formgrader's HTML export
    (``c.HTMLExporter.preprocessors`` in course_config.py), so a notebook written by any path is covered."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and isinstance(cell.source, str):
            safe = markdown(cell.source)
            if safe != cell.source:
                cell.source = safe
                cell.pop("attachments", None)
        elif cell.cell_type == "raw" and isinstance(cell.source, str):
            cell.source = html.escape(cell.source)
        return cell, resources
