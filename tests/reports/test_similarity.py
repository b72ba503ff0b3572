"""The similarity report (``python -m autograder similarity OUT``): ranking, evidence, escaping, refusals.

Most tests build a batch's output folder without grading: each submission's notebook is assembled from the release
and answers in known styles, and its record is written the way ``store`` writes one (the checks a catalogued
mistake fails, the notebook's digest). The controls are independent correct solutions in the styles of
``tests/answers.py`` (``CORRECT``); the planted pairs are ``similarity.planted``'s copies of one student.

Run as a script, it writes a synthetic class for timing: ``python tests/reports/test_similarity.py DIR N``.
"""
import hashlib
import itertools
import json
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import course, notebooks
from autograder import store as storage
from autograder.authoring import examples
from autograder.results import CheckResult, SubmissionResult
from autograder.similarity import planted

NF = "normalising_flows"


def styles():
    """{item: [answer source, ...]}: the solutions' answer first, then tests/answers.py's correct answers in other
    styles."""
    solutions = notebooks.read(course.notebook_path("solutions", NF))
    out = {}
    for item in course.items(NF):
        cell = next((c for c in solutions.cells if notebooks.grade_meta(c).get("grade_id") == item), None)
        if cell is None or cell.cell_type != "code":
            continue
        out[item] = ["\n".join(ln for ln in cell.source.splitlines() if "SOLUTION" not in ln)]
    import answers  # tests/answers.py: on the path under pytest, and below when run as a script
    for item, code in answers.CORRECT.values():
        out[item].append(textwrap.dedent(code).strip() + "\n")
    return out


def assemble(choice, all_styles):
    """The release notebook with answer ``choice[item]`` (an index into ``all_styles[item]``) in each answer cell."""
    nb = notebooks.read(course.notebook_path("release", NF))
    for cell in nb.cells:
        item = notebooks.grade_meta(cell).get("grade_id")
        if item in choice:
            cell.source = all_styles[item][choice[item] % len(all_styles[item])]
    return nb


def record(path, mistakes=()):
    """A graded record as batch stores it: every check passed but those the catalogued ``mistakes`` fail."""
    failing = {t: m for m in mistakes for t in examples.MISTAKE_EDITS[m].failing}
    checks = [CheckResult(test_id=c["test_id"], item=c["item"], description=c["description"], points=c["points"],
                          hidden=c["hidden"], status="failed" if c["test_id"] in failing else "passed",
                          mistake=failing.get(c["test_id"])) for c in course.test_cells(NF)]
    return SubmissionResult(assignment=NF, checks=checks, manual=list(course.manual_cells(NF)),
                            fingerprint={"submission": hashlib.sha256(Path(path).read_bytes()).hexdigest()})


def write_class(root, students):
    """``root``/submitted and ``root``/submitted_graded for {student: (notebook, mistakes)}; returns OUT."""
    store = storage.Store(Path(root) / "submitted_graded")
    for student, (nb, mistakes) in students.items():
        path = examples.write_submission(Path(root) / "submitted", student, nb)
        store.save_record(NF, student, record(path, mistakes))
    return store.out


ORIGINAL_MISTAKES = ("acl-inverse-exp-sign", "ldj-sign")


def planted_class(root, controls=4):
    """An original with two catalogued mistakes, its two planted copies, and ``controls`` independent correct
    students. Control c answers each item in style c (modulo the styles there are): up to 4, no two students share
    the coupling layer's or the bimodal base's style (five each); the short answers (three or four styles) repeat."""
    all_styles = styles()
    original = examples.apply(assemble({i: 0 for i in all_styles}, all_styles),
                              *(examples.MISTAKE_EDITS[m] for m in ORIGINAL_MISTAKES))
    students = {"orig": (original, ORIGINAL_MISTAKES)}
    for c in range(1, controls + 1):
        students[f"control{c}"] = (assemble({i: c for i in all_styles}, all_styles), ())
    out = write_class(root, students)
    copies = planted.plant(Path(root) / "submitted", "orig")
    store = storage.Store(out)
    extra = copies["orig_plus_one"][1].split("plus ", 1)[1]
    for student, mistakes in (("orig_renamed", ORIGINAL_MISTAKES), ("orig_plus_one", ORIGINAL_MISTAKES + (extra,))):
        store.save_record(NF, student, record(copies[student][0], mistakes))
    return out


def run(out, **kw):
    from autograder import similarity
    return similarity.run(out, **kw)[NF][1]


PLANTED = {("orig", "orig_renamed"), ("orig", "orig_plus_one"), ("orig_plus_one", "orig_renamed")}


@pytest.fixture(scope="module")
def planted_report(tmp_path_factory):
    out = planted_class(tmp_path_factory.mktemp("planted"))
    return out, run(out)


def scores(data):
    every = {tuple(sorted(p)) for p in itertools.combinations(data["students"], 2)}
    got = {(p["a"], p["b"]): p["score"] for p in data["pairs"]}
    return {pair: got.get(pair, 0.0) for pair in every}


def test_planted_pairs_rank_above_every_control_pair(planted_report):
    _, data = planted_report
    s = scores(data)
    planted_scores = [s[p] for p in PLANTED]
    controls = [v for p, v in s.items() if p not in PLANTED]
    assert min(planted_scores) > max(controls), (sorted(s.items(), key=lambda kv: -kv[1])[:6])
    assert [(p["a"], p["b"]) for p in data["pairs"][:3]] == sorted(PLANTED, key=lambda p: -s[p])


def test_renamed_copy_matches_on_code_alone(planted_report):
    """Renamed variables, moved cells and methods in another order: copydetect still matches most of the code."""
    _, data = planted_report
    pair = next(p for p in data["pairs"] if (p["a"], p["b"]) == ("orig", "orig_renamed"))
    assert pair["code"]["score"] > 0.8, pair["code"]["score"]
    assert pair["mistakes"]["shared"] == list(ORIGINAL_MISTAKES)


def test_the_release_never_matches(tmp_path):
    """Two untouched releases share all their code, and all of it is boilerplate: no pair."""
    release = notebooks.read(course.notebook_path("release", NF))
    out = write_class(tmp_path, {"a": (release, ()), "b": (release, ())})
    data = run(out)
    assert data["pairs"] == [] and data["students"] == ["a", "b"]


def test_shared_rare_mistakes_raise_a_pair_above_pairs_with_more_code_in_common(tmp_path):
    """Eight correct students in different styles; all made one mistake, and s1 and s2 alone two more. The rare
    combination lifts s1 & s2 above pairs whose code is more alike; the mistake everyone made adds nothing."""
    all_styles = styles()
    students = {f"s{c}": (assemble({i: c for i in all_styles}, all_styles), ("bimodal-one-mode",)) for c in range(1, 9)}
    for s in ("s1", "s2"):
        students[s] = (students[s][0], ("bimodal-one-mode", "ldj-sign", "shape-keeps-event-dims"))
    data = run(write_class(tmp_path, students))
    pair = next(p for p in data["pairs"] if (p["a"], p["b"]) == ("s1", "s2"))
    assert sorted(pair["mistakes"]["shared"]) == ["bimodal-one-mode", "ldj-sign", "shape-keeps-event-dims"]
    assert pair["mistakes"]["made_by"] == 2 and pair["mistakes"]["score"] == pytest.approx(2 / 2 * (1 - 2 / 8))
    by_score = [(p["a"], p["b"]) for p in data["pairs"]]
    by_code = [(p["a"], p["b"]) for p in sorted(data["pairs"], key=lambda p: -p["code"]["score"])]
    assert by_score.index(("s1", "s2")) < by_code.index(("s1", "s2")) - 2, (by_score, by_code)
    common = [p for p in data["pairs"] if p["mistakes"]["shared"] == ["bimodal-one-mode"]]
    assert common and all(p["mistakes"]["score"] == 0 and p["score"] == p["code"]["score"] for p in common)


def test_json_matches_its_schema_and_the_page_shows_the_evidence(planted_report):
    from autograder.similarity import report
    out, data = planted_report
    folder = out / NF / "similarity"
    written = json.loads((folder / "similarity.json").read_text())
    report.validate(written)
    assert written == data
    page = (folder / "index.html").read_text()
    assert "orig &amp; orig_renamed" in page and "<mark>" in page and "acl-inverse-exp-sign" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<link" not in page


def test_student_code_and_names_are_escaped_on_the_page(tmp_path):
    """A student's code is shown as text: a script in it never becomes markup."""
    nb = notebooks.read(course.notebook_path("solutions", NF))
    for cell in nb.cells:
        if notebooks.grade_meta(cell).get("grade_id") == "bimodal_base_distribution":
            cell.source += "\nnote = '</pre><script>alert(1)</script>' * 3  # <img src=x onerror=alert(2)>\n"
    out = write_class(tmp_path, {"x<b>": (nb, ()), "y": (nb, ())})
    run(out)
    page = (out / NF / "similarity" / "index.html").read_text()
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page and "x&lt;b&gt;" in page


def test_a_notebook_changed_since_grading_is_left_out(tmp_path):
    nb = notebooks.read(course.notebook_path("solutions", NF))
    out = write_class(tmp_path, {"a": (nb, ()), "b": (nb, ()), "c": (nb, ())})
    examples.write_submission(tmp_path / "submitted", "c", examples.apply(nb, examples.MISTAKE_EDITS["ldj-sign"]))
    data = run(out)
    assert data["students"] == ["a", "b"]
    assert "changed since it was graded" in data["left_out"]["c"]


def test_no_submissions_folder_is_refused_in_one_line(tmp_path):
    from autograder import similarity
    nb = notebooks.read(course.notebook_path("solutions", NF))
    out = write_class(tmp_path, {"a": (nb, ())})
    moved = out.rename(tmp_path / "elsewhere")
    with pytest.raises(similarity.SimilarityError, match="give --submissions DIR"):
        similarity.run(moved)
    assert not (moved / NF / "similarity").exists()
    assert run(moved, submissions=tmp_path / "submitted")["students"] == ["a"]


def test_the_command_line(tmp_path, capsys):
    from autograder.__main__ import main
    nb = notebooks.read(course.notebook_path("solutions", NF))
    out = write_class(tmp_path, {"a": (nb, ()), "b": (nb, ())})
    assert main(["similarity", str(out)]) == 0
    assert f"{out}/{NF}/similarity/index.html" in capsys.readouterr().out
    assert main(["similarity", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "holds no graded assignment" in err, err


@pytest.mark.slow  # two fresh interpreters (about 15 s each on a loaded machine)
def test_the_same_submissions_give_the_same_report(tmp_path):
    """copydetect's own k-gram hash changes with PYTHONHASHSEED; ours does not: two processes (the command line),
    one report."""
    import subprocess
    nb = notebooks.read(course.notebook_path("solutions", NF))
    other = assemble({i: 1 for i in styles()}, styles())
    out = write_class(tmp_path, {"a": (nb, ()), "b": (examples.apply(nb, examples.MISTAKE_EDITS["ldj-sign"]),
                                                      ("ldj-sign",)), "c": (other, ())})
    texts = []
    for seed in ("1", "2"):
        subprocess.run([sys.executable, "-m", "autograder", "similarity", str(out)], check=True, capture_output=True,
                       env={**__import__("os").environ, "PYTHONHASHSEED": seed})
        texts.append((out / NF / "similarity" / "similarity.json").read_text())
    assert texts[0] == texts[1]


def synthetic_class(root, n):
    """``n`` correct students, each a combination of answer styles (no two alike while combinations last)."""
    all_styles = styles()
    items = sorted(all_styles)
    combos = itertools.product(*(range(len(all_styles[i])) for i in items))
    students = {f"student{k:03d}": (assemble(dict(zip(items, combo)), all_styles), ())
                for k, combo in zip(range(n), combos)}
    return write_class(root, students)


if __name__ == "__main__":  # python tests/reports/test_similarity.py FOLDER N: a synthetic class of N students
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(synthetic_class(Path(sys.argv[1]), int(sys.argv[2])))


@pytest.mark.slow
def test_a_graded_batch_with_a_planted_pair(tmp_path):
    """The demo's partly wrong student and its two planted copies, graded for real with two independent correct
    students: the renamed and reordered copy scores exactly as the original, the other loses its one more mistake's
    check, and the three copies are the report's top three pairs."""
    from autograder import batch
    submitted = examples.build_demo(tmp_path / "submitted")
    for student in ("crashes_in_inverse", "truncated_file", "untouched"):  # only the cheap, graded cases
        import shutil
        shutil.rmtree(submitted / student)
    all_styles = styles()
    for c in (1, 2):
        examples.write_submission(submitted, f"control{c}", assemble({i: c for i in all_styles}, all_styles))
    copies = planted.plant(submitted, "partly_wrong")
    graded, out = batch.run(submitted, tmp_path / "graded", assignments=[NF], jobs=1)
    rows = graded[NF]
    original, renamed, plus_one = (rows[s] for s in ("partly_wrong", "partly_wrong_renamed", "partly_wrong_plus_one"))
    assert renamed.status == "graded" and renamed.scores_by_grade_id() == original.scores_by_grade_id()
    extra = copies["partly_wrong_plus_one"][1].split("plus ", 1)[1]
    assert extra in {c.mistake for c in plus_one.checks} and extra not in {c.mistake for c in original.checks}
    assert rows["control1"].auto_score == rows["control1"].auto_max == rows["control2"].auto_score
    data = run(out, submissions=submitted)
    top = {(p["a"], p["b"]) for p in data["pairs"][:3]}
    assert top == {("partly_wrong", "partly_wrong_plus_one"), ("partly_wrong", "partly_wrong_renamed"),
                   ("partly_wrong_plus_one", "partly_wrong_renamed")}, data["pairs"][:5]
