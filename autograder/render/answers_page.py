"""The TAs' page of written answers (``OUT/<assignment>/answers.html``): each question with every student's
answer as submitted, escaped and never rendered as Markdown, beside the source notebook's model answer and
rubric (rendered: they are the instructor's)."""
from pathlib import Path

from autograder import course, store
from autograder.render.pages import env

PAGE_FILE = "answers.html"


def _markdown(text):
    from nbconvert.filters import markdown2html
    return markdown2html(text)


def write(folder, assignment, answers, template_file):
    """Write ``folder/answers.html`` for ``answers`` ({student: {grade_id: {status, text}}}); returns its path."""
    items = [{**q, "question_html": _markdown(q["question"]), "model_html": _markdown(q["model"])}
             for q in course.questions(assignment)]
    html = env("html").get_template("answers.html.j2").render(
        assignment=assignment, items=items, students=sorted(answers), answers=answers, template=template_file)
    return store.write_text(Path(folder) / PAGE_FILE, html)
