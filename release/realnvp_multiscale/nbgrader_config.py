# nbgrader settings for students of dl-week4-normalising-flows.
# Generated from the course's course_config.py (make release); edit that file, not this one.
c = get_config()  # noqa: F821
c.Execute.timeout = 600
