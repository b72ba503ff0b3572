"""What every assignment's self-check module shares: failures, the question helpers, running checks.

Ships with each release next to the assignment's own module (``nf_checks.py``, ``ms_checks.py``), which
defines the question protocol ``answer``, the visible checks ``VISIBLE`` and the mistake catalogue
``MISTAKES``. Needs nothing but numpy (and TensorFlow where a question touches tensors).
"""
import contextlib
import inspect
import logging
import os
import re
import warnings

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class CheckFailure(AssertionError):
    """A check failed; the message is written for the student. ``mistake`` names a catalogued mistake."""

    def __init__(self, message, mistake=None):
        super().__init__(message)
        self.mistake = mistake


class QuestionError(Exception):
    """A request could not be answered from the student's objects (message says why)."""


def catalogued(catalogue, mistake_id, detail=""):
    """A CheckFailure for a catalogued mistake, with its message and where the notes explain it."""
    entry = catalogue[mistake_id]
    text = entry["message"] + (f" ({detail})" if detail else "") + f". See the notes: {entry['section']}."
    return CheckFailure(text, mistake_id)


@contextlib.contextmanager
def quiet():
    """Silence Python warnings and TF/absl logging (nbgrader zeroes a test cell that writes to stderr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = logging.getLogger("tensorflow").level
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        try:
            yield
        finally:
            logging.getLogger("tensorflow").setLevel(old)


# --------------------------------------------------------------------------------------------
# Answering questions
# --------------------------------------------------------------------------------------------
def tf_modules():
    import tensorflow as tf
    import tensorflow_probability as tfp
    return tf, tfp


def clean_error_text(text):
    """An error's text without TensorFlow's internals: no ``{{function_node ...}}`` prefix, no ``[Op:...]``
    tag, no graph traceback; its first line only, cut to a readable length."""
    text = re.sub(r"\{\{[^}]*\}\}", "", str(text))
    text = re.sub(r"\s*\[Op:[^\]]*\](\s*name:.*)?", "", text)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith("in user code"):  # an error inside tf.function: its last line says what
        lines = lines[-1:]
    first = lines[0] if lines else ""
    return first if len(first) <= 300 else first[:297] + "..."


def student_error_message(e):
    """Words for an exception raised by the student's code (never TensorFlow's raw error text)."""
    detail = clean_error_text(e)
    text = f"your code raised {type(e).__name__}" + (f": {detail}" if detail else "")
    if isinstance(e, NotImplementedError):
        text += " (the `raise NotImplementedError()` stub is still in place: replace it with your answer)"
    return text


def lookup(ns, path):
    """Resolve ``"name"`` or ``"name.attr"`` in the student's namespace."""
    head, *rest = path.split(".")
    if head not in ns:
        raise QuestionError(f"`{head}` is not defined. Run the cell that defines it (and the cells above it).")
    obj = ns[head]
    for attr in rest:
        if not hasattr(obj, attr):
            raise QuestionError(f"`{head}` has no attribute `{attr}`.")
        obj = getattr(obj, attr)
    return obj


def shape_list(shape):
    try:
        return [int(d) for d in shape]
    except (TypeError, ValueError):
        return None


def int_sequence(obj):
    """The values of a sequence of integers in any container (tuple, list, tf.TensorShape, numpy or tensor
    of ints, numpy ints), as Python ints; None if ``obj`` is not one."""
    if isinstance(obj, (str, bytes, dict, bool)) or obj is None:
        return None
    try:
        if hasattr(obj, "as_list"):  # tf.TensorShape
            obj = obj.as_list()
        if hasattr(obj, "numpy"):
            obj = obj.numpy()
        items = list(obj)
    except Exception:
        return None
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)) or v is None:
            return None
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        if not np.isfinite(f) or f != round(f) or np.ndim(v) != 0:
            return None
        out.append(int(round(f)))
    return out


def fresh(tf, x, dtype="float32"):
    """A new tensor that no bijector has seen before (bijectors cache by tensor identity)."""
    return tf.constant(np.array(x, dtype=dtype, copy=True))


def as_array(value, what):
    try:
        arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype="float64")
    except Exception as e:
        raise QuestionError(f"{what} did not return something convertible to an array "
                            f"({type(e).__name__}: {e})") from None
    return arr


def describe(obj):
    """Plain facts about a student's object: type, and shapes for a distribution."""
    _, tfp = tf_modules()
    out = {"type": type(obj).__name__, "module": type(obj).__module__,
           "is_distribution": isinstance(obj, tfp.distributions.Distribution),
           "is_bijector": isinstance(obj, tfp.bijectors.Bijector)}
    if out["is_distribution"]:
        out["event_shape"] = shape_list(obj.event_shape)
        out["batch_shape"] = shape_list(obj.batch_shape)
        out["dtype"] = getattr(obj.dtype, "name", str(obj.dtype))
    if isinstance(obj, type):
        out["is_bijector_class"] = issubclass(obj, tfp.bijectors.Bijector)
    elif isinstance(obj, (tuple, list)):
        out["value"] = [v if isinstance(v, (int, float, str, bool)) or v is None else repr(v) for v in obj]
        out["item_types"] = [type(v).__name__ for v in obj]
        out["items_integral"] = [isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                                 for v in obj]
    elif isinstance(obj, (int, float, str, bool)) or obj is None:
        out["value"] = obj
    if isinstance(obj, (tuple, list, np.ndarray)) or type(obj).__name__ in ("TensorShape", "EagerTensor"):
        out["ints"] = int_sequence(obj)  # the value of a shape-like answer, whatever its container
    return out


def min_event_ndims(bij):
    v = getattr(bij, "forward_min_event_ndims", None)
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def autodiff_jacobian(tf, forward, x, event_ndims=1):
    """Each example's Jacobian of ``forward`` at ``x`` by autodiff, events flattened: [N, D, D].

    One gradient per output coordinate (D is small): the rows of every example's Jacobian at once, since
    examples do not interact. Ten times faster in eager mode than ``tape.batch_jacobian``.
    """
    n = int(x.shape[0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = forward(x)
        if not tf.is_tensor(y) or y.shape.rank is None:
            raise QuestionError("forward must return a tensor to take its Jacobian by autodiff.")
        outputs = tf.unstack(tf.reshape(y, [n, -1]), axis=-1)  # recorded on the tape, like forward itself
    rows = [tape.gradient(out, x) for out in outputs]
    if any(r is None for r in rows):
        raise QuestionError("forward's output is not differentiable with respect to its input "
                            "(is a NumPy conversion in the way?).")
    return as_array(tf.stack([tf.reshape(r, [n, -1]) for r in rows], axis=-2), "the autodiff Jacobian of forward")


def bijector_answer(tf, bij, method, x, event_ndims, request=None):
    """Call one method of a bijector on the fresh tensor ``x``: the dispatch both assignments share.

    ``event_ndims`` is the assignment's event rank (a request may override it for ``ildj``). Methods:
    forward, inverse, fldj, ildj, jacobian (each example's d forward / d x by autodiff, events flattened:
    [N, D, D]) and describe (forward_min_event_ndims, type, name and what forward returns).
    """
    request = request or {}
    if method == "forward":
        return as_array(bij.forward(x), "forward")
    if method == "inverse":
        return as_array(bij.inverse(x), "inverse")
    if method == "fldj":
        return as_array(bij.forward_log_det_jacobian(x, event_ndims=request.get("event_ndims", event_ndims)),
                        "forward_log_det_jacobian")
    if method == "ildj":
        return as_array(bij.inverse_log_det_jacobian(x, event_ndims=request.get("event_ndims", event_ndims)),
                        "inverse_log_det_jacobian")
    if method == "jacobian":
        return autodiff_jacobian(tf, bij.forward, x)
    if method == "describe":
        y = bij.forward(x)
        return {"forward_min_event_ndims": min_event_ndims(bij), "type": type(bij).__name__,
                "name": str(getattr(bij, "name", "")), "returns": "tensor" if tf.is_tensor(y) else type(y).__name__}
    raise QuestionError(f"unknown bijector method {method!r}")


# --------------------------------------------------------------------------------------------
# Writing checks
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Running checks in the notebook
# --------------------------------------------------------------------------------------------
def run_checks(checks, ask, label):
    """Run checks in order, print one line per passed check, raise on the first failure."""
    for fn in checks:
        summary = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
        try:
            with quiet():
                fn(ask)
        except CheckFailure as e:
            raise CheckFailure(f"[{label}] {e}", e.mistake) from None
        print(f"  ok  {summary}")


def entry_points(visible, answer):
    """A protocol module's ``local_asker(namespace)`` and ``check(name, namespace=None)``."""
    def local_asker(namespace):
        """``ask`` for objects in this process (the notebook's own kernel)."""
        def ask(request):
            with quiet():
                return answer(namespace, request)
        return ask

    def check(name, namespace=None):
        """Run visible checks against the variables of the calling notebook, offline.

        ``name`` is a test cell's grade_id or a whole exercise (all of its visible checks), for example
        ``check("affine_coupling_layer")`` or ``check("squeeze")``.
        """
        cells = [name] if name in visible else [t for t in visible if t.startswith(name + "_")]
        if not cells:
            raise KeyError(f"no visible checks named {name!r}; choose an exercise, or one of {sorted(visible)}")
        ns = namespace if namespace is not None else inspect.currentframe().f_back.f_globals
        for test_id in cells:
            run_checks(visible[test_id], local_asker(ns), test_id)
        print(f"{name}: all visible checks passed. Hidden checks run when your work is graded.")

    return local_asker, check
