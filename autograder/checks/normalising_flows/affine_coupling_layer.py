"""Exercise 4: the AffineCouplingLayer bijector, with a grader-built deterministic conditioner."""
import numpy as np

from nf_checks import (CheckFailure, _coupling_spec, ask_or_fail, check_coupling_contract, close,
                       first_difference, mistake, require)

from . import coupling_math as cm

#: (D, mask, seed): D = 2 both ways, an odd D, a mask that does not alternate, and a longer one.
CASES = ((2, (1, 0), 101), (2, (0, 1), 102), (3, (0, 1, 1), 103), (5, (1, 0, 1, 0, 1), 104),
         (6, (1, 1, 0, 0, 1, 0), 105))
N = 9


def _x(d, seed):
    return np.random.default_rng(seed + 1000).normal(size=(N, d)) * 1.5


def _spec(case):
    d, mask, seed = case
    return _coupling_spec(d, mask, seed)


def _case_name(case):
    return f"D={case[0]}, mask={list(case[1])}"


REQUESTS = {}
for _c in CASES:
    _k = _case_name(_c)
    REQUESTS[f"forward {_k}"] = {"op": "bijector", "spec": _spec(_c), "method": "forward", "x": _x(_c[0], _c[2])}
    REQUESTS[f"fldj {_k}"] = {"op": "bijector", "spec": _spec(_c), "method": "fldj", "x": _x(_c[0], _c[2])}
_chain_spec = {"kind": "chain", "bijectors": [_spec(CASES[2]), _spec((3, (1, 0, 0), 106))]}
_chain_x = np.random.default_rng(107).normal(size=(N, 3))
REQUESTS["chain flow_log_prob"] = {"op": "bijector", "spec": _chain_spec, "method": "flow_log_prob", "x": _chain_x}


def _ask(ask, case, method, x):
    return ask_or_fail(ask, {"op": "bijector", "spec": _spec(case), "method": method, "x": x})


def check_forward(ask, ref):
    """forward matches the reference for several D and masks."""
    for case in CASES:
        spec, x, where = _spec(case), _x(case[0], case[2]), _case_name(case)
        got = _ask(ask, case, "forward", x)
        want = ref[f"forward {where}"]
        if close(got, want):
            continue
        if close(got, cm.inverse(spec, x), atol=1e-4):
            raise mistake("acl-swapped-convention", where)
        if close(got, cm.forward(spec, x, mask=1 - np.asarray(case[1])), atol=1e-4):
            raise mistake("acl-inverted-mask", where)
        raise CheckFailure(f"forward does not match the reference ({where}): "
                           + first_difference(got, want, hidden=True) + ".")


def check_inverse(ask, ref):
    """inverse of the reference outputs (fresh tensors) gives back the reference inputs."""
    for case in CASES:
        spec, x, where = _spec(case), _x(case[0], case[2]), _case_name(case)
        y = ref[f"forward {where}"]
        got = _ask(ask, case, "inverse", y)
        if close(got, x):
            continue
        if close(got, cm.inverse(spec, y, exp_sign=+1.0), atol=1e-4):
            raise mistake("acl-inverse-exp-sign", where)
        if close(got, cm.inverse(spec, y, feed_masked=False), atol=1e-4):
            raise mistake("acl-inverse-unmasked-input", where)
        if close(got, cm.forward(spec, y), atol=1e-4):
            raise mistake("acl-swapped-convention", where)
        raise CheckFailure(f"inverse does not recover the reference inputs ({where}): "
                           + first_difference(got, x, hidden=True) + ".")


def check_log_dets(ask, ref):
    """forward and inverse log-det-Jacobians match the reference, one value per example."""
    for case in CASES:
        spec, x, where = _spec(case), _x(case[0], case[2]), _case_name(case)
        got = _ask(ask, case, "fldj", x)
        want = ref[f"fldj {where}"]
        if got.shape != want.shape:
            if got.shape == () and np.isclose(float(got), want.sum(), rtol=1e-4, atol=1e-4):
                raise mistake("acl-logdet-batch-sum", where)
            raise CheckFailure(f"forward_log_det_jacobian has shape {list(got.shape)}; expected "
                               f"{list(want.shape)}, one value per example ({where}).")
        if close(got, want):
            y = ref[f"forward {where}"]
            got_i = _ask(ask, case, "ildj", y)
            if not close(got_i, -want):
                raise CheckFailure(f"inverse_log_det_jacobian does not match the reference ({where}): "
                                   + first_difference(got_i, -want, hidden=True) + ".")
            continue
        if close(got, cm.fldj(spec, x, use_mask=False), atol=1e-4):
            raise mistake("acl-logdet-ignores-mask", where)
        if close(got, -want):
            raise CheckFailure(f"forward_log_det_jacobian has the wrong sign ({where}).")
        if np.allclose(got, got.flat[0]) and close(np.full_like(want, want.sum()), got):
            raise mistake("acl-logdet-batch-sum", f"every example got the batch total; {where}")
        raise CheckFailure(f"forward_log_det_jacobian does not match the reference ({where}): "
                           + first_difference(got, want, hidden=True) + ".")


def check_properties(ask, ref):
    """Round trips, fldj = -ildj(f(x)), autodiff Jacobian, batch shapes, Chain and TransformedDistribution."""
    check_coupling_contract(ask)
    for case in CASES:
        spec, x, where = _spec(case), _x(case[0], case[2]), _case_name(case)
        y = _ask(ask, case, "forward", x)
        require(close(_ask(ask, case, "inverse", y), x), f"inverse(forward(x)) != x on fresh tensors ({where}).")
        x2 = _ask(ask, case, "inverse", x)
        require(close(_ask(ask, case, "forward", x2), x), f"forward(inverse(y)) != y on fresh tensors ({where}).")
        jac = _ask(ask, case, "jacobian", x)
        sign, logdet = np.linalg.slogdet(jac)
        fldj = _ask(ask, case, "fldj", x)
        require(close(fldj, logdet, atol=1e-3),
                f"forward_log_det_jacobian disagrees with log|det| of the autodiff Jacobian of forward ({where}): "
                + first_difference(fldj, logdet, atol=1e-3) + ".")
    d = CASES[3][0]
    xb = np.random.default_rng(5).normal(size=(3, 4, d))
    yb = _ask(ask, CASES[3], "forward", xb)
    require(yb.shape == (3, 4, d), f"forward of a [3, 4, {d}] batch returned shape {list(yb.shape)}.")
    lb = _ask(ask, CASES[3], "fldj", xb)
    require(lb.shape == (3, 4), f"forward_log_det_jacobian of a [3, 4, {d}] batch has shape {list(lb.shape)}; "
                                "expected [3, 4].")
    got = ask_or_fail(ask, REQUESTS["chain flow_log_prob"])
    require(close(got, ref["chain flow_log_prob"], atol=1e-3),
            "inside tfb.Chain and tfd.TransformedDistribution, log_prob disagrees with the reference: "
            + first_difference(got, ref["chain flow_log_prob"], atol=1e-3, hidden=True) + ".")


HIDDEN = {
    "affine_coupling_layer_forward": [check_forward],
    "affine_coupling_layer_inverse": [check_inverse],
    "affine_coupling_layer_log_det": [check_log_dets],
    "affine_coupling_layer_properties": [check_properties],
}
