"""OpenLineage events: validation, parsing, reading and dataset naming."""
