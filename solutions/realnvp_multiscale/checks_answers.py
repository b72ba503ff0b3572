"""Answering a question about the student's objects: fresh tensors in, plain facts and float64 arrays out.

What the question protocols of both assignments share (``answer`` in ``nf_checks``, ``ms_checks``); it runs
where the student's objects live (the grader's worker, or the notebook's own kernel). Part of the shared checks
(``checks_core`` re-exports every name), shipped with each release.
"""
import numpy as np

from checks_failures import QuestionError


def tf_modules():
    import tensorflow as tf
    import tensorflow_probability as tfp
    return tf, tfp


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
