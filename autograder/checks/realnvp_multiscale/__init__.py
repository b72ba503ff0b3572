"""Hidden checks of the multiscale RealNVP assignment, one module per graded item."""
