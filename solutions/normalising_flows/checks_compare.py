"""Writing checks: asking, requiring and comparing float64 arrays, in words a student can act on.

Part of the shared checks (``checks_core`` re-exports every name), shipped with each release.
"""
import numpy as np

from checks_failures import CheckFailure, QuestionError, student_error_message


def ask_or_fail(ask, request):
    """Ask a question; turn a QuestionError or a crash in the student's code into a CheckFailure."""
    try:
        return ask(request)
    except CheckFailure:
        raise
    except QuestionError as e:
        raise CheckFailure(str(e)) from None
    except Exception as e:  # the student's code raised
        raise CheckFailure(student_error_message(e)) from None


def require(condition, message):
    if not condition:
        raise CheckFailure(message)


def close(actual, expected, rtol=1e-4, atol=1e-4):
    a, e = np.asarray(actual, dtype="float64"), np.asarray(expected, dtype="float64")
    return a.shape == e.shape and bool(np.all(np.isfinite(a))) and np.allclose(a, e, rtol=rtol, atol=atol)


def without_unit_axes(got, shape):
    """``got`` reshaped to ``shape`` when the two differ only by axes of size 1 (a batch axis of size 1 that a shape
    check charges already), else unchanged: a value check judges the values, not that axis again."""
    got, shape = np.asarray(got), tuple(shape)
    if got.shape != shape and [d for d in got.shape if d != 1] == [d for d in shape if d != 1]:
        return got.reshape(shape)
    return got


def first_difference(actual, expected, rtol=1e-4, atol=1e-4, hidden=False):
    """A short description of where two arrays differ, for a failure message.

    With ``hidden`` (the expected values are reference values the student must not see) it gives shapes and
    how many values differ, but no number computed from the expected values (not even a difference).
    """
    a, e = np.asarray(actual, dtype="float64"), np.asarray(expected, dtype="float64")
    if a.shape != e.shape:
        return f"shape {list(a.shape)} where {list(e.shape)} was expected"
    bad = ~np.isclose(a, e, rtol=rtol, atol=atol)
    if not bad.any():
        return "no difference"
    if hidden:
        return (f"{int(bad.sum())} of {a.size} values differ from the reference (tolerance rtol={rtol}, "
                f"atol={atol})" + ("; some of yours are not finite" if not np.all(np.isfinite(a)) else ""))
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"{int(bad.sum())} of {a.size} values differ; first at index {list(idx)}: "
            f"got {a[idx]:.6g}, expected {e[idx]:.6g} (rtol={rtol}, atol={atol})")


def rng(seed):
    return np.random.default_rng(seed)
