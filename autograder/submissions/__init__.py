"""What comes in, and what of it runs: ``intake`` finds a batch's submissions, reads each one once and safely
(``intake.read_submission``), tells which assignment it is and when it was submitted; ``extract`` picks the
student's code cells the worker runs, never their copy of the tests."""
