"""Where the grader meets the platforms courses run it on. Each module adapts the grader's results to one of them
and holds nothing of grading itself:

* ``gradebook``: nbgrader's gradebook, its ``autograded/`` notebooks for formgrader, and the feedback pages
  ``nbgrader release_feedback`` hands to students;
* ``nbgrader_autograde``: the step course_config.py puts where ``nbgrader autograde`` would run a kernel: our worker;
* ``safe_html``: students' Markdown made safe to render in formgrader;
* ``nbgrader_path``: nbgrader's own autograde on a throwaway course, and the nbgrader settings students need;
* ``lms``: an LMS download's file names for ``nbgrader zip_collect``;
* ``lms_export``: grades into Canvas's, Moodle's or Blackboard's gradebook import CSV (``export``);
* ``gradescope/``: the Gradescope autograder (``setup.sh``, ``run_autograder``, the ``gradescope`` command).
"""
