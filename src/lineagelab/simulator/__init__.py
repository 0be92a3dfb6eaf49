"""lineagelab.simulator."""
