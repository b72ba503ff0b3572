"""The grader <-> worker channel: one JSON object per line; arrays travel as .npy bytes, never pickle."""
import base64
import io
import json

import numpy as np


def _encode(value):
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        buf = io.BytesIO()
        np.save(buf, np.asarray(value), allow_pickle=False)
        return {"__npy__": base64.b64encode(buf.getvalue()).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot send a {type(value).__name__} over the worker channel")


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__npy__"}:
            return np.load(io.BytesIO(base64.b64decode(value["__npy__"])), allow_pickle=False)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def dumps(message):
    return (json.dumps(_encode(message)) + "\n").encode("utf-8")


def loads(line):
    return _decode(json.loads(line))
