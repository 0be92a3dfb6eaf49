"""lineagelab.testing."""
