"""The versioned model: aggregates over the fact tables, recomputed for the keys a batch touched.

Definitions (the README repeats them for users):

* **run** state: the latest terminal event (COMPLETE/FAIL/ABORT) by eventTime; else RUNNING if a RUNNING or START
  event was seen; else OTHER. ``started_at`` is the earliest START (else earliest event), ``ended_at`` the terminal
  event's time. A late RUNNING or a COMPLETE that arrives before its START changes nothing.
* **job version**: the set of (role, dataset) a run read and wrote. A job gets a new version when a run's set differs;
  the job's *current* version is the one of its latest run (by ``started_at``) that has any inputs or outputs.
* **dataset version**: a new version starts at each completed write (the dataset is an output of a COMPLETE event),
  and whenever the dataset is read (input) or declared (DatasetEvent) with a schema that differs from the previous
  observation's. An output announced by START/RUNNING is not a version: the write has not happened yet.
* **aliases**: datasets joined by a ``symlinks`` facet (S3 location <-> Glue table) are one node; the canonical id is
  the dataset that declared the symlink (the smallest identity if several did).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from lineagelab.events.identity import dataset_key


def ids_table(con: duckdb.DuckDBPyConnection, name: str, values: Iterable[object], sql_type: str) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (k {sql_type} PRIMARY KEY)")
    values = list(values)
    if values:
        con.execute(f"INSERT INTO {name} SELECT DISTINCT unnest($1::{sql_type}[])", [values])


_TERMINAL = "('COMPLETE','FAIL','ABORT')"
#: Up to this many keys are written into the SQL as a literal list (a filter DuckDB pushes into the scan); more go
#: through a temporary table and a hash join. One-event commits (the server) stay cheap on a large store.
LITERAL_KEYS = 512


class Keys:
    """A set of keys, as an SQL condition on a column (``keys.of("run_key")``); ``Keys.ALL`` is every key there is
    (a row with none, such as a DatasetEvent's run key, is no key: ``IN`` never matched it either)."""

    ALL: Keys

    def __init__(self, sql: str | None):
        self.sql = sql  # "(k1, k2)" or "(SELECT k FROM table)"; None: every key

    @classmethod
    def of_values(cls, con: duckdb.DuckDBPyConnection, name: str, values: Iterable[object], sql_type: str) -> Keys:
        ordered = sorted({v for v in values if v is not None}, key=str)
        if len(ordered) <= LITERAL_KEYS:
            if sql_type == "BIGINT":
                items = ", ".join(str(int(v)) for v in ordered)  # type: ignore[call-overload]
            else:
                items = ", ".join("'" + str(v).replace("'", "''") + "'" for v in ordered)
            return cls(f"({items})" if items else "(NULL)")
        ids_table(con, name, ordered, sql_type)
        return cls(f"(SELECT k FROM {name})")

    def of(self, column: str) -> str:
        return f"{column} IS NOT NULL" if self.sql is None else f"{column} IN {self.sql}"


Keys.ALL = Keys(None)


def refresh(con: duckdb.DuckDBPyConnection, run_keys: set[str], job_ids: set[int], ds_ids: set[int]) -> None:
    """Recompute the model for the touched keys. Runs inside the caller's transaction."""
    runs = Keys.of_values(con, "aff_runs", run_keys, "VARCHAR")
    _refresh_runs(con, runs)
    # jobs of touched runs may have gained a run: their versions and current run are recomputed too
    job_ids = set(job_ids) | {r[0] for r in con.execute(
        f"SELECT DISTINCT job_id FROM runs WHERE {runs.of('run_key')} AND job_id IS NOT NULL").fetchall()}
    _refresh_rest(con, Keys.of_values(con, "aff_jobs", job_ids, "BIGINT"),
                  Keys.of_values(con, "aff_ds", ds_ids, "BIGINT"))


def refresh_all(con: duckdb.DuckDBPyConnection) -> None:
    """The whole model from all the facts, into an empty model (a store's first bulk ingest, a rebuild): the same
    statements, with no key sets to fetch, build and join against."""
    refresh_all_jobs(con)
    refresh_all_datasets(con)


def refresh_all_jobs(con: duckdb.DuckDBPyConnection) -> None:
    """``refresh_all`` but for datasets and their versions: aliases, runs, jobs, the latest mode's edges. The two
    halves read only facts and write different tables, so they can run at once on two connections."""
    refresh_aliases(con, [(r[0], r[1]) for r in con.execute("SELECT ds_id, alias_id FROM f_symlinks").fetchall()])
    _refresh_runs(con, Keys.ALL)
    _refresh_jobs(con, Keys.ALL)
    _refresh_edges(con, Keys.ALL)


def refresh_all_datasets(con: duckdb.DuckDBPyConnection) -> None:
    """The other half of ``refresh_all``: datasets and dataset versions."""
    _refresh_datasets(con, Keys.ALL)
    _refresh_versions(con, Keys.ALL)


def _refresh_rest(con: duckdb.DuckDBPyConnection, jobs: Keys, ds: Keys) -> None:
    _refresh_jobs(con, jobs)
    _refresh_datasets(con, ds)
    _refresh_versions(con, ds)
    _refresh_edges(con, jobs)


def _refresh_runs(con: duckdb.DuckDBPyConnection, runs: Keys) -> None:
    con.execute(f"DELETE FROM runs WHERE {runs.of('run_key')}")
    con.execute(f"DELETE FROM run_io WHERE {runs.of('run_key')}")
    con.execute(
        f"""
        INSERT INTO run_io
        SELECT DISTINCT run_key, job_id, ds_id, role FROM f_datasets
        WHERE {runs.of('run_key')} AND role IN ('input', 'output')
        """
    )
    con.execute(
        f"""
        INSERT INTO runs
        WITH ev AS (SELECT * FROM f_events WHERE {runs.of('run_key')}),
        io AS (  -- the set's hash: the XOR of its members' (run_io is distinct), no sorted list to build
            SELECT run_key, lower(lpad(to_hex(bit_xor(md5_number(role || ':' || ds_id::VARCHAR))), 32, '0')) AS io_hash
            FROM run_io WHERE {runs.of('run_key')} GROUP BY run_key
        ),
        agg AS (
            SELECT run_key,
                   CASE WHEN kind = 'JobEvent' THEN NULL ELSE run_key END AS run_id,
                   arg_min(job_id, event_time) AS job_id,
                   arg_max(event_type, event_time) FILTER (WHERE event_type IN {_TERMINAL}) AS terminal,
                   bool_or(event_type IN ('START', 'RUNNING')) AS active,
                   min(event_time) FILTER (WHERE event_type = 'START') AS start_time,
                   min(event_time) AS first_event,
                   max(event_time) AS last_event,
                   max(event_time) FILTER (WHERE event_type IN {_TERMINAL}) AS end_time,
                   arg_min(parent_run_id, event_time) FILTER (WHERE parent_run_id IS NOT NULL) AS parent_run_id,
                   arg_max(error_message, event_time) FILTER (WHERE error_message IS NOT NULL) AS error_message,
                   count(*) AS event_count
            FROM ev GROUP BY run_key, kind
        )
        SELECT agg.run_key, run_id, job_id,
               coalesce(terminal, CASE WHEN active THEN 'RUNNING' ELSE 'OTHER' END),
               coalesce(start_time, first_event), end_time,
               CASE WHEN end_time IS NOT NULL
                    THEN (epoch_ms(end_time) - epoch_ms(coalesce(start_time, first_event))) END,
               first_event, last_event, parent_run_id, error_message, event_count,
               io.io_hash, io.io_hash IS NOT NULL
        FROM agg LEFT JOIN io USING (run_key)
        """
    )


def _refresh_jobs(con: duckdb.DuckDBPyConnection, jobs: Keys) -> None:
    con.execute(f"DELETE FROM jobs WHERE {jobs.of('job_id')}")
    con.execute(
        f"""
        INSERT INTO jobs
        WITH names AS (
            SELECT job_id, arg_max(job_namespace, event_time) AS namespace, arg_max(job_name, event_time) AS name,
                   min(event_time) AS first_seen, max(event_time) AS last_seen
            FROM f_events WHERE {jobs.of('job_id')} GROUP BY job_id
        ),
        cur AS (
            SELECT job_id, arg_max(run_key, (started_at, run_key)) AS run_key,
                   arg_max(io_hash, (started_at, run_key)) AS io_hash
            FROM runs WHERE {jobs.of('job_id')} AND has_io GROUP BY job_id
        ),
        cnt AS (SELECT job_id, count(*) AS n FROM runs WHERE {jobs.of('job_id')} GROUP BY job_id)
        SELECT names.job_id, namespace, name, first_seen, last_seen, cur.run_key, cur.io_hash, coalesce(cnt.n, 0)
        FROM names LEFT JOIN cur USING (job_id) LEFT JOIN cnt USING (job_id)
        """
    )
    con.execute(f"DELETE FROM job_versions WHERE {jobs.of('job_id')}")
    con.execute(
        f"""
        INSERT INTO job_versions
        SELECT job_id, io_hash, min(started_at), max(started_at), count(*)
        FROM runs WHERE {jobs.of('job_id')} AND has_io GROUP BY job_id, io_hash
        """
    )


def _refresh_datasets(con: duckdb.DuckDBPyConnection, ds: Keys) -> None:
    con.execute(f"DELETE FROM datasets WHERE {ds.of('ds_id')}")
    con.execute(
        f"""
        INSERT INTO datasets
        SELECT ds_id, any_value(namespace), any_value(name), min(event_time), max(event_time)
        FROM f_datasets WHERE {ds.of('ds_id')} GROUP BY ds_id
        """
    )


def _refresh_versions(con: duckdb.DuckDBPyConnection, ds: Keys) -> None:
    con.execute(f"DELETE FROM dataset_versions WHERE {ds.of('ds_id')}")
    con.execute(
        f"""
        INSERT INTO dataset_versions
        WITH obs AS (
            SELECT ds_id, event_time, event_id, schema_hash, written, run_key, row_count
            FROM f_datasets WHERE {ds.of('ds_id')}
              AND (written OR (schema_hash IS NOT NULL AND role IN ('input', 'static')))
        ),
        ordered AS (
            SELECT *, lag(schema_hash IGNORE NULLS) OVER (
                       PARTITION BY ds_id ORDER BY event_time, written, event_id) AS prev_schema
            FROM obs
        ),
        starts AS (
            SELECT *,
                   schema_hash IS NOT NULL AND prev_schema IS NOT NULL AND prev_schema <> schema_hash AS schema_changed
            FROM ordered
            WHERE written OR (schema_hash IS NOT NULL AND (prev_schema IS NULL OR prev_schema <> schema_hash))
        ),
        keyed AS (
            SELECT ds_id,
                   CASE WHEN written THEN 'run:' || run_key ELSE 'schema:' || schema_hash || '@' || event_time::VARCHAR
                   END AS version_id,
                   event_time, written, schema_changed, run_key, coalesce(schema_hash, prev_schema) AS schema_hash,
                   row_count, event_id
            FROM starts
        )
        SELECT ds_id, md5(ds_id::VARCHAR || version_id), min(event_time),
               CASE WHEN bool_or(written) AND bool_or(schema_changed) THEN 'write+schema'
                    WHEN bool_or(written) THEN 'write' ELSE 'schema' END,
               any_value(run_key) FILTER (WHERE written),
               arg_min(schema_hash, (event_time, event_id)),
               max(row_count)
        FROM keyed GROUP BY ds_id, version_id
        """
    )


def _refresh_edges(con: duckdb.DuckDBPyConnection, jobs: Keys) -> None:
    """The latest mode's table- and column-level edge sets (canonical dataset ids), for the touched jobs. The
    cumulative mode's are views over the facts (``all_io``, ``all_col``): nothing to maintain."""
    current = f"SELECT current_run_key FROM jobs WHERE {jobs.of('job_id')} AND current_run_key IS NOT NULL"
    runs = (Keys(f"({current})") if jobs is Keys.ALL
            else Keys.of_values(con, "aff_current_runs", [r[0] for r in con.execute(current).fetchall()], "VARCHAR"))
    con.execute(f"DELETE FROM current_io WHERE {jobs.of('job_id')}")
    con.execute(
        f"""
        INSERT INTO current_io
        SELECT DISTINCT io.job_id, coalesce(a.canonical_id, io.ds_id), io.role
        FROM run_io io LEFT JOIN aliases a ON a.member_id = io.ds_id
        WHERE {runs.of('io.run_key')}
        """
    )
    con.execute(f"DELETE FROM current_col WHERE {jobs.of('job_id')}")
    con.execute(
        f"""
        INSERT INTO current_col
        SELECT DISTINCT c.job_id, coalesce(ao.canonical_id, c.out_ds), c.out_field,
               coalesce(ai.canonical_id, c.in_ds), c.in_field, c.type, c.subtype, c.description, c.masking
        FROM f_column_edges c
        LEFT JOIN aliases ao ON ao.member_id = c.out_ds LEFT JOIN aliases ai ON ai.member_id = c.in_ds
        WHERE {runs.of('c.run_key')}
        """
    )


def refresh_aliases(con: duckdb.DuckDBPyConnection, new_pairs: list[tuple[int, int]]) -> None:
    """Merge symlinked identities into one node; remap stored edges when a component's canonical id changes."""
    if not new_pairs:
        return
    touched = {x for pair in new_pairs for x in pair}
    ids_table(con, "aff_alias", touched, "BIGINT")
    # Everything already in the components of the touched ids.
    rows = con.execute(
        """
        SELECT member_id, canonical_id FROM aliases
        WHERE canonical_id IN (SELECT coalesce(a.canonical_id, t.k) FROM aff_alias t
                               LEFT JOIN aliases a ON a.member_id = t.k)
        """
    ).fetchall()
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent.get(x, x)
        return root

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    for member, canonical in rows:
        union(member, canonical)
    for a, b in new_pairs:
        union(a, b)
    members = set(parent) | touched | {c for _, c in rows}
    comps: dict[int, list[int]] = {}
    for m in members:
        comps.setdefault(find(m), []).append(m)
    all_ids = [m for comp in comps.values() for m in comp]
    ids_table(con, "alias_members", all_ids, "BIGINT")
    declarers = {
        r[0]: dataset_key(r[1], r[2])
        for r in con.execute(
            """
            SELECT DISTINCT s.ds_id, d.namespace, d.name FROM f_symlinks s JOIN f_datasets d ON d.ds_id = s.ds_id
            WHERE s.ds_id IN (SELECT k FROM alias_members)
            """
        ).fetchall()
    }
    mapping: list[tuple[int, int]] = []
    for comp in comps.values():
        if len(comp) < 2:
            continue
        candidates = [m for m in comp if m in declarers] or comp
        canonical = min(candidates, key=lambda m: (declarers.get(m, ""), m))
        mapping.extend((m, canonical) for m in comp if m != canonical)
    con.execute("DELETE FROM aliases WHERE member_id IN (SELECT k FROM alias_members)")
    if mapping:
        con.executemany("INSERT INTO aliases VALUES (?, ?)", mapping)
    # Remap materialized edges of every member to its (possibly new) canonical id.
    for table, columns in (("current_io", ["ds_id"]), ("current_col", ["out_ds", "in_ds"])):
        for column in columns:
            con.execute(
                f"""
                UPDATE {table} SET {column} = coalesce(
                    (SELECT canonical_id FROM aliases WHERE member_id = {table}.{column}), {table}.{column})
                WHERE {column} IN (SELECT k FROM alias_members)
                """
            )
    con.execute("CREATE OR REPLACE TEMP TABLE _dedup AS SELECT DISTINCT * FROM current_io")
    con.execute("DELETE FROM current_io")
    con.execute("INSERT INTO current_io SELECT * FROM _dedup")
