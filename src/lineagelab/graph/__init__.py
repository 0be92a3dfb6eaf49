"""lineagelab.graph."""
