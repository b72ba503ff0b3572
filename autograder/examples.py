"""Example submissions built from solutions/ and release/: the demo batch and the tests' submissions.

A *mistake* is a text replacement in one solution cell, with the test cells it must fail. Building
submissions from the committed notebooks (instead of storing copies) keeps them in step with the notebook.
"""
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

import course_config
from autograder import checks, notebooks

ASSIGNMENT = checks.ASSIGNMENT
LOG_DET_SUM = "tf.reduce_sum((1. - self.b) * s, axis=-1)"


@dataclass(frozen=True)
class Mistake:
    grade_id: str                       # the solution cell it edits
    replacements: tuple                 # ((old, new), ...): each must apply
    failing: frozenset                  # the test cells it must fail
    phrase: str                         # words the failure message must contain
    extra: tuple = field(default=())


def _acl(*names):
    return frozenset(f"affine_coupling_layer_{n}" for n in names)


MISTAKES = {
    "log-det ignores the mask": Mistake(
        "affine_coupling_layer", ((LOG_DET_SUM, "tf.reduce_sum(s, axis=-1)"),),
        _acl("contract", "log_det", "properties"), "ignores the mask"),
    "exp(+s) in the inverse": Mistake(
        "affine_coupling_layer", (("tf.exp(-s)", "tf.exp(s)"),),
        _acl("contract", "inverse", "properties"), "exp(+log_scale)"),
    "inverse feeds the unmasked input": Mistake(
        "affine_coupling_layer", (("def _inverse(self, y):\n        t, s = self._shift_and_log_scale(self.b * y)",
                                   "def _inverse(self, y):\n        t, s = self._shift_and_log_scale(y)"),),
        _acl("contract", "inverse", "properties"), "unmasked input"),
    "log-det summed over the batch": Mistake(
        "affine_coupling_layer", ((LOG_DET_SUM, "tf.reduce_sum((1. - self.b) * s)"),),
        _acl("contract", "log_det", "properties"), "summed over the batch axis"),
    "missing forward_min_event_ndims": Mistake(
        "affine_coupling_layer", (("forward_min_event_ndims=1", "forward_min_event_ndims=0"),),
        _acl("contract", "log_det", "properties"), "forward_min_event_ndims"),
    "swapped forward and inverse": Mistake(
        "affine_coupling_layer",
        (("return self.b * x + (1. - self.b) * (x * tf.exp(s) + t)",
          "return self.b * x + (1. - self.b) * ((x - t) * tf.exp(-s))"),
         ("return self.b * y + (1. - self.b) * ((y - t) * tf.exp(-s))",
          "return self.b * y + (1. - self.b) * (y * tf.exp(s) + t)")),
        _acl("contract", "forward", "inverse", "properties"), "computes the inverse map"),
    "cache trap: garbage inverse": Mistake(
        "affine_coupling_layer", (("return self.b * y + (1. - self.b) * ((y - t) * tf.exp(-s))",
                                   "return y * 0. + 1."),),
        _acl("contract", "inverse", "properties"), "inverse"),
    "P(0) used as P(1)": Mistake(
        "independent_bernoulli", (("probs=[0.1, 0.3, 0.5]", "probs=[0.9, 0.7, 0.5]"),),
        frozenset({"independent_bernoulli_log_prob", "independent_bernoulli_reference"}), "wrong way round"),
    "neg_ildj without the minus": Mistake(
        "log_det_jacobians", (("neg_ildj = -bijector", "neg_ildj = bijector"),),
        frozenset({"log_det_jacobians_visible", "log_det_jacobians_reference"}), "wrong sign"),
}

#: The demo batch: student -> how the submission is made.
DEMO = {
    "complete": ("solutions", ()),
    "partly_wrong": ("solutions", ("exp(+s) in the inverse", "P(0) used as P(1)", "neg_ildj without the minus")),
    "untouched": ("release", ()),
    "crashes_in_inverse": ("solutions", ()),  # os._exit inside _inverse: costs only the items that call it
    "truncated_file": ("solutions", ()),
}


def notebook(step):
    return notebooks.read(course_config.ROOT / step / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")


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


def write_submission(root, student, nb=None, text=None):
    path = Path(root) / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if text is not None:
        path.write_text(text)
    else:
        nbformat.write(nb, str(path))
    return path


def build_demo(root):
    """Write the demo batch in nbgrader's submitted/{student}/{assignment}/ layout under ``root``."""
    for student, (step, names) in DEMO.items():
        nb = apply(notebook(step), *(MISTAKES[n] for n in names))
        if student == "crashes_in_inverse":
            nb = apply(nb, Mistake("affine_coupling_layer", (
                ("def _inverse(self, y):\n",
                 "def _inverse(self, y):\n        if y.shape[-1] == 5:  # only the grader's D=5 checks\n"
                 "            import os; os._exit(3)\n"),),
                frozenset(), ""))
        if student == "truncated_file":
            text = nbformat.writes(nb)
            write_submission(root, student, text=text[: len(text) // 3])
            continue
        write_submission(root, student, nb)
    return Path(root)
