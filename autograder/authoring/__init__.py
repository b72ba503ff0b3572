"""The instructor's tools on the course itself, not on submissions:

* ``validate``: checks release/ and solutions/ against source/ (no solution line or hidden test leaks, every
  question reaches the release, every test cell has checks, the reference values are current) and writes the
  points tables of docs/instructors.md;
* ``examples``: example submissions built from the solutions, the demo batch and one submission per catalogued
  mistake, for ``make demo``, the tests and the benchmark.
"""
