"""Written answers on Gradescope: each one's text reaches results.json in a test of 0 points that only graders see.

Fast: the Gradescope door (``integrations.gradescope.grade_submission``) runs on a simulated /autograder tree with
the grading itself stood in for (``batch.grade_file`` returns a constructed result, every check passed), so no
TensorFlow and no worker start; everything after it (reading the answers, rendering, writing results.json) is the
real path. The end-to-end run is ``test_gradescope.py``'s (slow tier).
"""
import json

import jsonschema
import nbformat
import pytest
from conftest import read_results

import course_config
from autograder import batch, course, grade, notebooks, render, results
from autograder.authoring import examples
from autograder.integrations import gradescope
from autograder.text import ANSWER_CHARS

A = "normalising_flows"
[(QUESTION, POINTS)] = course.manual_cells(A)


def answered(text):
    """The release notebook with ``text`` as the written answer (the auto-graded cells left as released)."""
    nb = examples.notebook("release", A)
    next(c for c in nb.cells if notebooks.grade_meta(c).get("grade_id") == QUESTION).source = text
    return nb


def verdict(status="graded"):
    """A result whose every check passed, as grading gives it (no written answers read)."""
    return results.SubmissionResult(assignment=A, checks=grade.check_results(A, "passed"),
                                    manual=course.manual_cells(A), status=status)


def constructed(path, assignment=None, unsafe=False, submission=None):
    """What batch.grade_file would give for ``submission`` if it passed every check (no worker, no TensorFlow)."""
    return verdict("graded" if submission.nb is not None else "missing")


def door(tmp_path, monkeypatch, nb=None, raw=None):
    """results.json (schema-checked) of the Gradescope door for the submission ``nb`` (or the file text ``raw``)."""
    monkeypatch.setattr(batch, "grade_file", constructed)
    (tmp_path / "submission").mkdir(parents=True)
    if nb is not None:
        nbformat.write(nb, str(tmp_path / "submission" / f"{A}.ipynb"))
    if raw is not None:
        (tmp_path / "submission" / f"{A}.ipynb").write_text(raw, encoding="ascii")
    assert gradescope.grade_submission(tmp_path, A) == 0
    return read_results(tmp_path / "results" / "results.json")


def written_tests(data):
    return [t for t in data["tests"] if t["extra_data"].get("written")]


def test_the_written_answer_reaches_results_json_in_a_test_of_no_points_for_graders(tmp_path, monkeypatch):
    text = "A base with two modes already has a valley between them.\n\nSo the flow only bends each blob."
    data = door(tmp_path, monkeypatch, answered(text))
    [t] = written_tests(data)
    assert t["output"] == text and t["output_format"] == "text"
    assert t["score"] == t["max_score"] == 0 and t["status"] == "passed"
    assert t["visibility"] == course_config.GRADESCOPE["written_answer_visibility"] == "after_published"
    assert t["name"].startswith(f"{QUESTION}: written answer ({POINTS:g} points, graded by hand)")
    assert t["tags"] == [QUESTION] and t["extra_data"]["answer"] == "answered"
    assert text not in data["output"]  # the feedback students read does not carry it
    numbers = [x["number"] for x in data["tests"]]
    assert len(set(numbers)) == len(numbers)


def test_the_score_and_what_students_see_are_as_without_written_answers(tmp_path, monkeypatch):
    """The door's results.json less the written tests is the rendering of the same verdict without them, field for
    field: the score, the feedback, every check's test, the visibilities."""
    data = door(tmp_path, monkeypatch, answered("My answer."))
    assert len(written_tests(data)) == len(course.manual_cells(A))
    plain = render.results_json(verdict())
    assert data["score"] == plain["score"] == sum(c["points"] for c in course.test_cells(A))
    assert data["score"] == sum(t["max_score"] for t in data["tests"]) == sum(t["max_score"] for t in plain["tests"])
    assert [t for t in data["tests"] if not t["extra_data"].get("written")] == plain["tests"]
    for key in ("score", "output", "output_format", "visibility", "stdout_visibility"):
        assert data[key] == plain[key], key
    assert {k: v for k, v in data["extra_data"].items() if k != "students"} == \
        {k: v for k, v in plain["extra_data"].items() if k != "students"}


def test_hostile_answer_text_is_capped_and_kept_plain(tmp_path, monkeypatch):
    """A 1 MB answer with HTML, a script tag, terminal escapes, NUL and other controls, CRLF line ends and a lone
    surrogate: graders get at most ANSWER_CHARS of plain text saying it was cut; the tags stay literal text (the test's
    output_format is "text", so Gradescope shows them as written)."""
    head = "<script>alert('x')</script><img src=x onerror=alert(1)> **bold** \x1b[31mred\x1b[0m\x00\x07\x7f\x85\r\nnext"
    text = head + " word" * 200_000 + "\ud800 END"
    nb = answered(text)
    raw = json.dumps(nb, ensure_ascii=True)  # the lone surrogate written as \ud800, as a hostile file can hold it
    data = door(tmp_path, monkeypatch, raw=raw)
    [t] = written_tests(data)
    out = t["output"]
    assert len(text) > 1_000_000 and len(out) <= ANSWER_CHARS
    assert out.startswith("<script>alert('x')</script><img src=x onerror=alert(1)> **bold** [31mred[0m\nnext word")
    assert "more characters. The whole answer is in the submitted notebook.]" in out and "END" not in out
    assert not [c for c in out if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000]
    assert t["output_format"] == "text" and t["visibility"] == course_config.GRADESCOPE["written_answer_visibility"]
    raw_out = (tmp_path / "results" / "results.json").read_bytes()
    assert len(raw_out) < results.RESULTS_BYTES and b"\\ud800" not in raw_out and b"\\u0000" not in raw_out
    assert data["score"] == sum(t["max_score"] for t in data["tests"])


@pytest.mark.parametrize("case", ["untouched", "empty", "deleted", "nothing submitted"])
def test_no_answer_says_so(tmp_path, monkeypatch, case):
    nb = examples.notebook("release", A)
    if case == "empty":
        nb = answered("   \n")
    if case == "deleted":
        nb.cells = [c for c in nb.cells if notebooks.grade_meta(c).get("grade_id") != QUESTION]
    data = door(tmp_path, monkeypatch, None if case == "nothing submitted" else nb)
    [t] = written_tests(data)
    expect = {"untouched": "no response", "empty": "no response", "deleted": "missing",
              "nothing submitted": "not submitted"}[case]
    assert t["extra_data"]["answer"] == expect and t["max_score"] == 0 and t["visibility"] == course_config.GRADESCOPE["written_answer_visibility"]
    if case == "deleted":
        assert t["output"].startswith(f"No answer written: the notebook has no answer cell {QUESTION}")
    else:
        assert t["output"] == "No answer written."
    assert course_config.TEXT_STUB not in t["output"]


def test_written_answers_read_back_as_answers_never_as_checks_or_hand_scores():
    r = verdict().with_written_answers(answered("<b>mine</b>\x00"))
    data = render.results_json(r)
    back = results.SubmissionResult.from_gradescope(data)
    assert [(w.grade_id, w.status, w.text) for w in back.written] == [(QUESTION, "answered", "<b>mine</b>")]
    assert back.checks == r.checks and back.hand == {} and back.pending() == r.pending()
    assert render.results_json(back) == data  # cut and made plain once: the same text again


@pytest.mark.parametrize("breakage", [
    lambda t: t.update(max_score=POINTS),  # a written answer carries no points in results.json
    lambda t: t.update(score=1),
    lambda t: t.pop("output_format"),       # its text is always shown as plain text
    lambda t: t.update(output_format="html"),
    lambda t: t["extra_data"].pop("answer"),
])
def test_the_schema_keeps_a_written_test_at_no_points_and_plain_text(breakage):
    data = render.results_json(verdict().with_written_answers(answered("x")))
    results.validate(data)
    breakage(written_tests(data)[0])
    with pytest.raises(jsonschema.ValidationError):
        results.validate(data)
