"""The grader's own parts of the multiscale flow: the masks, Squeeze and the image coupling layer.

``multiscale`` is a composed item: the student's ``MultiscaleRealNVP`` is built from the parts of earlier
exercises. Where a part fails its own checks, the multiscale item is graded with the part below bound in place
of the student's name (``multiscale.py``), so the part's mistake costs points in its own item only.

This file is grader-only: it never ships with a release (a test checks that) and nothing of it goes into
feedback. The worker receives its text in a request and runs it there, so it imports nothing of the grader:
only numpy, TensorFlow and TFP, as a student's notebook does. The tests check each part against the grader's
float64 maths (``image_math``).
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors


def checkerboard_mask(height, width, orientation):
    i, j = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return ((i + j + orientation) % 2 == 0).astype("float32")[:, :, None]


def channel_mask(channels, orientation):
    first = np.arange(channels) < channels // 2
    return (first if orientation == 0 else ~first).astype("float32")[None, None, :]


class Squeeze(tfb.Bijector):
    """tf.nn.space_to_depth with block size 2 on the last three axes, any number of batch axes."""

    def __init__(self, **kwargs):
        super().__init__(forward_min_event_ndims=3, is_constant_jacobian=True, **kwargs)

    @staticmethod
    def _on_images(fn, x):
        shape = tf.shape(x)
        out = fn(tf.reshape(x, tf.concat([[-1], shape[-3:]], axis=0)), 2)
        return tf.reshape(out, tf.concat([shape[:-3], tf.shape(out)[1:]], axis=0))

    def _forward(self, x):
        return self._on_images(tf.nn.space_to_depth, x)

    def _inverse(self, y):
        return self._on_images(tf.nn.depth_to_space, y)

    def _forward_log_det_jacobian(self, x):
        return tf.constant(0., dtype=x.dtype)

    # The event shapes on each side (given): [..., H, W, C] images <-> [..., H/2, W/2, 4C]
    def _forward_event_shape(self, input_shape):
        h, w, c = input_shape[-3:]  # None where a size is not known
        return input_shape[:-3].concatenate([None if h is None else h // 2, None if w is None else w // 2,
                                             None if c is None else 4 * c])

    def _forward_event_shape_tensor(self, input_shape):
        h, w, c = input_shape[-3], input_shape[-2], input_shape[-1]
        return tf.concat([input_shape[:-3], [h // 2, w // 2, 4 * c]], axis=0)

    def _inverse_event_shape(self, output_shape):
        h, w, c = output_shape[-3:]
        return output_shape[:-3].concatenate([None if h is None else 2 * h, None if w is None else 2 * w,
                                              None if c is None else c // 4])

    def _inverse_event_shape_tensor(self, output_shape):
        h, w, c = output_shape[-3], output_shape[-2], output_shape[-1]
        return tf.concat([output_shape[:-3], [2 * h, 2 * w, c // 4]], axis=0)


class ImageAffineCouplingLayer(tfb.Bijector):
    """z = b*x + (1-b)*(x*exp(s) + t) with (t, s) = shift_and_log_scale_fn(b*x), on [H, W, C] events."""

    def __init__(self, shift_and_log_scale_fn, mask, **kwargs):
        super().__init__(forward_min_event_ndims=3, **kwargs)
        self.shift_and_log_scale_fn = shift_and_log_scale_fn
        self.b = tf.cast(mask, tf.float32)

    def _log_scale(self, v):
        t, s = self.shift_and_log_scale_fn(self.b * v)
        return t, (1. - self.b) * s

    def _forward(self, x):
        t, s = self._log_scale(x)
        return self.b * x + (1. - self.b) * (x * tf.exp(s) + t)

    def _inverse(self, y):
        t, s = self._log_scale(y)
        return self.b * y + (1. - self.b) * ((y - t) * tf.exp(-s))

    def _forward_log_det_jacobian(self, x):
        return tf.reduce_sum(self._log_scale(x)[1], axis=[-3, -2, -1])

    def _inverse_log_det_jacobian(self, y):
        return -tf.reduce_sum(self._log_scale(y)[1], axis=[-3, -2, -1])

