"""The similarity report: ``python -m autograder similarity OUT [--submissions DIR]``.

For each assignment of a batch's output folder OUT, every pair of graded students is compared on two signals
(``compare``): their own code, with copydetect, the release's code removed as boilerplate; and the catalogued
mistakes both made, weighted by how rare that combination is in the class (only this grader knows them: the
records name each failed check's mistake). It writes ``OUT/<assignment>/similarity/similarity.json`` and
``index.html``, an instructor-only page with the pairs ranked, their matching code side by side and their shared
mistakes (``report``). The code is read again from the submissions folder the batch graded (``code``): a record
keeps the digest of the notebook it was graded on, not its code, so a notebook whose bytes differ is left out and
listed. No student code is run or imported, and nothing leaves the machine.

``planted`` writes copied pairs into a ``submitted/`` folder (renamed variables with reordered cells, and one more
mistake), for the demo and for measuring the ranking.
"""
import itertools
from pathlib import Path

import course_config
from autograder import render
from autograder.submissions import intake
from autograder import store as storage

FOLDER = "similarity"
TOP = 100


class SimilarityError(Exception):
    """The report cannot be made (no results, no submissions folder); the message says why in one line."""


def default_submissions(out):
    """The folder batch grades into OUT by default (``DIR`` for ``DIR_graded``), if it exists."""
    out = Path(out)
    if out.name.endswith("_graded"):
        guess = out.with_name(out.name[: -len("_graded")])
        if guess.is_dir():
            return guess
    return None


def assignment_report(store, assignment, submissions, top=TOP):
    """Compare the graded students of ``assignment``; returns (similarity.json as a dict, {student: StudentCode})."""
    from importlib.metadata import version

    from autograder.similarity import code, compare
    records = render.stored_results(store, assignment)
    found, _ = intake.find_submissions(submissions, [assignment])
    paths = {student: path for (a, student), path in found.items() if a == assignment}
    codes, left_out = code.graded_code(records, paths, assignment, within=submissions)
    prints = compare.fingerprints(codes, code.release_code(assignment))
    sets = compare.mistake_sets({s: records[s] for s in codes})
    pairs = []
    for a, b in itertools.combinations(sorted(codes), 2):
        code_score, slices_a, slices_b = compare.code_match(prints[a], prints[b])
        mistake_score, shared, made_by = compare.mistake_match(a, b, sets)
        score = compare.combined(code_score, mistake_score)
        if score > 0:
            pairs.append({"a": a, "b": b, "score": round(score, 6),
                          "code": {"score": round(code_score, 6), "slices_a": slices_a, "slices_b": slices_b},
                          "mistakes": {"score": round(mistake_score, 6), "shared": shared, "made_by": made_by}})
    pairs.sort(key=lambda p: (-p["score"], p["a"], p["b"]))
    n = len(codes)
    data = {"assignment": assignment, "students": sorted(codes), "left_out": left_out, "compared": n * (n - 1) // 2,
            "parameters": {"k": compare.K, "window": compare.WINDOW, "mistake_weight": compare.MISTAKE_WEIGHT,
                           "top": top, "copydetect": version("copydetect")},
            "pairs": pairs[:top]}
    return data, codes


def run(out, submissions=None, assignments=None, top=TOP):
    """Write the report of every assignment of ``out`` (or ``assignments``); returns {assignment: (page, data)}.
    Raises SimilarityError before writing anything if ``out`` holds no results or no submissions folder is found."""
    from autograder.similarity import report
    if top < 1:
        raise SimilarityError(f"--top must be at least 1, not {top}")
    store = storage.Store(out)
    wanted = [a for a in store.assignments(course_config.ASSIGNMENTS) if not assignments or a in assignments]
    if not wanted:
        raise SimilarityError(f"{out} holds no graded assignment (run batch first)")
    submissions = Path(submissions) if submissions else default_submissions(out)
    if submissions is None or not submissions.is_dir() or submissions.is_symlink():
        raise SimilarityError(f"no submissions folder for {out}: give --submissions DIR, the folder batch graded "
                              "(the records keep each notebook's digest, not its code)")
    clash = [a for a in wanted if FOLDER in store.students(a)]
    if clash:
        raise SimilarityError(f"a student of {clash[0]} is named {FOLDER!r}, where the report would go; rename the "
                              "student's folder and grade again")
    written = {}
    for assignment in wanted:
        data, codes = assignment_report(store, assignment, submissions, top)
        page = report.write(store.assignment_dir(assignment) / FOLDER, assignment, data, codes)
        written[assignment] = (page, data)
    return written
