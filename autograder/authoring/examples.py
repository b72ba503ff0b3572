"""Example submissions built from solutions/ and release/: the demo batch and the tests' submissions.

A *mistake* is a text replacement in one solution cell, with the test cells it must fail. Building
submissions from the committed notebooks (instead of storing copies) keeps them in step with the notebook.
"""
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import course, notebooks

ASSIGNMENT = "normalising_flows"
LOG_DET_SUM = "tf.reduce_sum((1. - self.b) * s, axis=-1)"


@dataclass(frozen=True)
class Mistake:
    grade_id: str                       # the solution cell it edits
    replacements: tuple                 # ((old, new), ...): each must apply
    failing: frozenset                  # the test cells it must fail


def _acl(*names):
    return frozenset(f"affine_coupling_layer_{n}" for n in names)


def _m(grade_id, failing, *replacements):
    return Mistake(grade_id, tuple(replacements), frozenset(failing))


#: One submission per catalogued mistake (``nf_checks.MISTAKES``): the edit that makes it, and the test cells
#: it must fail. The tests check both the failing cells and that the feedback names the mistake.
MISTAKE_EDITS = {
    "shape-keeps-event-dims": _m("predicted_log_prob_shape", {"predicted_log_prob_shape_value"},
                                 ("(5, 1, 2)", "(5, 1, 2, 3)")),
    "shape-is-input-shape": _m("predicted_log_prob_shape", {"predicted_log_prob_shape_value"},
                               ("(5, 1, 2)", "(5, 1, 2, 1)")),
    # The value is graded apart from its form: a list with the right numbers loses the form point only.
    "shape-not-a-tuple": _m("predicted_log_prob_shape", {"predicted_log_prob_shape_form"},
                            ("(5, 1, 2)", "[5, 1, 2]")),
    "bernoulli-probs-of-zero": _m("independent_bernoulli",
                                  {"independent_bernoulli_log_prob"},
                                  ("probs=[0.1, 0.3, 0.5]", "probs=[0.9, 0.7, 0.5]")),
    "bernoulli-missing-independent": _m(
        "independent_bernoulli",
        {"independent_bernoulli_shapes"},
        ("tfd.Independent(tfd.Bernoulli(probs=[0.1, 0.3, 0.5]), reinterpreted_batch_ndims=1)",
         "tfd.Bernoulli(probs=[0.1, 0.3, 0.5])")),
    "mvn-sigma-as-cholesky": _m("mvn_transformed", {"mvn_transformed_agree"},
                                ("chol = tf.linalg.cholesky(cov)", "chol = tf.linalg.band_part(cov, -1, 0)")),
    "mvn-base-not-standard": _m(
        "mvn_transformed", {"mvn_transformed_reference"},
        ("distribution=tfd.MultivariateNormalDiag(loc=tf.zeros(2)),\n"
         "    bijector=tfb.Chain([tfb.Shift(mu), tfb.ScaleMatvecTriL(scale_tril=chol)]))",
         "distribution=tfd.MultivariateNormalTriL(loc=tf.zeros(2), scale_tril=chol),\n"
         "    bijector=tfb.Shift(mu))")),
    "mvn-base-batch-of-scalars": _m("mvn_transformed", {"mvn_transformed_types"},
                                    ("distribution=tfd.MultivariateNormalDiag(loc=tf.zeros(2)),",
                                     "distribution=tfd.Normal(loc=[0., 0.], scale=1.),")),
    "mvn-missing-shift": _m("mvn_transformed", {"mvn_transformed_agree"},
                            ("bijector=tfb.Chain([tfb.Shift(mu), tfb.ScaleMatvecTriL(scale_tril=chol)]))",
                             "bijector=tfb.ScaleMatvecTriL(scale_tril=chol))")),
    # No TransformedDistribution breaks two properties: its type, and a base that is N(0, I) (there is none). It
    # must cost at least what a TransformedDistribution on a wrong base costs (tests/checks/test_monotone.py).
    "mvn-not-transformed": _m("mvn_transformed", {"mvn_transformed_types", "mvn_transformed_reference"},
                              ("mvn_transformed = tfd.TransformedDistribution(",
                               "mvn_transformed = mvn_tril\n_unused = tfd.TransformedDistribution(")),
    "acl-logdet-ignores-mask": _m("affine_coupling_layer", _acl("contract"),
                                  (LOG_DET_SUM, "tf.reduce_sum(s, axis=-1)")),
    "acl-inverse-exp-sign": _m("affine_coupling_layer", _acl("contract"),
                               ("tf.exp(-s)", "tf.exp(s)")),
    "acl-inverse-unmasked-input": _m(
        "affine_coupling_layer", _acl("contract"),
        ("t, s = self.shift_and_log_scale_fn(self.b * y)", "t, s = self.shift_and_log_scale_fn(y)")),
    # The issue-20 cases: the network fed the whole input in every hook, and a sign error in the ildj hook alone.
    "acl-unmasked-conditioner": _m(
        "affine_coupling_layer", _acl("contract"),
        *((f"self.shift_and_log_scale_fn(self.b * {v})", f"self.shift_and_log_scale_fn({v})") for v in ("x", "y"))),
    "acl-ildj-sign": _m("affine_coupling_layer", _acl("contract"),
                        ("return -tf.reduce_sum((1. - self.b) * s, axis=-1)", "return tf.reduce_sum((1. - self.b) * s, axis=-1)")),
    "acl-logdet-batch-sum": _m("affine_coupling_layer", _acl("contract"),
                               (LOG_DET_SUM, "tf.reduce_sum((1. - self.b) * s)")),
    "acl-swapped-convention": _m(
        "affine_coupling_layer", _acl("contract"),
        ("return self.b * x + (1. - self.b) * (x * tf.exp(s) + t)",
         "return self.b * x + (1. - self.b) * ((x - t) * tf.exp(-s))"),
        ("return self.b * y + (1. - self.b) * ((y - t) * tf.exp(-s))",
         "return self.b * y + (1. - self.b) * (y * tf.exp(s) + t)")),
    "acl-inverted-mask": _m("affine_coupling_layer", _acl("contract"),
                            ("self.b = tf.cast(mask, tf.float32)", "self.b = 1. - tf.cast(mask, tf.float32)")),
    "acl-min-event-ndims": _m("affine_coupling_layer", _acl("contract"),
                              ("forward_min_event_ndims=1", "forward_min_event_ndims=0")),
    "acl-returns-numpy": _m("affine_coupling_layer", _acl("contract"),
                            ("return self.b * x + (1. - self.b) * (x * tf.exp(s) + t)",
                             "return (self.b * x + (1. - self.b) * (x * tf.exp(s) + t)).numpy()")),
    "acl-clips-log-scale": _m("affine_coupling_layer", _acl("forward"),
                              *((f"{lhs}, s = self.shift_and_log_scale_fn(self.b * {v})\n",
                                 f"{lhs}, s = self.shift_and_log_scale_fn(self.b * {v})\n"
                                 "        s = tf.clip_by_value(s, -1., 1.)  # keep the scales tame\n")
                                for lhs, v in (("t", "x"), ("t", "y"), ("_", "x"), ("_", "y")))),
    # The four below give the right values in eager mode; only training (gradients, tf.function) exposes them.
    "acl-numpy-in-layer": _m("affine_coupling_layer", _acl("properties"),
                             ("x * tf.exp(s) + t", "x * np.exp(s) + t"), ("(y - t) * tf.exp(-s)", "(y - t) * np.exp(-s)")),
    "acl-numpy-in-logdet": _m("affine_coupling_layer", _acl("properties"),
                              (LOG_DET_SUM, "tf.reduce_sum((1. - self.b) * s.numpy(), axis=-1)")),
    "acl-stop-gradient-input": _m("affine_coupling_layer", _acl("properties"),
                                  ("t, s = self.shift_and_log_scale_fn(self.b * x)",
                                   "t, s = self.shift_and_log_scale_fn(tf.stop_gradient(self.b * x))")),
    "acl-fails-in-graph": _m("affine_coupling_layer", _acl("properties"),
                             ("return self.b * x + (1. - self.b) * (x * tf.exp(s) + t)",
                              "b = tf.broadcast_to(self.b, x.shape)\n"
                              "        return b * x + (1. - b) * (x * tf.exp(s) + t)")),
    "acl-mask-not-cast": _m("affine_coupling_layer", _acl("properties"),
                            ("self.b = tf.cast(mask, tf.float32)", "self.b = mask")),
    "acl-kwargs-dropped": _m("affine_coupling_layer", _acl("properties"),
                             ("super().__init__(forward_min_event_ndims=1, **kwargs)",
                              "super().__init__(forward_min_event_ndims=1)")),
    "acl-logdet-fixed-axis": _m("affine_coupling_layer", _acl("properties"),
                                (LOG_DET_SUM, "tf.reduce_sum((1. - self.b) * s, axis=1)")),
    # Equal numbers, so only a recording bijector (which sees no inverse_log_det_jacobian call) tells; the visible
    # check uses one, so the student can see it before submitting.
    "ldj-fldj-twice": _m("log_det_jacobians", {"log_det_jacobians_visible"},
                         ("neg_ildj = -bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=1)",
                          "neg_ildj = bijector.forward_log_det_jacobian(x, event_ndims=1)")),
    "ldj-sign": _m("log_det_jacobians", {"log_det_jacobians_visible"},
                   ("neg_ildj = -bijector", "neg_ildj = bijector")),
    # For a coupling layer ildj(x) == ildj(forward(x)) (the conditioner sees the unchanged half either way), so the
    # visible check also uses a bijector that is not a coupling (tfb.Sinh), where evaluating at x shows.
    "ldj-at-x": _m("log_det_jacobians", {"log_det_jacobians_visible"},
                   ("inverse_log_det_jacobian(bijector.forward(x), event_ndims=1)",
                    "inverse_log_det_jacobian(x, event_ndims=1)")),
    "bimodal-batch-not-mixture": _m(
        "bimodal_base_distribution", {"bimodal_base_distribution_shapes"},
        ("bimodal_base_distribution = tfd.MixtureSameFamily(",
         "bimodal_base_distribution = tfd.MultivariateNormalDiag(loc=[[-1.5, 0.], [1.5, 0.]])\n"
         "_unused = tfd.MixtureSameFamily(")),
    "bimodal-one-mode": _m("bimodal_base_distribution", {"bimodal_base_distribution_reference"},
                           ("loc=[[-1.5, 0.], [1.5, 0.]]", "loc=[[-0.3, 0.], [0.3, 0.]]")),
}

#: One submission per catalogued mistake of the multiscale assignment (``ms_checks.MISTAKES``), each failing the
#: one check that names it. The multiscale flow is graded on the grader's own parts wherever the student's fail
#: their own checks (``checks/realnvp_multiscale/multiscale.py``), so a part's mistake costs nothing there.
_MS = "multiscale_reference"
_FORWARD_SQUEEZE = ("        blocks = tf.reshape(x, [-1, h // 2, 2, w // 2, 2, c])\n"
                    "        blocks = tf.transpose(blocks, [0, 1, 3, 2, 4, 5])  # [n, H/2, W/2, row in block, "
                    "column in block, C]\n")
_INVERSE_SQUEEZE = ("        blocks = tf.reshape(y, [-1, h, w, 2, 2, c])\n"
                    "        blocks = tf.transpose(blocks, [0, 1, 3, 2, 4, 5])  # [n, H/2, row in block, W/2, "
                    "column in block, C]\n")
_IMAGE_LOG_DET = "tf.reduce_sum((1. - self.b) * s, axis=[-3, -2, -1])"
MULTISCALE_EDITS = {
    "preprocess-no-dequant-scale": _m("preprocess", {"preprocess_visible"},
                                      (" - tf.math.log(float(LEVELS)) - tf.math.log(p)", " - tf.math.log(p)")),
    "preprocess-no-logit-term": _m("preprocess", {"preprocess_visible"},
                                   ("tf.math.log(float(LEVELS)) - tf.math.log(p) - tf.math.log1p(-p)",
                                    "tf.math.log(float(LEVELS)) + 0. * p")),
    "preprocess-logdet-not-summed": _m("preprocess", {"preprocess_visible"},
                                       ("return y, tf.reduce_sum(log_det, axis=[-3, -2, -1])", "return y, log_det")),
    "checkerboard-wrong-orientation": _m("checkerboard_mask", {"checkerboard_mask_visible"},
                                         ("(rows + cols + orientation) % 2 == 0", "(rows + cols + orientation) % 2 == 1")),
    "checkerboard-no-channel-axis": _m("checkerboard_mask", {"checkerboard_mask_visible"},
                                       ('.astype("float32")[:, :, None]', '.astype("float32")')),
    "channel-mask-wrong-orientation": _m("channel_mask", {"channel_mask_visible"},
                                         ("kept = first_half if orientation == 0 else ~first_half",
                                          "kept = ~first_half if orientation == 0 else first_half")),
    "squeeze-naive-reshape": _m("squeeze", {"squeeze_visible"},
                                (_FORWARD_SQUEEZE, "        blocks = x\n"), (_INVERSE_SQUEEZE, "        blocks = y\n")),
    "squeeze-channel-major": _m("squeeze", {"squeeze_visible"},
                                ("blocks = tf.transpose(blocks, [0, 1, 3, 2, 4, 5])  # [n, H/2, W/2",
                                 "blocks = tf.transpose(blocks, [0, 1, 3, 5, 2, 4])  # [n, H/2, W/2"),
                                ("blocks = tf.reshape(y, [-1, h, w, 2, 2, c])", "blocks = tf.reshape(y, [-1, h, w, c, 2, 2])"),
                                ("blocks = tf.transpose(blocks, [0, 1, 3, 2, 4, 5])  # [n, H/2, row",
                                 "blocks = tf.transpose(blocks, [0, 1, 4, 2, 5, 3])  # [n, H/2, row")),
    # The 2x2 blocks numbered column by column: with one input channel this changes the multiscale flow too, which
    # is then graded on the grader's own Squeeze.
    "squeeze-block-column-major": _m("squeeze", {"squeeze_visible"},
                                     ("blocks = tf.transpose(blocks, [0, 1, 3, 2, 4, 5])  # [n, H/2, W/2",
                                      "blocks = tf.transpose(blocks, [0, 1, 3, 4, 2, 5])  # [n, H/2, W/2"),
                                     ("blocks = tf.transpose(blocks, [0, 1, 3, 2, 4, 5])  # [n, H/2, row",
                                      "blocks = tf.transpose(blocks, [0, 1, 4, 2, 3, 5])  # [n, H/2, row")),
    "image-coupling-logdet-last-axis": _m("image_coupling", {"image_coupling_contract"},
                                          (_IMAGE_LOG_DET, "tf.reduce_sum((1. - self.b) * s, axis=-1)")),
    "image-coupling-logdet-ignores-mask": _m("image_coupling", {"image_coupling_log_det"},
                                             (_IMAGE_LOG_DET, "tf.reduce_sum(s, axis=[-3, -2, -1])")),
    "multiscale-latents-swapped": _m("multiscale", {_MS},
                                     ("[tf.reshape(z1, [n, -1]), tf.reshape(h, [n, -1])]",
                                      "[tf.reshape(h, [n, -1]), tf.reshape(z1, [n, -1])]"),
                                     ("z1, h = tf.reshape(z[:, :split], latent_shape)",
                                      "h, z1 = tf.reshape(z[:, :split], latent_shape)")),
    "multiscale-latent-not-flat": _m("multiscale", {"multiscale_visible"},
                                     ("return tf.concat([tf.reshape(z1, [n, -1]), tf.reshape(h, [n, -1])], axis=-1)",
                                      "return tf.concat([z1, h], axis=-1)")),
}

#: Each assignment's catalogue of example mistakes.
EDITS = {"normalising_flows": MISTAKE_EDITS, "realnvp_multiscale": MULTISCALE_EDITS}

#: Not a catalogued mistake but a classic trap: an _inverse that returns garbage passes only a check
#: that reuses tensors (the bijector cache). It must lose the inverse points (the visible contract check and the
#: hidden inverse check), and nothing in the property checks, which compare the layer with itself.
CACHE_TRAP = _m("affine_coupling_layer", _acl("contract", "inverse"),
                ("return self.b * y + (1. - self.b) * ((y - t) * tf.exp(-s))", "return y * 0. + 1."))

#: Faults, not mistakes: they must cost only the checks that call the method (none of the notebook's own
#: cells triggers them, because only the grader's checks use D=5 or D=6). The property checks ask D=5 (rank-3
#: batches) but never D=6, so the loop costs the log-det check alone.
OS_EXIT_IN_INVERSE = _m("affine_coupling_layer", _acl("contract", "inverse", "properties"),
                        ("def _inverse(self, y):\n",
                         "def _inverse(self, y):\n        if y.shape[-1] == 5:\n            import os; os._exit(3)\n"))
INFINITE_LOOP_IN_LOG_DET = _m("affine_coupling_layer", _acl("log_det"),
                              ("def _forward_log_det_jacobian(self, x):\n",
                               "def _forward_log_det_jacobian(self, x):\n        while x.shape[-1] == 6:\n"
                               "            pass\n"))

#: The demo batch: student -> {assignment: (step, catalogued mistakes)}; "crashes_in_inverse" and
#: "truncated_file" add a fault to their first-assignment notebook (see build_demo).
DEMO = {
    "complete": {"normalising_flows": ("solutions", ()), "realnvp_multiscale": ("solutions", ())},
    "partly_wrong": {"normalising_flows": ("solutions", ("acl-inverse-exp-sign", "bernoulli-probs-of-zero",
                                                         "ldj-sign")),
                     "realnvp_multiscale": ("solutions", ("squeeze-channel-major", "multiscale-latents-swapped"))},
    "untouched": {"normalising_flows": ("release", ())},
    "crashes_in_inverse": {"normalising_flows": ("solutions", ())},
    "truncated_file": {"normalising_flows": ("solutions", ())},
}


def notebook(step, assignment=ASSIGNMENT):
    return notebooks.read(course.notebook_path(step, assignment))


def apply(nb, *mistakes):
    """A copy of ``nb`` with the mistakes' replacements made in their solution cells."""
    nb = nbformat.from_dict(nb)
    for mistake in mistakes:
        cell = next(c for c in nb.cells if notebooks.grade_meta(c).get("grade_id") == mistake.grade_id)
        for old, new in mistake.replacements:
            if old not in cell.source:
                raise ValueError(f"mistake no longer applies to {mistake.grade_id}: {old!r}")
            cell.source = cell.source.replace(old, new)
    return nb


def write_submission(root, student, nb=None, text=None, assignment=ASSIGNMENT):
    path = course.notebook_path(student, assignment, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    if text is not None:
        path.write_text(text)
    else:
        nbformat.write(nb, str(path))
    return path


def build_demo(root):
    """Write the demo batch in nbgrader's submitted/{student}/{assignment}/ layout under ``root``."""
    for student, work in DEMO.items():
        for assignment, (step, names) in work.items():
            nb = apply(notebook(step, assignment), *(EDITS[assignment][n] for n in names))
            if student == "crashes_in_inverse":
                nb = apply(nb, OS_EXIT_IN_INVERSE)
            if student == "truncated_file":
                text = nbformat.writes(nb)
                write_submission(root, student, text=text[: len(text) // 3], assignment=assignment)
                continue
            write_submission(root, student, nb, assignment=assignment)
    return Path(root)
