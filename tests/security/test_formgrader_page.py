"""formgrader's page of a submission, as a TA's browser shows it: no markup a student wrote runs there.

``batch --gradebook`` writes the autograded notebook (results built directly, no grading run, so this is fast);
the page is rendered the way formgrader renders it (nbconvert's HTMLExporter with formgrader's template and the
course's nbgrader config) and loaded in headless Chromium, whose DOM after loading shows whether a script ran.
"""
import json

import nbformat
from browser import dom

from autograder import course, grade, notebooks, results
from autograder.authoring import examples
from autograder.integrations import gradebook

A = "normalising_flows"
#: Each payload, if it ran, would set the page's title or an attribute of the body.
PAYLOADS = {
    "script": "<script>document.title='xss-script'</script>",
    "onerror": "<img src=missing.png onerror=\"document.body.setAttribute('data-xss', 'onerror')\">",
    "svg": "<svg><svg onload=\"document.title='xss-svg'\"></svg></svg>",
    "link": "[see my figure](javascript:document.title='xss-link')",
}
ANSWER = "Two modes helped: **the NLL fell** from $1.31$ to $1.12$.\n\n" + "\n\n".join(PAYLOADS.values())


def _formgrader_html(notebook, resources):
    """The page formgrader's SubmissionHandler serves for ``notebook`` (its exporter, template and config)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    config = gradebook.nbgrader_config()
    config.HTMLExporter.template_name = "formgrade"  # FormgradeExtension.build_extra_config
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    html, _ = HTMLExporter(config=config).from_filename(str(notebook), resources=resources)
    return html


def test_a_students_markup_never_runs_in_formgrader(tmp_path):
    nb = examples.notebook("solutions")
    for cell in nb.cells:
        if notebooks.grade_meta(cell).get("grade_id") == "bimodal_discussion":
            cell.source = ANSWER
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(PAYLOADS["onerror"]))  # a cell of the student's own
    nb.cells.insert(2, nbformat.v4.new_raw_cell(PAYLOADS["script"], metadata={"format": "text/html"}))
    submission = tmp_path / "submitted" / "mallory" / A / f"{A}.ipynb"
    submission.parent.mkdir(parents=True)
    nbformat.write(nb, str(submission))
    result = results.SubmissionResult(assignment=A, checks=grade.check_results(A, "passed"),
                                      manual=course.manual_cells(A), sandbox="namespaces (test)")
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    autograded = gradebook.write({"mallory": result}, A, db, {"mallory": submission}, root=tmp_path)
    written = autograded / "mallory" / A / f"{A}.ipynb"
    sources = ["".join(c["source"]) for c in json.loads(written.read_text())["cells"]]
    assert not [s for s in sources if "<script" in s or "<svg" in s or " onerror=" in s or "](javascript:" in s]

    page = written.with_suffix(".html")
    page.write_text(_formgrader_html(written, {"base_url": "", "student": "mallory", "assignment_id": A,
                                               "notebook_id": A, "index": 0, "total": 1}))
    shown = dom(page)
    title = shown.split("<title>")[1].split("</title>")[0]
    assert "xss" not in title and "data-xss" not in shown  # no script ran, no handler fired
    assert "href=\"javascript:" not in shown and ">see my figure</a>" in shown  # the link lost its URL only
    # the answer is there for the TA to read, hostile markup shown as text, honest Markdown rendered
    assert "<strong>the NLL fell</strong>" in shown and "&lt;script&gt;document.title='xss-script'&lt;/script&gt;" in shown
