"""The question protocol of the multiscale RealNVP assignment: ``answer(namespace, request)``, with the grader's
conditioner for images and, for the composed item, the grader's own parts bound in the student's namespace.

Ships with the student release next to ``ms_checks.py``, which re-exports every name.
"""
import contextlib

import numpy as np

from checks_core import (QuestionError, as_array, bijector_answer, defining_cell, describe, fresh, lookup, rng,
                         student_error_message, tf_modules)


def image_conditioner(x, a, b, xp):
    """The grader's shift_and_log_scale_fn for [..., H, W, C] images, written once for TensorFlow (``xp=tf``)
    and numpy (``xp=np``; the grader's float64 maths calls this same function).

    It mixes each pixel with its neighbours above and to the left and with the mean over channels, so a
    mistake in a mask changes the answer: ``m = x + 0.5 roll(x, 1, H) - 0.3 roll(x, 1, W) + 0.2 mean_c(x)``,
    ``shift = 0.5 tanh(m + a)``, ``log_scale = 0.4 tanh(0.8 m + b)``, with ``a``, ``b`` one number per channel.
    """
    mean = getattr(xp, "reduce_mean", None) or xp.mean
    m = x + 0.5 * xp.roll(x, 1, axis=-3) - 0.3 * xp.roll(x, 1, axis=-2) + 0.2 * mean(x, axis=-1, keepdims=True)
    return 0.5 * xp.tanh(m + a), 0.4 * xp.tanh(0.8 * m + b)


def conditioner_params(channels, seed):
    """The per-channel offsets (a, b) of the conditioner ``seed`` (float64)."""
    r = rng(seed)
    return 0.5 * r.normal(size=channels), 0.5 * r.normal(size=channels)


def conditioner(channels, seed):
    """The grader-chosen, deterministic shift_and_log_scale_fn for [N, H, W, channels] inputs (TensorFlow)."""
    tf, _ = tf_modules()
    a, b = (tf.constant(v, tf.float32) for v in conditioner_params(channels, seed))

    def shift_and_log_scale_fn(x):
        return image_conditioner(x, a, b, tf)

    return shift_and_log_scale_fn


def grader_make_net(seed):
    """``make_net(height, width, channels)`` for MultiscaleRealNVP: the same conditioner for every layer of
    one shape, so the answer does not depend on the order in which the layers are built."""
    return lambda height, width, channels: conditioner(int(channels), seed + 7 * int(channels))


def _build_bijector(ns, spec):
    _, tfp = tf_modules()
    kind = spec["kind"]
    names = {"squeeze": "Squeeze", "coupling": "ImageAffineCouplingLayer", "multiscale": "MultiscaleRealNVP"}
    cls = lookup(ns, names[kind])
    if not (isinstance(cls, type) and issubclass(cls, tfp.bijectors.Bijector)):
        raise QuestionError(f"`{names[kind]}` must be a class that subclasses tfb.Bijector.")
    try:
        if kind == "squeeze":
            return cls()
        if kind == "coupling":
            return cls(conditioner(spec["channels"], spec["seed"]), np.asarray(spec["mask"], dtype="float32"))
        return cls(*spec["shape"], grader_make_net(spec["seed"]))
    except Exception as e:
        raise QuestionError(f"building {names[kind]} failed: " + student_error_message(e)) from None


#: The grader's own parts, defined once per process from the text a request carries (see ``answer``), and per
#: student's namespace and set of parts, that namespace with them bound (``_with_parts``).
_GRADER_PARTS = {}
_REBOUND = {}


@contextlib.contextmanager
def _with_parts(ns, parts):
    """The namespace a request is answered in: ``ns``, or one with the grader's parts in every place the composed
    item's code can reach the student's.

    ``parts`` is ``{"source": text, "names": [...], "composed": name}``: the grader grades a composed item (the
    multiscale flow) on its own part wherever the student's fails its own checks. Each named part is replaced
    under its own name and under every other global bound to the same object (an alias). Where the code of the
    cell that defines the composed item is known (the grader's worker records it), that cell runs again in a copy
    of ``ns`` with the parts replaced, so what it built when it first ran (default arguments, closures, class
    attributes) is built from the grader's parts, and the request is answered there; elsewhere (a notebook's own
    kernel) the names are replaced in ``ns`` while the request is answered, then restored. The grader's text
    comes with the request only; no copy of it ships with the release.
    """
    if not parts:
        yield ns
        return
    source, names = parts["source"], tuple(parts["names"])
    if source not in _GRADER_PARTS:
        defined = {"__name__": "grader_parts"}
        exec(compile(source, "<the grader's parts>", "exec"), defined)
        _GRADER_PARTS[source] = defined
    grader = _GRADER_PARTS[source]
    theirs = {id(ns[n]): grader[n] for n in names if n in ns}
    replaced = {k: theirs[id(v)] for k, v in ns.items() if id(v) in theirs}
    replaced.update({n: grader[n] for n in names})
    cell = defining_cell(parts["composed"]) if parts.get("composed") else None
    if cell is not None:
        key = (id(ns), source, names, cell)
        if key not in _REBOUND or _REBOUND[key][0] is not ns:
            copy = {**ns, **replaced}
            exec(compile(cell, "<your cell, run again with the grader's parts>", "exec"), copy)
            copy.update({n: grader[n] for n in names})  # a cell that also defines a part keeps the grader's
            _REBOUND[key] = (ns, copy)
        yield _REBOUND[key][1]
        return
    absent = object()
    saved = {name: ns.get(name, absent) for name in replaced}
    ns.update(replaced)
    try:
        yield ns
    finally:
        for name, value in saved.items():
            if value is absent:
                ns.pop(name, None)
            else:
                ns[name] = value


def answer(ns, request):
    """Answer one request about the student's objects in ``ns``. Raises QuestionError."""
    with _with_parts(ns, request.get("parts")) as bound:
        return _answer(bound, request)


def _answer(ns, request):
    op = request["op"]
    tf, _ = tf_modules()
    if op == "describe":
        return describe(lookup(ns, request["name"]))
    if op == "call":  # a function of plain arguments, such as the masks
        fn = lookup(ns, request["name"])
        if not callable(fn):
            raise QuestionError(f"`{request['name']}` must be a function.")
        return as_array(fn(*request["args"]), f"{request['name']}{tuple(request['args'])}")
    if op == "preprocess":
        fn = lookup(ns, "preprocess")
        out = fn(fresh(tf, request["pixels"]), fresh(tf, request["noise"]))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise QuestionError(f"preprocess must return a pair (y, log_det), but it returned {type(out).__name__}.")
        return [as_array(out[0], "y"), as_array(out[1], "log_det")]
    if op == "preprocess_derivative":  # dy/du of each pixel by autodiff (u = pixel + noise); None if not a tensor
        fn = lookup(ns, "preprocess")
        noise = fresh(tf, request["noise"])
        with tf.GradientTape() as tape:
            tape.watch(noise)
            y = fn(fresh(tf, request["pixels"]), noise)[0]
            total = tf.reduce_sum(y) if tf.is_tensor(y) else None
        grad = tape.gradient(total, noise) if total is not None else None
        return None if grad is None else as_array(grad, "the derivative of y")
    if op == "bijector":
        bij = _build_bijector(ns, request["spec"])
        return bijector_answer(tf, bij, request["method"], fresh(tf, request["x"]), event_ndims=3, request=request)
    raise QuestionError(f"unknown request {op!r}")
