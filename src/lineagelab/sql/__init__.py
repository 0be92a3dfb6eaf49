"""SQL lineage (``lineage``: the API; ``model``: its answers; ``columns``, ``statements``, ``catalog``: how it is
found) and the local Redshift that runs the SQL on PostgreSQL (``redshift``)."""

from lineagelab.sql import redshift_columns as _redshift_columns  # noqa: F401  (teaches sqlglot column DISTKEY/SORTKEY)
