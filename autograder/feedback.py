"""Per-student feedback (Markdown and HTML) and the instructor's report after a batch, from Jinja2 templates.

Everything is rendered from the typed result (``results.SubmissionResult``); nothing here reads meaning out
of message text. The HTML templates autoescape; the Markdown template escapes every ``<`` and every ``&`` that
would start an entity in every value (``_md_value``) and puts what the student's code printed in a fence longer than any run of backticks
in it, so no text from a submission becomes markup on a page.
"""
import functools
import re
from collections import Counter
from pathlib import Path

import jinja2
from markupsafe import Markup

from autograder import course, store
from autograder.results import typed

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: How each check status reads to a student.
STATUS_WORDS = {"passed": "passed", "failed": "failed", "error": "not graded (grader error)",
                "limit": "stopped by a limit", "missing": "not run"}


_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # an & that would start an HTML entity


def _md_value(value):
    """Every ``{{ }}`` value of a Markdown template: no tag and no entity from any text (a fence is already safe);
    a lone ``>`` or ``&`` stays readable in the raw file."""
    if isinstance(value, Markup):
        return value
    text = "" if value is None else str(value)
    return _ENTITY.sub("&amp;", text).replace("<", "&lt;")


def _fence(text, lang=""):
    """A fenced code block that ``text`` cannot close early."""
    longest = max((len(run) for run in re.findall(r"`+", str(text))), default=0)
    bar = "`" * max(3, longest + 1)
    return Markup(f"{bar}{lang}\n{text}\n{bar}")


def _points(value):
    return f"{value:g}"


def _ticks(text):
    """HTML for a message that marks code with Markdown backticks: escaped first, then `x` becomes <code>x</code>."""
    escaped = str(Markup.escape("" if text is None else text))
    return Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped))


def _duration(minutes):
    """How late, in the unit a person would use."""
    if minutes < 120:
        return f"{minutes:.0f} minutes"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} hours"
    return f"{minutes / 1440:.1f} days"


@functools.cache
def _env(kind):
    """The Jinja2 environment for ``html`` (autoescape) or ``md`` templates."""
    if kind == "html":
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    else:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                                 finalize=_md_value, undefined=jinja2.StrictUndefined,
                                 trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(points=_points, fence=_fence, duration=_duration, ticks=_ticks)
    env.globals.update(STATUS_WORDS=STATUS_WORDS)
    return env


def _context(result, student, for_gradescope, settings=None):
    result = typed(result)
    catalogue = course.protocol(result.assignment).MISTAKES
    items = []
    for item, found in result.items():
        shown = [c for c in found if not (for_gradescope and c.hidden)]
        items.append({"name": item, "checks": shown, "hidden_count": len(found) - len(shown),
                      "hidden_points": sum(c.points for c in found if c not in shown),
                      "score": sum(c.score for c in shown), "best": sum(c.points for c in shown),
                      "passed": sum(c.status == "passed" for c in shown), "total": len(shown)})
    hidden_later = for_gradescope and any(c.hidden for c in result.checks)
    return {"r": result, "student": student, "items": items, "catalogue": catalogue,
            "hidden_later": hidden_later, "settings": settings or {},
            "visible_score": sum(i["score"] for i in items), "visible_best": sum(i["best"] for i in items),
            "who": ", ".join(s.name or s.sid or s.email or "" for s in result.students if s.name or s.sid or s.email)}


def markdown(result, student=None, for_gradescope=False, settings=None):
    """The student's feedback as Markdown. ``for_gradescope``: the text Gradescope shows on every submission,
    so hidden checks are only counted there (their results follow Gradescope's visibility setting)."""
    return _env("md").get_template("feedback.md.j2").render(_context(result, student, for_gradescope, settings))


def html_feedback(result, student=None):
    return _env("html").get_template("feedback.html.j2").render(_context(result, student, False))


# ---- the instructor's report ---------------------------------------------------------------------
def summarise(rows, assignment):
    """Numbers for the instructor: totals, pass rates per check, mistake counts, limit hits, lateness."""
    rows = {student: typed(r) for student, r in rows.items()}
    catalogue = course.protocol(assignment).MISTAKES
    totals = [r.score for r in rows.values()]
    best = max((r.max_score for r in rows.values()), default=0)
    per_check, mistakes, limits, statuses = {}, Counter(), [], Counter()
    missing = [student for student, r in rows.items() if r.status == "missing"]
    late = [(student, r.lateness.minutes_late) for student, r in rows.items() if r.lateness and r.lateness.late]
    for student, r in rows.items():
        for c in r.checks:
            per_check.setdefault(c.name, [0, 0])
            per_check[c.name][0] += c.status == "passed"
            per_check[c.name][1] += 1
            statuses[c.status] += 1
        for m in {c.mistake for c in r.checks} - {None}:
            mistakes[m] += 1
        if r.status in ("unreadable", "wrong_assignment", "grader_error", "unavailable"):
            limits.append((student, r.reason[:200]))
            continue
        hit = [n.text for n in r.limit_notes()] + [c.message for c in r.checks if c.status in ("limit", "error")]
        if hit:
            limits.append((student, hit[0][:200]))
    per_item = {}
    for r in rows.values():
        for item, found in r.items():
            per_item.setdefault(item, [0, 0])
            per_item[item][0] += sum(c.score for c in found)
            per_item[item][1] += sum(c.points for c in found)
    kinds = Counter(r.status for r in rows.values())
    wrong = [(student, r.reason) for student, r in rows.items() if r.status == "wrong_assignment"]
    pending = sum(bool(r.pending()) for r in rows.values())
    return {"kinds": dict(kinds), "wrong": wrong, "pending_hand": pending,
            "auto_full": sum(r.auto_score == r.auto_max for r in rows.values()),
            "totals": totals, "best": best, "per_check": per_check, "per_item": per_item,
            "mistakes": [(m, n, catalogue[m]) for m, n in mistakes.most_common()], "limits": limits,
            "missing": missing, "late": late, "statuses": dict(statuses)}


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
    ax.set_yticklabels([n if len(n) < 70 else n[:67] + "..." for n in names], fontsize=7)
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
    page = _env("html").get_template("report.html.j2").render(
        assignment=assignment, s=s, n=n, mean=sum(s["totals"]) / n if n else 0,
        full=sum(t == s["best"] for t in s["totals"]), zero=sum(t == 0 for t in s["totals"]))
    store.write_text(folder / "index.html", page)
    return folder / "index.html"
