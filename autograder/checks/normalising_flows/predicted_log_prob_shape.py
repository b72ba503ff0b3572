"""Exercise 1: the student's prediction of mvn3.log_prob(test_pts).shape."""
from nf_checks import CheckFailure, ask_or_fail, check_predicted_shape_form, mistake

#: The exercise's inputs (not its answer): the shape of test_pts and the event size of mvn3.
TEST_PTS_SHAPE, EVENT_SIZE = (5, 1, 2, 1), 3
REQUESTS = {"prediction": {"op": "describe", "name": "predicted_log_prob_shape"}}


def check_value(ask, ref):
    """Your prediction equals the true shape of mvn3.log_prob(test_pts)."""
    check_predicted_shape_form(ask)
    got = tuple(ask_or_fail(ask, REQUESTS["prediction"])["value"])
    want = tuple(ref["prediction"]["value"])
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
