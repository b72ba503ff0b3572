"""Issue 27's frictions of the instructor's side, as a new instructor met them: the report's written answers, its
voice and its cuts, merge-manual's halves and manual_scores.csv. Results are built directly (no grading run)."""
import csv
import io
import re

import pytest

from autograder import course, grade, manual, render, results, store, text
from autograder.render import report

A = "realnvp_multiscale"


def _graded(assignment=A):
    return results.SubmissionResult(assignment=assignment, checks=grade.check_results(assignment, "passed"),
                                    manual=course.manual_cells(assignment))


def _out(tmp_path, rows):
    """A batch output folder holding ``rows`` ({student: result}) as records and renderings."""
    s = store.Store(tmp_path / "out")
    for student, r in rows.items():
        s.save_record(r.assignment, student, r)
    render.assignment(s, A, render.stored_results(s, A))
    return s


def _files(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _scores(path, rows):
    path.write_text("student,grade_id,max_points,score,comment\n" + "".join(",".join(map(str, r)) + "\n"
                                                                           for r in rows))
    return path


# ---- merge-manual: hand scores are in halves ------------------------------------------------------------------
@pytest.mark.parametrize("score", ["0.3", "1.25", "0.1"])
def test_merge_manual_refuses_a_score_that_is_not_in_halves_and_changes_nothing(tmp_path, score):
    s = _out(tmp_path, {"ann": _graded(), "ben": _graded()})
    before = _files(s.out)
    path = _scores(tmp_path / "scores.csv", [("ann", "resample_discussion", 2, score, "ok")])
    with pytest.raises(manual.ManualError) as e:
        manual.merge(s.out, path)
    assert e.value.problems == [f"{path}: line 2: score {score} for resample_discussion is not in halves "
                                "(hand scores are 0, 0.5, 1, ...)"]
    assert _files(s.out) == before


def test_merge_manual_takes_halves_and_a_record_out_of_halves_is_refused(tmp_path):
    s = _out(tmp_path, {"ann": _graded()})
    manual.merge(s.out, _scores(tmp_path / "scores.csv", [("ann", "resample_discussion", 2, "1.5", "ok")]))
    assert s.hand_scores(A)["ann"]["resample_discussion"].score == 1.5
    s.hand_scores_path(A).write_text('{"ann": {"resample_discussion": {"score": 0.3, "comment": ""}}}')
    with pytest.raises(store.RecordError, match="is 0.3, not in halves"):
        s.hand_scores(A)


# ---- manual_scores.csv ---------------------------------------------------------------------------------------
def test_the_scores_template_leaves_an_unreadable_notebook_empty_with_a_reason_and_ends_with_a_newline(tmp_path):
    s = _out(tmp_path, {"ann": _graded(), "ben": _graded(), "cid": _graded(),
                        "dee": grade.not_graded(A, "unreadable", "Your notebook could not be read: x.", 0),
                        "eve": grade.not_graded(A, "missing", "Nothing was submitted for this assignment.", 0)})
    store.write_json(s.written_answers_path(A), {
        "ann": {"resample_discussion": {"status": "answered", "text": "Because."}},
        "ben": {"resample_discussion": {"status": "no response", "text": ""}},
        "cid": {"resample_discussion": {"status": "missing", "text": ""}},
        "dee": {"resample_discussion": {"status": "unreadable", "text": ""}},
        "eve": {"resample_discussion": {"status": "not submitted", "text": ""}}})
    manual.export(s.out)
    data = (s.out / A / manual.TEMPLATE_FILE).read_bytes()
    assert data.endswith(b"\n") and b"\r" not in data
    rows = {r["student"]: (r["score"], r["comment"]) for r in csv.DictReader(io.StringIO(data.decode()))}
    assert rows == {"ann": ("", ""), "ben": ("0", "No response."), "cid": ("0", "No response."),
                    "dee": ("", manual.UNREADABLE), "eve": ("0", "No response.")}
    manual.merge(s.out, s.out / A / manual.TEMPLATE_FILE)  # as exported, the template merges: dee is not scored
    assert "dee" not in s.hand_scores(A) and s.hand_scores(A)["ben"]["resample_discussion"].score == 0


# ---- the report: written answers pending, never a fractional maximum --------------------------------------------
def _items_table(page):
    table = page.split('<table id="items">')[1].split("</table>")[0]
    return {m[0]: m[1:] for m in re.findall(r"<tr><td>([^<]+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", table)}


def test_the_report_shows_written_answers_as_pending_not_as_a_fractional_maximum(tmp_path):
    rows = {name: _graded() for name in ("ann", "ben", "cid", "dee", "eve", "fay")}
    s = _out(tmp_path, rows)
    manual.merge(s.out, _scores(tmp_path / "scores.csv", [("ann", "resample_discussion", 2, "1.5", ""),
                                                          ("ben", "resample_discussion", 2, "2", "")]))
    page = (s.report_dir(A) / "index.html").read_text()
    written = _items_table(page)["resample_discussion"]
    assert written == ("1.75 / 2 (2 graded by hand)", "88%; 4 pending")
    maxima = {item: cells[0].split(" (")[0].split(" / ")[1] for item, cells in _items_table(page).items()}
    points = {c["item"]: 0 for c in course.test_cells(A)}
    for c in course.test_cells(A):
        points[c["item"]] += c["points"]
    assert maxima == {**{i: f"{p:g}" for i, p in points.items()}, "resample_discussion": "2"}  # never a mean of maxima
    s2 = _out(tmp_path / "none", {name: _graded() for name in ("ann", "ben")})
    written = _items_table((s2.report_dir(A) / "index.html").read_text())["resample_discussion"]
    assert written == ("pending (2 points)", "2 pending")


# ---- the report speaks to instructors ---------------------------------------------------------------------------
def _limited():
    r = _graded()
    for c in r.checks:
        if c.item == "squeeze":
            c.status, c.message = "limit", "the worker running your code stopped: it was killed (SIGKILL)"
    r.notes.append(results.Note("limit", "the worker running your code stopped: it exited with code 3 (os._exit or "
                                "a fatal error in your code)"))
    return r


def test_the_report_speaks_of_the_student_in_the_third_person(tmp_path):
    unreadable = grade.not_graded(A, "unreadable", "Your notebook could not be read: x.ipynb: not valid JSON; the "
                                  "file may be truncated.", 0, advice="Every item scores 0. Download a fresh copy of "
                                  "the release, paste your work into it, and submit again.")
    broken = grade.grader_failed(A, RuntimeError("boom"))
    s = _out(tmp_path, {"ann": _limited(), "ben": unreadable, "cid": broken})
    page = (s.report_dir(A) / "index.html").read_text()
    limits = page.split('<ul id="limits">')[1].split("</ul>")[0]
    assert "ann: the worker stopped: it exited with code 3 (os._exit or a fatal error in the student&#39;s code)" \
        in limits
    assert "ben: The notebook could not be read: x.ipynb: not valid JSON; the file may be truncated.</li>" in limits
    assert "cid: The grader failed on this submission (RuntimeError: boom).</li>" in limits
    assert not re.search(r"\b(you|your)\b", limits, re.I), limits
    # the student's own feedback keeps speaking to the student
    feedback = (s.feedback_dir(A, "ann") / "feedback.md").read_text()
    assert "the worker running your code stopped" in feedback


def test_every_phrase_the_report_turns_round_is_one_the_grader_writes():
    """The report's table of second-person phrases stays in step with the modules that write them."""
    import autograder
    from pathlib import Path
    root = Path(autograder.__file__).parent
    sources = "".join(p.read_text() for p in [*root.rglob("*.py"), *root.parent.joinpath("source").rglob("*.py")])
    for phrase, _ in report.FOR_INSTRUCTORS:
        assert phrase in sources, phrase


# ---- no text the grader shows is cut mid-word ----------------------------------------------------------------
def test_a_long_message_is_cut_between_words_and_says_so(tmp_path):
    long = "Your notebook could not be read: " + "x.ipynb: not valid JSON (line 914, column 5: Unterminated " \
           "string starting at); the file may be truncated. " * 6
    r = grade.not_graded(A, "unreadable", long, 0)
    s = _out(tmp_path, {"ann": r})
    limits = (s.report_dir(A) / "index.html").read_text().split('<ul id="limits">')[1].split("</ul>")[0]
    shown = limits.split("ann: ")[1].split("</li>")[0]
    assert shown.endswith(" [...]")
    words = set(long.replace("Your notebook", "The notebook").split())
    assert all(w in words for w in shown[:-len(" [...]")].split()), shown


@pytest.mark.parametrize("width", [10, 37, 60, 90])
def test_shortened_cuts_between_words(width):
    line = "the file may be truncated; download a fresh copy of the release and paste your work into it"
    cut = text.shortened(line, width)
    assert len(cut) <= width and cut.endswith("[...]") and line.startswith(cut[:-len(" [...]")])
    assert line[len(cut) - len(" [...]")] == " "  # the cut falls where a word ends
    assert text.shortened(line, len(line)) == line


def test_capped_cuts_between_words_and_says_so():
    long = "word " * 20000
    cut = text.capped(long, 1000)
    assert len(cut.encode()) <= 1000 and "[... cut here:" in cut
    assert cut.split(" [... cut here:")[0].split() == ["word"] * len(cut.split(" [... cut here:")[0].split())
    assert cut.split(" [... cut here:")[0].endswith("word")
    assert text.capped(cut, 1000) == cut
