"""Student text is data on every path: never matched by a backtracking regex, never markup, never a crash."""
import json
import subprocess
import sys
import textwrap

import nbformat
import pytest
from conftest import run_batch, write_term_submissions
from markdown_it import MarkdownIt

import course_config
from autograder import course
from autograder.text import shortened
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
        from autograder import notebooks
        from autograder.submissions import extract
        print(json.dumps(extract.labelled_code(notebooks.read(sys.argv[1]), "normalising_flows").labels))
        """, path, timeout=60)
    sections = [_last_heading(c.source) for c in nb.cells[-2 * len(PATHOLOGICAL_HEADINGS) - 3:-1:2]]
    assert sections[:4] == ["a" + " " * 20_000 + "b", "a" + " " * 20_000 + "#b", "b", "Real section"]  # 4th: empty
    assert sections[-1] == "Last"
    assert labels[-len(sections) - 1:-1] == [f'the cell starting `{c.source}` in section "{_shown(section)}"'
                                             for c, section in zip(nb.cells[-2 * len(sections):-1:2], sections)]


def test_a_cell_of_millions_of_lines_is_labelled_in_bounded_memory():
    """A markdown cell and a code cell of 8 million short lines each (the old labels held every line of a cell as a
    list: about 400 MB each) are read in a few megabytes more than the notebook itself."""
    found = _in_a_subprocess("""
        import json, resource, nbformat
        from autograder.submissions import extract
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Mine\\n" + "#x\\n" * 2**23),
                                             nbformat.v4.new_code_cell("a\\n" * 2**23 + "# late comment"),
                                             nbformat.v4.new_code_cell("x = 1")])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        labels = extract.labelled_code(nb, "normalising_flows").labels
        print(json.dumps([labels, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024]))
        """, timeout=120)
    labels, grown_mib = found
    assert labels == ['the cell starting "# late comment" in section "Mine"', 'the cell starting `x = 1` in section "Mine"']
    assert grown_mib < 64, grown_mib


def _last_heading(markdown):
    """The last non-empty heading of a Markdown cell, as CommonMark reads it (markdown-it-py, block rules only)."""
    tokens = MarkdownIt("commonmark").disable("inline").parse(markdown)
    found = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and tokens[i + 1].content]
    return found[-1]


def _shown(text, width=50):
    text = " ".join(text.split())
    return text if len(text) <= width else shortened(text, width)  # cut between words, saying so


# ---- nbgrader metadata is validated on intake ------------------------------------------------------------------
def _with_metadata(nb, grade_id, nbgrader):
    """``nb`` as JSON text, with the nbgrader metadata of the cell ``grade_id`` (None: the first plain code cell)
    replaced by ``nbgrader``. nbformat accepts the result: it does not look inside ``metadata.nbgrader``."""
    raw = json.loads(nbformat.writes(nb))
    cell = next(c for c in raw["cells"] if c["cell_type"] == "code" and (
        c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id if grade_id else "nbgrader" not in c["metadata"]))
    cell["metadata"]["nbgrader"] = nbgrader(cell["metadata"].get("nbgrader")) if callable(nbgrader) else nbgrader
    text = json.dumps(raw)
    nbformat.validate(nbformat.reads(text, as_version=4))
    return text


MALFORMED = {  # student -> (the notebook, the field the one-line message names)
    "nbgrader_is_a_string": (lambda sol: _with_metadata(sol, None, "x"), "`metadata.nbgrader` must be an object"),
    "grade_id_is_a_list": (lambda sol: _with_metadata(sol, "affine_coupling_layer",
                                                      lambda m: {**m, "grade_id": ["affine_coupling_layer"]}),
                           "`metadata.nbgrader.grade_id` must be a name of letters"),
    "grade_is_a_string": (lambda sol: _with_metadata(sol, "independent_bernoulli_shapes",
                                                     lambda m: {**m, "grade": "yes"}),
                          "`metadata.nbgrader.grade` must be true or false"),
    "grade_id_of_30_MB": (lambda sol: _with_metadata(sol, "mvn_transformed",
                                                     lambda m: {**m, "grade_id": "a`<" * 10 * 2**20}),
                          "`metadata.nbgrader.grade_id` must be a name of letters"),
}


def test_malformed_nbgrader_metadata_is_found_on_intake_in_one_line(tmp_path):
    """Every reader of a submission (batch, grade, the written answers, the gradebook) goes through notebooks.read,
    which refuses it with InvalidMetadata; ``grade`` still grades such a file (with its own status), where it
    refuses a file that is not a notebook at all."""
    from autograder import course, notebooks
    sol = examples.notebook("solutions")
    for student, (build, field) in MALFORMED.items():
        path = tmp_path / f"{student}.ipynb"
        path.write_text(build(sol))
        try:
            notebooks.read(path)
        except notebooks.InvalidMetadata as e:
            assert field in str(e) and "\n" not in str(e) and len(str(e)) < 400, str(e)
        else:
            raise AssertionError(f"{student}: read as a valid notebook")
        assert notebooks.not_a_notebook(path, 2**26) is None
        assert course.detect(None, path.name) is None  # what intake falls back on: the file's name
    for kind in ("source", "release", "solutions"):  # the course's own notebooks are valid
        notebooks.read(course.notebook_path(kind, ASSIGNMENT))


@pytest.mark.slow  # grades a batch
def test_a_notebook_with_malformed_nbgrader_metadata_gets_its_own_status_and_the_class_is_graded(tmp_path):
    """nbformat accepts ``"nbgrader": "x"`` and a list as grade_id; they used to stop the whole batch (exit 1, no
    grades.csv for anyone). Now each such notebook is ``invalid_notebook`` with a one-line reason naming the field,
    and everyone else is graded as usual."""
    submitted = write_term_submissions(tmp_path / "submitted", ASSIGNMENT)
    sol = examples.notebook("solutions")
    for student, (build, _) in MALFORMED.items():
        examples.write_submission(submitted, student, text=build(sol))
    graded, out = run_batch(submitted, tmp_path / "graded", assignments=[ASSIGNMENT])
    rows = graded[ASSIGNMENT]
    points = {c["test_id"]: c["points"] for c in course.test_cells(ASSIGNMENT)}
    wrong = set().union(*(examples.EDITS[ASSIGNMENT][m].failing
                          for m in examples.DEMO["partly_wrong"][ASSIGNMENT][1]))
    assert {s: (r["extra_data"]["status"], r["score"]) for s, r in rows.items()} == {
        "complete": ("graded", sum(points.values())),
        "partly_wrong": ("graded", sum(p for t, p in points.items() if t not in wrong)),
        "untouched": ("graded", 0), "other_one": ("wrong_assignment", 0),
        **{student: ("invalid_notebook", 0) for student in MALFORMED}}
    for student, (_, field) in MALFORMED.items():
        reason = rows[student]["extra_data"]["reason"]
        assert field in reason and "\n" not in reason and len(reason) < 600, reason
        assert "`" in rows[student]["output"] and "a`<a`<" not in rows[student]["output"]
    csv_rows = {line.split(",")[0]: line for line in (out / ASSIGNMENT / "grades.csv").read_text().splitlines()[1:]}
    assert set(csv_rows) == set(rows) and "invalid_notebook" in csv_rows["grade_id_is_a_list"]
    assert (out / ASSIGNMENT / "report" / "index.html").exists()
    answers = json.loads((out / ASSIGNMENT / "written_answers.json").read_text())
    assert answers["complete"]["bimodal_discussion"]["status"] == "answered"
    assert {a["status"] for a in answers["grade_id_is_a_list"].values()} == {"unreadable"}
    # A verdict of its own is a finished one, recorded: a rerun grades nobody again.
    records = {p.parent.name: p.stat().st_mtime_ns for p in (out / ASSIGNMENT).glob("*/graded.json")}
    assert set(records) == set(rows)
    again, _ = run_batch(submitted, out, assignments=[ASSIGNMENT])
    assert {p.parent.name: p.stat().st_mtime_ns for p in (out / ASSIGNMENT).glob("*/graded.json")} == records
    assert {s: r["score"] for s, r in again[ASSIGNMENT].items()} == {s: r["score"] for s, r in rows.items()}


# ---- names ---------------------------------------------------------------------------------------------------
REFUSED_NAMES = {"csi\u009b31m": "control characters (U+009B)",       # C1: a terminal's control sequence introducer
                 "next\u0085line": "control characters (U+0085)",     # C1: NEL, a line break to some readers
                 "line\u2028break": "a line separator (U+2028)",
                 "para\u2029break": "a paragraph separator (U+2029)",
                 "ali\u202ece": "formatting characters (U+202E)",     # right-to-left override
                 "soft\u00adhyphen": "formatting characters (U+00AD)",
                 "tab\tbed": "control characters (U+0009)", "del\u007f": "control characters (U+007F)"}


def test_names_with_controls_or_separators_are_refused(tmp_path):
    """Every character of the categories Cc, Cf, Zl and Zp is refused in a student's folder name, with a reason
    that names it; names in other scripts, with accents or spaces, are kept."""
    import unicodedata

    from autograder.submissions import intake
    kept = ["Zoë", "j_doe", "李雷", "ana maria", "O'Brien"]
    for name in [*REFUSED_NAMES, *kept]:
        examples.write_submission(tmp_path, name, examples.notebook("release"))
    found, refused = intake.find_submissions(tmp_path, [ASSIGNMENT])
    assert {student for _, student in found} == set(kept)
    assert set(refused) == set(REFUSED_NAMES)
    for name, reason in REFUSED_NAMES.items():
        assert refused[name].endswith(reason), (name, refused[name])
    assert {unicodedata.category(ch) for name in REFUSED_NAMES for ch in name} >= {"Cc", "Cf", "Zl", "Zp"}


# ---- the worker's channel -------------------------------------------------------------------------------------
def test_the_wire_refuses_a_nesting_bomb_as_a_protocol_error():
    """A line nested a million deep is a ValueError (what the grader treats as the worker's protocol error), never
    a RecursionError; brackets inside strings, escaped quotes and a message 64 deep are still read."""
    from autograder.worker import wire
    for bomb in (b"[" * 10**6 + b"]" * 10**6, b'{"a":' * 10**5 + b"1" + b"}" * 10**5, b"[" * 10**6,
                 b'["\\\\", ' + b"[" * 10**5 + b"]" * 10**5 + b"]"):
        try:
            wire.loads(bomb)
        except ValueError as e:
            assert "nested more than" in str(e)
        else:
            raise AssertionError("a nesting bomb was read")
    hidden = '["a\\"", ' + "[" * 10**5 + "]" * 10**5 + "]"  # json.loads reads UTF-16 and UTF-32 bytes too
    for encoding in ("utf-16", "utf-16-le", "utf-32", "utf-32-be"):
        with pytest.raises(ValueError):
            wire.loads(hidden.encode(encoding))
    deep = b"[" * wire.MAX_DEPTH + b"]" * wire.MAX_DEPTH
    assert wire.loads(deep) == json.loads(deep)
    tricky = json.dumps({"error": "[" * 10**6 + '\\"' + "{" * 10**5, "value": [["]", "\\"], {"k[": '"['}]})
    assert wire.loads(tricky.encode()) == json.loads(tricky)


BOMB = b"[" * 100_000 + b"]" * 100_000 + b"\n"
#: Student code that sends a nesting bomb on every socket it holds: the grader's channel is the only one.
SEND_BOMB = f"""
import os
for fd in range(3, 64):
    try:
        if os.readlink(f'/proc/self/fd/{{fd}}').startswith('socket:'):
            os.write(fd, {BOMB!r})
    except OSError:
        pass
"""


@pytest.mark.slow  # grades a batch twice
def test_a_nesting_bomb_on_the_workers_socket_gets_a_recorded_verdict(tmp_path):
    """Sent while the cells run, the bomb costs its own cell (skipped, as a cell that kills the worker is); sent
    in place of an answer, the checks that asked; the student's verdict is recorded, so a rerun grades nothing."""
    from nbformat.v4 import new_code_cell
    sol = examples.notebook("solutions")
    in_a_cell = nbformat.from_dict(sol)
    in_a_cell.cells.insert(5, new_code_cell(SEND_BOMB))
    in_an_answer = nbformat.from_dict(sol)
    in_an_answer.cells.append(new_code_cell(
        "_real_log_det_jacobians = log_det_jacobians\ndef log_det_jacobians(bijector, x):\n"
        + textwrap.indent(SEND_BOMB, "    ") + "    return _real_log_det_jacobians(bijector, x)\n"))
    submitted = tmp_path / "submitted"
    for student, nb in (("bomb_in_a_cell", in_a_cell), ("bomb_in_an_answer", in_an_answer), ("victim", sol)):
        examples.write_submission(submitted, student, nb)
    limits = {**course_config.GRADING, "check_seconds": 20, "cell_seconds": 60, "submission_seconds": 300}
    graded, out = run_batch(submitted, tmp_path / "graded", limits=limits)
    rows = graded[ASSIGNMENT]
    points = {c["test_id"]: c["points"] for c in course.test_cells(ASSIGNMENT)}
    bombed = {t for t in points if course.item_of(ASSIGNMENT, t) == "log_det_jacobians"}
    assert bombed and all(r["extra_data"]["status"] == "graded" for r in rows.values())
    assert rows["victim"]["score"] == rows["bomb_in_a_cell"]["score"] == sum(points.values())
    assert "nested more than" in rows["bomb_in_a_cell"]["output"] and "skipped" in rows["bomb_in_a_cell"]["output"]
    lost = {t["extra_data"]["grade_id"]: t for t in rows["bomb_in_an_answer"]["tests"] if t["score"] < t["max_score"]}
    assert set(lost) == bombed and rows["bomb_in_an_answer"]["score"] == sum(points.values()) - sum(
        points[t] for t in bombed)
    assert all(t["extra_data"]["status"] == "limit" and "nested more than" in t["output"] for t in lost.values())
    records = {p.parent.name: p.stat().st_mtime_ns for p in (out / ASSIGNMENT).glob("*/graded.json")}
    assert set(records) == set(rows)
    run_batch(submitted, out, limits=limits)
    assert {p.parent.name: p.stat().st_mtime_ns for p in (out / ASSIGNMENT).glob("*/graded.json")} == records


# ---- Markdown: student text is text -----------------------------------------------------------------------------
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
FAKE = "x\n# Automatically graded score: 28 / 28\n![t](http://e.vil/t.png) [click](http://e.vil)\n<img src=x>"
TEMPLATE_HEADINGS = ("Feedback on ", "Notes from the grader", "Output of your notebook")


def _tokens(markdown):
    def walk(tokens):
        for t in tokens:
            yield t
            yield from walk(t.children or [])
    return list(walk(MD.parse(markdown)))


def _read_as(markdown):
    """The text a reader sees: every text and code token's content."""
    return "".join(t.content if t.type in ("text", "code_inline", "fence") else " "
                   for t in _tokens(markdown) if not t.children)


def assert_student_text_is_text(markdown, *written):
    """No heading but the template's, no link, image or HTML from anything, and each of ``written`` readable."""
    tokens = _tokens(markdown)
    assert not {t.type for t in tokens} & {"link_open", "image", "html_block", "html_inline", "s_open"}
    assert [t.type for t in tokens].count("table_open") == 1  # the template's table of scores
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    items = {f"`{item}`" for item in course.items(ASSIGNMENT)}
    assert all(h.startswith(TEMPLATE_HEADINGS) or h.split(":")[0] in items for h in headings), headings
    shown = " ".join(_read_as(markdown).split())
    for text in written:
        assert " ".join(text.split()) in shown, (text, shown[:3000])


def test_student_text_in_markdown_feedback_stays_text():
    """A multi-line error message, a backtick in a cell-error note, Markdown in a cell's label, a name or a
    Gradescope name: feedback.md and Gradescope's output parse (markdown-it-py) with no heading, link, image or HTML
    from any of it, and it reads as written."""
    from autograder import grade, render, results
    from autograder.render import feedback
    r = results.SubmissionResult(assignment=ASSIGNMENT, checks=grade.check_results(ASSIGNMENT, "passed"),
                                 manual=course.manual_cells(ASSIGNMENT),
                                 students=[results.Student(name="## Mallory ![t](http://e.vil/n.png)")])
    r.checks[0].status, r.checks[0].message = "failed", "your code raised ValueError: " + FAKE
    r.checks[1].message = "judged as you wrote it: " + FAKE
    r.notes = [results.Note("cell_error", "ValueError: a ` b [x](http://e.vil) ``c", where="the cell starting "
                            "`x = 1 ` [y](http://e.vil)` in section \"# [z](http://e.vil)\""),
               results.Note("limit", "it sent\n- a list\n1. and\n> a quote\n===\n|a|b|\n|-|-|\n~~~"),
               results.Note("info", "__init__ *bold* _it_ ~~gone~~ \\[esc](http://e.vil)")]
    r.cell_output = "```\n# out\n![o](http://e.vil/o.png)\n````"
    for markdown in (feedback.markdown(r, "eve [me](http://e.vil)"), render.results_json(r)["output"]):
        assert_student_text_is_text(markdown, "your code raised ValueError: " + FAKE, FAKE, "a ` b [x](http://e.vil) ``c",
                                    "1. and > a quote === |a|b| |-|-| ~~~", "__init__ *bold* _it_ ~~gone~~",
                                    "\\[esc](http://e.vil)", "![o](http://e.vil/o.png)")
    assert "Mallory ![t](http://e.vil/n.png)" in _read_as(render.results_json(r)["output"])
    assert "eve [me](http://e.vil)" in _read_as(feedback.markdown(r, "eve [me](http://e.vil)"))
    unreadable = results.SubmissionResult(assignment=ASSIGNMENT, checks=grade.check_results(ASSIGNMENT, "missing"),
                                          status="unreadable", reason="Your notebook could not be read: " + FAKE)
    assert_student_text_is_text(feedback.markdown(unreadable, "s"), FAKE)


@pytest.mark.slow  # grades a batch
def test_markdown_in_a_real_submissions_errors_stays_text(tmp_path):
    """Graded for real: a cell whose error's last line holds a backtick and Markdown, and an answer whose class name
    holds a heading, a link and an image. Neither feedback.md nor Gradescope's output gets one of them."""
    from nbformat.v4 import new_code_cell
    nb = nbformat.from_dict(examples.notebook("solutions"))
    note = "a ` b [x](http://e.vil) ![t](http://e.vil/t.png)"
    nb.cells.insert(5, new_code_cell(f"raise ValueError({note!r})"))
    nb.cells.append(new_code_cell(f"independent_bernoulli = type({FAKE!r}, (), {{}})()"))
    examples.write_submission(tmp_path / "submitted", "mallory", nb)
    graded, out = run_batch(tmp_path / "submitted", tmp_path / "graded")
    result = graded[ASSIGNMENT]["mallory"]
    points = {c["test_id"]: c["points"] for c in course.test_cells(ASSIGNMENT)}
    assert result["score"] == sum(p for t, p in points.items() if course.item_of(ASSIGNMENT, t) != "independent_bernoulli")
    for markdown in (result["output"], (out / "feedback" / "mallory" / ASSIGNMENT / "feedback.md").read_text()):
        assert_student_text_is_text(markdown, "ValueError: " + note)


def test_a_workers_long_error_text_reaches_check_code_bounded():
    """Check code reads the worker's error text with regular expressions (checks_core.clean_error_text, one of
    which takes quadratic time on a run of spaces): a megabyte of it arrives cut to grade.WORKER_ERROR_CHARS, and
    is read at once (the old grader spent about 45 minutes on it)."""
    found = _in_a_subprocess("""
        import json
        from autograder import course, grade
        from autograder.worker.client import AnswerError
        protocol = course.protocol("normalising_flows")
        import checks_core

        class Worker:
            def ask(self, request):
                raise AnswerError(" " * 2**20 + "{{" + "{" * 2**20 + "x")

        try:
            grade._asker("normalising_flows", Worker())({"op": "graph"})
        except protocol.QuestionError as e:
            print(json.dumps([len(str(e).encode()), "more bytes]" in str(e), checks_core.clean_error_text(e)[:20]]))
        """, timeout=60)
    from autograder import grade
    assert found[0] <= grade.WORKER_ERROR_CHARS and found[1] and found[2].startswith("[... cut here")  # says so
