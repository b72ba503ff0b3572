"""The feedback page and the instructor report as a person sees them: drawn by headless Chromium.

Results are built directly (no grading run), so these tests are fast; tests/term/test_autograder.py draws the pages
of a real batch. Set NF_SCREENSHOTS=DIR to keep the PNGs for a look.
"""

import pytest
from browser import dom, ink, keep, png_size, screenshot

from autograder import course, grade, render, results, store
from autograder.submissions import intake
from autograder.render import report

ASSIGNMENT = "normalising_flows"
ATTACK = "<img src=x onerror=\"document.title='PWNED'\"><script>document.title='PWNED'</script>"


def _student(kind):
    checks = grade.check_results(ASSIGNMENT, "passed")
    r = results.SubmissionResult(assignment=ASSIGNMENT, checks=checks, manual=course.manual_cells(ASSIGNMENT),
                                 sandbox="namespaces (test)")
    if kind == "mistake":
        catalogue = course.protocol(ASSIGNMENT).MISTAKES
        mid = next(iter(catalogue))
        c = next(c for c in checks if c.item == catalogue[mid]["item"])
        c.status, c.mistake = "failed", mid
        c.message = catalogue[mid]["message"] + ". See the notes: " + catalogue[mid]["section"] + "."
    elif kind == "limit":
        for c in checks:
            if c.item == "affine_coupling_layer":
                c.status, c.message = "limit", "the worker running your code stopped: it was killed (SIGKILL)"
        r.notes.append(results.Note("limit", "your answer to exercise `affine_coupling_layer` was skipped: while "
                                    "running it, the worker running your code stopped", "exercise"))
    elif kind == "hostile":
        checks[0].status, checks[0].message = "failed", "your code raised ValueError: " + ATTACK
        r.notes.append(results.Note("cell_error", "NameError: " + ATTACK, "the cell starting `x = 1`"))
        r.cell_output = ATTACK + "\n" + "printed line\n" * 5
        r.lateness = intake.lateness("2026-03-03T12:00:00Z", "2026-03-02T23:59:00Z", {"grace_minutes": 5})
    elif kind == "missing":
        r = grade.not_graded(ASSIGNMENT, "missing", "Nothing was submitted for this assignment.", 0)
    return r


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("pages")
    rows = {kind: _student(kind) for kind in ("complete", "mistake", "limit", "hostile", "missing")}
    for student, r in rows.items():
        render.student(store.Store(out), ASSIGNMENT, student, r)
    index = report.write_instructor_report(rows, out / ASSIGNMENT / "report", ASSIGNMENT)
    return out, rows, index


def test_the_feedback_page_renders_and_shows_the_score_and_failures(pages, tmp_path):
    out, rows, _ = pages
    page = out / "feedback" / "limit" / ASSIGNMENT / "feedback.html"
    png = screenshot(page, tmp_path / "feedback_limit.png")
    keep(png)
    assert png_size(png) == (1200, 1600) and ink(png) > 0.01
    text = dom(page)
    assert f"Automatically graded score: {rows['limit'].auto_score:g} / {rows['limit'].auto_max:g}" in text
    assert "stopped by a limit" in text and "cell 5" not in text
    assert "your answer to exercise <code>affine_coupling_layer</code> was skipped" in text


def test_text_from_a_submission_never_becomes_markup_in_the_browser(pages, tmp_path):
    out, _, _ = pages
    page = out / "feedback" / "hostile" / ASSIGNMENT / "feedback.html"
    keep(screenshot(page, tmp_path / "feedback_hostile.png"))
    text = dom(page)
    assert "PWNED" not in text.split("<title>")[1].split("</title>")[0]  # no script ran, no handler fired
    assert "<img src=\"x\"" not in text and "<script>document" not in text
    assert "&lt;script&gt;document.title" in text  # shown as text instead
    assert "Submitted late" in text


def test_the_instructor_report_renders_with_its_plots(pages, tmp_path):
    out, rows, index = pages
    png = screenshot(index, tmp_path / "instructor_report.png")
    keep(png)
    assert ink(png) > 0.02
    text = dom(index)
    assert f"Instructor report: {ASSIGNMENT}, {len(rows)} submissions" in text
    for student in ("limit", "missing"):
        assert f"<li>{student}:" in text or student in text.split("submitted nothing")[1]
    assert "1 submitted late" in text and "Re-teach first" in text
    for png_name in ("scores.png", "pass_rates.png", "mistakes.png"):
        assert (index.parent / png_name).stat().st_size > 1000 and f'src="{png_name}"' in text
