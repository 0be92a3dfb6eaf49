"""lineagelab.sql."""
