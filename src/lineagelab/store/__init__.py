"""lineagelab.store."""
