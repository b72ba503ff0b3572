"""A student's feedback, in Markdown (Gradescope's text, ``feedback.md``) and HTML (``feedback.html``, and the page
``nbgrader release_feedback`` hands out), from the typed result. Nothing here reads meaning out of message text."""
from autograder import course
from autograder.render.pages import env
from autograder.results import typed


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
    notes = [n for n in result.notes if not (for_gradescope and n.held)]  # held with the hidden results
    return {"r": result, "student": student, "items": items, "catalogue": catalogue, "notes": notes,
            "hidden_later": hidden_later, "settings": settings or {},
            "visible_score": sum(i["score"] for i in items), "visible_best": sum(i["best"] for i in items),
            "who": ", ".join(s.name or s.sid or s.email or "" for s in result.students if s.name or s.sid or s.email)}


def markdown(result, student=None, for_gradescope=False, settings=None):
    """The student's feedback as Markdown. ``for_gradescope``: the text Gradescope shows on every submission,
    so hidden checks are only counted there (their results follow Gradescope's visibility setting)."""
    return env("md").get_template("feedback.md.j2").render(_context(result, student, for_gradescope, settings))


def html_feedback(result, student=None):
    return env("html").get_template("feedback.html.j2").render(_context(result, student, False))


