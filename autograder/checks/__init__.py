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
    return _item_module(assignment, item)


def _item_module(assignment, item):
    """An item module whose protocol module is loaded already (while a Plan is in hand: it loaded it)."""
    return importlib.import_module(f"autograder.checks.{assignment}.{item}")


@functools.cache
def hidden_checks(assignment):
    """test-cell grade_id -> (item, [check functions])."""
    out = {}
    for item in course.items(assignment):
        for test_id, fns in item_module(assignment, item).HIDDEN.items():
            out[test_id] = (item, fns)
    return out


def graded_test_cells(assignment, plan=None):
    """[(test-cell grade_id, item)] for every graded test cell the checks know, visible first. ``plan``: the
    assignment's course.Plan (asked of the course model when not given)."""
    plan = plan or course.plan(assignment)
    visible = [(t, plan.item_of[t]) for t in plan.protocol.VISIBLE]
    hidden = [(t, item) for t, (item, _) in hidden_checks(assignment).items()]
    return visible + hidden


def run_test_cell(assignment, test_id, ask, reference, plan=None):
    """Run the checks of one graded test cell (visible or hidden); raises CheckFailure on the first failure.
    A cell that passed returns a note for the student ("" if none): how it was judged after a mistake that an
    earlier cell charged.

    A cell's verdict is computed once per ``ask`` (one student's answers): a later cell of the same item that
    asks which mistakes the earlier cells charged (``earlier_mistakes``) reads it instead of asking again.
    ``plan``: the assignment's course.Plan (asked of the course model when not given)."""
    verdicts = _verdicts(ask)
    if test_id in verdicts:
        failure = verdicts[test_id]
        if failure is not None:
            raise type(failure)(str(failure), failure.mistake)
        return _notes(ask).get(test_id, "")
    plan = plan or course.plan(assignment)
    protocol = plan.protocol
    _context.append((assignment, test_id, reference, plan))
    try:
        _run(assignment, test_id, ask, reference, plan)
    except protocol.CheckFailure as e:
        verdicts[test_id] = protocol.with_section(e, protocol.SECTIONS.get(plan.item_of[test_id]))
        raise verdicts[test_id] from None
    finally:
        _context.pop()
    verdicts[test_id] = None
    used = _memory(ask, "_followed").get(test_id)
    if used:
        cells = _memory(ask, "_charged_in").get(test_id, {})
        _notes(ask)[test_id] = (f"judged as you wrote it, with `{'`, `'.join(used)}` already charged in "
                                f"{', '.join(dict.fromkeys(cells.get(m, '?') for m in used))} (a mistake costs "
                                "points once)")
    return _notes(ask).get(test_id, "")


def _run(assignment, test_id, ask, reference, plan):
    # An item module may define ask_for_item(ask, reference): the ask all checks of that item use (a composed
    # item is graded on the grader's own parts where the student's fail their own checks).
    ask_for_item = getattr(_item_module(assignment, plan.item_of[test_id]), "ask_for_item", None)
    if ask_for_item is not None:
        ask = ask_for_item(ask, reference)
    visible = plan.protocol.VISIBLE
    if test_id in visible:
        for fn in visible[test_id]:
            fn(ask)
        return
    item, fns = hidden_checks(assignment)[test_id]
    for fn in fns:
        fn(ask, reference[item])


# ---- one mistake, one check: later cells of an item follow through on what earlier cells charged ----------
#: (assignment, test cell, reference values, course.Plan) of the cells being run, innermost last.
_context = []


def _memory(ask, name):
    """A dict kept on the ``ask`` function itself (one student's answers); a fresh one if it cannot hold any."""
    try:
        return ask.__dict__.setdefault(name, {})
    except AttributeError:  # an ask without a __dict__ (a bound method): no memory, verdicts are recomputed
        return {}


def _verdicts(ask):
    """test cell -> its CheckFailure or None."""
    return _memory(ask, "_verdicts")


def _notes(ask):
    """test cell -> the note saying which earlier charged mistakes it followed through on."""
    return _memory(ask, "_follow_through_notes")


def followed_through(ask, *mistakes):
    """Say that the running check accepted a value only because of these charged mistakes: its cell's note
    names them (a check that judged nothing under a mistake says nothing about it)."""
    if _context:
        used = _memory(ask, "_followed").setdefault(_context[-1][1], [])
        used.extend(m for m in mistakes if m not in used)


def earlier_mistakes(ask):
    """The catalogued mistakes that the earlier test cells of the running cell's item charge this student with,
    in notebook order.

    This is how a mistake is charged once. The first check of an item (in notebook order, the visible ones come
    first) that recognises a catalogued mistake fails and names it; every later check of that item still judges
    every method it asks about, and accepts, method by method, either the right value or the value that method
    has under a charged mistake, and nothing else (it then calls ``followed_through``). A stub, a method that
    raises, and a mistake in a method the charged one does not touch still fail. Unnamed mistakes are charged
    once because the checks are orthogonal: each compares on inputs that isolate its own property.
    """
    if not _context:
        return ()
    assignment, test_id, reference, plan = _context[-1]
    item = plan.item_of[test_id]
    failure_type = plan.protocol.CheckFailure
    found = {}
    for earlier in plan.test_ids:
        if earlier == test_id:
            break
        if plan.item_of[earlier] != item:
            continue
        try:
            run_test_cell(assignment, earlier, ask, reference, plan)
        except failure_type as e:
            if e.mistake and e.mistake not in found:
                found[e.mistake] = earlier
    _memory(ask, "_charged_in")[test_id] = found
    return tuple(found)
