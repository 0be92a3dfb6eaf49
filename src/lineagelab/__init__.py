"""lineagelab: a local-first lineage lab for AWS analytics."""

__version__ = "0.1.0"
PRODUCER = f"https://github.com/lineagelab/lineagelab/tree/{__version__}"
