"""The instructor's report after a batch: what to re-teach, at a glance (``report/index.html`` and its plots)."""
from collections import Counter
from pathlib import Path

from autograder import course, store
from autograder.render.pages import env
from autograder.results import typed
from autograder.text import shortened

#: The most characters of one student's line in the report's list of limits and unread notebooks.
LIMIT_CHARS = 300

#: The report speaks to instructors; a result's texts speak to the student. Each of the grader's own second-person
#: phrases (written by grade.py, worker/client.py and the protocol modules) and how the report says it instead;
#: None drops the phrase and what follows it (advice for the student: "download a fresh copy ...").
FOR_INSTRUCTORS = (
    ("the worker running your code stopped", "the worker stopped"),
    ("a fatal error in your code", "a fatal error in the student's code"),
    ("one of your notebook's cells", "one of the notebook's cells"),
    ("Your notebook could not be read", "The notebook could not be read"),
    ("Your notebook's nbgrader metadata", "The notebook's nbgrader metadata"),
    (" See the notes:", None),
    (" Every item scores 0. Download a fresh copy", None),
    (" It cannot tell which cell answers which exercise", None),
    (" Nothing of it was graded here.", None),
    (" Your instructor has been told;", None),
    (" Nothing about your submission was judged;", None),
    ("; please tell your instructor", None),
)


def for_instructors(text):
    """One of the grader's messages to a student as the report says it to an instructor (FOR_INSTRUCTORS), cut
    between words to LIMIT_CHARS."""
    for phrase, instead in FOR_INSTRUCTORS:
        if instead is None:
            text = text.split(phrase)[0]
        else:
            text = text.replace(phrase, instead)
    return shortened(text.strip(), LIMIT_CHARS)


# ---- the instructor's report ---------------------------------------------------------------------
def summarise(rows, assignment):
    """Numbers for the instructor: totals, pass rates per check, mistake counts, limit hits, lateness (the time
    late, the extension, the penalty and the total after it), extensions."""
    rows = {student: typed(r) for student, r in rows.items()}
    catalogue = course.protocol(assignment).MISTAKES
    totals = [r.score for r in rows.values()]
    best = max((r.max_score for r in rows.values()), default=0)
    per_check, mistakes, limits, statuses = {}, Counter(), [], Counter()
    missing = [student for student, r in rows.items() if r.status == "missing"]
    late = [(student, r.lateness, r.score) for student, r in rows.items() if r.lateness and r.lateness.late]
    extended = [(student, r.lateness) for student, r in rows.items() if r.lateness and r.lateness.extension]
    for student, r in rows.items():
        for c in r.checks:
            per_check.setdefault(c.name, [0, 0])
            per_check[c.name][0] += c.status == "passed"
            per_check[c.name][1] += 1
            statuses[c.status] += 1
        for m in dict.fromkeys(c.mistake for c in r.checks if c.mistake):  # in check order: a set's order
            mistakes[m] += 1                                              # changes from one process to the next
        if r.status not in ("graded", "missing"):  # not graded, and not for want of a file: the reason
            limits.append((student, for_instructors(r.reason)))
            continue
        hit = [n.text for n in r.limit_notes()] + [c.message for c in r.checks if c.status in ("limit", "error")]
        if hit:
            limits.append((student, for_instructors(hit[0])))
    kinds = Counter(r.status for r in rows.values())
    wrong = [(student, r.reason) for student, r in rows.items() if r.status == "wrong_assignment"]
    pending = sum(bool(r.pending()) for r in rows.values())
    return {"kinds": dict(kinds), "wrong": wrong, "pending_hand": pending,
            "auto_full": sum(r.auto_score == r.auto_max for r in rows.values()),
            "totals": totals, "best": best, "per_check": per_check, "per_item": per_item(rows, assignment),
            "mistakes": [(m, n, catalogue[m]) for m, n in mistakes.most_common()], "limits": limits,
            "missing": missing, "late": late, "statuses": dict(statuses), "extended": extended,
            "penalised": sum(bool(r.penalty) for r in rows.values())}


def per_item(rows, assignment):
    """[{item, points, mean, graded, pending}] in notebook order: an autograded item's mean over every submission; a
    written answer's mean over the submissions a TA has scored (``graded``), the others counted as ``pending`` (None
    for an autograded item). ``points`` is the item's, from the notebook, never a mean of maxima."""
    points = {}
    for c in course.test_cells(assignment):
        points[c["item"]] = points.get(c["item"], 0) + c["points"]
    out = [{"item": item, "points": points.get(item, 0), "pending": None,
            "scores": [sum(c.score for c in r.checks if c.item == item) for r in rows.values()]}
           for item in course.items(assignment)]
    out += [{"item": gid, "points": most, "pending": sum(gid not in r.hand for r in rows.values()),
             "scores": [r.hand[gid].score for r in rows.values() if gid in r.hand]}
            for gid, most in course.manual_cells(assignment)]
    for row in out:
        scores = row.pop("scores")
        row["graded"] = len(scores)
        row["mean"] = sum(scores) / len(scores) if scores else None
    return out


def _plots(summary, folder):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(summary["totals"], bins=range(0, int(summary["best"]) + 2), color="#4c72b0", edgecolor="white")
    ax.set_xlabel("automatically graded score")
    ax.set_ylabel("students")
    ax.set_title(f"Score distribution ({len(summary['totals'])} submissions)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(folder / "scores.png", dpi=100)
    plt.close(fig)
    names = list(summary["per_check"])
    rates = [100 * p / n for p, n in summary["per_check"].values()]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(names) + 1))
    ax.barh(range(len(names)), rates, color=["#c44e52" if r < 50 else "#4c72b0" for r in rates])
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([shortened(n, 70) for n in names], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submissions passing")
    ax.set_title("Pass rate per check")
    fig.tight_layout()
    fig.savefig(folder / "pass_rates.png", dpi=100)
    plt.close(fig)
    if summary["mistakes"]:
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(summary["mistakes"]) + 1))
        ax.barh([m for m, _, _ in summary["mistakes"]], [n for _, n, _ in summary["mistakes"]], color="#dd8452")
        ax.invert_yaxis()
        ax.set_xlabel("submissions making the mistake")
        ax.set_title("Most frequent recognised mistakes")
        fig.tight_layout()
        fig.savefig(folder / "mistakes.png", dpi=100)
        plt.close(fig)


def write_instructor_report(rows, folder, assignment):
    """folder/index.html with PNG plots for one assignment's batch: what to re-teach, at a glance."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s = summarise(rows, assignment)
    _plots(s, folder)
    n = len(s["totals"])
    page = env("html").get_template("report.html.j2").render(
        assignment=assignment, s=s, n=n, mean=sum(s["totals"]) / n if n else 0,
        full=sum(t == s["best"] for t in s["totals"]), zero=sum(t == 0 for t in s["totals"]))
    store.write_text(folder / "index.html", page)
    return folder / "index.html"
