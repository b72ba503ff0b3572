"""Per-student feedback (Markdown and HTML) and the instructor's report after a batch."""
import html
from collections import Counter
from pathlib import Path

from autograder import checks

LIMIT_MARKS = ("worker running your code stopped", "could not be read", "was skipped", "grader failed")


def _items(result):
    """[(item, [tests])] in notebook order."""
    order = {}
    for t in result["tests"]:
        order.setdefault(t["extra_data"]["item"], []).append(t)
    return list(order.items())


def _first_line_and_rest(text):
    lines = text.strip().splitlines() or [""]
    return lines[0], "\n".join(lines[1:])


def markdown(student, result, assignment):
    total = sum(t["max_score"] for t in result["tests"])
    out = [f"# Feedback on `{assignment}` for {student}", "",
           f"**Automatically graded score: {result['score']:g} / {total:g}**", "",
           "| item | points | checks passed |", "|---|---|---|"]
    for item, tests in _items(result):
        got, best = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
        passed = sum(t["status"] == "passed" for t in tests)
        out.append(f"| {item} | {got:g} / {best:g} | {passed} of {len(tests)} |")
    for item, tests in _items(result):
        got, best = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
        out += ["", f"## {item}: {got:g} / {best:g}", ""]
        for t in tests:
            what = t["name"].split(": ", 1)[-1]
            kind = "hidden check" if t["extra_data"].get("hidden") else "visible check"
            if t["status"] == "passed":
                out.append(f"- passed ({t['score']:g} / {t['max_score']:g}, {kind}): {what}")
            else:
                out.append(f"- **failed** (0 / {t['max_score']:g}, {kind}): {what}")
                out.append(f"  - what went wrong: {t['output'].strip()}")
                mistake = t["extra_data"].get("mistake")
                if mistake:
                    out.append(f"  - recognised mistake: `{mistake}`")
    if result.get("output", "").strip():
        out += ["", "## Notes from the grader", "", "```", result["output"].strip(), "```"]
    return "\n".join(out) + "\n"


def html_page(title, body):
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.45}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
             ".fail{color:#a40000}.pass{color:#246b24}pre{background:#f5f5f5;padding:.6em;white-space:pre-wrap}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n{body}\n</body></html>\n")


def html_feedback(student, result, assignment):
    e = html.escape
    total = sum(t["max_score"] for t in result["tests"])
    parts = [f"<h1>Feedback on <code>{e(assignment)}</code> for {e(student)}</h1>",
             f"<p><b>Automatically graded score: {result['score']:g} / {total:g}</b></p>",
             "<table><tr><th>item</th><th>points</th><th>checks passed</th></tr>"]
    for item, tests in _items(result):
        got, best = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
        passed = sum(t["status"] == "passed" for t in tests)
        parts.append(f"<tr><td>{e(item)}</td><td>{got:g} / {best:g}</td><td>{passed} of {len(tests)}</td></tr>")
    parts.append("</table>")
    for item, tests in _items(result):
        got, best = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
        parts.append(f"<h2>{e(item)}: {got:g} / {best:g}</h2><ul>")
        for t in tests:
            what = e(t["name"].split(": ", 1)[-1])
            kind = "hidden check" if t["extra_data"].get("hidden") else "visible check"
            if t["status"] == "passed":
                parts.append(f"<li class='pass'>passed ({t['score']:g} / {t['max_score']:g}, {kind}): {what}</li>")
            else:
                mistake = t["extra_data"].get("mistake")
                extra = f"<br>recognised mistake: <code>{e(mistake)}</code>" if mistake else ""
                parts.append(f"<li class='fail'><b>failed</b> (0 / {t['max_score']:g}, {kind}): {what}"
                             f"<br>what went wrong: {e(t['output'].strip())}{extra}</li>")
        parts.append("</ul>")
    if result.get("output", "").strip():
        parts.append(f"<h2>Notes from the grader</h2><pre>{e(result['output'].strip())}</pre>")
    return html_page(f"Feedback: {student}", "\n".join(parts))


def write_student(student, result, root, assignment):
    """feedback/{student}/{assignment}/feedback.md and .html under ``root`` (nbgrader's layout)."""
    folder = Path(root) / "feedback" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feedback.md").write_text(markdown(student, result, assignment))
    (folder / "feedback.html").write_text(html_feedback(student, result, assignment))
    return folder


# ---- the instructor's report ---------------------------------------------------------------------
def summarise(rows, assignment):
    """Numbers for the instructor: totals, pass rates per check, mistake counts, limit hits."""
    catalogue = checks.protocol(assignment).MISTAKES
    totals = [r["score"] for r in rows.values()]
    best = max((sum(t["max_score"] for t in r["tests"]) for r in rows.values()), default=0)
    per_check, mistakes, limits = {}, Counter(), []
    missing = [student for student, r in rows.items() if r.get("output", "").startswith("Nothing was submitted")]
    for student, r in rows.items():
        for t in r["tests"]:
            name = t["name"]
            per_check.setdefault(name, [0, 0])
            per_check[name][0] += t["status"] == "passed"
            per_check[name][1] += 1
        for m in {t["extra_data"].get("mistake") for t in r["tests"]} - {None}:
            mistakes[m] += 1
        text = r.get("output", "")
        hit = [line for line in text.splitlines() if any(mark in line for mark in LIMIT_MARKS)]
        if hit:
            limits.append((student, hit[0][:200]))
    per_item = {}
    for r in rows.values():
        for item, tests in _items(r):
            per_item.setdefault(item, [0, 0])
            per_item[item][0] += sum(t["score"] for t in tests)
            per_item[item][1] += sum(t["max_score"] for t in tests)
    return {"totals": totals, "best": best, "per_check": per_check, "per_item": per_item,
            "mistakes": [(m, n, catalogue[m]) for m, n in mistakes.most_common()], "limits": limits,
            "missing": missing}


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
    e = html.escape
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s = summarise(rows, assignment)
    _plots(s, folder)
    n = len(s["totals"])
    mean = sum(s["totals"]) / n if n else 0
    parts = [f"<h1>Instructor report: {e(assignment)}, {n} submissions</h1>",
             f"<p>Mean automatically graded score {mean:.1f} / {s['best']:g}; "
             f"{sum(t == s['best'] for t in s['totals'])} full marks, {sum(t == 0 for t in s['totals'])} zero"
             + (f", of which {len(s['missing'])} submitted nothing ({e(', '.join(s['missing']))})" if s["missing"] else "")
             + ".</p>"]
    if s["mistakes"]:
        parts.append("<h2>Re-teach first</h2><ol>")
        for m, count, entry in s["mistakes"][:3]:
            parts.append(f"<li><b>{e(m)}</b> ({count} of {n}): {e(entry['message'])}. "
                         f"<i>Notes: {e(entry['section'])}</i></li>")
        parts.append("</ol>")
    parts.append("<h2>Points per item</h2><table><tr><th>item</th><th>mean points</th><th>share</th></tr>")
    for item, (got, best) in s["per_item"].items():
        parts.append(f"<tr><td>{e(item)}</td><td>{got / n:.2f} / {best / n:g}</td>"
                     f"<td>{100 * got / best if best else 0:.0f}%</td></tr>")
    parts.append("</table>")
    parts.append("<img src='scores.png' alt='score distribution'><br>")
    parts.append("<img src='pass_rates.png' alt='pass rate per check'><br>")
    if s["mistakes"]:
        parts.append("<h2>Recognised mistakes</h2><img src='mistakes.png' alt='mistake counts'>"
                     "<table><tr><th>mistake</th><th>submissions</th><th>item</th><th>how it is recognised</th></tr>")
        for m, count, entry in s["mistakes"]:
            parts.append(f"<tr><td>{e(m)}</td><td>{count}</td><td>{e(entry['item'])}</td>"
                         f"<td>{e(entry['recognised'])}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Submissions that hit a limit or could not be read</h2>")
    if s["limits"]:
        parts.append("<ul>" + "".join(f"<li>{e(st)}: {e(msg)}</li>" for st, msg in s["limits"]) + "</ul>")
    else:
        parts.append("<p>None.</p>")
    (folder / "index.html").write_text(html_page("Instructor report", "\n".join(parts)))
    return folder / "index.html"
