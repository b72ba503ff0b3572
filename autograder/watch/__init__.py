"""Grading on submit (``python -m autograder watch``): warm grading slots that grade each submission as it lands.

``landing`` tells which submissions of a watched folder (nbgrader's ``submitted/`` or the exchange's ``inbound/``)
have landed whole; ``loop`` grades them in ``batch``'s slots, records each verdict through ``store`` as ``batch``
does, and writes the feedback page where ``nbgrader fetch_feedback`` finds it.
"""
