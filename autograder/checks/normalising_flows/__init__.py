"""Hidden checks of the normalising flows assignment, one module per graded item."""
