"""SQL lineage (``lineage``: the API; ``model``: its answers; ``columns``, ``statements``, ``catalog``: how it is
found) and the local Redshift that runs the SQL on PostgreSQL (``redshift``)."""
