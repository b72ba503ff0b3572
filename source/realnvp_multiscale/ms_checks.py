"""Self-checks for the multiscale RealNVP assignment.

Ships with the student release next to ``checks_core.py`` and needs nothing but TensorFlow, TFP and numpy.
As in the first assignment, ``answer(namespace, request)`` is the narrow question protocol the autograder
also uses, and ``check(name)`` runs the visible checks of one test cell (or of a whole exercise) on the
notebook's variables and says in words what is wrong. The question protocol is in ``ms_answers.py`` next to
it, whose names this module re-exports.
"""
import numpy as np

from checks_core import (CheckFailure, QuestionError, as_array, ask_or_fail, autodiff_jacobian,  # noqa: F401
                         bijector_answer, catalogued, clean_error_text, close, describe, entry_points,
                         first_difference, fresh, lookup, min_event_ndims, quiet, require, rng, run_checks,
                         defining_cell, student_error_message, tf_modules, with_section)
from ms_answers import (  # noqa: F401 (re-exported: the hidden checks and the tests import them from here)
    _with_parts, answer, conditioner, conditioner_params, grader_make_net, image_conditioner)

LEVELS = 17  # grey levels of the digits: 0, 1, ..., 16

#: The catalogue of common mistakes (same fields as the first assignment's).
MISTAKES = {
    "preprocess-no-dequant-scale": dict(
        item="preprocess", recognised="log_det is the reference plus log(17) per pixel",
        message="the log-det leaves out the scaling x = u / 17 of the dequantized pixels: each pixel also "
                "contributes -log 17",
        section="1. Dequantization and the logit transform"),
    "preprocess-no-logit-term": dict(
        item="preprocess", recognised="log_det is the reference plus the sum of log p + log(1 - p)",
        message="the log-det leaves out the logit's own derivative: each pixel contributes -log p - log(1 - p), "
                "where p = alpha + (1 - 2 alpha) x",
        section="1. Dequantization and the logit transform"),
    "preprocess-logdet-not-summed": dict(
        item="preprocess", recognised="log_det has the shape of the images instead of [N]",
        message="log_det must be one number per image: sum the per-pixel terms over height, width and channels",
        section="1. Dequantization and the logit transform"),
    "checkerboard-wrong-orientation": dict(
        item="checkerboard_mask", recognised="the mask equals 1 minus the expected mask",
        message="orientation 0 puts a 1 at the top-left pixel (where i + j is even) and orientation 1 is its "
                "complement; your masks are the other way round",
        section="2. Checkerboard and channel masks"),
    "checkerboard-no-channel-axis": dict(
        item="checkerboard_mask", recognised="the mask has shape [height, width]",
        message="return shape [height, width, 1], so that the mask broadcasts over the channels of a "
                "[..., height, width, channels] tensor",
        section="2. Checkerboard and channel masks"),
    "channel-mask-wrong-orientation": dict(
        item="channel_mask", recognised="the mask equals 1 minus the expected mask",
        message="orientation 0 keeps (b = 1) the first half of the channels and orientation 1 the second half; "
                "your masks are the other way round",
        section="2. Checkerboard and channel masks"),
    "squeeze-naive-reshape": dict(
        item="squeeze", recognised="forward equals tf.reshape(x, [..., H/2, W/2, 4C])",
        message="a plain reshape cuts the image into strips of consecutive pixels, not into 2x2 blocks: split "
                "each spatial axis into (half, 2) first, move the two 2-axes next to the channels, then reshape",
        section="3. The squeeze bijector"),
    "squeeze-channel-major": dict(
        item="squeeze", recognised="output channel 4c + k holds block position k of input channel c",
        message="the block position must be the slow index of the output channels: channel k*C + c holds "
                "position k of every 2x2 block of input channel c (the order of the figure, and of "
                "tf.nn.space_to_depth)",
        section="3. The squeeze bijector"),
    "squeeze-block-column-major": dict(
        item="squeeze", recognised="output channel (2b + a) * C + c holds pixel (2i + a, 2j + b) of channel c",
        message="the four positions of a 2x2 block are numbered row by row: (0, 0), (0, 1), (1, 0), (1, 1), so "
                "output channel (2a + b) * C + c holds pixel (2i + a, 2j + b); yours numbers them column by column "
                "(the row in the block a and the column b are swapped in the transpose)",
        section="3. The squeeze bijector"),
    "image-coupling-logdet-last-axis": dict(
        item="image_coupling", recognised="the log-det has shape [N, H, W] instead of [N]",
        message="an event is a whole [H, W, C] image: sum (1 - b) * s over the last three axes, not only the last",
        section="4. Affine coupling on images"),
    "image-coupling-logdet-ignores-mask": dict(
        item="image_coupling", recognised="the log-det sums s over every entry, masked ones included",
        message="only the entries with b = 0 are scaled: multiply s by (1 - b) before summing",
        section="4. Affine coupling on images"),
    "multiscale-latents-swapped": dict(
        item="multiscale", recognised="z equals (z2, z1) instead of (z1, z2)",
        message="concatenate the latents in the order they are produced: first the half factored out at "
                "scale 1, then the output of the final scale",
        section="5. The multiscale architecture"),
    "multiscale-latent-not-flat": dict(
        item="multiscale", recognised="forward does not return a [N, H*W*C] tensor",
        message="forward must return the latents flattened and concatenated, one vector of H*W*C numbers per image",
        section="5. The multiscale architecture"),
}


def mistake(mistake_id, detail=""):
    """A CheckFailure for one of this assignment's catalogued mistakes."""
    return catalogued(MISTAKES, mistake_id, detail)


# --------------------------------------------------------------------------------------------
# Visible checks: what a student can verify without being given the answer
# --------------------------------------------------------------------------------------------
def digits_like(seed, n=4, height=8, width=8):
    """Integer pixels in 0..16 and uniform noise, shaped [n, height, width, 1]."""
    r = rng(seed)
    return (r.integers(0, LEVELS, size=(n, height, width, 1)).astype("float64"),
            r.random(size=(n, height, width, 1)))


def check_preprocess_visible(ask):
    """preprocess returns y with the images' shape, finite, increasing in the pixel, and one log_det per image."""
    pixels, noise = digits_like(31)
    y, log_det = ask_or_fail(ask, {"op": "preprocess", "pixels": pixels, "noise": noise})
    require(y.shape == pixels.shape, f"y has shape {list(y.shape)}; it should keep the images' shape "
                                     f"{list(pixels.shape)}.")
    require(np.all(np.isfinite(y)), "y has values that are not finite: is the argument of the logit inside (0, 1)?")
    if log_det.shape == pixels.shape:
        raise mistake("preprocess-logdet-not-summed")
    require(log_det.shape == (4,), f"log_det has shape {list(log_det.shape)}; expected [4], one per image.")
    order = np.argsort((pixels + noise).ravel())
    require(np.all(np.diff(y.ravel()[order]) > 0), "y should increase with the dequantized pixel value u = pixel + noise.")


def check_preprocess_log_det_visible(ask):
    """preprocess's log_det equals the sum over each image's pixels of log dy/du, dy/du taken by autodiff."""
    pixels, noise = digits_like(32)
    y, log_det = ask_or_fail(ask, {"op": "preprocess", "pixels": pixels, "noise": noise})
    deriv = ask_or_fail(ask, {"op": "preprocess_derivative", "pixels": pixels, "noise": noise})
    how, atol = "by autodiff", 1e-2
    if deriv is None:  # not differentiable in TensorFlow (NumPy inside): a central difference instead
        h = 1e-2
        y_plus = ask_or_fail(ask, {"op": "preprocess", "pixels": pixels, "noise": noise + h})[0]
        y_minus = ask_or_fail(ask, {"op": "preprocess", "pixels": pixels, "noise": noise - h})[0]
        deriv, how, atol = (y_plus - y_minus) / (2 * h), "by a finite difference", 0.5
    require(deriv.shape == pixels.shape and np.all(deriv > 0),
            "y should increase with every dequantized pixel value u = pixel + noise (dy/du > 0 everywhere).")
    want = np.log(deriv).sum(axis=(1, 2, 3))
    if log_det.shape == pixels.shape:
        raise mistake("preprocess-logdet-not-summed")
    require(log_det.shape == want.shape, f"log_det has shape {list(log_det.shape)}; expected [4], one per image.")
    if close(log_det, want, atol=atol):
        return
    per_pixel = (log_det - want) / pixels[0].size
    if np.all(np.abs(per_pixel - np.log(LEVELS)) < 0.15):
        raise mistake("preprocess-no-dequant-scale")
    p = 1 / (1 + np.exp(-y))  # the logit's argument, recovered from y
    logit_term = (-np.log(p) - np.log1p(-p)).sum(axis=(1, 2, 3))
    if close(log_det, want - logit_term, atol=max(atol, 1e-1)):
        raise mistake("preprocess-no-logit-term")
    raise CheckFailure(f"log_det is not the sum of log dy/du over each image's pixels (dy/du computed {how}): "
                       + first_difference(log_det, want, atol=atol))


def check_masks_visible(name, size_args, shape):
    def check(ask):
        masks = [ask_or_fail(ask, {"op": "call", "name": name, "args": [*size_args, o]}) for o in (0, 1)]
        for o, m in enumerate(masks):
            if name == "checkerboard_mask" and m.shape == tuple(shape[:2]):
                raise mistake("checkerboard-no-channel-axis")
            require(m.shape == tuple(shape), f"{name}{(*size_args, o)} has shape {list(m.shape)}; expected {shape}.")
            require(set(np.unique(m)) <= {0.0, 1.0}, f"{name} must contain only zeros and ones.")
            require(m.sum() * 2 == m.size, f"{name}{(*size_args, o)} should mark exactly half of the entries with 1.")
        require(np.array_equal(masks[0] + masks[1], np.ones(shape)),
                f"the two orientations of {name} should be complements: each entry is 1 in exactly one of them.")
    return check


def check_checkerboard_visible(ask):
    """checkerboard_mask(6, 4, o) is a [6, 4, 1] 0/1 checkerboard; neighbours differ; orientations complement."""
    check_masks_visible("checkerboard_mask", (6, 4), [6, 4, 1])(ask)
    m = ask_or_fail(ask, {"op": "call", "name": "checkerboard_mask", "args": [6, 4, 0]})[..., 0]
    require(np.all(m[1:, :] != m[:-1, :]) and np.all(m[:, 1:] != m[:, :-1]),
            "neighbouring pixels (up, down, left, right) should always get different mask values.")
    if m[0, 0] != 1:  # a checkerboard whose top-left pixel is 0 is the other orientation
        raise mistake("checkerboard-wrong-orientation", "checkerboard_mask(6, 4, 0) has a 0 at the top-left pixel")


def check_channel_visible(ask):
    """channel_mask(6, o) is a [1, 1, 6] 0/1 mask over channels; half ones; orientations complement."""
    check_masks_visible("channel_mask", (6,), [1, 1, 6])(ask)
    m = ask_or_fail(ask, {"op": "call", "name": "channel_mask", "args": [6, 0]}).ravel()
    require(np.all(np.diff(m) <= 0) or np.all(np.diff(m) >= 0),
            "a channel mask splits the channels into two contiguous halves (first half and second half).")
    if m[0] != 1:  # two contiguous halves whose first half is 0: the other orientation
        raise mistake("channel-mask-wrong-orientation", "channel_mask(6, 0) keeps the second half")


SQUEEZE_SPEC = {"kind": "squeeze"}


def space_to_depth(x, channel_major=False, column_major=False):
    """What ``tf.nn.space_to_depth(x, 2)`` gives, in numpy, on the last three axes: output channel
    (2a + b) * C + c holds pixel (2i + a, 2j + b) of channel c (a test checks the two agree). The catalogued
    wrong orders: with ``channel_major``, channel c * 4 + (2a + b); with ``column_major``, (2b + a) * C + c."""
    positions = [(a, b) for b in (0, 1) for a in (0, 1)] if column_major else [(a, b) for a in (0, 1) for b in (0, 1)]
    blocks = np.stack([x[..., a::2, b::2, :] for a, b in positions], axis=-2)  # [..., H/2, W/2, 4, C]
    if channel_major:
        blocks = np.swapaxes(blocks, -1, -2)
    return blocks.reshape(*blocks.shape[:-2], -1)


def check_squeeze_visible(ask):
    """Squeeze maps [N, 8, 6, 2] to [N, 4, 3, 8] as tf.nn.space_to_depth(x, 2) does, inverts on fresh tensors,
    and has log-det 0 per image."""
    x = rng(41).normal(size=(3, 8, 6, 2))
    y = ask_or_fail(ask, {"op": "bijector", "spec": SQUEEZE_SPEC, "method": "forward", "x": x})
    require(y.shape == (3, 4, 3, 8), f"forward of a [3, 8, 6, 2] batch has shape {list(y.shape)}; expected [3, 4, 3, 8].")
    require(np.allclose(np.sort(y.ravel()), np.sort(x.ravel())), "squeeze must only move values around, not change them.")
    want = space_to_depth(x)
    if not close(y, want, atol=1e-6):
        if close(y, x.reshape(y.shape), atol=1e-6):
            raise mistake("squeeze-naive-reshape")
        if close(y, space_to_depth(x, channel_major=True), atol=1e-6):
            raise mistake("squeeze-channel-major")
        if close(y, space_to_depth(x, column_major=True), atol=1e-6):
            raise mistake("squeeze-block-column-major")
        raise CheckFailure("forward puts entries in other places than tf.nn.space_to_depth(x, 2), whose order is "
                           "the notes' figure: " + first_difference(y, want, atol=1e-6))
    back = ask_or_fail(ask, {"op": "bijector", "spec": SQUEEZE_SPEC, "method": "inverse", "x": y})
    require(close(back, x, atol=1e-6), "inverse(forward(x)) should give back x exactly (on a fresh tensor): "
            + first_difference(back, x))
    ldj = ask_or_fail(ask, {"op": "bijector", "spec": SQUEEZE_SPEC, "method": "fldj", "x": x})
    require(np.allclose(ldj, 0.0), "squeeze only permutes entries, so its log-det-Jacobian is 0.")


def coupling_spec(height, width, channels, mask, seed):
    return {"kind": "coupling", "channels": channels, "seed": seed,
            "mask": np.broadcast_to(np.asarray(mask, dtype="float64"), (height, width, channels)).tolist()}


def check_image_coupling_contract(ask):
    """On [N, 4, 4, 2] images: shapes, masked pixels pass through, inverse on fresh tensors, log-det per image."""
    mask = np.repeat(rng(50).integers(0, 2, size=(4, 4, 1)).astype("float64"), 2, axis=2)  # any mask will do
    spec = coupling_spec(4, 4, 2, mask, 51)
    x = rng(52).normal(size=(5, 4, 4, 2))
    info = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "describe", "x": x})
    require(info["forward_min_event_ndims"] == 3, "pass forward_min_event_ndims=3 to super().__init__: one event "
            f"is a whole [height, width, channels] image (yours is {info['forward_min_event_ndims']}).")
    y = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "forward", "x": x})
    require(y.shape == x.shape, f"forward changed the shape from {list(x.shape)} to {list(y.shape)}.")
    require(close(y[mask.astype(bool)[None].repeat(5, 0)], x[mask.astype(bool)[None].repeat(5, 0)], atol=1e-6),
            "entries where the mask is 1 must pass through forward unchanged.")
    back = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "inverse", "x": y})
    require(close(back, x, atol=1e-4), "inverse(forward(x)) should give back x (on a fresh tensor): "
            + first_difference(back, x, atol=1e-4))
    fldj = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "fldj", "x": x})
    if fldj.shape == (5, 4, 4):
        raise mistake("image-coupling-logdet-last-axis")
    require(fldj.shape == (5,), f"the log-det of 5 images has shape {list(fldj.shape)}; expected [5].")
    ildj = ask_or_fail(ask, {"op": "bijector", "spec": spec, "method": "ildj", "x": y})
    require(close(fldj, -ildj), "forward_log_det_jacobian(x) should equal -inverse_log_det_jacobian(forward(x)): "
            + first_difference(fldj, -ildj))


MULTISCALE_SPEC = {"kind": "multiscale", "shape": [8, 8, 1], "seed": 61}


#: What MultiscaleRealNVP is assembled from: the student's own answers to the exercises before it, with the visible
#: checks of each. When the flow fails, the feedback names the part that fails its own checks.
MULTISCALE_PARTS = (("checkerboard_mask", "checkerboard_mask_visible"), ("channel_mask", "channel_mask_visible"),
                    ("Squeeze", "squeeze_visible"), ("ImageAffineCouplingLayer", "image_coupling_contract"))


def blame_part(failure, failing_part):
    """``failure`` of the multiscale flow, restated to name the part that causes it: ``failing_part(name, cell)``
    gives that part's own failure (or None) for each part the flow uses."""
    for name, cell in MULTISCALE_PARTS:
        cause = failing_part(name, cell)
        if cause is not None:
            return CheckFailure(f"MultiscaleRealNVP is built from your `{name}`, which fails its own checks "
                                f"({cause}). Fix `{name}` first: this check may pass once it is right.")
    return failure


def check_multiscale_visible(ask):
    """MultiscaleRealNVP(8, 8, 1, make_net) maps [N, 8, 8, 1] to [N, 64], inverts, and has one log-det per image."""
    try:
        _multiscale_visible(ask)
    except CheckFailure as e:
        raise blame_part(e, lambda name, cell: _visible_failure(ask, cell)) from None


def _visible_failure(ask, cell):
    try:
        for fn in VISIBLE[cell]:
            fn(ask)
    except CheckFailure as e:
        return str(e).split(". See the notes")[0].rstrip(".")
    return None


def _multiscale_visible(ask):
    x = rng(62).normal(size=(3, 8, 8, 1))
    z = ask_or_fail(ask, {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "forward", "x": x})
    if z.shape != (3, 64):
        raise mistake("multiscale-latent-not-flat", f"forward of a [3, 8, 8, 1] batch has shape {list(z.shape)}")
    back = ask_or_fail(ask, {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "inverse", "x": z})
    require(back.shape == x.shape and close(back, x, atol=1e-4),
            "inverse(forward(x)) should give back the images (on a fresh tensor): " + first_difference(back, x, atol=1e-4))
    fldj = ask_or_fail(ask, {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "fldj", "x": x})
    require(fldj.shape == (3,), f"the log-det of 3 images has shape {list(fldj.shape)}; expected [3].")
    ildj = ask_or_fail(ask, {"op": "bijector", "spec": MULTISCALE_SPEC, "method": "ildj", "x": z, "event_ndims": 1})
    require(close(fldj, -ildj, atol=1e-3), "forward_log_det_jacobian(x) should equal "
            "-inverse_log_det_jacobian(forward(x)): " + first_difference(fldj, -ildj, atol=1e-3))


#: test-cell grade_id -> the visible checks that cell runs
VISIBLE = {
    "preprocess_visible": [check_preprocess_visible, check_preprocess_log_det_visible],
    "checkerboard_mask_visible": [check_checkerboard_visible],
    "channel_mask_visible": [check_channel_visible],
    "squeeze_visible": [check_squeeze_visible],
    "image_coupling_contract": [check_image_coupling_contract],
    "multiscale_visible": [check_multiscale_visible],
}

#: exercise -> the section of the notes a failed check points to (a catalogued mistake names its own)
SECTIONS = {
    "preprocess": "1. Dequantization and the logit transform",
    "checkerboard_mask": "2. Checkerboard and channel masks",
    "channel_mask": "2. Checkerboard and channel masks",
    "squeeze": "3. The squeeze bijector",
    "image_coupling": "4. Affine coupling on images",
    "multiscale": "5. The multiscale architecture",
}

local_asker, check = entry_points(VISIBLE, answer, SECTIONS)


if __name__ == "__main__":  # python -m ms_checks NOTEBOOK.ipynb: the visible checks, without the training cells
    import sys

    from checks_core import main
    sys.exit(main(sys.argv[1:], sys.modules[__name__]))
