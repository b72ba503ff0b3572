"""Exercise 1: the student's prediction of mvn3.log_prob(test_pts).shape.

The value is graded apart from its form: a list, a tf.TensorShape or a tuple of numpy ints with the right
numbers gets these points (the visible form check alone asks for a tuple of ints).
"""
from nf_checks import CheckFailure, ask_or_fail, mistake

#: The exercise's inputs (not its answer): the shape of test_pts and the event size of mvn3.
TEST_PTS_SHAPE, EVENT_SIZE = (5, 1, 2, 1), 3
REQUESTS = {"prediction": {"op": "describe", "name": "predicted_log_prob_shape"}}


def check_value(ask, ref):
    """Your prediction equals the true shape of mvn3.log_prob(test_pts), in whatever container."""
    info = ask_or_fail(ask, REQUESTS["prediction"])
    if info.get("ints") is None:
        raise CheckFailure(f"`predicted_log_prob_shape` is a {info['type']}, not a sequence of whole numbers, so "
                           "it cannot be compared with a shape. Write it as a tuple of ints, e.g. (4, 2).")
    got, want = tuple(info["ints"]), tuple(ref["prediction"]["ints"])
    if got == want:
        return
    if got == TEST_PTS_SHAPE:
        raise mistake("shape-is-input-shape")
    if got[:-1] == want and got[-1] == EVENT_SIZE:
        raise mistake("shape-keeps-event-dims")
    raise CheckFailure("your prediction is not the shape of mvn3.log_prob(test_pts). Work out mvn3.batch_shape "
                       "and event_shape, broadcast test_pts against batch_shape + event_shape, then drop the "
                       "event dimensions.")


HIDDEN = {"predicted_log_prob_shape_value": [check_value]}
