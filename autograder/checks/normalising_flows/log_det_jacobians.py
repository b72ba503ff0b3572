"""Exercise 5: log_det_jacobians(bijector, x) -> (fldj, neg_ildj), on bijectors the grader chooses."""
import numpy as np

from nf_checks import CheckFailure, _coupling_spec, ask_or_fail, close, mistake, require

SPECS = {
    "scale_tril": {"kind": "scale_tril", "scale_tril": [[1.5, 0.0, 0.0], [0.3, 0.7, 0.0], [-1.0, 0.2, 2.0]]},
    "shift_softplus": {"kind": "shift_softplus", "shift": [0.5, -1.0, 2.0]},
    "coupling": _coupling_spec(3, (0, 1, 0), 201),
}
X = np.random.default_rng(202).normal(size=(7, 3))
REQUESTS = {name: {"op": "log_det_jacobians", "spec": spec, "x": X} for name, spec in SPECS.items()}


def check_reference(ask, ref):
    """(fldj, neg_ildj) match the reference for three bijectors, and agree with each other."""
    for name in SPECS:
        fldj, neg_ildj = ask_or_fail(ask, REQUESTS[name])
        want_f, want_n = ref[name]
        require(fldj.shape == want_f.shape and neg_ildj.shape == want_n.shape,
                f"for a {name} bijector the two arrays have shapes {list(fldj.shape)} and {list(neg_ildj.shape)}; "
                f"expected {list(want_f.shape)} each (one per example, event_ndims=1).")
        if not close(fldj, want_f):
            raise CheckFailure(f"fldj is wrong for a {name} bijector: use "
                               "bijector.forward_log_det_jacobian(x, event_ndims=1).")
        if close(neg_ildj, -want_n) and not close(neg_ildj, want_n):
            raise mistake("ldj-sign", f"for a {name} bijector")
        if not close(neg_ildj, want_n):
            raise mistake("ldj-at-x", f"for a {name} bijector")


HIDDEN = {"log_det_jacobians_reference": [check_reference]}
