"""lineagelab.server."""
