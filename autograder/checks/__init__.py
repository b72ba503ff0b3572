"""Hidden checks: ``autograder/checks/<assignment>/<item>.py``, one module per graded item.

An *item* is an autograded solution cell of the source notebook (its grade_id); its test cells are the
graded cells whose grade_id starts with ``<item>_``. Each item module defines:

* ``REQUESTS``: name -> request, the hidden inputs. ``make reference`` answers them from the solutions
  and stores the answers in ``autograder/reference/<assignment>.json``.
* ``HIDDEN``: test-cell grade_id -> list of check functions ``fn(ask, ref)``. ``ask`` answers a request
  about the student's objects; ``ref`` maps the module's request names to reference answers. A check
  raises ``CheckFailure`` with a message for the student, and never puts reference values in it.

Every assignment also ships a *protocol* module with its release (``course_config.PROTOCOL_MODULES``, e.g.
``nf_checks.py``): the question protocol ``answer(namespace, request)``, the visible checks (``VISIBLE``),
the mistake catalogue (``MISTAKES``) and ``check()`` for students; ``course.protocol`` loads it. The reference
values live in ``autograder.reference``. Nothing here is specific to one assignment.
"""
import functools
import importlib
import importlib.util

from autograder import course


def item_module(assignment, item):
    course.protocol(assignment)  # the item modules import it by name
    return importlib.import_module(f"autograder.checks.{assignment}.{item}")


@functools.cache
def hidden_checks(assignment):
    """test-cell grade_id -> (item, [check functions])."""
    out = {}
    for item in course.items(assignment):
        for test_id, fns in item_module(assignment, item).HIDDEN.items():
            out[test_id] = (item, fns)
    return out


def graded_test_cells(assignment):
    """[(test-cell grade_id, item)] for every graded test cell the checks know, visible first."""
    visible = [(t, course.item_of(assignment, t)) for t in course.protocol(assignment).VISIBLE]
    hidden = [(t, item) for t, (item, _) in hidden_checks(assignment).items()]
    return visible + hidden


def run_test_cell(assignment, test_id, ask, reference):
    """Run the checks of one graded test cell (visible or hidden); raises CheckFailure on the first failure."""
    visible = course.protocol(assignment).VISIBLE
    if test_id in visible:
        for fn in visible[test_id]:
            fn(ask)
        return
    item, fns = hidden_checks(assignment)[test_id]
    for fn in fns:
        fn(ask, reference[item])


