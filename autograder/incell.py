"""Hidden checks inside a notebook kernel: what the hidden test cells call under `nbgrader autograde`.

This is the convenient path, not the tamper-proof one: the student's code shares the process.
``python -m autograder`` is the authoritative grader.
"""
import inspect

from autograder.checks import hidden_checks, load_reference, protocol


def check_hidden(test_id, namespace=None):
    """Run the hidden checks of one test cell on the caller's variables; raise on the first failure."""
    item, fns = hidden_checks()[test_id]
    ref = load_reference()[item]
    ns = namespace if namespace is not None else inspect.currentframe().f_back.f_globals
    nf = protocol()
    ask = nf.local_asker(ns)
    checks = [lambda a, fn=fn: fn(a, ref) for fn in fns]
    for fn, wrapped in zip(fns, checks):
        wrapped.__doc__ = fn.__doc__
    nf.run_checks(checks, ask, test_id)
    print(f"{test_id}: all hidden checks passed.")
