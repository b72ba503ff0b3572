"""``make bench``: grading throughput against nbgrader, marginal cost per submission, memory, and the
notebook's coupling-layer flow against TFP's own RealNVP. Results go to bench/results.json."""
