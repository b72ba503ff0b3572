"""Student text is data on every path: never matched by a backtracking regex, never markup, never a crash."""
import json
import subprocess
import sys
import textwrap

import nbformat
from markdown_it import MarkdownIt

import course_config
from autograder.authoring import examples

ASSIGNMENT = "normalising_flows"


def _in_a_subprocess(code, *args, timeout=120):
    """Run ``code`` in a fresh interpreter; what it prints as JSON. A hang (the old regex) fails the test."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                          text=True, cwd=course_config.ROOT, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


# ---- no regex backtracks on student text ----------------------------------------------------------------------
PATHOLOGICAL_HEADINGS = ["# a" + " " * 20_000 + "b",              # 2,500 spaces cost the old regex 42 s
                         "# a" + " " * 20_000 + "#b",
                         "#" + " " * 20_000 + "b" + " " * 20_000 + "#" * 20_000,
                         "   #\t" + "\t " * 20_000 + "#",
                         ("#" * 6 + " ") * 20_000]


def test_a_heading_of_20000_spaces_is_read_at_once(tmp_path):
    """A notebook whose markdown holds headings made to make a backtracking regex take hours is read at once,
    and the cell below each is labelled with the heading's text."""
    nb = examples.notebook("release")
    for n, heading in enumerate(PATHOLOGICAL_HEADINGS):
        nb.cells += [nbformat.v4.new_markdown_cell("## Real section\n\n" + heading),
                     nbformat.v4.new_code_cell(f"mine_{n} = 1")]
    nb.cells += [nbformat.v4.new_markdown_cell("# a" + " " * 20_000 + "\n### Last   ###  \n" + "x " * 20_000),
                 nbformat.v4.new_code_cell("last = 1"),
                 nbformat.v4.new_code_cell("EPOCHS" + " " * 20_000 + "\n" * 20_000 + "A" * 20_000)]
    path = tmp_path / "s.ipynb"
    nbformat.write(nb, str(path))
    labels = _in_a_subprocess("""
        import json, sys
        from autograder import extract, notebooks
        print(json.dumps(extract.labelled_code(notebooks.read(sys.argv[1]), "normalising_flows").labels))
        """, path, timeout=60)
    sections = [_last_heading(c.source) for c in nb.cells[-2 * len(PATHOLOGICAL_HEADINGS) - 3:-1:2]]
    assert sections[:4] == ["a" + " " * 20_000 + "b", "a" + " " * 20_000 + "#b", "b", "Real section"]  # 4th: empty
    assert sections[-1] == "Last"
    assert labels[-len(sections) - 1:-1] == [f'the cell starting `{c.source}` in section "{_shown(section)}"'
                                             for c, section in zip(nb.cells[-2 * len(sections):-1:2], sections)]


def _last_heading(markdown):
    """The last non-empty heading of a Markdown cell, as CommonMark reads it (markdown-it-py, block rules only)."""
    tokens = MarkdownIt("commonmark").disable("inline").parse(markdown)
    found = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and tokens[i + 1].content]
    return found[-1]


def _shown(text, width=50):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."
