"""Grading tools for the course package.

Layout follows the flow of data: ``notebooks`` reads and normalises notebooks, ``checks/`` holds the
hidden checks (one module per graded item, named for its grade_id) and ``reference`` builds the reference
values they compare against from ``solutions/``. ``incell`` runs the hidden checks inside a notebook
kernel for ``nbgrader autograde``.
"""
