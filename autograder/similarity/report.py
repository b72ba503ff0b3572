"""The similarity report's two renderings: ``similarity.json`` (validated against ``similarity.schema.json``) and
the instructor's page ``index.html`` (a Jinja2 template, autoescaped: student code and names are data, shown as
text, capped; the page loads nothing from anywhere)."""
import functools
import json
from pathlib import Path

import jinja2

from autograder import store

HERE = Path(__file__).resolve().parent
SCHEMA_PATH = HERE / "similarity.schema.json"
#: Most lines of each student's code shown beside the other's on the page.
SHOWN_LINES = 400


@functools.cache
def schema():
    return json.loads(SCHEMA_PATH.read_text())


def validate(data):
    """Raise jsonschema.ValidationError unless ``data`` is a similarity.json this module may write."""
    import jsonschema
    jsonschema.validate(data, schema())


@functools.cache
def _env():
    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _segments(code, slices):
    """[(text, matched)] pieces of ``code`` (whole lines, at most SHOWN_LINES), ``slices`` marking the matches."""
    lines = code.splitlines(keepends=True)
    shown = "".join(lines[:SHOWN_LINES])
    out, at = [], 0
    for start, end in sorted(slices):
        start, end = max(start, at), min(end, len(shown))
        if start >= end:
            continue
        out += [(shown[at:start], False), (shown[start:end], True)]
        at = end
    out.append((shown[at:], False))
    return [(text, matched) for text, matched in out if text], max(len(lines) - SHOWN_LINES, 0)


def write(folder, assignment, data, codes):
    """Write ``folder``/similarity.json and ``folder``/index.html; returns the page's path."""
    validate(data)
    store.write_json(Path(folder) / "similarity.json", data)
    pairs = []
    for p in data["pairs"]:
        sides = []
        for who, key in ((p["a"], "slices_a"), (p["b"], "slices_b")):
            segments, hidden = _segments(codes[who].text, p["code"][key])
            sides.append({"student": who, "segments": segments, "hidden_lines": hidden, "capped": codes[who].capped})
        pairs.append({**p, "sides": sides})
    page = _env().get_template("similarity.html.j2").render(assignment=assignment, data=data, pairs=pairs)
    return store.write_text(Path(folder) / "index.html", page)
