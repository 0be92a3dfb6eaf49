"""Modules put on sys.path for user scripts (``awsglue``), not imported by lineagelab itself."""
